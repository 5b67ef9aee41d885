"""Candidates: one model reply each, its edits, its verdict, and how candidates are ranked.

The verdict is derived only from what the validators recorded (never from the
model's own claims), in four tiers: ``tests-pass`` > ``lint-clean`` >
``applies`` > ``rejected``.  Tests compared with the unpatched baseline come
first: a candidate that makes a passing test fail (a regression) ranks below
every applicable candidate without one, and one that turns failing tests green
ranks above the rest.  Within a tier, fewer new lint findings, then a smaller
diff, then the earlier sample wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.patch.changes import FileChange, Rejected, build_changes
from assistant.patch.diffs import diff_stats, unified_diff
from assistant.patch.edit_formats import Edit, MalformedReply, parse_reply
from assistant.patch.validate import PASSED, WHOLE_COMMAND, Validation

TESTS_PASS = "tests-pass"
LINT_CLEAN = "lint-clean"
APPLIES = "applies"
REJECTED = "rejected"
VERDICT_RANK = {TESTS_PASS: 3, LINT_CLEAN: 2, APPLIES: 1, REJECTED: 0}


@dataclass
class RoundRecord:
    """One model reply of a candidate's conversation: what it cost and how it was judged.

    Round 0 is the first sample; later rounds answer the validators' feedback.
    ``prompt_tokens`` is the whole conversation sent (feedback included),
    ``feedback_tokens`` the part that was feedback, ``seconds`` generation plus validation.
    """

    round: int
    verdict: str
    summary: str
    well_formed: bool
    prompt_tokens: int = 0
    feedback_tokens: int = 0
    reply_tokens: int = 0
    seconds: float = 0.0
    stopped: str = ""  # why no further round followed, when it was not the last round allowed


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
    rejection_edit: int | None = None  # 1-based number of the edit that could not be applied
    validation: Validation | None = None
    verdict: str = REJECTED
    reasons: list[str] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)

    @property
    def diff(self) -> str:
        return unified_diff(self.changes)

    @property
    def files(self) -> list[str]:
        return [c.path for c in self.changes]

    @property
    def applicable(self) -> bool:
        return self.verdict != REJECTED

    @property
    def regressions(self) -> list[str]:
        """Selected tests that passed before the patch and fail with it."""
        v = self.validation
        return list(v.test_delta.regressions) if v is not None and v.test_delta is not None else []

    @property
    def fixed_tests(self) -> list[str]:
        """Selected tests that failed before the patch and pass with it."""
        v = self.validation
        return list(v.test_delta.fixed) if v is not None and v.test_delta is not None else []

    def rank_key(self) -> tuple[int, ...]:
        """Sort key, best first when sorted ascending."""
        v = self.validation
        findings = len(v.new_findings) if v else 0
        syntax_bad = 1 if (v and v.syntax_errors) else 0
        added, removed = diff_stats(self.changes) if self.changes else (0, 0)
        rejected = 1 if self.verdict == REJECTED else 0
        return (rejected, 1 if self.regressions else 0, -len(self.fixed_tests), -VERDICT_RANK[self.verdict],
                syntax_bad, findings, added + removed, self.index)


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
        candidate.rejection, candidate.rejection_kind, candidate.rejection_edit = str(exc), exc.kind, exc.edit
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
        reasons.extend(_delta_reasons(v))
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


def _delta_reasons(v: Validation) -> list[str]:
    """Before/after lines for the selected tests (empty for a plain ``--test-cmd``)."""
    delta, t = v.test_delta, v.tests
    if delta is None or t is None:
        return []
    if list(t.results) == [WHOLE_COMMAND]:
        if delta.fixed:
            return ["the test command failed before the patch and passes with it"]
        if delta.regressions:
            return ["REGRESSION: the test command passed before the patch and fails with it"]
        return ["the test command failed before the patch too (not counted against it)"] if delta.still_failing else []
    passed = sum(1 for r in t.results.values() if r == PASSED)
    lines = [f"{len(v.test_selection)} selected test file(s): {passed}/{len(t.results)} tests pass with the patch"]
    if delta.fixed:
        lines.append(f"fixes {len(delta.fixed)} failing test(s): {_names(delta.fixed)}")
    if delta.regressions:
        lines.append(f"REGRESSION: {len(delta.regressions)} test(s) passed before and fail now: "
                     f"{_names(delta.regressions)}")
    if delta.still_failing:
        lines.append(f"{len(delta.still_failing)} test(s) failed before the patch too (not counted against it): "
                     f"{_names(delta.still_failing)}")
    if delta.new_failing:
        lines.append(f"{len(delta.new_failing)} test(s) without a baseline fail: {_names(delta.new_failing)}")
    return lines


def _names(names: Sequence[str], limit: int = 3) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best first."""
    return sorted(candidates, key=lambda c: c.rank_key())
