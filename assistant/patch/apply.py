"""The review gate's last step: apply a patch atomically, with a backup, and undo it.

Applying is all files or none.  Before anything is written the original bytes
of every touched file go into ``<repo>/.repo-assistant/backups/<id>/`` with a
manifest (what existed, hashes before and after, file modes).  The new
contents are written to temporary files next to their targets and renamed
into place one by one; if any step fails, the files already renamed are put
back from the backup and created files are removed, so the tree is as it was.

``undo`` restores the exact previous bytes (and deletes the files the patch
created) the same way, and refuses when a file was edited after the patch was
applied, unless forced.  ``apply`` refuses to touch files with uncommitted
changes unless forced, so a patch never mixes with unsaved work that git
could not give back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.patch.candidate import Candidate
from assistant.patch.changes import FileChange
from assistant.patch.safety import UnsafePath, resolve_in_repo
from base.atomic import write_atomic
from base.errors import PatchError
from base.paths import ensure_data_dir, repo_data_dir

MANIFEST = "manifest.json"
APPLYING, APPLIED, UNDONE = "applying", "applied", "undone"


def backups_dir(repo: Path) -> Path:
    return repo_data_dir(repo) / "backups"


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass
class BackupEntry:
    """One touched file: whether it existed, its mode and content hashes around the patch."""

    path: str
    existed: bool
    sha_before: str | None
    sha_after: str
    mode: int | None


@dataclass
class Backup:
    """The record of one applied patch (``manifest.json`` in its backup directory)."""

    id: str
    created: str
    title: str
    status: str
    files: list[BackupEntry] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)
    undone_at: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Backup:
        files = [BackupEntry(**entry) for entry in data.get("files", [])]
        return cls(id=data["id"], created=data["created"], title=data.get("title", ""),
                   status=data["status"], files=files, created_dirs=list(data.get("created_dirs", [])),
                   undone_at=data.get("undone_at"))


# --------------------------------------------------------------------------- low-level writes


def _replace(src: Path, dst: Path) -> None:
    """Atomic rename (one seam, so tests can make it fail halfway through a patch)."""
    os.replace(src, dst)


def _fsync_write(path: Path, data: bytes, mode: int | None = None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(path, mode)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def _save_manifest(directory: Path, backup: Backup) -> None:
    write_atomic(directory / MANIFEST, backup.to_json(), fsync=True)


# --------------------------------------------------------------------------- checks


def dirty_files(repo: Path, paths: Sequence[str]) -> list[str]:
    """Which of ``paths`` have uncommitted changes (modified, staged or untracked) per git.

    Outside a git repository nothing can be called dirty: the backup is then the
    only way back, and it is always made.
    """
    if not paths:
        return []
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths],
            cwd=repo, capture_output=True, timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode != 0:
        return []
    dirty: list[str] = []
    entries = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            status, name = entry[:2], entry[3:]
            dirty.append(name)
            if "R" in status or "C" in status:
                i += 1  # the rename source follows
        i += 1
    wanted = set(paths)
    return [p for p in dirty if p in wanted]


def check_current(repo: Path, changes: Sequence[FileChange]) -> dict[str, Path]:
    """Targets for every change, after checking paths and that files still hold what the patch expects."""
    targets: dict[str, Path] = {}
    for change in changes:
        try:
            target = resolve_in_repo(repo, change.path)
        except UnsafePath as exc:
            raise PatchError(f"refusing to apply: {exc}") from exc
        current = target.read_bytes() if target.is_file() else None
        if current != change.old:
            what = "now exists" if change.old is None else "changed since the patch was generated"
            raise PatchError(f"refusing to apply: {change.path} {what}",
                             hint="generate the patch again")
        targets[change.path] = target
    return targets


# --------------------------------------------------------------------------- apply


def _swap_in(items: list[tuple[Path, bytes | None, int | None]], tag: str) -> None:
    """Put each ``(target, data, mode)`` in place atomically (``None`` data: delete); all or none.

    Temporary files are written and synced first; renames follow.  On failure the
    renamed targets get their previous bytes back and the error propagates.
    """
    previous: list[tuple[Path, bytes | None, int | None]] = []
    for target, _data, _mode in items:
        if target.is_file():
            previous.append((target, target.read_bytes(), os.stat(target).st_mode & 0o7777))
        else:
            previous.append((target, None, None))
    temps: list[Path | None] = []
    done: list[int] = []
    try:
        for target, data, mode in items:
            if data is None:
                temps.append(None)
                continue
            tmp = target.with_name(f".{target.name}.{tag}.tmp")
            temps.append(tmp)
            _fsync_write(tmp, data, mode)
        for i, (target, data, _mode) in enumerate(items):
            tmp = temps[i]
            if tmp is not None:
                _replace(tmp, target)
            elif data is None and target.exists():
                target.unlink()
            done.append(i)
    except BaseException:
        for i in reversed(done):
            target, data, mode = previous[i]
            with contextlib.suppress(OSError):
                if data is None:
                    target.unlink(missing_ok=True)
                else:
                    restore = target.with_name(f".{target.name}.{tag}.rollback")
                    _fsync_write(restore, data, mode)
                    _replace(restore, target)
        raise
    finally:
        for tmp in temps:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)


def apply_changes(repo: Path, changes: Sequence[FileChange], *, force: bool = False, title: str = "") -> Backup:
    """Apply ``changes`` to the user's tree: checks, backup, atomic swap.  Returns the backup record.

    Raises :class:`PatchError` (nothing changed) when a path is unsafe, a file
    no longer holds what the patch was built from, a touched file has
    uncommitted changes (unless ``force``), or writing fails.
    """
    if not changes:
        raise PatchError("nothing to apply: the patch changes no file")
    repo = repo.resolve()
    targets = check_current(repo, changes)
    if not force:
        dirty = dirty_files(repo, [c.path for c in changes if c.old is not None])
        if dirty:
            raise PatchError(f"refusing to apply: {', '.join(dirty)} has uncommitted changes",
                             hint="commit or stash them, or pass --force (a backup is kept either way)")
    backup = Backup(id=_new_id(), created=_now(), title=title, status=APPLYING)
    directory = backups_dir(repo) / backup.id
    (directory / "files").mkdir(parents=True, exist_ok=False)
    ensure_data_dir(repo)  # its `*` .gitignore keeps backups out of `git status`
    created_dirs: list[Path] = []
    try:
        for change in changes:
            target = targets[change.path]
            mode = os.stat(target).st_mode & 0o7777 if change.old is not None else None
            if change.old is not None:
                saved = directory / "files" / change.path
                saved.parent.mkdir(parents=True, exist_ok=True)
                _fsync_write(saved, change.old)
            backup.files.append(BackupEntry(change.path, change.old is not None, _sha(change.old),
                                            _sha(change.new) or "", mode))
            missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
            for parent in reversed(missing):
                if repo in parent.parents:
                    parent.mkdir()
                    created_dirs.append(parent)
        backup.created_dirs = [p.relative_to(repo).as_posix() for p in created_dirs]
        _save_manifest(directory, backup)
        items = [(targets[c.path], c.new, os.stat(targets[c.path]).st_mode & 0o7777 if c.old is not None
                  else None) for c in changes]
        _swap_in(items, backup.id)
    except BaseException as exc:
        for parent in reversed(created_dirs):
            with contextlib.suppress(OSError):
                parent.rmdir()
        _remove_tree(directory)
        if isinstance(exc, OSError):
            raise PatchError(f"applying failed, no file was changed: {exc.strerror or exc}") from exc
        raise
    backup.status = APPLIED
    _save_manifest(directory, backup)
    return backup


def check_candidate(repo: Path, candidate: Candidate, *, force: bool = False) -> None:
    """Raise :class:`PatchError` when the gate would refuse ``candidate`` (so a front end can ask first).

    Refused: a candidate validation rejected; syntax errors, unless ``force``;
    touched files with uncommitted changes, unless ``force``; files that changed
    since the candidate was generated (never overridable: the patch would land
    on code it was not made for).  Unsafe paths are refused as in :func:`check_current`.
    """
    if not candidate.applicable:
        raise PatchError("this candidate was rejected by validation; nothing was changed",
                         hint="pick one that applies")
    if not candidate.changes:
        raise PatchError("nothing to apply: the patch changes no file")
    v = candidate.validation
    if v is not None and v.syntax_errors and not force:
        raise PatchError("the candidate has syntax errors; nothing was changed",
                         hint="pass --force to apply it anyway")
    check_current(repo.resolve(), candidate.changes)
    if not force:
        dirty = dirty_files(repo.resolve(), [c.path for c in candidate.changes if c.old is not None])
        if dirty:
            raise PatchError(f"refusing to apply: {', '.join(dirty)} has uncommitted changes",
                             hint="commit or stash them, or pass --force (a backup is kept either way)")


def apply_candidate(repo: Path, candidate: Candidate, *, force: bool = False, title: str = "") -> Backup:
    """The one apply gate for every front end: :func:`check_candidate`, then backup and atomic swap."""
    check_candidate(repo, candidate, force=force)
    return apply_changes(repo, candidate.changes, force=force, title=title)


def _remove_tree(directory: Path) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------- undo


def list_backups(repo: Path) -> list[Backup]:
    """Every recorded patch, newest first (unreadable records are skipped)."""
    root = backups_dir(repo)
    found: list[Backup] = []
    if not root.is_dir():
        return found
    for directory in root.iterdir():
        try:
            found.append(Backup.from_dict(json.loads((directory / MANIFEST).read_text("utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda b: b.id, reverse=True)


def undo(repo: Path, backup_id: str | None = None, *, force: bool = False) -> Backup:
    """Restore the files of a patch (the latest one not yet undone, unless ``backup_id``)."""
    repo = repo.resolve()
    backups = list_backups(repo)
    if backup_id:
        chosen = next((b for b in backups if b.id == backup_id), None)
        if chosen is None:
            raise PatchError(f"no patch backup with id {backup_id}", hint="see `repo-assistant undo --list`")
        if chosen.status == UNDONE:
            raise PatchError(f"patch {backup_id} was already undone")
    else:
        chosen = next((b for b in backups if b.status != UNDONE), None)
        if chosen is None:
            raise PatchError("no applied patch to undo")
    directory = backups_dir(repo) / chosen.id
    items: list[tuple[Path, bytes | None, int | None]] = []
    edited: list[str] = []
    for entry in chosen.files:
        try:
            target = resolve_in_repo(repo, entry.path)
        except UnsafePath as exc:
            raise PatchError(f"cannot undo: {exc}") from exc
        current = target.read_bytes() if target.is_file() else None
        if _sha(current) == entry.sha_before:
            continue  # already as before (an interrupted apply never reached it)
        if _sha(current) != entry.sha_after:
            edited.append(entry.path)
        if entry.existed:
            try:
                original = (directory / "files" / entry.path).read_bytes()
            except OSError as exc:
                raise PatchError(f"cannot undo: the backup of {entry.path} is missing") from exc
            if _sha(original) != entry.sha_before:
                raise PatchError(f"cannot undo: the backup of {entry.path} is damaged")
            items.append((target, original, entry.mode))
        else:
            items.append((target, None, None))
    if edited and not force:
        raise PatchError(f"cannot undo: {', '.join(edited)} changed after the patch was applied",
                         hint="pass --force to restore the pre-patch contents anyway")
    try:
        _swap_in(items, f"undo-{chosen.id}")
    except OSError as exc:
        raise PatchError(f"undo failed, no file was changed: {exc.strerror or exc}") from exc
    for rel in reversed(chosen.created_dirs):
        with contextlib.suppress(OSError):
            (repo / rel).rmdir()
    chosen.status = UNDONE
    chosen.undone_at = _now()
    _save_manifest(directory, chosen)
    return chosen
