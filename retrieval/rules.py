"""Project rules: the instruction files a repository keeps for coding assistants, gathered for prompts.

Repositories state their conventions in files such as ``AGENTS.md`` or
``CLAUDE.md``; a model that sees them follows the project's style and
workflow instead of guessing.  :func:`project_rules` reads the files named in
:data:`RULE_FILES` from the repository root down to the active file's folder,
so a folder's own rules come later in the prompt than the root's and win
where they disagree.  The total is capped (``retrieval.rules_max_bytes``): the
nearest files are kept first, and a file that does not fit, is binary, is not
UTF-8 or lies outside the repository (a symlink) is skipped with a note.

The rendered block (:func:`rules_block`) goes into ask, explain and patch
prompts as one context item with the reason :data:`RULES_REASON`, counted
against the budget like any other item.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

RULE_FILES = ("AGENTS.md", "CLAUDE.md", "GEMINI.md", "CONVENTIONS.md", ".github/copilot-instructions.md",
              ".repo-assistant/rules.md")
RULES_REASON = "project rules"
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build", "dist",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache"})
MAX_WALK_DIRS = 20_000  # `repo-assistant rules` stops listing after this many folders


@dataclass(frozen=True)
class RuleFile:
    """One rules file used in a prompt: its path, size, and the folder whose files it applies to."""

    path: str
    size: int
    applies_to: str  # "" for the whole repository, else a folder path


@dataclass
class ProjectRules:
    """The rules that apply to one file: the files used (farthest first), the rendered text, skip notes."""

    files: list[RuleFile] = field(default_factory=list)
    text: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


def _folders(active_path: str | None) -> list[str]:
    """The repository root, then each folder down to the active file's folder (``""`` is the root)."""
    folders = [""]
    if not active_path:
        return folders
    parts = PurePosixPath(active_path).parts[:-1]
    for depth in range(1, len(parts) + 1):
        folders.append("/".join(parts[:depth]))
    return folders


def _read_rule(repo: Path, rel: str, limit: int) -> tuple[bytes | None, str | None]:
    """The file's bytes (at most ``limit + 1``), or ``None`` and why it was skipped (``None``: absent)."""
    path = repo / rel
    if not path.is_file():
        return None, None
    try:
        resolved = path.resolve()
    except OSError as exc:
        return None, f"{rel}: unreadable ({exc.strerror or exc})"
    if resolved != repo and repo not in resolved.parents:
        return None, f"{rel}: skipped, it points outside the repository"
    try:
        with open(resolved, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return None, f"{rel}: unreadable ({exc.strerror or exc})"
    if b"\0" in data[:8192]:
        return None, f"{rel}: skipped, binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (len(data) > limit and exc.start >= limit - 3):  # a cut through the last character is fine
            return None, f"{rel}: skipped, not UTF-8 text"
    return data, None


def project_rules(repo: Path, active_path: str | None, cap_bytes: int) -> ProjectRules:
    """The rule files that apply to ``active_path`` (or the repository), at most ``cap_bytes`` in all."""
    rules = ProjectRules()
    if cap_bytes <= 0:
        return rules
    repo = repo.resolve()
    found: list[tuple[str, str]] = []  # (path, folder), root first
    for folder in _folders(active_path):
        for name in RULE_FILES:
            rel = f"{folder}/{name}" if folder else name
            found.append((rel, folder))
    left = cap_bytes
    kept: list[tuple[RuleFile, str]] = []
    for rel, folder in reversed(found):  # nearest first: they win the room
        data, note = _read_rule(repo, rel, cap_bytes)
        if note:
            rules.notes.append(f"project rules: {note}")
        if data is None:
            continue
        text = data.decode("utf-8", "ignore").strip()
        if not text:
            continue
        size = os.path.getsize(repo / rel)
        if size > left:
            rules.notes.append(f"project rules: {rel} skipped, {size} bytes do not fit the "
                               f"{cap_bytes}-byte cap (retrieval.rules_max_bytes)")
            continue
        left -= size
        kept.append((RuleFile(rel, size, folder), text))
    kept.reverse()
    rules.files = [f for f, _text in kept]
    rules.text = _render(kept)
    return rules


def _render(kept: list[tuple[RuleFile, str]]) -> str:
    if not kept:
        return ""
    parts = ["Project rules (the repository's instructions for assistants; later files are nearer to the code "
             "and take precedence):"]
    for rule, text in kept:
        scope = f"applies to {rule.applies_to}/" if rule.applies_to else "applies to the whole repository"
        parts += ["", f"--- {rule.path} ({scope}) ---", text]
    return "\n".join(parts)


def rules_block(rules: ProjectRules) -> str:
    """The text to put in a prompt (empty when no rules apply)."""
    return rules.text


def all_rule_files(repo: Path) -> list[RuleFile]:
    """Every rules file in the repository and the folder it applies to (for ``repo-assistant rules``)."""
    repo = repo.resolve()
    out: list[RuleFile] = []
    for walked, (dirpath, dirnames, _filenames) in enumerate(os.walk(repo)):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        if walked >= MAX_WALK_DIRS:
            break
        folder = Path(dirpath).relative_to(repo).as_posix()
        folder = "" if folder == "." else folder
        for name in RULE_FILES:
            rel = f"{folder}/{name}" if folder else name
            path = repo / rel
            if path.is_file():
                out.append(RuleFile(rel, path.stat().st_size, folder))
    return out
