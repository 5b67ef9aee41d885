"""The validation report of a patch run, as plain text (for people) and JSON (for tools).

It says which files were chosen and why, which edit format was asked for, which
tests judged the candidates (the command, each selected test file and why, the
baseline on the unpatched copy), every candidate's verdict with the reasons the
validators gave, its repair rounds with their cost, the best diff with the
before/after of each test, and the model's explanation of it.  The JSON form is stable enough for scripts and the
patch benchmark: see :meth:`PatchReport.to_dict`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.patch.candidate import Candidate, RoundRecord
from assistant.patch.diffs import diff_stats
from assistant.patch.testsel import delta_dict

REPORT_VERSION = 2


@dataclass
class LocalizedFile:
    """A file put in (or considered for) the prompt, and why."""

    path: str
    score: float
    reason: str
    shown: str  # "full", "excerpt" or "not shown" (no room / limit)


@dataclass
class PatchReport:
    """Everything one ``patch`` run decided."""

    issue_title: str
    model: str
    edit_format: str
    format_reason: str
    localization: list[LocalizedFile]
    candidates: list[Candidate]  # ranked, best first
    samples_requested: int
    test_cmd: str | None = None
    summary: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tests: dict[str, Any] = field(default_factory=dict)  # TestSession.to_dict(): runner, runs with baselines
    rounds: int = 0  # repair rounds allowed

    @property
    def best(self) -> Candidate | None:
        """The top-ranked candidate if it applies at all."""
        if self.candidates and self.candidates[0].applicable:
            return self.candidates[0]
        return None

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "version": REPORT_VERSION,
            "issue_title": self.issue_title,
            "model": self.model,
            "edit_format": self.edit_format,
            "format_reason": self.format_reason,
            "samples_requested": self.samples_requested,
            "test_cmd": self.test_cmd,
            "localization": [vars(f).copy() for f in self.localization],
            "tests": self.tests,
            "rounds": self.rounds,
            "candidates": [_candidate_dict(c, rank, self._baseline_of(c)) for rank, c in enumerate(self.candidates, 1)],
            "best": best.index if best else None,
            "best_diff": best.diff if best else "",
            "summary": self.summary,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": list(self.notes),
        }

    def _baseline_of(self, candidate: Candidate) -> dict[str, str]:
        """The unpatched results of the tests this candidate ran (empty without a baseline)."""
        v = candidate.validation
        if v is None or v.tests is None:
            return {}
        for run in self.tests.get("runs", []):
            if run["command"] == v.tests.command:
                return dict(run["baseline"]["results"])
        return {}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def render_head(self) -> str:
        """Issue, model, chosen files and every candidate's verdict (everything before the diff)."""
        lines = [f"Issue: {self.issue_title}", f"Model: {self.model}; edit format: {self.edit_format} "
                 f"({self.format_reason})", "", "Files chosen:"]
        if not self.localization:
            lines.append("  (none)")
        for f in self.localization:
            lines.append(f"  {f.path}  [{f.shown}, score {f.score:.3f}] {f.reason}")
        lines += self._render_tests()
        rounds = f"; up to {self.rounds} repair round(s)" if self.rounds else ""
        lines += ["", f"Candidates ({len(self.candidates)} distinct of {self.samples_requested} samples{rounds}):"]
        for rank, c in enumerate(self.candidates, 1):
            samples = f"samples {','.join(map(str, c.samples))}" if len(c.samples) > 1 else f"sample {c.index}"
            files = ", ".join(c.files) or "-"
            lines.append(f"  #{rank} {c.verdict:<10} ({samples}; files: {files})")
            lines.extend(f"      - {reason}" for reason in c.reasons)
            if c.rejection_kind == "malformed":
                lines.append(f"      - the reply began: {_excerpt(c.raw)}")
            if len(c.rounds) > 1 or (c.rounds and c.rounds[0].stopped):
                lines.extend(f"      {round_line(r)}" for r in c.rounds)
        best = self.best
        lines.append("")
        if best is None:
            lines.append("No candidate applies; nothing to review.")
        else:
            added, removed = diff_stats(best.changes)
            lines.append(f"Best: sample {best.index} ({best.verdict}), +{added} -{removed} lines:")
            lines += self._render_before_after(best)
        return "\n".join(lines) + "\n"

    def _render_tests(self) -> list[str]:
        """The runner, and per distinct selection: the command, each test file with why, the baseline."""
        if not self.tests or not self.tests.get("runner"):
            return []
        lines = ["", f"Tests: {self.tests['reason']}"]
        for run in self.tests.get("runs", []):
            base = run["baseline"]
            lines.append(f"  command: {run['command']}")
            lines.extend(f"    {item['path']} - {item['why']}" for item in run["selection"])
            if base["timed_out"] or base["killed_reason"]:
                lines.append(f"  before the patch: stopped after {base['duration_s']:.1f}s "
                             f"({'timeout' if base['timed_out'] else base['killed_reason']})")
                continue
            failing = [name for name, result in base["results"].items() if result == "failed"]
            counts = base["counts"]
            lines.append(f"  before the patch: {counts['passed']} passed, {counts['failed']} failed"
                         + (f", {counts['skipped']} skipped" if counts["skipped"] else "")
                         + (f" ({', '.join(failing[:4])}{' ...' if len(failing) > 4 else ''})" if failing else ""))
        return lines

    def _render_before_after(self, best: Candidate) -> list[str]:
        """Per test of the best candidate: before -> after (passing tests that stayed passing are counted)."""
        v = best.validation
        before = self._baseline_of(best)
        if v is None or v.tests is None or not before:
            return []
        lines = ["Tests before -> after:"]
        unchanged = 0
        for name in sorted(set(before) | set(v.tests.results)):
            was, now = before.get(name, "-"), v.tests.results.get(name, "-")
            if was == now == "passed":
                unchanged += 1
                continue
            lines.append(f"  {name}: {was} -> {now}")
        if unchanged:
            lines.append(f"  {unchanged} other test(s): passed -> passed")
        return lines

    def render_tail(self) -> str:
        """The model's explanation, notes and timings (everything after the diff)."""
        lines: list[str] = []
        if self.best is not None and self.summary:
            lines += ["Explanation (from the model):", self.summary.strip(), ""]
        lines.extend(f"Note: {note}" for note in self.notes)
        if self.timings:
            lines.append("Time: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()))
        return "\n".join(lines) + "\n" if lines else ""

    def render_text(self) -> str:
        """The whole report as plain text: head, best diff, tail."""
        best = self.best
        diff = (best.diff.rstrip("\n") + "\n\n") if best is not None else "\n"
        return self.render_head() + "\n" + diff + self.render_tail()


def _excerpt(text: str, limit: int = 100) -> str:
    """The start of a reply on one line, for showing why it could not be read."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty reply)"
    return repr(flat[:limit] + ("…" if len(flat) > limit else ""))


def round_line(r: RoundRecord) -> str:
    """One repair round on one line: verdict, what happened, what it cost."""
    stopped = f"; stopped: {r.stopped}" if r.stopped else ""
    feedback = f", {r.feedback_tokens} of feedback" if r.feedback_tokens else ""
    return (f"round {r.round}: {r.verdict} ({r.summary}{'' if r.well_formed else ', not well-formed'}) - "
            f"{r.prompt_tokens} prompt tokens{feedback}, {r.reply_tokens} reply tokens, {r.seconds:.1f}s{stopped}")


def _candidate_dict(c: Candidate, rank: int, before: dict[str, str] | None = None) -> dict[str, Any]:
    v = c.validation
    added, removed = diff_stats(c.changes) if c.changes else (0, 0)
    tests = None
    if v is not None and v.tests is not None:
        t = v.tests
        tests = {"command": t.command, "passed": t.passed, "returncode": t.returncode, "timed_out": t.timed_out,
                 "killed_reason": t.killed_reason, "duration_s": round(t.duration_s, 3),
                 "network_isolated": t.network_isolated, "output_tail": t.output_tail,
                 "selection": [{"path": p, "why": why} for p, why in v.test_selection],
                 "before_after": {name: [(before or {}).get(name), t.results.get(name)]
                                  for name in sorted(set(before or {}) | set(t.results))},
                 "delta": delta_dict(v.test_delta)}
    return {
        "rank": rank,
        "index": c.index,
        "samples": list(c.samples),
        "verdict": c.verdict,
        "reasons": list(c.reasons),
        "parsed_as": c.parsed_as,
        "well_formed": c.well_formed,
        "rejection": c.rejection,
        "rejection_kind": c.rejection_kind,
        "files": c.files,
        "created": [ch.path for ch in c.changes if ch.created],
        "lines_added": added,
        "lines_removed": removed,
        "diff": c.diff,
        "validation": None if v is None else {
            "applies": v.applies,
            "apply_error": v.apply_error,
            "syntax_ok": v.syntax_ok,
            "syntax_errors": list(v.syntax_errors),
            "syntax_checked": list(v.syntax_checked),
            "lint_available": v.lint_available,
            "new_findings": [vars(f).copy() for f in v.new_findings],
            "fixed_findings": v.fixed_findings,
            "tests": tests,
        },
        "rounds": [asdict(r) for r in c.rounds],
        "raw": c.raw,
    }
