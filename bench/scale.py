"""Scale bench: the stdlib and a kernel-sized corpus (this venv's site-packages), side by side.

    .venv/bin/python bench/scale.py                 # both corpora, BM25 only
    .venv/bin/python bench/scale.py --only stdlib   # one corpus
    .venv/bin/python bench/scale.py --embed-subset 2000   # also time embeddings (extrapolated)
    .venv/bin/python bench/scale.py --embed-all       # also the whole index with vectors, measured
    .venv/bin/python bench/scale.py --code /tmp/before    # another checkout's CLI (before/after in one run)

The corpora are copied once under ``<user cache>/bench/scale/`` and reused (their index is
wiped before each cold run): the site-packages corpus is the source files of this project's
virtual environment (``.py .pyi .h .hpp .cuh .c .cpp .md .rst .js .ts``, the project itself
excluded), about 24K files and 7M lines — the size of a kernel tree.  Every command runs
as a real CLI child process, so wall times include interpreter start-up and the peak RSS
is the child's own (``os.wait4``).  Timings on a shared machine are noisy: compare the
two columns of one run, not runs on different days.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base.paths import user_cache_dir  # noqa: E402

EXTENSIONS = {".py", ".pyi", ".h", ".hpp", ".cuh", ".c", ".cpp", ".md", ".rst", ".js", ".ts"}
CORPUS_VERSION = 1
# The CLI under test: this tree's, or another checkout's with --code (a before/after in one run).
CLI = [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())"]
CODE_DIR = ROOT
LAST_CPU = 0.0
QUERIES = {
    "stdlib": ["parse the header", "open a socket connection", "retry on timeout",
               "decimal rounding", "walk directory tree"],
    "site-packages": ["parse the header", "open a socket connection", "retry on timeout",
                      "tensor shape mismatch", "tokenizer padding side"],
}


def cache_root() -> Path:
    return user_cache_dir() / "bench" / "scale"


def _copy_tree(source: Path, target: Path, exclude: Path | None) -> None:
    """Copy the source files under ``source`` (by extension) to ``target``, skipping ``exclude``."""
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                             and (exclude is None or (here / d).resolve() != exclude))
        for name in filenames:
            path = here / name
            if path.suffix in EXTENSIONS and path.is_file() and not path.is_symlink():
                dest = target / path.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)


def build_corpus(name: str) -> Path:
    """The corpus directory, copied on first use (a marker file says it is complete)."""
    target = cache_root() / f"{name}-v{CORPUS_VERSION}"
    marker = target / ".complete"
    if marker.is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if name == "stdlib":
        source = Path(sysconfig.get_paths()["stdlib"])
        for entry in sorted(source.iterdir()):
            if entry.name in {"site-packages", "dist-packages", "__pycache__"}:
                continue
            if entry.is_dir():
                _copy_tree(entry, target / entry.name, None)
            elif entry.suffix in EXTENSIONS:
                shutil.copyfile(entry, target / entry.name)
    else:
        source = Path(sysconfig.get_paths()["purelib"])
        _copy_tree(source, target, ROOT.resolve())
        for stray in target.glob("__editable__*"):
            stray.unlink()
    marker.write_text(json.dumps({"source": str(source)}))
    return target


def source_stats(repo: Path) -> tuple[int, int, int]:
    """(files, lines, bytes) of the corpus, the index excluded."""
    files = lines = size = 0
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d != ".repo-assistant"]
        for name in filenames:
            if name == ".complete":
                continue
            data = (Path(dirpath) / name).read_bytes()
            files += 1
            size += len(data)
            lines += data.count(b"\n")
    return files, lines, size


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _become_subreaper() -> None:
    """Adopt orphaned descendants (Linux), so their CPU time reaches ``RUSAGE_CHILDREN``.

    The indexer's chunking workers are children of multiprocessing's fork server, which the
    CLI never waits for: without this, ``wait4`` reports the CLI process alone and a cold
    index looks like a third of the CPU it takes.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans(deadline_s: float = 5.0) -> None:
    """Wait for adopted descendants (the fork server leaves shortly after the CLI process)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(*args: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one CLI child, its own peak RSS via ``wait4``.

    The CPU seconds of the child and every process it started (the chunking workers too,
    see :func:`_become_subreaper`) go to ``LAST_CPU``: on a shared machine they are steadier
    than wall time, so the table prints both.
    """
    global LAST_CPU
    cpu_before = _children_cpu()
    start = time.perf_counter()
    out_path = cache_root() / f".out-{os.getpid()}"
    with open(out_path, "w") as out_file:
        env = {**os.environ, "PYTHONPATH": str(CODE_DIR)}
        proc = subprocess.Popen([*CLI, *args], stdout=out_file, stderr=subprocess.STDOUT, env=env, cwd=CODE_DIR)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    _reap_orphans()
    LAST_CPU = max(usage.ru_utime + usage.ru_stime, _children_cpu() - cpu_before)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = out_path.read_text(errors="replace")
    out_path.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {out[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def _has_repo_map(out: str) -> bool:
    """Whether a ``context --json`` output (notes may come first) put the repo map into the context."""
    data, _ = json.JSONDecoder().raw_decode(out[out.index("{"):])
    return any(item.get("kind") == "repo-map" for item in data.get("items", []))


def pick_context_file(repo: Path) -> str:
    """A mid-sized Python file with at least 50 lines, the same one every run."""
    candidates = sorted(p for p in repo.rglob("*.py") if ".repo-assistant" not in p.parts)
    for path in candidates[len(candidates) // 3:]:
        n = path.read_bytes().count(b"\n")
        if 200 <= n <= 2000:
            return str(path.relative_to(repo))
    return str(candidates[0].relative_to(repo))


def bench_corpus(name: str, repo: Path, args: argparse.Namespace) -> dict[str, str | float]:
    """Every row of the table for one corpus."""
    row: dict[str, str | float] = {}
    files, lines, size = source_stats(repo)
    shutil.rmtree(repo / ".repo-assistant", ignore_errors=True)
    wall, rss, _ = run_measured("index", str(repo), "--no-embeddings")
    data = repo / ".repo-assistant" / "index"
    last = _last_run(repo)
    chunks = int(last["chunks_total"])
    row["corpus"] = f"{files:,} files, {lines / 1e6:.2f}M lines, {size / 2**20:.0f} MiB"
    row["chunks"] = float(chunks)
    row["cold index --no-embeddings"] = f"{wall:.1f} s (CPU {LAST_CPU:.0f} s), {rss:.0f} MiB"
    row["_cold_s"] = wall
    row["µs per chunk (cold)"] = f"{wall / chunks * 1e6:.0f}"
    row["_us_per_chunk"] = wall / chunks * 1e6
    wall, rss, _ = run_measured("index", str(repo), "--no-embeddings")
    row["no-op re-index"] = f"{wall:.2f} s (CPU {LAST_CPU:.2f}), {rss:.0f} MiB"
    edited = repo / pick_context_file(repo)
    original = edited.read_bytes()
    try:
        edited.write_bytes(original + b"\n\ndef scale_bench_added_function():\n    return 1\n")
        wall, rss, _ = run_measured("index", str(repo), "--no-embeddings")
        row["one edited file"] = f"{wall:.2f} s (CPU {LAST_CPU:.2f}), {rss:.0f} MiB"
    finally:
        edited.write_bytes(original)
    run_measured("index", str(repo), "--no-embeddings")
    row["index on disk"] = f"{du(data) / 2**20:.0f} MiB ({du(data) / size:.2f}x the sources)"
    walls: list[float] = []
    cpus: list[float] = []
    rsses: list[float] = []
    for query in QUERIES[name]:
        wall, rss, _ = run_measured("search", "--repo", str(repo), "--mode", "bm25", query)
        walls.append(wall)
        cpus.append(LAST_CPU)
        rsses.append(rss)
    row["search (CLI, median of 5)"] = (f"{statistics.median(walls):.2f} s (CPU {statistics.median(cpus):.2f}), "
                                        f"{max(rsses):.0f} MiB")
    row["_search_s"] = statistics.median(walls)
    row.update(bench_bm25_process(repo, QUERIES[name]))
    target = pick_context_file(repo)
    # The first context after an index change builds the repo map for the new content; the next CLI
    # call loads the one it saved.  An empty map cache makes the first one cold on every run.  With a
    # question, search hits usually fill the budget and no map is built: that is measured apart.
    map_cache = cache_root() / f".repo-map-{os.getpid()}"
    shutil.rmtree(map_cache, ignore_errors=True)
    os.environ["REPO_ASSISTANT_MAP_CACHE_DIR"] = str(map_cache)
    for label in ("map built: first after indexing", "map loaded: again"):
        wall, rss, out = run_measured("context", "--repo", str(repo), "--set", "retrieval.mode=bm25",
                                      f"{target}:50:1", "--json")
        mapped = "" if _has_repo_map(out) else " (no repo map in it)"
        row[f"context FILE:50:1 (CLI), {label}"] = f"{wall:.2f} s (CPU {LAST_CPU:.2f}), {rss:.0f} MiB{mapped}"
    wall, rss, out = run_measured("context", "--repo", str(repo), "--set", "retrieval.mode=bm25",
                                  f"{target}:50:1", "--query", "how is the result cached", "--json")
    mapped = " (with the repo map)" if _has_repo_map(out) else " (search hits fill it: no map)"
    row["context FILE:50:1 --query (CLI)"] = f"{wall:.2f} s (CPU {LAST_CPU:.2f}), {rss:.0f} MiB{mapped}"
    del os.environ["REPO_ASSISTANT_MAP_CACHE_DIR"]
    shutil.rmtree(map_cache, ignore_errors=True)
    wall, rss, _ = run_measured("status", "--repo", str(repo))
    row["status (CLI)"] = f"{wall:.2f} s (CPU {LAST_CPU:.2f}), {rss:.0f} MiB"
    row.update(bench_repo_map(repo))
    if args.embed_subset:
        row.update(bench_embedding(repo, args.embed_subset, args.threads))
        row.update(bench_gpu_embedding(repo, args.embed_subset, args.threads))
    if args.embed_all:
        row.update(bench_full_embedding(repo, QUERIES[name], args.probe_every))
    return row


def bench_bm25_process(repo: Path, queries: list[str]) -> dict[str, str | float]:
    """The BM25 part of a search on its own: a fresh process opens the index and runs the queries.

    The CLI ``search`` also checks for stale files (stats, or a walk when the tree's shape
    changed) and looks the query's names up; this row isolates what the BM25 index itself
    costs a process.
    """
    code = (
        "import sys, time, json, resource\n"
        "t0 = time.perf_counter()\n"
        "from pathlib import Path\n"
        "from base.config import IndexSettings\n"
        "from indexer.reader import IndexReader\n"
        "t1 = time.perf_counter()\n"
        "reader = IndexReader.open(Path(sys.argv[1]), IndexSettings(embeddings=False))\n"
        "times = []\n"
        "for q in sys.argv[2:]:\n"
        "    t = time.perf_counter(); hits = reader.bm25_search(q, 10); times.append(time.perf_counter() - t)\n"
        "print(json.dumps({'import': t1 - t0, 'first': times[0], 'rest': sorted(times[1:])[len(times[1:]) // 2],\n"
        "                  'total': time.perf_counter() - t0,\n"
        "                  'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(repo), *queries], cwd=CODE_DIR, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(CODE_DIR)})
    if out.returncode != 0:
        return {"BM25 only, fresh process": "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1]}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"BM25 only, fresh process": f"{r['total']:.2f} s for {len(queries)} queries, {r['rss']:.0f} MiB "
                                        f"(imports {r['import']:.2f} s, 1st query {r['first'] * 1000:.0f} ms, "
                                        f"then p50 {r['rest'] * 1000:.0f} ms)"}


def bench_embedding(repo: Path, subset: int, threads: int, device: str = "cpu") -> dict[str, str]:
    """Embedding throughput on ``subset`` chunks in embedding order, extrapolated to the whole index.

    The full CPU run on the big corpus takes most of an hour, so the row says EXTRAPOLATED
    (``--embed-all`` measures it).  The sample follows the order the indexer embeds in
    (``indexer.pipeline.embed_priority``) and also reports how many chunks come before the first
    test, doc or vendored one.  ``device`` is an ``index.embedding_device`` value (``cuda``: fp16).
    """
    code = (
        "import sys, time, json, random\n"
        "from pathlib import Path\n"
        "from base.config import IndexSettings\n"
        "from indexer.reader import IndexReader\n"
        "from indexer.pipeline import embed_priority, embedding_text\n"
        "from indexer.embedder import load_embedder\n"
        "settings = IndexSettings()\n"
        "reader = IndexReader.open(Path(sys.argv[1]), IndexSettings(embeddings=False))\n"
        "chunks = list(reader.chunks())\n"
        "source = sum(1 for c in chunks if embed_priority(c.path) == 0)\n"
        "sample = random.Random(3).sample(chunks, min(int(sys.argv[2]), len(chunks)))\n"
        "texts = [embedding_text(c) for c in sample]\n"
        "embedder = load_embedder(settings.embedding_model, threads=int(sys.argv[3]),\n"
        "                         max_tokens=settings.embed_max_tokens, device=sys.argv[4])\n"
        "embedder.embed(texts[:16])\n"
        "t = time.perf_counter()\n"
        "embedder.embed(texts, batch_size=settings.embed_batch_size)\n"
        "rate = len(texts) / (time.perf_counter() - t)\n"
        "print(json.dumps({'rate': rate, 'n': len(texts), 'total': len(chunks), 'source': source,\n"
        "                  'flavour': embedder.flavour}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(repo), str(subset), str(threads), device], cwd=CODE_DIR,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(CODE_DIR)})
    where = "" if device == "cpu" else f" on {device}"
    if out.returncode != 0:
        return {f"embedding{where}": "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1]}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {f"embedding{where} ({r['flavour']}, {threads} threads)": f"{r['rate']:.0f} chunks/s on {r['n']} chunks",
            f"full embedding time{where} (EXTRAPOLATED)":
                f"{r['total'] / r['rate'] / 60:.1f} min for {r['total']:,} chunks; source ({r['source']:,} chunks) "
                f"first: {r['source'] / r['rate'] / 60:.1f} min"}


def bench_gpu_embedding(repo: Path, subset: int, threads: int) -> dict[str, str]:
    """The fp16 embedder on a CUDA GPU (``index.embedding_device=cuda``; the issue's goal: 5,000 chunks/s)."""
    import torch

    if not torch.cuda.is_available():
        return {"embedding on cuda (fp16)": "skipped: no CUDA device on this machine"}
    return bench_embedding(repo, max(subset, 20_000), threads, device="cuda")


def bench_full_embedding(repo: Path, queries: list[str], probe_every_s: float) -> dict[str, str]:
    """The whole index with vectors, measured, not extrapolated: a cold ``index`` (BM25 first, then every
    chunk embedded in priority order) with a private, empty shared vector cache so no vector comes from an
    earlier run, and ``search`` (hybrid) probed every ``probe_every_s`` seconds while it runs: a user can
    search at every moment.  On the big corpus this takes most of an hour of both cores."""
    probes: list[tuple[float, bool]] = []
    stop = threading.Event()
    env = {**os.environ, "PYTHONPATH": str(CODE_DIR)}

    def probe() -> None:
        k = 0
        while not stop.wait(probe_every_s):
            started = time.perf_counter()
            out = subprocess.run([*CLI, "search", "--repo", str(repo), queries[k % len(queries)]], cwd=CODE_DIR,
                                 capture_output=True, text=True, env=env)
            probes.append((time.perf_counter() - started, out.returncode == 0 and bool(out.stdout.strip())))
            k += 1

    shutil.rmtree(repo / ".repo-assistant", ignore_errors=True)
    with tempfile.TemporaryDirectory() as vectors:
        os.environ["REPO_ASSISTANT_VECTOR_CACHE_DIR"] = vectors
        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        try:
            wall, rss, _ = run_measured("index", str(repo))
        except RuntimeError as exc:
            return {"full index with vectors (measured)": f"failed: {str(exc).splitlines()[0]}"}
        finally:
            stop.set()
            thread.join()
            del os.environ["REPO_ASSISTANT_VECTOR_CACHE_DIR"]
    last = _last_run(repo)
    embedded, phases = int(last["chunks_embedded"]), last["seconds_by_phase"]
    answered = sorted(seconds for seconds, ok in probes if ok)
    row = {"full index with vectors (measured)":
           f"{wall / 60:.1f} min, {embedded:,} chunks embedded at {embedded / max(phases.get('embedding', 1), 1e-9):.0f}"
           f" chunks/s, BM25 search ready after {float(last['bm25_ready_s']):.0f} s, {rss:.0f} MiB"}
    if probes:
        row["search while embedding (CLI, hybrid)"] = (
            f"{len(answered)}/{len(probes)} probes answered, median {statistics.median(answered or [0]):.2f} s, "
            f"max {max(answered or [0]):.2f} s")
    shutil.rmtree(repo / ".repo-assistant", ignore_errors=True)  # the next BM25 bench starts cold anyway
    return row


_MAP_PROCESS = """
import inspect, json, os, sys, time
from pathlib import Path
from base.config import IndexSettings
from indexer.reader import IndexReader
from retrieval import repo_map
count = lambda text: len(text) // 4
repo, steps = Path(sys.argv[1]), sys.argv[2].split(",")
reader = IndexReader.open(repo, IndexSettings(embeddings=False))
reads = {"symbol_loads": 0, "files_read": 0}


class Counted:
    \"\"\"The reader, counting what the map read of the symbol table.\"\"\"

    def content(self):
        return reader.content()

    def symbols(self):
        reads["symbol_loads"] += 1
        return reader.symbols()

    def file_symbols(self, path):
        reads["files_read"] += 1
        return reader.file_symbols(path)


def build(names):
    if "content_digest" in inspect.signature(repo_map.build_repo_map).parameters:  # before the tables (--code)
        return repo_map.build_repo_map(Counted().symbols, 2048, count, (), names, cache_key=str(repo),
                                       content_digest=repo_map.index_digest(reader))
    return repo_map.build_repo_map(Counted(), 2048, count, (), names, cache_key=str(repo))


times, so_far = [], []
t = time.perf_counter()
for step in steps:
    if step == "edit":  # edit one file and re-index it in this process, as the TUI's watcher does
        from indexer.pipeline import index_repository
        path = repo / os.environ["MAP_BENCH_EDIT"]
        path.write_bytes(path.read_bytes() + b"\\n\\ndef map_bench_added_function():\\n    return 1\\n")
        index_repository(repo, IndexSettings(embeddings=False), embeddings=False)
    else:
        build(tuple(step.split("+")))
    times.append(time.perf_counter() - t)
    so_far.append(dict(reads))
    t = time.perf_counter()
print(json.dumps({"times": times, "reads": so_far}))
"""


def bench_repo_map(repo: Path) -> dict[str, str]:
    """Repo map in fresh processes: cold (symbols load + graph), warm (same and new question), a new process
    with the tables saved by content (what a CLI call or a restarted TUI pays), and after one edited file:
    in the process that had the map (the TUI) and in a new one (a CLI or MCP call)."""
    edited = repo / pick_context_file(repo)
    original = edited.read_bytes()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": str(CODE_DIR), "REPO_ASSISTANT_MAP_CACHE_DIR": cache,
               "MAP_BENCH_EDIT": str(edited.relative_to(repo))}

        def process(*steps: str) -> dict[str, Any]:
            out = subprocess.run([sys.executable, "-c", _MAP_PROCESS, str(repo), ",".join(steps)], cwd=CODE_DIR,
                                 capture_output=True, text=True, env=env)
            if out.returncode != 0:
                raise RuntimeError((out.stderr.strip().splitlines() or ["?"])[-1])
            return json.loads(out.stdout.strip().splitlines()[-1])

        try:
            cold = process("cache", "cache", "parse+header")
            saved = process("cache", "parse+header")
            same = process("cache", "edit", "cache")
            edited.write_bytes(original)
            run_measured("index", str(repo), "--no-embeddings")
            process("cache")  # the tables of the original content are the repository's latest again
            edited.write_bytes(original + b"\n\ndef map_bench_other_function():\n    return 2\n")
            run_measured("index", str(repo), "--no-embeddings")
            new = process("cache")
        except RuntimeError as exc:
            return {"repo map": f"failed: {exc}"}
        finally:
            edited.write_bytes(original)
            run_measured("index", str(repo), "--no-embeddings")
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    def reads(run: dict[str, Any], step: int) -> str:
        """What the map read of the symbol table in that step."""
        before = run["reads"][step - 1] if step else {"symbol_loads": 0, "files_read": 0}
        now = run["reads"][step]
        return (f"(symbol table loads: {now['symbol_loads'] - before['symbol_loads']}, "
                f"files read: {now['files_read'] - before['files_read']})")

    return {"repo map cold (incl. symbols load)": f"{cold['times'][0]:.2f} s",
            "repo map warm: same / new question": f"{ms(cold['times'][1])} / {ms(cold['times'][2])}",
            "repo map, new process, saved: first / new question":
                f"{saved['times'][0]:.2f} s / {ms(saved['times'][1])} {reads(saved, 0)}",
            "repo map after one edited file, same process (TUI)":
                f"{same['times'][2]:.2f} s (re-index {same['times'][1]:.2f} s) {reads(same, 2)}",
            "repo map after one edited file, new process (CLI, MCP)": f"{new['times'][0]:.2f} s {reads(new, 0)}"}


def _last_run(repo: Path) -> dict:
    from indexer import store

    conn = store.connect(store.db_path(repo))
    try:
        return store.get_meta(conn, "last_run")
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["stdlib", "site-packages"], action="append",
                        help="run one corpus (repeatable; default both)")
    parser.add_argument("--embed-subset", type=int, default=0, metavar="N",
                        help="also time the embedder on N chunks and extrapolate the full embedding run")
    parser.add_argument("--threads", type=int, default=2, help="embedding threads (default 2)")
    parser.add_argument("--embed-all", action="store_true",
                        help="also index every chunk with vectors, measured (most of an hour on the big corpus)")
    parser.add_argument("--probe-every", type=float, default=60.0, metavar="S",
                        help="with --embed-all: run a search every S seconds while vectors are built (default 60)")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="run the CLI of another source tree (e.g. a copy of the previous release)")
    args = parser.parse_args()
    _become_subreaper()
    global CODE_DIR
    CODE_DIR = args.code.resolve()
    names = args.only or ["stdlib", "site-packages"]
    results: dict[str, dict[str, str | float]] = {}
    for name in names:
        t = time.perf_counter()
        repo = build_corpus(name)
        print(f"[{name}] corpus at {repo} ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
        results[name] = bench_corpus(name, repo, args)
        print(f"[{name}] {json.dumps(results[name])}", file=sys.stderr)
    keys = [k for k in results[names[0]] if not k.startswith("_")]
    load = os.getloadavg()[0]
    print(f"\nrepo-assistant scale bench — {os.cpu_count()} CPUs, load average {load:.1f}, "
          f"Python {sys.version.split()[0]}, BM25 only")
    width = max(len(k) for k in keys)
    header = "  ".join(f"{n:<44}" for n in names)
    print(f"  {'':<{width}}  {header}" + ("  ratio" if len(names) == 2 else ""))
    for key in keys:
        cells = [results[n].get(key, "") for n in names]
        line = "  ".join(f"{(f'{c:,.0f}' if isinstance(c, float) else str(c)):<44}" for c in cells)
        ratio = ""
        if len(names) == 2:
            if key == "chunks":
                ratio = f"{float(cells[1]) / float(cells[0]):.1f}x"
            elif key.startswith("µs per chunk"):
                ratio = f"{float(results[names[1]]['_us_per_chunk']) / float(results[names[0]]['_us_per_chunk']):.2f}x"
            elif key.startswith("search"):
                ratio = f"{float(results[names[1]]['_search_s']) / float(results[names[0]]['_search_s']):.2f}x"
        print(f"  {key:<{width}}  {line}  {ratio}")


if __name__ == "__main__":
    main()
