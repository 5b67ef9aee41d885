"""Chunking in worker processes where ``sys.stderr`` has no usable descriptor (as under Textual).

Textual replaces ``sys.stderr`` by a capture whose ``fileno()`` is -1 while an app runs;
multiprocessing's resource tracker passed that to ``fork_exec`` and the pool could not
start ("bad value(s) in fds_to_keep").  The tracker starts once per process, so each
check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest
from rank_bm25 import BM25Okapi

from base.config import IndexSettings
from indexer import store
from indexer.bm25 import Bm25Searcher, lookup_terms
from indexer.pipeline import PARALLEL_MIN_FILES, bm25_tokens, index_repository
from indexer.reader import IndexReader
from indexer.tokenize import code_tokens
from tests.conftest import PROJECT_ROOT

FILES = PARALLEL_MIN_FILES + 20

CAPTURED_STDERR_RUN = """
import json, logging, sys
from pathlib import Path

class Capture:  # what Textual puts in sys.stderr while an app runs
    def write(self, text): return len(text)
    def flush(self): pass
    def fileno(self): return -1

records = []
class Keep(logging.Handler):
    def emit(self, record): records.append(record.getMessage())

logging.getLogger("indexer.pipeline").addHandler(Keep())
logging.getLogger("indexer.pipeline").setLevel(logging.INFO)
from base.config import IndexSettings
from indexer.pipeline import index_repository
real, sys.stderr = sys.stderr, Capture()
try:
    stats = index_repository(Path(sys.argv[1]), IndexSettings(embeddings=False))
finally:
    sys.stderr = real
print(json.dumps({"indexed": stats.files_indexed, "log": records}))
"""


def _many_files(root: Path) -> Path:
    for i in range(FILES):
        (root / f"mod_{i:03d}.py").parent.mkdir(parents=True, exist_ok=True)
        (root / f"mod_{i:03d}.py").write_text(f"def f_{i}(x):\n    return x + {i}\n", encoding="utf-8")
    return root


@pytest.mark.skipif(sys.platform == "win32", reason="forkserver is POSIX-only")
def test_worker_processes_start_with_a_stderr_without_descriptor(tmp_path: Path) -> None:
    repo = _many_files(tmp_path / "repo")
    result = subprocess.run([sys.executable, "-c", CAPTURED_STDERR_RUN, str(repo)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["indexed"] == FILES
    assert any("worker processes" in line for line in report["log"]), report["log"]


def test_chunking_falls_back_to_this_process_with_the_same_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    parallel = _many_files(tmp_path / "parallel")
    fallback = _many_files(tmp_path / "fallback")
    settings = IndexSettings(embeddings=False)
    index_repository(parallel, settings)

    def no_processes() -> None:
        raise OSError("no semaphores in this sandbox")

    monkeypatch.setattr("indexer.pipeline._start_process_helpers", no_processes)
    stats = index_repository(fallback, settings)
    assert stats.files_indexed == FILES
    assert "chunking in this process" in caplog.text
    chunks = {}
    for repo in (parallel, fallback):
        reader = IndexReader.open(repo, settings)
        try:
            chunks[repo.name] = {path: [(c.symbol, c.start_line, c.end_line, c.text)
                                        for c in reader.chunks_for_file(path)] for path in reader.files()}
        finally:
            reader.close()
    assert chunks["fallback"] == chunks["parallel"] and len(chunks["parallel"]) == FILES


LOCK_HOLDERS_RUN = """
import json, os, sys, threading
from pathlib import Path
from base.config import IndexSettings
from indexer.pipeline import index_repository
from indexer.store import LOCK_NAME, index_dir

repo, me = Path(sys.argv[1]), os.getpid()
lock = os.path.realpath(index_dir(repo) / LOCK_NAME)
seen = {"holders": [], "workers": 0}
done = threading.Event()

def descendants():
    parent = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent[int(pid)] = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            pass
    depth = {me: 0}
    for _ in range(4):
        for pid, ppid in parent.items():
            if ppid in depth and pid not in depth:
                depth[pid] = depth[ppid] + 1
    return {pid: d for pid, d in depth.items() if pid != me}

def is_helper(command):
    # python [-B ...] -c "from multiprocessing.forkserver import main; ..." (or resource_tracker)
    return any(arg.startswith("from multiprocessing") for arg in command.split("\\0"))

def command_and_fds(pid):
    command = open(f"/proc/{pid}/cmdline").read()
    return command, [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]

def scan():
    while not done.is_set():
        for pid, depth in descendants().items():
            try:
                command, fds = command_and_fds(pid)
            except OSError:
                continue
            helper = depth == 1 and is_helper(command)  # the resource tracker or the fork server
            seen["workers"] += not helper  # a chunking worker (the fork server's child, or ours)
            if lock in fds:
                seen["holders"].append(pid)

def in_exec_window(pid):
    # A helper seen between its fork and its exec: it had our descriptors for that moment and
    # lost them at exec (close_fds, and the lock is close-on-exec).  The fork server and the
    # resource tracker live until we exit, so they are there to ask: they run multiprocessing's
    # code now and do not hold the lock.  A worker that held it (fork start method) is gone by now.
    try:
        command, fds = command_and_fds(pid)
    except OSError:
        return False
    return is_helper(command) and lock not in fds

watcher = threading.Thread(target=scan, daemon=True)
watcher.start()
stats = index_repository(repo, IndexSettings(embeddings=False))
done.set()
watcher.join()
seen["exec_window"] = sorted({pid for pid in seen["holders"] if in_exec_window(pid)})
seen["holders"] = [pid for pid in seen["holders"] if pid not in seen["exec_window"]]
print(json.dumps({"indexed": stats.files_indexed, **seen}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_worker_process_holds_the_index_lock(tmp_path: Path) -> None:
    """Only the indexing process may hold ``index.lock``: a worker holding it keeps the repository
    locked after the indexing process is killed, until the worker notices (or forever)."""
    repo = _many_files(tmp_path / "repo")
    for i in range(FILES, FILES * 3):  # enough files for the scan to see the workers at work
        (repo / f"mod_{i:03d}.py").write_text(f"def f_{i}(x):\n    return x + {i}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", LOCK_HOLDERS_RUN, str(repo)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["indexed"] == FILES * 3
    assert report["workers"], "the scan never saw a chunking worker: nothing was checked"
    assert report["holders"] == [], report


def test_bm25_from_worker_counts_scores_exactly_as_rank_bm25(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Workers tokenize and count; the indexing process only maps terms to ids: no score may change.

    Several commits (so several segments and a vocabulary carried from one commit to the next),
    many files per segment (so per-file term lists are concatenated, the same term at many places).
    """
    monkeypatch.setattr("indexer.pipeline.COMMIT_EVERY_FILES", 60)
    rng = random.Random(7)
    words = ["order", "total", "price", "tax", "parse", "config", "retry", "cache", "token", "user", "line"]
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(FILES):
        functions = [f"def {rng.choice(words)}_{j}(x):\n    return {rng.choice(words)}Total(x) + {rng.randint(0, 9)}\n"
                     for j in range(rng.randint(1, 4))]
        (repo / f"{rng.choice(words)}_{i:03d}.py").write_text("\n\n".join(functions), encoding="utf-8")
    caplog.set_level(logging.INFO, logger="indexer.pipeline")
    index_repository(repo, IndexSettings(embeddings=False))
    assert "worker processes" in caplog.text
    conn = store.connect(store.db_path(repo))
    try:
        assert conn.execute("SELECT COUNT(*) FROM bm25_segments").fetchone()[0] > 1
        chunks = store.fetch_chunks(conn, [row[0] for row in conn.execute("SELECT id FROM chunks")])
        ids = sorted(chunks)
        reference = BM25Okapi([bm25_tokens(chunks[cid]) for cid in ids])
        searcher = Bm25Searcher(conn)
        for query in ["order total", "parse config retry", "token", "tax_3 price", "py"]:
            tokens = code_tokens(query)
            ours = searcher.all_scores(conn, lookup_terms(conn, tokens))
            assert ours == pytest.approx(dict(zip(ids, reference.get_scores(tokens), strict=True)), rel=1e-9, abs=1e-9)
    finally:
        conn.close()


def test_doc_terms_survive_pickling_as_one_buffer() -> None:
    """Workers send ``DocTerms`` through a pipe: the arrays come back equal, dtype for dtype, and usable."""
    import pickle

    import numpy as np

    from indexer.bm25 import DocTerms

    counted = DocTerms.count([["a", "b", "a"], [], ["c"] * 70_000, ["b"]])
    back = pickle.loads(pickle.dumps(counted, protocol=pickle.HIGHEST_PROTOCOL))
    assert back.terms == counted.terms
    for mine, theirs in zip((back.term_idx, back.docs, back.tfs, back.lens),
                            (counted.term_idx, counted.docs, counted.tfs, counted.lens), strict=True):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    both = DocTerms.concat([back, back])
    assert both.docs.tolist() == [0, 0, 2, 3, 4, 4, 6, 7] and both.tfs.tolist()[2] == 70_000
