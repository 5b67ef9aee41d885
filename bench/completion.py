"""Does repository context help completion?  Exact match and edit similarity per ``--context``.

    .venv/bin/python bench/completion.py                  # requests 2.31.0, N=12, embedded model
    .venv/bin/python bench/completion.py --n 40 --model qwen2.5-coder-1.5b --device cuda
    .venv/bin/python bench/completion.py --base-url http://127.0.0.1:8000/v1   # a served model

The project is a real one this project did not write: the sdist of ``requests``
(downloaded once with pip into ``bench/.cache/``).  It is indexed (BM25; add
``--embeddings`` for vectors), then lines that *use an identifier defined in
another file of the project* are masked one at a time, as RepoCoder and
CrossCodeEval do: the cursor sits after the line's indentation, the model sees
the file with that line's code removed, and its completion (first line) is
compared with the original: exact match (whitespace-normalised) and edit
similarity (``difflib`` ratio, 0-100).  Each masked line is completed with
``--context repo``, ``file`` and ``none``; the table puts them side by side.
Greedy decoding, so runs are reproducible.
"""

from __future__ import annotations

import argparse
import difflib
import random
import re
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache" / "completion"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Task:
    path: str
    line: int  # 1-based
    indent: int
    target: str  # the line's code, stripped
    foreign: list[str]  # identifiers it uses that other files define


def fetch_project(name: str, version: str) -> Path:
    """The unpacked sdist of ``name==version`` (downloaded once with pip)."""
    root = CACHE / f"{name}-{version}"
    if (root / ".unpacked").is_file():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    f"{name}=={version}", "-d", str(CACHE)], check=True, timeout=300)
    archive = next(CACHE.glob(f"{name}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / ".unpacked").write_text("ok")
    return root


def find_tasks(repo: Path, reader: object, n: int, seed: int) -> list[Task]:
    """Lines that use names defined in other files (imports and definitions themselves excluded)."""
    symbols = reader.symbols()  # type: ignore[attr-defined]
    defined_in: dict[str, set[str]] = {}
    for path, file_symbols in symbols.items():
        for d in file_symbols.definitions:
            if "." not in d.qualified_name and len(d.name) > 3 and not d.name.startswith("__"):
                defined_in.setdefault(d.name, set()).add(path)
    tasks: list[Task] = []
    for path in sorted(symbols):
        if not path.endswith(".py") or "/tests/" in f"/{path}" or path.startswith(("tests/", "docs/")):
            continue
        own = {d.name for d in symbols[path].definitions}
        lines = (repo / path).read_text(encoding="utf-8").splitlines()
        in_docstring = False
        for number, line in enumerate(lines, 1):
            code = line.strip()
            if code.count('"""') % 2 == 1:
                in_docstring = not in_docstring
                continue
            if in_docstring or not code or code.startswith(("#", "import ", "from ", "def ", "class ", "@")):
                continue
            if len(code) < 12 or len(code) > 100 or code.endswith(("(", "[", "{", ",", "\\")):
                continue
            foreign = sorted({w for w in _IDENT.findall(code) if w in defined_in and w not in own
                              and path not in defined_in[w]})
            if foreign:
                tasks.append(Task(path, number, len(line) - len(line.lstrip()), code, foreign))
    random.Random(seed).shuffle(tasks)
    return tasks[:n]


def normalise(text: str) -> str:
    return " ".join(text.split())


def score(prediction: str, target: str) -> tuple[bool, float]:
    first = prediction.split("\n", 1)[0]
    exact = normalise(first) == normalise(target)
    similarity = 100 * difflib.SequenceMatcher(None, normalise(first), normalise(target)).ratio()
    return exact, similarity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", default="requests==2.31.0", help="a PyPI release with an sdist")
    parser.add_argument("--n", type=int, default=12, help="masked lines (default 12: CPU-friendly)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--contexts", default="repo,file,none")
    parser.add_argument("--model", help="preset, HF id, directory or .gguf (default: the embedded model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--base-url", help="an OpenAI-compatible server instead of a local model")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--embeddings", action="store_true", help="index vectors too (slower on a CPU)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print every target and prediction")
    args = parser.parse_args()

    from assistant.completion import complete
    from assistant.models import load_backend
    from base.config import IndexSettings, Settings
    from indexer.pipeline import index_repository
    from indexer.reader import IndexReader

    name, version = args.project.split("==")
    repo = fetch_project(name, version)
    settings = Settings()
    settings.index = IndexSettings(embeddings=args.embeddings)
    settings.model.temperature = 0.0
    settings.model.threads = args.threads
    settings.model.device = args.device
    if args.model:
        settings.model.name = args.model
    if args.base_url:
        settings.model.backend, settings.model.base_url = "openai", args.base_url
    started = time.perf_counter()
    index_repository(repo, settings.index)
    reader = IndexReader.open(repo, settings.index)
    print(f"indexed {repo.name} in {time.perf_counter() - started:.1f} s ({len(reader.files())} files)",
          file=sys.stderr)
    tasks = find_tasks(repo, reader, args.n, args.seed)
    backend = load_backend(settings.model, progress=lambda m: print(m, file=sys.stderr))
    contexts = args.contexts.split(",")
    results: dict[str, list[tuple[bool, float, float, int]]] = {c: [] for c in contexts}
    for i, task in enumerate(tasks, 1):
        original = (repo / task.path).read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        masked_line = " " * task.indent + "\n"
        masked = "".join(lines[: task.line - 1]) + masked_line + "".join(lines[task.line:])
        for context in contexts:
            result = complete(repo, task.path, task.line, task.indent, settings=settings, backend=backend,
                              reader=reader, context=context, max_new_tokens=args.max_tokens, text=masked)
            exact, similarity = score(result.text, task.target)
            results[context].append((exact, similarity, result.timings["total_s"], result.prompt_tokens))
            if args.show:
                print(f"[{i}/{len(tasks)} {context:>4}] {task.path}:{task.line}\n  want: {task.target}\n"
                      f"  got:  {result.text.splitlines()[0] if result.text else ''}", file=sys.stderr)
        print(f"  {i}/{len(tasks)} done", file=sys.stderr, flush=True)
    print(f"\nCompletion of masked lines that use cross-file identifiers: {name} {version}, N={len(tasks)}, "
          f"model {backend.model_name} on {backend.device} ({getattr(backend, 'family', None) and backend.family.completion_mode}), "  # type: ignore[attr-defined]
          f"greedy, {args.max_tokens} new tokens max\n")
    header = f"{'context':<8} {'exact match':>12} {'edit sim':>9} {'mean s':>7} {'prompt tok':>11}"
    print(header)
    print("-" * len(header))
    for context in contexts:
        rows = results[context]
        if not rows:
            continue
        em = 100 * sum(r[0] for r in rows) / len(rows)
        print(f"{context:<8} {em:>11.1f}% {statistics.mean(r[1] for r in rows):>9.1f} "
              f"{statistics.mean(r[2] for r in rows):>7.2f} {statistics.mean(r[3] for r in rows):>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
