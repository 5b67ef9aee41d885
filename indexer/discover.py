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

A kernel-sized tree has tens of thousands of files, so the per-file work is kept in C:
each ignore file's patterns are also compiled into one combined regex that only says
"no pattern can match" (the common case, verdict unchanged), and pathspec's own
last-match-wins evaluation runs only on a hit; names are checked as strings, and no
``Path`` is built per file.  The walk also reports the shape it saw (directory mtimes,
ignore files, too-large files) so :mod:`indexer.walkstate` can later tell, from stats
alone, that a new walk would find the same files.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


ROOT_IGNORE_FILES = (".git/info/exclude", ".gitignore", PROJECT_IGNORE_NAME)
ABSENT = (-1, -1)  # the (size, mtime_ns) recorded for an ignore file that does not exist


def is_binary_name(name: str) -> bool:
    """A file whose name says it is binary (``libx.so.1`` too): no need to read it to know.

    The suffixes are those ``pathlib`` gives (leading dots are not suffixes, a name ending
    in a dot has none), split as strings: this runs for every file of the tree.
    """
    if name.endswith("."):
        return False
    parts = name.lstrip(".").lower().split(".")
    return len(parts) > 1 and ("." + parts[-1] in BINARY_SUFFIXES or "so" in parts[1:-1])


@dataclass
class Candidate:
    """A file that passed the walk: relative path, absolute path (a string), size and mtime."""

    path: str
    location: str  # absolute; a Path per file would cost more than the rest of the walk
    size: int
    mtime_ns: int

    @property
    def abspath(self) -> Path:
        return Path(self.location)


@dataclass
class Discovery:
    """The files worth indexing, the skipped ones, and the shape of the tree the walk saw.

    ``dirs`` maps every walked directory (and every pruned virtualenv, whose
    ``pyvenv.cfg`` decided it) to its mtime, ``""`` being the root: adding, removing or
    renaming an entry changes it.  ``watched`` holds ``(size, mtime_ns)`` of the ignore
    files and of the files skipped as too large, whose edits in place change what a walk
    finds without touching a directory (:data:`ABSENT` for a root ignore file that does
    not exist).  ``volatile`` says the walk met broken links or unreadable entries, whose
    state no stat of theirs can vouch for.
    """

    files: list[Candidate] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    dirs: dict[str, int] = field(default_factory=dict)
    watched: dict[str, tuple[int, int]] = field(default_factory=dict)
    volatile: bool = False
    started_ns: int = 0  # wall clock before the first stat: mtimes at or after it may be racy


class _Spec:
    """One ignore file's patterns: pathspec's git verdict, asked only when a pattern could match.

    ``prefilter`` accepts a superset of the paths any (non-comment) pattern matches, so a
    miss means pathspec would return no verdict either; on a hit the exact evaluation
    (last match wins, ``!`` re-includes, directory-only patterns) is pathspec's own.
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.prefilter = _prefilter(spec)

    def verdict(self, path: str) -> bool | None:
        if self.prefilter is not None and self.prefilter.search(path) is None:
            return None
        include = self.spec.check_file(path).include
        return None if include is None else bool(include)


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_ANYWHERE = "^(?:.+/)?"  # how pathspec starts a pattern without a slash (it matches at any depth)


def _prefilter(spec: Any) -> re.Pattern[str] | None:
    """One regex matching whenever one of ``spec``'s patterns does (``None``: always ask pathspec).

    Named groups (pathspec marks directory matches with one) become plain groups so the
    patterns can be alternatives of one regex.  Patterns are grouped by how they start, so
    the engine tests each start once per position rather than once per pattern: those
    anchored at the root (``^...``) go under one ``^``, and those that match at any depth
    (``^(?:.+/)?NAME``) under one ``(?:^|/)``, which matches the same paths and more (a
    leading ``/`` too) without backtracking over ``.+/``.  This relies on pathspec's git
    translation having no top-level ``|`` (true of every pattern it produces);
    ``tests/indexer/test_discover_fastpath.py`` checks the verdicts against pathspec's own.
    """
    anywhere: list[str] = []
    anchored: list[str] = []
    others: list[str] = []
    for pattern in spec.patterns:
        regex = pattern.regex
        if pattern.include is None or regex is None:
            continue
        if not isinstance(regex.pattern, str) or regex.flags != re.UNICODE:
            return None
        source = _NAMED_GROUP.sub("(?:", regex.pattern)
        if source.startswith(_ANYWHERE):
            anywhere.append(source[len(_ANYWHERE):])
        elif source.startswith("^"):
            anchored.append(source[1:])
        else:
            others.append(source)  # ``*`` is ``.``, ``*/`` a bare directory mark
    parts = [f"(?:{p})" for p in others]
    if anywhere:
        parts.append("(?:^|/)(?:" + "|".join(f"(?:{p})" for p in anywhere) + ")")
    if anchored:
        parts.append("^(?:" + "|".join(f"(?:{p})" for p in anchored) + ")")
    try:
        return re.compile("|".join(parts) if parts else "(?!)")
    except re.error:
        return None


def _spec(lines: Sequence[str]) -> _Spec | None:
    import pathspec

    cleaned = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return _Spec(pathspec.GitIgnoreSpec.from_lines(cleaned)) if cleaned else None


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


class _Rules:
    """The ignore specs that apply in one directory, outermost first: ``(base dir, spec)``."""

    def __init__(self, levels: list[tuple[str, _Spec]]) -> None:
        self.levels = levels

    def child(self, rel_dir: str, abs_dir: Path) -> _Rules:
        lines = _read_lines(abs_dir / ".gitignore") if (abs_dir / ".gitignore").is_file() else []
        return self.with_lines(rel_dir, lines)

    def with_lines(self, rel_dir: str, lines: Sequence[str]) -> _Rules:
        """These rules plus a ``.gitignore`` of ``rel_dir`` holding ``lines``."""
        spec = _spec(lines) if lines else None
        return _Rules([*self.levels, (rel_dir, spec)]) if spec is not None else self

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        verdict = False
        for base, spec in self.levels:
            sub = rel_path[len(base) + 1:] if base else rel_path
            if is_dir:
                sub += "/"
            result = spec.verdict(sub)
            if result is not None:
                verdict = result
        return verdict


def root_rules(repo: Path, settings: IndexSettings) -> _Rules:
    lines: list[str] = list(DEFAULT_EXCLUDES)
    lines += _read_lines(repo / ".git" / "info" / "exclude")
    lines += _read_lines(repo / ".gitignore")
    lines += _read_lines(repo / PROJECT_IGNORE_NAME)
    lines += list(settings.exclude)
    spec = _spec(lines)
    return _Rules([("", spec)] if spec is not None else [])


def _signature(path: str) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file (links followed), :data:`ABSENT` when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return ABSENT
    return st.st_size, st.st_mtime_ns


def discover(repo: Path, settings: IndexSettings, *, on_many: tuple[int, Callable[[], None]] | None = None
             ) -> Discovery:
    """Walk ``repo`` (see the module docstring); results are sorted by path.

    ``on_many = (n, callback)``: ``callback()`` once, as soon as ``n`` files are found, so that a
    caller can prepare for a big run while the walk goes on.
    """
    repo = repo.resolve()
    found = Discovery(started_ns=time.time_ns())
    for name in ROOT_IGNORE_FILES:
        found.watched[name] = _signature(os.path.join(repo, name))
    visited: set[tuple[int, int]] = set()
    root_stat = repo.stat()
    visited.add((root_stat.st_dev, root_stat.st_ino))
    found.dirs[""] = root_stat.st_mtime_ns
    # (relative dir, absolute dir, the rules of its parent): its own .gitignore is read when it is listed
    stack: list[tuple[str, str, _Rules]] = [("", str(repo), root_rules(repo, settings))]
    repo_str = str(repo)
    repo_prefix = repo_str + os.sep
    skip = found.skipped.append
    keep = found.files.append
    check_secrets = not settings.index_secrets
    max_bytes = settings.max_file_bytes
    while stack:
        rel_dir, abs_dir, rules = stack.pop()
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as exc:
            skip(SkippedFile(rel_dir + "/", f"unreadable ({exc.strerror})"))
            found.volatile = True
            continue
        if rel_dir and any(entry.name == ".gitignore" for entry in entries):
            ignore_file = os.path.join(abs_dir, ".gitignore")
            if os.path.isfile(ignore_file):
                found.watched[f"{rel_dir}/.gitignore"] = _signature(ignore_file)
                rules = rules.with_lines(rel_dir, _read_lines(Path(ignore_file)))
        subdirs: list[tuple[str, str, _Rules]] = []
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                is_link = entry.is_symlink()
                st = os.stat(entry.path) if is_link else entry.stat(follow_symlinks=False)
            except OSError:
                skip(SkippedFile(rel, "broken symlink" if entry.is_symlink() else "unreadable"))
                found.volatile = True
                continue
            if is_link:
                target = os.path.realpath(entry.path)
                if not (target + os.sep).startswith(repo_prefix) and target != repo_str:
                    skip(SkippedFile(rel, "symlink outside repo"))
                    continue
            if stat.S_ISDIR(st.st_mode):
                if name in ALWAYS_SKIPPED_DIRS:
                    continue
                if rules.ignored(rel, is_dir=True):
                    skip(SkippedFile(rel + "/", "ignored"))
                    continue
                if os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
                    skip(SkippedFile(rel + "/", "ignored"))
                    found.dirs[rel] = st.st_mtime_ns  # removing pyvenv.cfg would make it a walked directory
                    continue
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    skip(SkippedFile(rel + "/", "symlink loop"))
                    continue
                visited.add(key)
                found.dirs[rel] = st.st_mtime_ns
                subdirs.append((rel, entry.path, rules))
                continue
            if not stat.S_ISREG(st.st_mode):
                skip(SkippedFile(rel, "not a regular file"))
                continue
            if rules.ignored(rel, is_dir=False):
                skip(SkippedFile(rel, "ignored"))
                continue
            if is_binary_name(name):
                skip(SkippedFile(rel, "binary"))
                continue
            if check_secrets and is_secret_file(name):
                skip(SkippedFile(rel, "secret"))
                continue
            if st.st_size > max_bytes:
                skip(SkippedFile(rel, "too large"))
                found.watched[rel] = (st.st_size, st.st_mtime_ns)
                continue
            keep(Candidate(rel, entry.path, st.st_size, st.st_mtime_ns))
        stack.extend(reversed(subdirs))
        if on_many is not None and len(found.files) >= on_many[0]:
            on_many[1]()
            on_many = None
    found.files.sort(key=lambda c: c.path)
    return found
