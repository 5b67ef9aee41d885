"""Fresh without asking: the watcher behind the MCP server, and the CLI's refresh before a query."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import anyio

from base.config import IndexSettings
from base.errors import IndexLockedError
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from indexer.store import LOCK_NAME, index_dir
from tests.conftest import run_cli
from tests.mcp.conftest import BM25_ONLY, bm25_settings, mcp_client, server_command

DEADLINE_S = 90.0


def _wait_for(predicate, what: str, deadline_s: float = DEADLINE_S) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _proc_stat(pid: str) -> list[str]:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp..."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that have not exited yet (zombies hold no descriptors); none known without /proc."""
    alive: list[int] = []
    if not os.path.isdir("/proc"):
        return alive
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = _proc_stat(pid)
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            alive.append(int(pid))
    return alive


def _lock_holders(lock: Path) -> list[str]:
    """Every process with ``lock`` open, for a failure to say who kept the repository locked."""
    target, found = os.path.realpath(lock), []
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                with open(f"/proc/{pid}/cmdline", encoding="utf-8") as cmd:
                    found.append(f"{pid} ({_proc_stat(pid)[0]}): {cmd.read().replace(chr(0), ' ')[:200]}")
        except OSError:
            continue
    return found


def test_an_edit_is_found_by_the_next_search_without_index(indexed_repo: Path, tmp_path: Path) -> None:
    target = indexed_repo / "shopcore" / "timeutil.py"
    original = target.read_text(encoding="utf-8")

    async def scenario() -> dict:
        async with mcp_client(indexed_repo, tmp_path / "server.err") as client:
            first = await client.call_tool("search", {"query": "wombat_ledger_checksum", "k": 3, "mode": "bm25"})
            assert all(h["symbol"] != "wombat_ledger_checksum" for h in first.structured_content["hits"])
            end = time.monotonic() + DEADLINE_S
            while True:
                # rewritten until seen: a change made before the watch was registered is not lost either
                target.write_text(original + "\n\ndef wombat_ledger_checksum() -> int:\n    return 7\n",
                                  encoding="utf-8")
                found = await client.call_tool("search", {"query": "wombat_ledger_checksum", "k": 3, "mode": "bm25"})
                hits = found.structured_content["hits"]
                if hits and hits[0]["symbol"] == "wombat_ledger_checksum":
                    return found.structured_content
                assert time.monotonic() < end, "the watcher never re-indexed the edited file"
                await anyio.sleep(0.2)

    structured = anyio.run(scenario)
    assert structured["hits"][0]["path"] == "shopcore/timeutil.py"
    assert structured["freshness"]["watching"] and structured["freshness"]["refreshes"] >= 1


def test_killing_the_server_mid_refresh_leaves_the_index_open(indexed_repo: Path, tmp_path: Path) -> None:
    errlog = tmp_path / "server.err"
    command, args = server_command()
    with errlog.open("w") as err:
        server = subprocess.Popen([command, *args, str(indexed_repo)], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **BM25_ONLY},
                                  start_new_session=True)
    try:
        _wait_for(lambda: "bm25:" in errlog.read_text(), "the watcher's first refresh")
        generated = indexed_repo / "generated"
        generated.mkdir()
        for n in range(400):
            (generated / f"mod_{n}.py").write_text(f"def generated_function_{n}(x):\n    return x + {n}\n")
        _wait_for(lambda: "changed path" in errlog.read_text(), "a refresh of the new files to start")
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    # SIGKILL reaches each process of the group on its own: reaping the server says nothing of its fork
    # server and workers, which a loaded machine may not have scheduled to die yet.  None of them may
    # hold the lock (test_no_worker_process_holds_the_index_lock), but one forked a moment before the
    # kill holds a copy of every descriptor until it execs or dies: wait for the group to be gone.
    _wait_for(lambda: not _alive_in_group(server.pid), "the killed server's processes to be gone", 30)

    settings: IndexSettings = bm25_settings().index
    with IndexReader.open(indexed_repo, settings) as reader:  # whatever was committed is readable
        assert reader.bm25_search("quantize_money", 3)
    try:
        stats = index_repository(indexed_repo, settings)  # the lock died with the server: no --wait needed
    except IndexLockedError as exc:
        raise AssertionError(f"{exc}; holders: {_lock_holders(index_dir(indexed_repo) / LOCK_NAME)}") from None
    assert not stats.cancelled
    with IndexReader.open(indexed_repo, settings) as reader:
        assert not reader.stale_files()
        assert reader.bm25_search("generated_function_399", 1)[0][0].path == "generated/mod_399.py"


def test_a_cli_query_refreshes_a_few_changed_files_first(indexed_repo: Path) -> None:
    (indexed_repo / "shopcore" / "timeutil.py").write_text("def platypus_invoice_window() -> int:\n    return 3\n")
    result = run_cli("search", "platypus_invoice_window", "--mode", "bm25", "--k", "1", "--repo", str(indexed_repo),
                     env=BM25_ONLY)
    assert result.returncode == 0, result.stderr
    assert "refreshed 1 changed file" in result.stderr
    assert "shopcore/timeutil.py" in result.stdout

    for n in range(25):
        (indexed_repo / f"extra_{n}.py").write_text(f"def numbat_{n}():\n    return {n}\n")
    many = run_cli("localize", "-", "--k", "1", "--repo", str(indexed_repo), env=BM25_ONLY, input_text="numbat_3")
    assert many.returncode == 0, many.stderr
    assert "25 files changed since indexing" in many.stderr and "repo-assistant index" in many.stderr


def test_a_cli_context_for_a_file_created_after_indexing_refreshes_it_first(indexed_repo: Path) -> None:
    # The query is answered while a forked child checks the files; an answer the old index could not
    # give (this file is not in it) must wait for the refresh and be made again, not fail.
    (indexed_repo / "shopcore" / "kookaburra.py").write_text(
        "def kookaburra_total(prices):\n    return sum(prices)\n\n\ndef kookaburra_mean(prices):\n"
        "    return kookaburra_total(prices) / len(prices)\n")
    result = run_cli("context", "shopcore/kookaburra.py:5:1", "--json", "--repo", str(indexed_repo), env=BM25_ONLY)
    assert result.returncode == 0, result.stderr
    assert "refreshed 1 changed file" in result.stderr
    payload = json.loads(result.stdout)
    assert payload["stale_files"] == []
    assert "kookaburra_mean" in payload["text"]

    unchanged = run_cli("search", "kookaburra_total", "--mode", "bm25", "--k", "1", "--repo", str(indexed_repo),
                        env=BM25_ONLY)
    assert unchanged.returncode == 0, unchanged.stderr
    assert "refreshed" not in unchanged.stderr and "shopcore/kookaburra.py" in unchanged.stdout


def test_a_cli_query_on_an_index_of_no_files_answers_after_refreshing_the_new_ones(tmp_path: Path) -> None:
    # The first answer fails (the index has no files); the check finds the new file, the refresh indexes it,
    # and the answer is made again instead of the error being printed.
    repo = tmp_path / "empty"
    repo.mkdir()
    indexed = run_cli("index", str(repo), "--no-embeddings", env=BM25_ONLY)
    assert indexed.returncode == 0, indexed.stderr
    (repo / "bird.py").write_text("def lyrebird_song():\n    return 1\n")
    result = run_cli("search", "lyrebird_song", "--mode", "bm25", "--repo", str(repo), env=BM25_ONLY)
    assert result.returncode == 0, result.stderr
    assert "refreshed 1 changed file" in result.stderr and "bird.py:1-2" in result.stdout

    (repo / "bird.py").unlink()
    gone = run_cli("search", "lyrebird_song", "--mode", "bm25", "--repo", str(repo), env=BM25_ONLY)
    assert gone.returncode != 0 and "has no files" in gone.stderr and "Traceback" not in gone.stderr


def test_the_repo_map_follows_the_watcher_in_the_background(indexed_repo: Path) -> None:
    """What `repo-assistant mcp` starts: after each refresh the map is patched before any tool asks for it."""
    from assistant.session import Session
    from retrieval.repo_map import shared_repo_map
    from tests.mcp.conftest import bm25_settings

    session = Session(indexed_repo, bm25_settings(), persist=False)
    session.start_watching(catch_up=True, warm_map=True)
    try:
        repo_map, reader = shared_repo_map(str(session.repo)), session.reader()
        _wait_for(lambda: repo_map._digest == reader.content().digest, "the map of the index at start")
        before = repo_map._digest
        target = indexed_repo / "shopcore" / "timeutil.py"
        original = target.read_text(encoding="utf-8")
        end = time.monotonic() + DEADLINE_S
        while reader.content().digest == before:  # rewritten until seen, as above
            target.write_text(original + "\n\ndef wombat_ledger_checksum() -> int:\n    return 7\n", encoding="utf-8")
            assert time.monotonic() < end, "the watcher never re-indexed the edited file"
            time.sleep(0.2)
        _wait_for(lambda: repo_map._digest == reader.content().digest != before, "the map after the refresh")
        assert "shopcore/timeutil.py" in repo_map._tables.paths
    finally:
        session.stop_watching()
        session.close_reader()
