"""Repo map side by side with Aider's, on a copy of the Python standard library.

Both maps get the same repository, the same files, the same focus file and the
same token counter (UTF-8 bytes / 3, so neither needs a model tokenizer), for
1K and 4K token budgets.  Timed:

- cold: a fresh map object and empty caches.  Aider parses every file with
  tree-sitter here (its tag cache is deleted first); ours reads the symbol table
  the indexer already stored, so the indexing time of the copy is printed too;
- warm: the same call again;
- new focus: the same map object asked about another file (the ranking is redone);
- 1 file edited: one file's symbols change, then the map is asked for again
  (Aider re-parses the file by mtime, with ``force_refresh`` since its map cache
  would otherwise return the stale map; ours updates its tables for that file).

Aider runs in its own throwaway virtualenv (``python3 -m venv /tmp/aider-venv &&
/tmp/aider-venv/bin/pip install aider-chat``); point ``--aider-python`` elsewhere
if needed.  Without it, only our side is timed and the reason is printed.

    .venv/bin/python bench/repo_map.py [--repo PATH] [--aider-python /tmp/aider-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = Path(__file__).resolve().parent / ".cache"
BUDGETS = (1024, 4096)
AIDER_PYTHON = Path("/tmp/aider-venv/bin/python")
FOCUS_CANDIDATES = ("json/decoder.py", "argparse.py", "http/client.py")
OTHER_FOCUS_CANDIDATES = ("email/message.py", "logging/__init__.py", "csv.py")

AIDER_SCRIPT = r'''
import json, os, shutil, sys, time
from pathlib import Path
from aider.repomap import RepoMap

root, focus, other_focus, edited, files_json, budgets = sys.argv[1:7]
files = json.loads(Path(files_json).read_text())
root = Path(root)
abs_files = [str(root / f) for f in files]

class Model:
    def token_count(self, text):
        return len(text.encode("utf-8")) // 3 + 1

class IO:
    def read_text(self, fname, silent=False):
        try:
            return Path(fname).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    def tool_output(self, *a, **k): pass
    def tool_warning(self, *a, **k): pass
    def tool_error(self, *a, **k): pass

def run(rm, chat, force=False):
    chat_abs = [str(root / chat)]
    others = [f for f in abs_files if f not in chat_abs]
    t = time.perf_counter()
    text = rm.get_repo_map(chat_abs, others, force_refresh=force) or ""
    return time.perf_counter() - t, Model().token_count(text)

out = {}
for budget in [int(b) for b in budgets.split(",")]:
    shutil.rmtree(root / RepoMap.TAGS_CACHE_DIR, ignore_errors=True)
    rm = RepoMap(map_tokens=budget, root=str(root), main_model=Model(), io=IO(), refresh="auto")
    cold, tokens = run(rm, focus)
    warm, _ = run(rm, focus)
    new_focus, _ = run(rm, other_focus)
    path = root / edited
    original = path.read_text()
    path.write_text(original + "\n\ndef bench_added_function(x):\n    return x\n")
    try:
        edited_s, _ = run(rm, other_focus, force=True)  # else its map cache answers with the stale map
    finally:
        path.write_text(original)
    out[budget] = {"cold": cold, "warm": warm, "new focus": new_focus, "1 file edited": edited_s, "tokens": tokens}
print(json.dumps(out))
'''


def stdlib_copy(cache: Path = CACHE) -> Path:
    """A private copy of this interpreter's standard library (without site-packages and caches)."""
    target = cache / "stdlib"
    if (target / ".copied").is_file():
        return target
    if target.exists():
        shutil.rmtree(target)
    source = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        "site-packages", "__pycache__", "*.pyc", "lib-dynload", "config-*", "*.so"))
    (target / ".copied").write_text(str(source))
    return target


def ensure_index(repo: Path, embeddings: bool = False) -> float:
    """Index ``repo`` (incrementally: instant when up to date); returns the seconds it took."""
    from base.config import IndexSettings
    from indexer.pipeline import index_repository

    started = time.perf_counter()
    index_repository(repo, IndexSettings(embeddings=embeddings), embeddings=embeddings, wait=True)
    return time.perf_counter() - started


def _pick(files: Sequence[str], candidates: Sequence[str], avoid: str = "") -> str:
    for c in candidates:
        if c in files and c != avoid:
            return c
    return next(f for f in files if f.endswith(".py") and f != avoid)


def time_ours(repo: Path, files: list[str], focus: str, other: str, edited: str) -> dict[int, dict[str, float]]:
    from base.config import IndexSettings
    from base.tokens import estimate_tokens
    from indexer.reader import IndexReader
    from indexer.types import SymbolDef
    from retrieval.repo_map import RepoMap

    results: dict[int, dict[str, float]] = {}
    for budget in BUDGETS:
        t = time.perf_counter()
        reader = IndexReader.open(repo, IndexSettings())
        symbols = reader.symbols()
        rm = RepoMap()
        rm.update(symbols)
        text = rm.render(budget, estimate_tokens, [focus])
        cold = time.perf_counter() - t
        t = time.perf_counter()
        rm.update(symbols)
        rm.render(budget, estimate_tokens, [focus])
        warm = time.perf_counter() - t
        t = time.perf_counter()
        rm.update(symbols)
        rm.render(budget, estimate_tokens, [other])
        new_focus = time.perf_counter() - t
        changed = dict(symbols)
        fs = changed[edited]
        added = SymbolDef("bench_added_function", "bench_added_function", "function", edited, 10_000, 10_001,
                          "def bench_added_function(x):")
        changed[edited] = replace(fs, definitions=(*fs.definitions, added))
        t = time.perf_counter()
        rm.update(changed)
        rm.render(budget, estimate_tokens, [other])
        edited_s = time.perf_counter() - t
        reader.close()
        results[budget] = {"cold": cold, "warm": warm, "new focus": new_focus, "1 file edited": edited_s,
                           "tokens": estimate_tokens(text)}
    return results


def time_aider(python: Path, repo: Path, files: list[str], focus: str, other: str,
               edited: str) -> dict[int, dict[str, float]] | str:
    if not python.is_file():
        return f"{python} not found (create it: python3 -m venv /tmp/aider-venv && " \
               "/tmp/aider-venv/bin/pip install aider-chat)"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "aider_map.py"
        script.write_text(AIDER_SCRIPT)
        listing = Path(tmp) / "files.json"
        listing.write_text(json.dumps(files))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "AIDER_ANALYTICS": "false"}
        run = subprocess.run([str(python), str(script), str(repo), focus, other, edited, str(listing),
                              ",".join(str(b) for b in BUDGETS)], capture_output=True, text=True, env=env,
                             timeout=3600)
        if run.returncode != 0:
            return "aider failed: " + (run.stderr.strip().splitlines() or ["?"])[-1]
        data = json.loads(run.stdout.strip().splitlines()[-1])
        return {int(k): v for k, v in data.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Repo map: ours vs Aider's")
    parser.add_argument("--repo", type=Path, help="repository (default: a copy of the stdlib)")
    parser.add_argument("--aider-python", type=Path, default=AIDER_PYTHON)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    repo = (args.repo or stdlib_copy()).resolve()
    index_s = ensure_index(repo)
    from base.config import IndexSettings
    from indexer.reader import IndexReader

    with IndexReader.open(repo, IndexSettings()) as reader:
        files = [f for f in reader.files() if f.endswith(".py")]
    focus = _pick(files, FOCUS_CANDIDATES)
    other = _pick(files, OTHER_FOCUS_CANDIDATES, avoid=focus)
    edited = other
    print(f"repository: {repo} ({len(files)} Python files); index brought up to date in {index_s:.1f}s")
    print(f"focus file: {focus}; second focus and edited file: {other}; tokens: UTF-8 bytes / 3 for both")
    ours = time_ours(repo, files, focus, other, edited)
    aider = time_aider(args.aider_python, repo, files, focus, other, edited)
    columns = ["cold", "warm", "new focus", "1 file edited"]
    print(f"\n{'budget':>7} {'map':<6}" + "".join(f"{c:>15}" for c in columns) + f"{'map tokens':>12}")
    for budget in BUDGETS:
        rows = [("ours", ours[budget])]
        if isinstance(aider, dict):
            rows.append(("aider", aider[budget]))
        for name, row in rows:
            print(f"{budget:>7} {name:<6}" + "".join(f"{row[c] * 1000:>13.1f}ms" for c in columns)
                  + f"{int(row['tokens']):>12}")
        if isinstance(aider, dict):
            ratio = [aider[budget][c] / max(ours[budget][c], 1e-9) for c in columns]
            print(f"{budget:>7} {'ratio':<6}" + "".join(f"{r:>14.1f}x" for r in ratio) + "   (aider / ours)")
    if not isinstance(aider, dict):
        print(f"\nAider not timed: {aider}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
