"""Retrieval latency on the standard-library index: search and build_context, p50 and p95.

    .venv/bin/python bench/retrieval_latency.py [--repo PATH] [--no-vectors] [--runs N]

Search is timed per query in bm25 and hybrid mode (hybrid includes embedding the
query); ``build_context`` at a 16,000-token budget for cursors at fixed pseudo-random
places in the repository, half of them with a question, counted with the embedded
model's tokenizer.  The first call of each kind (loading BM25 arrays, the embedder,
the tokenizer) is reported on its own and left out of the percentiles.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

QUERIES = [
    "how does json decode a string with escapes",
    "parse_header",
    "where are HTTP response headers parsed",
    "ThreadPoolExecutor shutdown wait",
    "csv dialect sniffing",
    "percent-encode a URL query string",
    "SequenceMatcher get_opcodes",
    "how is a tar archive member extracted safely",
    "timezone aware datetime to ISO format",
    "email message get_payload decode base64",
    "logging handler rotate file when size exceeded",
    "argparse mutually exclusive group error message",
    "deepcopy memo dictionary",
    "sqlite3 connection row factory",
    "Fraction limit_denominator",
    "zipfile ZipInfo from_file",
    "asyncio event loop run_until_complete",
    "shutil copytree ignore patterns",
    "pathlib glob recursive",
    "textwrap dedent common leading whitespace",
]
BUDGET = 16_000


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return p50 * 1000, p95 * 1000


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="repository (default: the stdlib copy of bench/repo_map.py)")
    parser.add_argument("--no-vectors", action="store_true", help="BM25 only (no embedding)")
    parser.add_argument("--runs", type=int, default=3, help="passes over the queries")
    parser.add_argument("--contexts", type=int, default=40, help="build_context calls")
    parser.add_argument("--threads", type=int, default=1, help="embedding threads for the query")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from repo_map import ensure_index, stdlib_copy

    from base.config import IndexSettings, ModelSettings, RetrievalSettings
    from indexer.reader import IndexReader
    from retrieval.context import build_context
    from retrieval.search import search
    from retrieval.types import Target

    repo = (args.repo or stdlib_copy()).resolve()
    vectors = not args.no_vectors
    index_s = ensure_index(repo, embeddings=vectors)
    try:
        from assistant.models import token_counter

        count = token_counter(ModelSettings())
        counter_name = "SmolLM2 tokenizer"
    except Exception:
        from base.tokens import estimate_tokens

        count, counter_name = estimate_tokens, "estimate"
    settings = RetrievalSettings()
    reader = IndexReader.open(repo, IndexSettings(threads=args.threads))
    modes = ["bm25", "hybrid"] if vectors and reader.has_vectors else ["bm25"]
    files = [f for f in reader.files() if f.endswith(".py")]
    print(f"repository: {repo} ({len(files)} Python files, {len(reader.chunks())} chunks); index up to date "
          f"in {index_s:.1f}s; vectors: {reader.has_vectors}; tokens: {counter_name}")
    rows: list[tuple[str, float, float, float, int]] = []
    for mode in modes:
        first = timed(lambda m=mode: search(reader, QUERIES[0], k=10, mode=m, settings=settings))
        samples = [timed(lambda q=q, m=mode: search(reader, q, k=10, mode=m, settings=settings))
                   for _ in range(args.runs) for q in QUERIES]
        rows.append((f"search {mode} (k=10)", first * 1000, *percentiles(samples), len(samples)))
    rng = random.Random(7)
    targets: list[tuple[Target, str]] = []
    for i in range(args.contexts):
        path = rng.choice(files)
        lines = (repo / path).read_text(encoding="utf-8", errors="replace").count("\n") or 1
        targets.append((Target(path, rng.randint(1, lines), 0), QUERIES[i % len(QUERIES)] if i % 2 else ""))
    first = timed(lambda: build_context(reader, targets[0][0], targets[0][1], BUDGET, count, repo=repo,
                                        settings=settings))
    samples = [timed(lambda t=t, q=q: build_context(reader, t, q, BUDGET, count, repo=repo, settings=settings))
               for t, q in targets]
    rows.append((f"build_context {BUDGET // 1000}K", first * 1000, *percentiles(samples), len(samples)))
    reader.close()
    print(f"\n{'operation':<26}{'first ms':>10}{'p50 ms':>10}{'p95 ms':>10}{'n':>6}")
    for name, first_ms, p50, p95, n in rows:
        print(f"{name:<26}{first_ms:>10.1f}{p50:>10.1f}{p95:>10.1f}{n:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
