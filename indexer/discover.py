"""Find the files of a repository worth indexing, and say why every other one was skipped.

Ignore rules follow git's semantics with pathspec's ``GitIgnoreSpec``: the default
excludes, ``.git/info/exclude``, the root ``.gitignore``, the project's
``.repo-assistant-ignore`` and ``index.exclude`` apply from the root, each deeper
``.gitignore`` applies below its directory, and the *last* matching pattern wins
(so ``!keep.py`` re-includes).  Directories that match are pruned without being
listed (each counted once, as ``dir/``).  ``.git`` and ``.repo-assistant`` are always
skipped.  Symbolic links are followed only when they stay inside the repository
and never twice into the same real directory (no loops).

Decisions that need the file's bytes (binary sniffing, decoding) are taken later by
the pipeline, only for new or changed files, so an unchanged re-index only stats.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from base.config import IndexSettings
from base.paths import DATA_DIR_NAME, PROJECT_IGNORE_NAME
from indexer.secrets import is_secret_file
from indexer.types import SkippedFile

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", DATA_DIR_NAME})

DEFAULT_EXCLUDES: tuple[str, ...] = (
    "node_modules/", "bower_components/", "jspm_packages/", ".venv/", "__pycache__/", ".mypy_cache/",
    ".pytest_cache/", ".ruff_cache/", ".tox/", ".nox/", ".eggs/", "*.egg-info/", ".hypothesis/",
    "/build/", "/dist/", "/target/", "/out/", ".gradle/", ".next/", ".nuxt/", ".cache/", ".parcel-cache/",
    ".idea/", ".vscode/", ".terraform/", "coverage/", "htmlcov/",
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock", "uv.lock",
    "Cargo.lock", "Gemfile.lock", "composer.lock", "go.sum", "*.lock",
    "*.min.js", "*.min.css", "*.min.mjs", "*.map", ".DS_Store",
)

# Formats that are binary by definition: skipped as "binary" (what they are) without being read,
# rather than as "ignored" (which means "a rule of yours or ours excluded it").
BINARY_SUFFIXES = frozenset({
    ".pyc", ".pyo", ".so", ".dylib", ".dll", ".o", ".a", ".lib", ".obj", ".exe", ".class", ".jar", ".whl",
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico",
    ".webp", ".pdf", ".woff", ".woff2", ".ttf", ".eot", ".mp3", ".mp4", ".wav", ".sqlite", ".sqlite3", ".db",
    ".gguf", ".safetensors", ".bin", ".onnx", ".pt", ".npy", ".npz", ".parquet",
})


def is_binary_name(name: str) -> bool:
    """A file whose name says it is binary (``libx.so.1`` too): no need to read it to know."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    return bool(suffixes) and (suffixes[-1] in BINARY_SUFFIXES or ".so" in suffixes[:-1])


@dataclass
class Candidate:
    """A file that passed the walk: relative path, absolute path, size and mtime."""

    path: str
    abspath: Path
    size: int
    mtime_ns: int


@dataclass
class Discovery:
    files: list[Candidate] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _spec(lines: Sequence[str]) -> object | None:
    import pathspec

    cleaned = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return pathspec.GitIgnoreSpec.from_lines(cleaned) if cleaned else None


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


class _Rules:
    """The ignore specs that apply in one directory, outermost first: ``(base dir, spec)``."""

    def __init__(self, levels: list[tuple[str, object]]) -> None:
        self.levels = levels

    def child(self, rel_dir: str, abs_dir: Path) -> _Rules:
        lines = _read_lines(abs_dir / ".gitignore") if (abs_dir / ".gitignore").is_file() else []
        spec = _spec(lines) if lines else None
        return _Rules([*self.levels, (rel_dir, spec)]) if spec is not None else self

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        verdict = False
        for base, spec in self.levels:
            sub = rel_path[len(base) + 1:] if base else rel_path
            if is_dir:
                sub += "/"
            result = spec.check_file(sub)  # type: ignore[attr-defined]
            if result.include is not None:
                verdict = bool(result.include)
        return verdict


def root_rules(repo: Path, settings: IndexSettings) -> _Rules:
    lines: list[str] = list(DEFAULT_EXCLUDES)
    lines += _read_lines(repo / ".git" / "info" / "exclude")
    lines += _read_lines(repo / ".gitignore")
    lines += _read_lines(repo / PROJECT_IGNORE_NAME)
    lines += list(settings.exclude)
    spec = _spec(lines)
    return _Rules([("", spec)] if spec is not None else [])


def discover(repo: Path, settings: IndexSettings) -> Discovery:
    """Walk ``repo`` (see the module docstring); results are sorted by path."""
    repo = repo.resolve()
    found = Discovery()
    visited: set[tuple[int, int]] = set()
    root_stat = repo.stat()
    visited.add((root_stat.st_dev, root_stat.st_ino))
    stack: list[tuple[str, Path, _Rules]] = [("", repo, root_rules(repo, settings))]
    repo_prefix = str(repo) + os.sep
    while stack:
        rel_dir, abs_dir, rules = stack.pop()
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as exc:
            found.skipped.append(SkippedFile(rel_dir + "/", f"unreadable ({exc.strerror})"))
            continue
        subdirs: list[tuple[str, Path, _Rules]] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_link = entry.is_symlink()
                st = os.stat(entry.path) if is_link else entry.stat(follow_symlinks=False)
            except OSError:
                found.skipped.append(SkippedFile(rel, "broken symlink" if entry.is_symlink() else "unreadable"))
                continue
            if is_link:
                target = os.path.realpath(entry.path)
                if not (target + os.sep).startswith(repo_prefix) and target != str(repo):
                    found.skipped.append(SkippedFile(rel, "symlink outside repo"))
                    continue
            if stat.S_ISDIR(st.st_mode):
                if entry.name in ALWAYS_SKIPPED_DIRS:
                    continue
                if rules.ignored(rel, is_dir=True):
                    found.skipped.append(SkippedFile(rel + "/", "ignored"))
                    continue
                if (Path(entry.path) / "pyvenv.cfg").is_file():
                    found.skipped.append(SkippedFile(rel + "/", "ignored"))
                    continue
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    found.skipped.append(SkippedFile(rel + "/", "symlink loop"))
                    continue
                visited.add(key)
                subdirs.append((rel, Path(entry.path), rules.child(rel, Path(entry.path))))
                continue
            if not stat.S_ISREG(st.st_mode):
                found.skipped.append(SkippedFile(rel, "not a regular file"))
                continue
            if rules.ignored(rel, is_dir=False):
                found.skipped.append(SkippedFile(rel, "ignored"))
                continue
            if is_binary_name(entry.name):
                found.skipped.append(SkippedFile(rel, "binary"))
                continue
            if not settings.index_secrets and is_secret_file(entry.name):
                found.skipped.append(SkippedFile(rel, "secret"))
                continue
            if st.st_size > settings.max_file_bytes:
                found.skipped.append(SkippedFile(rel, "too large"))
                continue
            found.files.append(Candidate(rel, Path(entry.path), st.st_size, st.st_mtime_ns))
        stack.extend(reversed(subdirs))
    found.files.sort(key=lambda c: c.path)
    return found
