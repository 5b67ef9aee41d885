"""Candidates: one model reply each, its edits, its verdict, and how candidates are ranked.

The verdict is derived only from what the validators recorded (never from the
model's own claims), in four tiers: ``tests-pass`` > ``lint-clean`` >
``applies`` > ``rejected``.  Within a tier, fewer new lint findings, then a
smaller diff, then the earlier sample wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.patch.changes import FileChange, Rejected, build_changes
from assistant.patch.diffs import diff_stats, unified_diff
from assistant.patch.edit_formats import Edit, MalformedReply, parse_reply
from assistant.patch.validate import Validation

TESTS_PASS = "tests-pass"
LINT_CLEAN = "lint-clean"
APPLIES = "applies"
REJECTED = "rejected"
VERDICT_RANK = {TESTS_PASS: 3, LINT_CLEAN: 2, APPLIES: 1, REJECTED: 0}


@dataclass
class Candidate:
    """One distinct reply (or several identical ones: ``samples``) and what became of it."""

    index: int  # 1-based number of the first sample that produced it
    raw: str
    samples: list[int] = field(default_factory=list)
    parsed_as: str | None = None
    well_formed: bool = False
    edits: list[Edit] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    rejection: str | None = None
    rejection_kind: str | None = None
    validation: Validation | None = None
    verdict: str = REJECTED
    reasons: list[str] = field(default_factory=list)

    @property
    def diff(self) -> str:
        return unified_diff(self.changes)

    @property
    def files(self) -> list[str]:
        return [c.path for c in self.changes]

    @property
    def applicable(self) -> bool:
        return self.verdict != REJECTED

    def rank_key(self) -> tuple[int, int, int, int, int]:
        """Sort key, best first when sorted ascending."""
        v = self.validation
        findings = len(v.new_findings) if v else 0
        syntax_bad = 1 if (v and v.syntax_errors) else 0
        added, removed = diff_stats(self.changes) if self.changes else (0, 0)
        return (-VERDICT_RANK[self.verdict], syntax_bad, findings, added + removed, self.index)


def build_candidate(index: int, raw: str, repo: Path, edit_format: str, known: Sequence[str],
                    shown_full: Sequence[str]) -> Candidate:
    """Parse one reply and apply its edits in memory; a problem leaves it rejected with the reason."""
    candidate = Candidate(index=index, raw=raw, samples=[index])
    try:
        parsed = parse_reply(raw, edit_format, known)
    except MalformedReply as exc:
        candidate.rejection, candidate.rejection_kind = f"malformed reply: {exc}", "malformed"
        return judge(candidate)
    candidate.parsed_as = parsed.parsed_as
    candidate.well_formed = parsed.well_formed
    candidate.edits = parsed.edits
    try:
        candidate.changes = build_changes(repo, parsed.edits, shown_full)
    except Rejected as exc:
        candidate.rejection, candidate.rejection_kind = str(exc), exc.kind
    return judge(candidate)


def dedupe(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Merge candidates that would make the same change (or are the same malformed text)."""
    merged: dict[object, Candidate] = {}
    for candidate in candidates:
        if candidate.changes:
            key: object = ("changes", tuple((c.path, c.new) for c in candidate.changes))
        else:
            key = ("raw", candidate.raw.strip())
        if key in merged:
            merged[key].samples.extend(candidate.samples)
        else:
            merged[key] = candidate
    return list(merged.values())


def judge(candidate: Candidate) -> Candidate:
    """Set the verdict and the human reasons from the recorded rejection and validation."""
    reasons: list[str] = []
    if candidate.parsed_as and not candidate.well_formed:
        reasons.append(f"reply was not in the requested format (read as {candidate.parsed_as})")
    v = candidate.validation
    if candidate.rejection or (v is not None and not v.applies):
        candidate.verdict = REJECTED
        candidate.reasons = [candidate.rejection or f"does not apply: {v.apply_error if v else ''}", *reasons]
        return candidate
    if v is None:
        candidate.verdict = APPLIES
        candidate.reasons = ["applies in memory; not validated yet", *reasons]
        return candidate
    verdict = APPLIES
    reasons.insert(0, f"applies cleanly to {len(candidate.changes)} file(s)")
    if v.syntax_errors:
        reasons.append("syntax error: " + "; ".join(v.syntax_errors))
    elif v.syntax_checked:
        reasons.append("syntax ok (" + ", ".join(v.syntax_checked) + ")")
    if not v.lint_available:
        reasons.append("ruff is not available: lint not checked")
    elif v.new_findings:
        shown = "; ".join(str(f) for f in v.new_findings[:3])
        more = f" (+{len(v.new_findings) - 3} more)" if len(v.new_findings) > 3 else ""
        reasons.append(f"{len(v.new_findings)} new ruff finding(s): {shown}{more}")
    elif v.syntax_ok:
        fixed = f", fixes {v.fixed_findings}" if v.fixed_findings else ""
        reasons.append(f"no new ruff findings{fixed}")
        verdict = LINT_CLEAN
    if v.tests is not None:
        t = v.tests
        if t.passed:
            reasons.append(f"tests passed in {t.duration_s:.1f}s")
            verdict = TESTS_PASS
        elif t.timed_out:
            reasons.append(f"tests timed out after {t.duration_s:.1f}s")
        elif t.killed_reason:
            reasons.append(f"tests killed ({t.killed_reason}) after {t.duration_s:.1f}s")
        else:
            reasons.append(f"tests failed (exit {t.returncode}) in {t.duration_s:.1f}s")
    elif v.syntax_errors:
        reasons.append("tests not run: syntax error")
    candidate.verdict = verdict
    candidate.reasons = reasons
    return candidate


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best first."""
    return sorted(candidates, key=lambda c: c.rank_key())
