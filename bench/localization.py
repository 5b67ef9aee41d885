"""Issue localization on SWE-bench Lite: does `localize` find the file the real fix changed?

For each project release in ``../shared/data/swebench_lite_dev.jsonl`` the source
distribution is downloaded from PyPI (cached), indexed (cached per release), and
every issue of that release is localized with BM25, vectors and both fused.  The
classic baseline runs in the same process on the same sources: whole-file BM25
over every source file (identifier-split tokens, path included), as in the
SWE-bench paper.  Reported per mode and per project: recall@1/3/5/10 of the gold
files, and the share of instances whose gold files land in a 16K-token context
(for ``localize``: a chunk of every gold file among the chunks packed in
localization order; for the baseline: the whole gold files among whole files
packed in BM25 order, as the paper counts it).

    .venv/bin/python bench/localization.py --quick          # one release per project
    .venv/bin/python bench/localization.py --no-vectors     # all releases, BM25 and baseline only
    .venv/bin/python bench/localization.py                  # everything (slow: embeds ~50 releases)

Old releases whose sdist pip cannot prepare on a modern Python are fetched from the
URL pip reports (see ../shared/data/README.md); instances whose release cannot be
fetched, or whose gold file is not in the sdist, are skipped and counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "swebench_lite_dev.jsonl"
CACHE = Path(__file__).resolve().parent / ".cache" / "localization"
KS = (1, 3, 5, 10)
CONTEXT_TOKENS = 16_000
CONTEXT_FILES = 50
CODE_EXTENSIONS = {".py", ".pyx", ".pyi", ".c", ".h", ".cpp", ".js", ".ts"}


@dataclass
class Instance:
    instance_id: str
    project: str
    version: str
    problem: str
    gold: list[str]


@dataclass
class Outcome:
    ranks: list[list[str]] = field(default_factory=list)  # per instance: ranked paths
    in_context: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    golds: list[list[str]] = field(default_factory=list)


def load_instances(path: Path) -> list[Instance]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Instance(r["instance_id"], r["pypi_name"], r["pypi_version"], r["problem_statement"], r["gold_files"])
            for r in rows]


def quick_selection(instances: Sequence[Instance]) -> list[Instance]:
    """One release per project: the one with the most instances (ties: the later version)."""
    per_release: dict[tuple[str, str], list[Instance]] = defaultdict(list)
    for inst in instances:
        per_release[(inst.project, inst.version)].append(inst)
    chosen: dict[str, tuple[str, str]] = {}
    for key, items in sorted(per_release.items()):
        best = chosen.get(key[0])
        if best is None or len(items) >= len(per_release[best]):
            chosen[key[0]] = key
    return [inst for key in sorted(chosen.values()) for inst in per_release[key]]


# -- sources ---------------------------------------------------------------------------------

def fetch_sdist(name: str, version: str, cache: Path) -> Path | None:
    """The release's sdist archive, downloaded once with pip (or from the URL pip found)."""
    dest = cache / "sdists"
    dest.mkdir(parents=True, exist_ok=True)
    prefix = f"{name}-{version}.".lower()
    for existing in dest.iterdir():
        if existing.name.lower().startswith(prefix):
            return existing
    pip = [sys.executable, "-m", "pip", "download", "-vvv", "--no-deps", "--no-binary", ":all:",
           "--no-build-isolation", "-d", str(dest), f"{name}=={version}"]
    try:
        run = subprocess.run(pip, capture_output=True, text=True, timeout=300)
        output, ok = run.stdout + run.stderr, run.returncode == 0
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        ok = False
    if not ok:
        # pip downloaded the archive but could not build its metadata: fetch the URL it found.
        match = re.search(r"Found link (https://\S+/" + re.escape(name) + "-" + re.escape(version)
                          + r"\.(?:tar\.gz|zip|tar\.bz2))", output, re.I)
        if not match:
            return None
        import httpx

        url = match.group(1)
        (dest / url.rsplit("/", 1)[1]).write_bytes(httpx.get(url, follow_redirects=True, timeout=300).content)
    for existing in dest.iterdir():
        if existing.name.lower().startswith(prefix):
            return existing
    return None


def extract(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into ``target`` (once), without its top-level folder."""
    if (target / ".extracted").is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
    entries = list(tmp.iterdir())
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
    top.rename(target)
    if tmp.exists():
        shutil.rmtree(tmp)
    (target / ".extracted").write_text(archive.name)
    return target


def index_settings(source: Path, vectors: bool, keywords_dir: Path | None, threads: int = 2) -> Any:
    """The release's index settings; with ``keywords_dir`` BM25 is also kept, and searched, in a Qdrant
    collection there (qdrant-client's local mode: ``index.qdrant_keywords``)."""
    from base.config import IndexSettings

    if keywords_dir is None:
        return IndexSettings(embeddings=vectors, threads=threads)
    return IndexSettings(embeddings=vectors, threads=threads, qdrant_keywords=True,
                         qdrant_url=f"local:{keywords_dir / source.name}")


def index_release(source: Path, vectors: bool, keywords_dir: Path | None = None) -> None:
    """Index (or bring up to date) a release; vectors only when asked."""
    from indexer.pipeline import index_repository

    index_repository(source, index_settings(source, vectors, keywords_dir), embeddings=vectors, wait=True)


# -- the whole-file BM25 baseline --------------------------------------------------------------

class WholeFileBM25:
    """BM25 over whole source files, tokens = identifier-split code tokens + path tokens."""

    def __init__(self, source: Path, paths: Sequence[str]) -> None:
        from rank_bm25 import BM25Okapi

        from indexer.tokenize import code_tokens, path_tokens

        self.paths = [p for p in paths if Path(p).suffix in CODE_EXTENSIONS]
        self.texts = [(source / p).read_text(encoding="utf-8", errors="replace") for p in self.paths]
        self.bm25 = BM25Okapi([code_tokens(t) + path_tokens(p) for p, t in zip(self.paths, self.texts,
                                                                                    strict=True)])
        self._tokens = code_tokens
        self._counts: dict[int, int] = {}

    def tokens(self, i: int, count: Callable[[str], int]) -> int:
        """Token count of file ``i`` (memoised: the same files are packed for every issue)."""
        if i not in self._counts:
            self._counts[i] = count(self.texts[i])
        return self._counts[i]

    def rank(self, text: str) -> list[int]:
        scores = self.bm25.get_scores(self._tokens(text))
        return sorted(range(len(self.paths)), key=lambda i: -scores[i])


# -- scoring ---------------------------------------------------------------------------------

def recall_at(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    top = set(ranked[:k])
    return sum(1 for g in gold if g in top) / len(gold)


def summarize(outcome: Outcome, indices: Sequence[int] | None = None) -> dict[str, float]:
    idx = range(len(outcome.ranks)) if indices is None else indices
    if not idx:
        return {}
    row = {f"R@{k}": statistics.mean(recall_at(outcome.ranks[i], outcome.golds[i], k) for i in idx) for k in KS}
    row["in 16K"] = statistics.mean(1.0 if outcome.in_context[i] else 0.0 for i in idx)
    row["s/issue"] = statistics.mean(outcome.seconds[i] for i in idx)
    return row


def print_table(title: str, rows: dict[str, dict[str, float]], counts: dict[str, int] | None = None) -> None:
    columns = [*[f"R@{k}" for k in KS], "in 16K", "s/issue"]
    print(f"\n{title}")
    name_width = max([len(n) for n in rows] + [8])
    header = f"{'':<{name_width}}" + ("    n" if counts else "") + "".join(f"{c:>9}" for c in columns)
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        if not row:
            continue
        n = f"{counts[name]:>5}" if counts else ""
        print(f"{name:<{name_width}}{n}" + "".join(f"{row[c]:>9.3f}" if c != "s/issue" else f"{row[c]:>9.2f}"
                                                  for c in columns))


def token_counter() -> tuple[Callable[[str], int], str]:
    """The embedded model's tokenizer (the one the app counts with by default), else the estimate."""
    try:
        from assistant.models import token_counter as model_counter
        from base.config import ModelSettings

        counter = model_counter(ModelSettings())
        counter("probe")
        return counter, "SmolLM2 tokenizer"
    except Exception as exc:  # offline without the model package
        from base.tokens import ESTIMATE_NAME, estimate_tokens

        return estimate_tokens, f"{ESTIMATE_NAME} ({exc})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one release per project")
    parser.add_argument("--no-vectors", action="store_true", help="skip embeddings (bm25 and baseline only)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--project", action="append", default=[], help="only this project (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the per-instance results here")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    parser.add_argument("--qdrant-keywords", type=Path, metavar="DIR", default=None,
                        help="rank BM25 through Qdrant sparse vectors kept in DIR (qdrant-client local mode; "
                             "with a release's vectors in the embedded store as usual)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(max(1, args.threads))

    from base.config import RetrievalSettings
    from indexer.reader import IndexReader
    from retrieval.localize import localization_context, localize

    instances = load_instances(args.data)
    if args.project:
        instances = [i for i in instances if i.project in set(args.project)]
    if args.quick:
        instances = quick_selection(instances)
    vectors = not args.no_vectors
    modes = ["bm25", "vector", "hybrid"] if vectors else ["bm25"]
    count, counter_name = token_counter()
    settings = RetrievalSettings()
    outcomes: dict[str, Outcome] = {m: Outcome() for m in [*modes, "whole-file BM25"]}
    skipped: dict[str, int] = defaultdict(int)
    releases: dict[tuple[str, str], list[Instance]] = defaultdict(list)
    for inst in instances:
        releases[(inst.project, inst.version)].append(inst)
    print(f"{len(instances)} instances, {len(releases)} releases, modes: {', '.join(modes)}; "
          f"context tokens counted with {counter_name}", flush=True)
    index_seconds: dict[str, float] = {}
    for (project, version), items in sorted(releases.items()):
        archive = fetch_sdist(project, version, args.cache)
        if archive is None:
            skipped["sdist unavailable"] += len(items)
            print(f"  {project} {version}: sdist unavailable, {len(items)} skipped", flush=True)
            continue
        source = extract(archive, args.cache / "src" / f"{project}-{version}")
        started = time.perf_counter()
        index_release(source, vectors, args.qdrant_keywords)
        index_seconds[f"{project}-{version}"] = time.perf_counter() - started
        reader = IndexReader.open(source, index_settings(source, vectors, args.qdrant_keywords, args.threads))
        try:
            files = set(reader.files())
            baseline = WholeFileBM25(source, sorted(files))
            for inst in items:
                if not all(g in files for g in inst.gold):
                    skipped["gold file not in the sdist"] += 1
                    continue
                for mode in modes:
                    t0 = time.perf_counter()
                    # Recall counts the first 10 files; the 16K context is packed from as many
                    # ranked files as fit (their best chunks first), as a patch prompt would be.
                    loc = localize(reader, inst.problem, CONTEXT_FILES, settings=settings, mode=mode)
                    elapsed = time.perf_counter() - t0
                    chunks = localization_context(reader, loc, CONTEXT_TOKENS, count)
                    in_context = all(any(c.path == g for c in chunks) for g in inst.gold)
                    out = outcomes[mode]
                    out.ranks.append(loc.paths()[:10])
                    out.in_context.append(in_context)
                    out.seconds.append(elapsed)
                    out.projects.append(project)
                    out.golds.append(inst.gold)
                t0 = time.perf_counter()
                order = baseline.rank(inst.problem)
                elapsed = time.perf_counter() - t0
                used, packed = 0, set()
                for i in order:
                    cost = baseline.tokens(i, count)
                    if used + cost <= CONTEXT_TOKENS:
                        used += cost
                        packed.add(baseline.paths[i])
                    if CONTEXT_TOKENS - used < 32:
                        break
                out = outcomes["whole-file BM25"]
                out.ranks.append([baseline.paths[i] for i in order[:10]])
                out.in_context.append(all(g in packed for g in inst.gold))
                out.seconds.append(elapsed)
                out.projects.append(project)
                out.golds.append(inst.gold)
        finally:
            reader.close()
        first = outcomes[modes[-1]]
        done = len(first.ranks)
        print(f"  {project} {version}: {len(files)} files, indexed in {index_seconds[f'{project}-{version}']:.0f}s; "
              f"{done} instances so far", flush=True)

    evaluated = len(outcomes[modes[0]].ranks)
    print(f"\nEvaluated {evaluated} of {len(instances)} instances; skipped: {dict(skipped) or 'none'}")
    print_table("Overall", {m: summarize(o) for m, o in outcomes.items()})
    projects = sorted({p for o in outcomes.values() for p in o.projects})
    for mode, outcome in outcomes.items():
        rows: dict[str, dict[str, float]] = {}
        counts: dict[str, int] = {}
        for project in projects:
            idx = [i for i, p in enumerate(outcome.projects) if p == project]
            rows[project] = summarize(outcome, idx)
            counts[project] = len(idx)
        print_table(f"Per project: {mode}", rows, counts)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({m: o.__dict__ for m, o in outcomes.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
