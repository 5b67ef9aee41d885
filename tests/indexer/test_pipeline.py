"""Incremental indexing, crash safety, locking and concurrent readers (BM25 only: fast)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from base.config import IndexSettings
from base.errors import IndexingError, IndexLockedError, IndexMissingError
from indexer import store
from indexer.lock import index_lock
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from tests.conftest import run_cli

SETTINGS = IndexSettings(embeddings=False)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "pricing.py").write_text(
        "def round_price(amount):\n    return round(amount, 2)\n\n\nclass Invoice:\n"
        "    def vat_total(self):\n        return self.net * VAT_RATE\n")
    (repo / "pkg" / "stock.py").write_text("def reserve_stock(item, qty):\n    item.reserved += qty\n")
    (repo / "README.md").write_text("# Shop\n\nPrices are rounded half up.\n")
    return repo


def _snapshot(reader: IndexReader) -> dict[str, list[tuple[str, int, int, str]]]:
    return {path: [(c.symbol, c.start_line, c.end_line, c.text) for c in reader.chunks_for_file(path)]
            for path in reader.files()}


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_missing_index_error_has_hint(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError) as info:
        IndexReader.open(_repo(tmp_path), SETTINGS)
    assert "repo-assistant index" in info.value.one_line()


def test_incremental_add_change_delete_rename(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    stats = index_repository(repo, SETTINGS)
    assert stats.files_indexed == 3 and stats.chunks_total >= 4
    with IndexReader.open(repo, SETTINGS) as reader:
        top = reader.bm25_search("round price", k=3)
        assert top[0][0].symbol == "round_price"
        assert set(reader.symbols()) == {"pkg/pricing.py", "pkg/stock.py", "README.md"}
        assert {"round_price", "Invoice", "Invoice.vat_total"} <= {
            d.qualified_name for d in reader.symbols()["pkg/pricing.py"].definitions}

        again = index_repository(repo, SETTINGS)
        assert (again.files_indexed, again.files_unchanged) == (0, 3)

        _touch_later(repo / "pkg" / "stock.py", "def release_stock(item, qty):\n    item.reserved -= qty\n")
        (repo / "pkg" / "new_module.py").write_text("def apply_coupon(order, code):\n    return order\n")
        (repo / "README.md").unlink()
        (repo / "pkg" / "pricing.py").rename(repo / "pkg" / "prices.py")
        assert sorted(reader.stale_files()) == ["README.md", "pkg/new_module.py", "pkg/prices.py",
                                                "pkg/pricing.py", "pkg/stock.py"]
        stats = index_repository(repo, SETTINGS)
        assert (stats.files_indexed, stats.files_deleted) == (3, 2)
        # the open reader follows the new generation by itself
        assert reader.bm25_search("reserve stock", k=5) == [] or all(
            c.symbol != "reserve_stock" for c, _ in reader.bm25_search("reserve stock", k=5))
        assert reader.bm25_search("release stock")[0][0].symbol == "release_stock"
        assert reader.bm25_search("apply coupon")[0][0].path == "pkg/new_module.py"
        assert reader.bm25_search("round price")[0][0].path == "pkg/prices.py"
        assert reader.files() == ["pkg/new_module.py", "pkg/prices.py", "pkg/stock.py"]
        assert reader.stale_files() == []
        assert "README.md" not in reader.symbols()
        incremental = _snapshot(reader)
    fresh = tmp_path / "fresh"
    os.rename(repo, fresh)
    index_repository(fresh, SETTINGS, rebuild=True)
    with IndexReader.open(fresh, SETTINGS) as reader:
        assert _snapshot(reader) == incremental


def test_same_content_new_mtime_is_not_rechunked(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    index_repository(repo, SETTINGS)
    path = repo / "pkg" / "stock.py"
    _touch_later(path, path.read_text())
    stats = index_repository(repo, SETTINGS)
    assert (stats.files_indexed, stats.files_unchanged) == (0, 3)
    with IndexReader.open(repo, SETTINGS) as reader:
        assert reader.stale_files() == []


def test_binary_empty_and_secret_content_end_to_end(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "blob.dat").write_bytes(b"\x00\x01binary" * 10)
    (repo / "empty.py").write_text("\n\n")
    (repo / ".env").write_text("DATABASE_PASSWORD=hunter2hunter2\n")
    (repo / "settings.py").write_text('GITHUB_TOKEN = "ghp_' + "x1Y2" * 9 + '"\nDEBUG = True\n')
    (repo / "latin1.py").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    stats = index_repository(repo, SETTINGS)
    assert stats.skipped == {"binary": 1, "empty": 1, "secret": 1}
    assert stats.redacted_lines == 1 and stats.replaced_characters == 1
    with IndexReader.open(repo, SETTINGS) as reader:
        everything = "\n".join(c.text for c in reader.chunks())
        assert "x1Y2" not in everything and "hunter2" not in everything
        assert "[redacted github token]" in everything and "DEBUG = True" in everything
        assert reader.bm25_search_tokens(["ghp_" + "x1y2" * 9]) == []
        assert reader.skipped() == {"binary": 1, "empty": 1, "secret": 1}
    again = index_repository(repo, SETTINGS)
    assert again.skipped == {"binary": 1, "empty": 1, "secret": 1}


def test_format_version_mismatch_reader_errors_and_index_rebuilds(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    index_repository(repo, SETTINGS)
    conn = store.connect(store.db_path(repo))
    with store.transaction(conn):
        store.set_meta(conn, "format_version", 0)
    conn.close()
    with pytest.raises(IndexingError) as info:
        IndexReader.open(repo, SETTINGS)
    assert "repo-assistant index" in info.value.one_line()
    stats = index_repository(repo, SETTINGS)
    assert "rebuilt" in stats.message and stats.files_indexed == 3
    with IndexReader.open(repo, SETTINGS) as reader:
        assert reader.bm25_search("reserve stock")[0][0].symbol == "reserve_stock"


def test_second_writer_is_refused_or_waits(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with index_lock(repo), pytest.raises(IndexLockedError) as info:
        index_repository(repo, SETTINGS)
    assert info.value.exit_code == 3 and "--wait" in info.value.one_line()
    done: list[int] = []
    with index_lock(repo):
        worker = threading.Thread(target=lambda: done.append(index_repository(repo, SETTINGS, wait=True).files_indexed))
        worker.start()
        time.sleep(0.5)
        assert not done
    worker.join(timeout=60)
    assert done == [3]


@pytest.mark.slow
def test_cli_refuses_concurrent_run_with_exit_code_3(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with index_lock(repo):
        result = run_cli("index", str(repo), "--no-embeddings")
    assert result.returncode == 3
    assert "another `repo-assistant index`" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _big_repo(tmp_path: Path, files: int, tag: str) -> Path:
    repo = tmp_path / "big"
    for i in range(files):
        path = repo / f"pkg{i % 20}" / f"mod_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"def func_{tag}_{i}_{j}(x):\n    return x + {j}\n" for j in range(15))
        path.write_text(body)
    return repo


@pytest.mark.slow
def test_kill_9_mid_run_keeps_previous_index_and_next_run_completes(tmp_path: Path) -> None:
    repo = _big_repo(tmp_path, 2500, "old")
    index_repository(repo, SETTINGS)
    for path in sorted(repo.rglob("*.py")):  # change every file so the next run has real work
        _touch_later(path, path.read_text().replace("_old_", "_new_"))
    exe = Path(sys.executable).with_name("repo-assistant")
    proc = subprocess.Popen([str(exe), "index", str(repo), "--no-embeddings"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db = store.db_path(repo)
    generation = store.get_meta(store.connect(db), "generation")
    deadline = time.time() + 60
    while time.time() < deadline and store.get_meta(store.connect(db), "generation") == generation:
        time.sleep(0.02)  # wait until the run has committed its first batch, then kill it mid-way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with IndexReader.open(repo, SETTINGS) as reader:
        assert reader.bm25_search("func old 7")  # the index is usable (old or partly new content)
        assert reader.stale_files(), "expected the killed run to leave work for the next one"
    stats = index_repository(repo, SETTINGS)
    assert stats.files_indexed > 0
    with IndexReader.open(repo, SETTINGS) as reader:
        assert reader.stale_files() == []
        texts = "\n".join(c.text for c in reader.chunks())
        assert "_old_" not in texts and texts.count("def func_new_") == 2500 * 15
        assert reader.bm25_search("func_new_5_3")[0][0].path == "pkg5/mod_5.py"


@pytest.mark.slow
def test_readers_keep_working_while_another_process_indexes(tmp_path: Path) -> None:
    repo = _big_repo(tmp_path, 600, "old")
    index_repository(repo, SETTINGS)
    for path in sorted(repo.rglob("*.py")):
        _touch_later(path, path.read_text().replace("_old_", "_new_"))
    exe = Path(sys.executable).with_name("repo-assistant")
    proc = subprocess.Popen([str(exe), "index", str(repo), "--no-embeddings"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    searches = 0
    with IndexReader.open(repo, SETTINGS) as reader:
        while proc.poll() is None:
            hits = reader.bm25_search("func 3 4", k=5)
            assert hits and all(c.text.startswith("def func_") for c, _ in hits)
            searches += 1
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert reader.bm25_search("func_new_3_4")[0][0].path == "pkg3/mod_3.py"
    assert searches > 0


def test_cancel_keeps_what_was_committed_and_next_run_finishes(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    cancel = threading.Event()
    events: list[str] = []

    def on_progress(event) -> None:  # type: ignore[no-untyped-def]
        events.append(event.phase)
        if event.phase == "chunking" and event.done >= 1:
            cancel.set()

    stats = index_repository(repo, SETTINGS, progress=on_progress, cancel=cancel)
    assert stats.cancelled and stats.files_indexed == 1
    assert events[0] == "discovering" and events[-1] == "done" and "bm25" in events
    with IndexReader.open(repo, SETTINGS) as reader:
        assert len(reader.files()) == 1 and len(reader.stale_files()) == 2
    stats = index_repository(repo, SETTINGS)
    assert not stats.cancelled and stats.files_indexed == 2 and stats.files_unchanged == 1
