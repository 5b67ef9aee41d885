"""Patch review: candidates with their verdicts, the diff of the highlighted one, Apply / Reject.

Nothing is written from here: Apply asks for confirmation and hands the chosen
candidate back to the app, which applies it through the session (the same
gate, backup and undo as ``repo-assistant patch --apply``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.screens.confirm import ConfirmScreen

VERDICT_MARKS = {"tests-pass": "✔", "lint-clean": "✓", "applies": "~", "rejected": "✗"}


def candidate_label(rank: int, candidate: Any) -> Text:
    verdict = str(getattr(candidate, "verdict", "rejected"))
    mark = VERDICT_MARKS.get(verdict, "?")
    style = {"tests-pass": "bold green", "lint-clean": "green", "applies": "yellow"}.get(verdict, "red")
    files = ", ".join(p.rsplit("/", 1)[-1] for p in getattr(candidate, "files", [])) or "no change"
    return Text.assemble((f"{mark} #{rank} {verdict}", style), "\n   ", (files, "dim"))


def rejection_text(candidate: Any) -> str:
    """Why a rejected candidate cannot be applied: the validator's verdict and reasons."""
    why = str(getattr(candidate, "rejection", "") or "").strip()
    reasons = [str(r) for r in getattr(candidate, "reasons", []) if str(r).strip() and str(r) != why]
    text = "; ".join([why, *reasons] if why else reasons) or "the validation rejected it"
    return f"{getattr(candidate, 'verdict', 'rejected')}: {text}. ↑/↓ picks another candidate; r rejects the patch."


def colour_diff(diff: str) -> Text:
    """A unified diff with the usual colours (theme-independent, so screenshots stay stable)."""
    text = Text(no_wrap=True)
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        text.append(line + "\n", style=style)
    return text


class PatchReviewScreen(Screen[tuple[str, Any] | None]):
    """Dismisses with ``("apply", candidate)`` or ``None`` (rejected)."""

    BINDINGS = [
        Binding("a", "apply", "Apply", id="patch-apply"),
        Binding("r", "reject", "Reject", id="patch-reject"),
        Binding("escape", "reject", "Back", show=False, id="patch-back"),
        Binding("d", "focus_diff", "Diff", id="patch-focus-diff"),
        Binding("c", "focus_candidates", "Candidates", id="patch-focus-candidates"),
    ]

    def __init__(self, title: str, report: Any) -> None:
        super().__init__()
        self.issue = title
        self.report = report
        self.candidates: list[Any] = list(getattr(report, "candidates", []))

    def compose(self) -> ComposeResult:
        report = self.report
        count = len(self.candidates)
        requested = getattr(report, "samples_requested", count)
        yield Label(
            f"Patch for {self.issue} · {getattr(report, 'model', '')} · {getattr(report, 'edit_format', '')} · "
            f"{count} distinct candidate(s) of {requested}",
            id="patch-header", markup=False,
        )
        with Horizontal(id="patch-body"):
            with Vertical(id="patch-side"):
                options = OptionList(
                    *[Option(candidate_label(i, c), id=str(i - 1)) for i, c in enumerate(self.candidates, 1)],
                    id="patch-candidates",
                )
                options.border_title = "Candidates"
                yield options
                reasons = VerticalScroll(Static(id="patch-reasons"), id="patch-reasons-box")
                reasons.border_title = "Verdict"
                yield reasons
            with Vertical(id="patch-main"):
                diff = ScrollableContainer(Static(id="patch-diff"), id="patch-diff-box")
                diff.border_title = "Diff"
                yield diff
                summary = VerticalScroll(Static(id="patch-summary"), id="patch-summary-box")
                summary.border_title = "Explanation (from the model)"
                yield summary
        yield Footer(compact=True)

    def on_mount(self) -> None:
        summary = str(getattr(self.report, "summary", "") or "").strip()
        notes = list(getattr(self.report, "notes", []))
        localized = [f"{f.path} ({f.shown}: {f.reason})" for f in getattr(self.report, "localization", [])]
        text = summary or "(no explanation: no candidate applies)"
        if localized:
            text += "\n\nFiles chosen: " + "; ".join(localized[:4])
        if notes:
            text += "\n" + "\n".join(f"Note: {n}" for n in notes)
        self.query_one("#patch-summary", Static).update(Text(text))
        options = self.query_one("#patch-candidates", OptionList)
        if self.candidates:
            options.highlighted = 0
            self.show_candidate(0)
        else:
            self.query_one("#patch-diff", Static).update("The model produced no candidate.")
        options.focus()

    @property
    def current(self) -> Any | None:
        index = self.query_one("#patch-candidates", OptionList).highlighted
        return self.candidates[index] if index is not None and index < len(self.candidates) else None

    def show_candidate(self, index: int) -> None:
        candidate = self.candidates[index]
        reasons = list(getattr(candidate, "reasons", []))
        samples = getattr(candidate, "samples", [])
        header = f"{candidate.verdict} · sample(s) {', '.join(map(str, samples))}"
        rounds = [f"round {r.round}: {r.verdict} ({r.summary}) · {r.prompt_tokens + r.reply_tokens} tokens · "
                  f"{r.seconds:.1f}s" + (f" · stopped: {r.stopped}" if r.stopped else "")
                  for r in getattr(candidate, "rounds", [])]  # the repair rounds and what each cost
        if len(rounds) < 2:
            rounds = []  # a first try alone: its verdict is the header
        self.query_one("#patch-reasons", Static).update(
            Text("\n".join([header, *[f"• {r}" for r in reasons], *rounds])))
        diff = str(getattr(candidate, "diff", "") or "")
        body: Any
        if diff.strip():
            body = colour_diff(diff)
        else:
            raw = str(getattr(candidate, "raw", ""))
            body = Text(f"No diff: {getattr(candidate, 'rejection', '') or 'no change'}\n\nModel reply:\n{raw}")
        self.query_one("#patch-diff", Static).update(body)
        self.query_one("#patch-diff-box", ScrollableContainer).scroll_home(animate=False)
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted, "#patch-candidates")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_candidate(event.option_index)

    @on(OptionList.OptionSelected, "#patch-candidates")
    def _selected(self) -> None:
        self.action_focus_diff()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Apply is offered while a candidate is highlighted; on a rejected one it says why instead."""
        if action == "apply":
            return None if self.current is None else True
        return True

    def action_focus_diff(self) -> None:
        self.query_one("#patch-diff-box").focus()

    def action_focus_candidates(self) -> None:
        self.query_one("#patch-candidates").focus()

    def action_apply(self) -> None:
        candidate = self.current
        if candidate is None:
            return
        if not getattr(candidate, "applicable", False):
            self.notify(rejection_text(candidate), title=f"#{self.candidates.index(candidate) + 1} cannot be applied",
                        severity="warning", timeout=8)
            return
        files = ", ".join(candidate.files)

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(("apply", candidate))

        self.app.push_screen(
            ConfirmScreen(f"Apply this patch to {files}?", yes="Apply", no="Cancel",
                          detail="A backup is kept: /undo restores the files exactly."),
            answered,
        )

    def action_reject(self) -> None:
        self.dismiss(None)
