"""Edits applied in memory, and the unified diff people review: it must apply with git to the same bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistant.patch.changes import FileChange, Rejected, build_changes, elided_lines
from assistant.patch.diffs import diff_stats, unified_diff
from assistant.patch.edit_formats import Edit


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "calc.py").write_text("def total(xs):\n    return sum(xs)\n\n\ndef mean(xs):\n"
                                          "    return total(xs) / len(xs)\n")
    (root / "pkg" / "win.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    (root / "pkg" / "nonl.py").write_bytes(b"x = 1\ny = 2")
    (root / "data.bin").write_bytes(b"\x00\x01\x02")
    return root


def _git_apply_matches(repo: Path, tmp_path: Path, changes: list[FileChange]) -> None:
    """The diff applied by git to a copy of the original tree gives exactly the new bytes."""
    import shutil

    copy = tmp_path / "gitcopy"
    shutil.copytree(repo, copy)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    patch = tmp_path / "p.diff"
    patch.write_bytes(unified_diff(changes).encode("utf-8"))
    result = subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=copy,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for change in changes:
        assert (copy / change.path).read_bytes() == change.new


def test_search_replace_edits_in_order_on_one_file(repo: Path, tmp_path: Path) -> None:
    edits = [Edit("pkg/calc.py", "return sum(xs)\n", "return sum(xs, 0)\n"),
             Edit("pkg/calc.py", "    return total(xs) / len(xs)\n",
                  "    if not xs:\n        return 0.0\n    return total(xs) / len(xs)\n")]
    changes = build_changes(repo, edits)
    assert len(changes) == 1
    assert changes[0].new.decode().count("if not xs") == 1
    assert diff_stats(changes) == (3, 1)
    _git_apply_matches(repo, tmp_path, changes)


def test_crlf_file_keeps_crlf_and_missing_newline_is_marked(repo: Path, tmp_path: Path) -> None:
    changes = build_changes(repo, [Edit("pkg/win.py", "b = 2\n", "b = 3\n"),
                                   Edit("pkg/nonl.py", "y = 2", "y = 3")])
    by_path = {c.path: c for c in changes}
    assert by_path["pkg/win.py"].new == b"a = 1\r\nb = 3\r\n"
    assert by_path["pkg/nonl.py"].new == b"x = 1\ny = 3"
    assert "\\ No newline at end of file" in unified_diff(changes)
    _git_apply_matches(repo, tmp_path, changes)


def test_new_file_and_whole_file(repo: Path, tmp_path: Path) -> None:
    changes = build_changes(repo, [
        Edit("pkg/new/helpers.py", "", "def helper():\n    return 1\n"),
        Edit("pkg/calc.py", "", "def total(xs):\n    return sum(xs)\n", whole_file=True),
    ], shown=["pkg/calc.py"])
    assert changes[0].created and changes[0].path == "pkg/new/helpers.py"
    assert "--- /dev/null" in unified_diff(changes)
    _git_apply_matches(repo, tmp_path, changes)


@pytest.mark.parametrize(("edits", "kind"), [
    ([Edit("../evil.py", "", "x")], "unsafe-path"),
    ([Edit(".git/hooks/pre-commit", "", "#!/bin/sh\nrm -rf /\n")], "unsafe-path"),
    ([Edit("/tmp/abs.py", "", "x")], "unsafe-path"),
    ([Edit("data.bin", "\x00", "x")], "unsafe-path"),
    ([Edit("pkg/calc.py", "return nothing\n", "x\n")], "no-match"),
    ([Edit("pkg/missing.py", "a = 1\n", "a = 2\n")], "no-match"),
    ([Edit("pkg/calc.py", "", "x = 1\n")], "empty-search"),
    ([Edit("pkg/calc.py", "xs", "ys")], "multi-match"),
    ([Edit("pkg/calc.py", "return sum(xs)\n", "return sum(xs)\n")], "no-change"),
    ([Edit("pkg/calc.py", "", "def total(xs):\n    # ... rest of the code unchanged\n", whole_file=True)],
     "elided"),
    ([Edit("pkg/calc.py", "", "x = 1\n", whole_file=True)], "not-shown"),
])
def test_rejections(repo: Path, edits: list[Edit], kind: str) -> None:
    with pytest.raises(Rejected) as info:
        build_changes(repo, edits, shown=["pkg/other.py"] if kind == "not-shown" else ["pkg/calc.py"])
    assert info.value.kind == kind


def test_a_bad_edit_rejects_the_whole_candidate(repo: Path) -> None:
    before = (repo / "pkg" / "calc.py").read_bytes()
    with pytest.raises(Rejected, match="edit 2"):
        build_changes(repo, [Edit("pkg/calc.py", "return sum(xs)\n", "return 0\n"),
                             Edit("pkg/win.py", "zzz\n", "y\n")])
    assert (repo / "pkg" / "calc.py").read_bytes() == before  # nothing is ever written here


def test_elided_lines_detector() -> None:
    old = "def f():\n    return 1\n"
    assert elided_lines(old, "def f():\n    # ... existing code ...\n")
    assert elided_lines(old, "// rest of the file unchanged\n")
    assert not elided_lines(old, "def f():\n    ...\n")
    assert not elided_lines("x = 1  # ... rest unchanged\n", "x = 1  # ... rest unchanged\n")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_lines = st.lists(st.sampled_from(["a = 1", "b = 2", "", "    pass", "def f():", "return x", "# note", "c"]),
                  max_size=25)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=_lines, new=_lines)
def test_our_diff_read_back_as_udiff_reproduces_the_change(tmp_path: Path, old: list[str], new: list[str]) -> None:
    """diffs.py output, parsed by the udiff parser and re-applied by the matcher, gives the same file.

    When a hunk's text is ambiguous in the file (repeated lines) the matcher must
    refuse rather than guess; it must never produce a different file.
    """
    from assistant.patch.edit_formats import parse_udiff

    repo = tmp_path / "prop"
    repo.mkdir(exist_ok=True)
    old_text, new_text = "\n".join(old) + "\n", "\n".join(new) + "\n"
    (repo / "m.py").write_text(old_text)
    change = FileChange("m.py", old_text.encode(), new_text.encode())
    if change.old == change.new:
        return
    diff = unified_diff([change])
    edits = parse_udiff(diff, ["m.py"])
    try:
        rebuilt = build_changes(repo, edits)
    except Rejected as exc:
        assert exc.kind in {"multi-match", "no-match"}  # refused (ambiguous), never misapplied
        return
    assert rebuilt[0].new == change.new
