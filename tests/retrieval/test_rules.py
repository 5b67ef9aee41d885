"""Project rules files: order (nearer wins), the cap, and bad files skipped with a note."""

from __future__ import annotations

from pathlib import Path

from retrieval.rules import RULES_REASON, all_rule_files, project_rules, rules_block


def _write(root: Path, rel: str, data: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")


def test_root_then_nearer_folders_so_nearer_rules_come_last(tmp_path: Path) -> None:
    _write(tmp_path, "AGENTS.md", "Use tabs.")
    _write(tmp_path, ".github/copilot-instructions.md", "Write tests.")
    _write(tmp_path, "pkg/CLAUDE.md", "Use spaces in pkg.")
    _write(tmp_path, "pkg/sub/x.py", "")
    _write(tmp_path, "other/AGENTS.md", "Not for pkg.")
    rules = project_rules(tmp_path, "pkg/sub/x.py", 8192)
    assert rules.paths == ["AGENTS.md", ".github/copilot-instructions.md", "pkg/CLAUDE.md"]
    text = rules_block(rules)
    assert text.index("Use tabs.") < text.index("Use spaces in pkg.") and "Not for pkg." not in text
    assert "pkg/CLAUDE.md (applies to pkg/)" in text and RULES_REASON == "project rules"
    assert sorted(f.path for f in all_rule_files(tmp_path)) == [
        ".github/copilot-instructions.md", "AGENTS.md", "other/AGENTS.md", "pkg/CLAUDE.md"]


def test_cap_keeps_the_nearest_and_notes_the_rest(tmp_path: Path) -> None:
    _write(tmp_path, "AGENTS.md", "r" * 600)
    _write(tmp_path, "pkg/AGENTS.md", "n" * 300)
    rules = project_rules(tmp_path, "pkg/x.py", 512)
    assert rules.paths == ["pkg/AGENTS.md"]
    assert any("AGENTS.md skipped, 600 bytes do not fit the 512-byte cap" in n for n in rules.notes)
    assert project_rules(tmp_path, "pkg/x.py", 0).files == []  # 0 turns rules off


def test_huge_binary_and_non_utf8_files_are_skipped_with_a_note(tmp_path: Path) -> None:
    _write(tmp_path, "AGENTS.md", "x" * 5_000_000)
    _write(tmp_path, "CLAUDE.md", b"rules\0\x01\x02")
    _write(tmp_path, "GEMINI.md", "caf\xe9".encode("latin-1"))
    _write(tmp_path, "CONVENTIONS.md", "Keep functions small.")
    rules = project_rules(tmp_path, None, 8192)
    assert rules.paths == ["CONVENTIONS.md"]
    notes = " | ".join(rules.notes)
    assert "AGENTS.md skipped, 5000000 bytes" in notes and "CLAUDE.md: skipped, binary" in notes
    assert "GEMINI.md: skipped, not UTF-8 text" in notes


def test_a_link_out_of_the_repository_is_skipped(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _write(tmp_path, "secret.md", "outside")
    (repo / "AGENTS.md").symlink_to(tmp_path / "secret.md")
    rules = project_rules(repo, None, 8192)
    assert rules.files == [] and "points outside the repository" in rules.notes[0]
