"""Generate patch candidates for an issue: localize, prompt, sample best-of-n, validate, rank, explain.

The model is only asked for text; everything after that is deterministic code
that can be tested on canned replies (``run_patch`` takes any ``Backend``).
Steps:

1. **Localize** with the retriever (``retrieval.localize``) unless the user pins
   files with ``--files``; every file carries the reason it was chosen.
2. **Prompt**: the files that fit the model's window are shown in full, larger
   ones as the excerpts localization found; the edit format follows
   ``patch.edit_format`` (see :func:`assistant.patch.edit_formats.choose_edit_format`).
3. **Sample** ``n`` replies at ``patch.temperature`` (batched when the backend can).
4. **Parse and apply in memory**, **dedupe**, **validate** each distinct candidate
   in its own scratch copy against the tests related to its change (or
   ``--test-cmd``), compared with the same tests on the unpatched copy
   (:mod:`assistant.patch.testsel`).
5. **Repair rounds** (``patch.rounds``): failed candidates go back to the model
   with the validators' feedback (:mod:`assistant.patch.rounds`); then **rank**
   (regressions last, fixed tests first, then tests pass > lint-clean > applies > rejected).
6. **Explain**: a short, low-temperature summary of the best diff by the model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.models.base import Backend, ChatMessage, GenerationParams, sample_n
from assistant.patch.candidate import Candidate, RoundRecord, build_candidate, dedupe, judge, rank
from assistant.patch.edit_formats import (
    WHOLE_FILE,
    PromptFile,
    choose_edit_format,
    detect_format,
    system_prompt,
    user_prompt,
)
from assistant.patch.report import LocalizedFile, PatchReport
from assistant.patch.rounds import round_summary, run_rounds
from assistant.patch.safety import UnsafePath, normalise_relpath, read_target
from assistant.patch.scratch import repo_files
from assistant.patch.testsel import TestSession
from assistant.patch.validate import validate_changes
from base.config import Settings
from base.errors import GenerationCancelled, IndexMissingError, UsageError
from retrieval.rules import RULES_REASON, ProjectRules, project_rules, rules_block

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
SUMMARY_TOKENS = 120
EXPLAIN_DIFF_CHARS = 6000
# With repair rounds, the first prompt leaves room for one more reply and the validators' feedback:
# otherwise a prompt that fills the budget leaves no round any room at all.
FEEDBACK_RESERVE_TOKENS = 512


@dataclass
class PatchRequest:
    """What the user asked for."""

    issue: str
    files: list[str] = field(default_factory=list)  # pinned with --files
    samples: int | None = None  # default: settings.patch.samples
    test_cmd: str | None = None
    edit_format: str | None = None  # default: settings.patch.edit_format
    seed: int | None = None
    explain: bool = True
    # Replies written elsewhere (pasted from a chat, saved earlier): validated instead of sampling.
    replies: list[str] | None = None
    rounds: int | None = None  # default: settings.patch.rounds
    run_tests: bool = True  # False (--no-tests): no test discovery; --test-cmd still runs


@dataclass
class _FileSlot:
    path: str
    score: float
    reason: str
    text: str
    excerpt_text: str = ""


def issue_title(issue: str) -> str:
    """The first meaningful line of the issue text, without Markdown heading marks."""
    for line in issue.splitlines():
        text = line.strip().lstrip("#").strip()
        if text:
            return text[:100]
    return "(empty issue)"


# --------------------------------------------------------------------------- localization


def _hit_reason(hit: Any) -> str:
    """Why the retriever chose a file, from its best chunks (symbols, lines, which search found them)."""
    parts: list[str] = []
    for chunk_hit in list(getattr(hit, "chunks", []))[:3]:
        chunk = getattr(chunk_hit, "chunk", chunk_hit)
        name = getattr(chunk, "symbol", "") or getattr(chunk, "kind", "code")
        where = f"{name} (lines {chunk.start_line}-{chunk.end_line})"
        sources = getattr(chunk_hit, "sources", {}) or {}
        matched = getattr(chunk_hit, "matched", ()) or ()
        extra = []
        if matched:
            extra.append("names " + ", ".join(matched[:3]))
        if sources:
            extra.append(", ".join(f"{k} #{v}" for k, v in sorted(sources.items())))
        parts.append(where + (f" [{'; '.join(extra)}]" if extra else ""))
    return "matches " + "; ".join(parts) if parts else "matched the issue text"


def _excerpt(hit: Any, text: str) -> str:
    """The lines of a file's best chunks (merged, in file order), with ``...`` between gaps."""
    lines = text.split("\n")
    spans = sorted({(getattr(h, "chunk", h).start_line, getattr(h, "chunk", h).end_line)
                    for h in list(getattr(hit, "chunks", []))[:4]})
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces = ["\n".join(lines[max(0, s - 1):e]) for s, e in merged]
    return "\n...\n".join(pieces) + "\n" if pieces else ""


def localize_issue(repo: Path, settings: Settings, issue: str, pinned: Sequence[str],
                   progress: Progress | None = None, *, need_index: bool = True,
                   ) -> tuple[list[_FileSlot], list[str]]:
    """Pinned files first, then the retriever's files; returns slots and notes for the report.

    Without an index, pinned files (or ``need_index=False``) are enough; otherwise
    the missing index is a one-line error that says how to build it.
    """
    notes: list[str] = []
    slots: list[_FileSlot] = []
    for raw in pinned:
        try:
            rel = normalise_relpath(raw)
            _target, data = read_target(repo, rel)
        except UnsafePath as exc:
            raise UsageError(f"--files {raw}: {exc}") from exc
        if data is None:
            raise UsageError(f"--files {raw}: no such file in {repo}")
        if rel not in {s.path for s in slots}:
            slots.append(_FileSlot(rel, 1.0, "pinned with --files", data.decode("utf-8")))
    try:
        from indexer.reader import IndexReader

        if progress:
            progress("localizing the issue")
        reader = IndexReader.open(repo, settings.index)
    except IndexMissingError as exc:
        if not slots and need_index:
            raise IndexMissingError("no index for this repository, so the issue cannot be localized",
                                    hint="run `repo-assistant index`, or name the files with --files") from exc
        notes.append("no index: only the files given with --files are used" if slots
                     else "no index: the issue was not localized")
        return slots, notes
    try:
        from retrieval.localize import localize

        found = localize(reader, issue, k=max(settings.patch.files * 2, 6), settings=settings.retrieval,
                         mode=settings.retrieval.mode)
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()
    for hit in found.files:
        if hit.path in {s.path for s in slots}:
            continue
        try:
            _target, data = read_target(repo, hit.path)
        except UnsafePath as exc:
            notes.append(f"skipped {hit.path}: {exc}")
            continue
        if data is None:
            notes.append(f"skipped {hit.path}: in the index but no longer on disk (re-index)")
            continue
        text = data.decode("utf-8")
        slots.append(_FileSlot(hit.path, float(hit.score), _hit_reason(hit), text, _excerpt(hit, text)))
    return slots, notes


# --------------------------------------------------------------------------- prompt


def _family_of(backend: Backend, settings: Settings) -> tuple[str | None, str]:
    """The model family name and a model name that carries its size (for the format choice)."""
    family = getattr(getattr(backend, "family", None), "name", None)
    name = settings.model.name
    try:
        from assistant.models.presets import get_preset

        preset = get_preset(name)
    except ImportError:
        preset = None
    if preset is not None:
        family = family or preset.family
        name = f"{name}-{preset.params_b:g}b"
    return family, name


def plan_prompt(backend: Backend, settings: Settings, request: PatchRequest, slots: Sequence[_FileSlot],
                rules: ProjectRules | None = None,
                ) -> tuple[str, str, list[PromptFile], list[LocalizedFile], int]:
    """Choose the edit format and the files shown; returns (format, reason, files, report rows, max tokens).

    ``rules`` (the project's rule files) are counted against the same budget as
    the files; they are left out, with a row saying so, when they would take
    more than half of what is left for files.
    """
    count = backend.count_tokens
    max_new = settings.model.max_new_tokens
    limit = settings.patch.files
    considered = list(slots[:max(limit, len(request.files))])
    family, sized_name = _family_of(backend, settings)
    fmt, reason = choose_edit_format(
        request.edit_format or settings.patch.edit_format, model_name=sized_name, family=family,
        file_lines=[s.text.count("\n") + 1 for s in considered[:2]],
        file_tokens=[count(s.text) for s in considered[:2]], max_new_tokens=max_new,
    )
    from assistant.budget import task_budget

    budget = task_budget(settings, "patch", window=backend.context_window, device=backend.device,
                         prompt_tokens=count(system_prompt(fmt)) + count(user_prompt(fmt, request.issue, []))).tokens
    shown: list[PromptFile] = []
    rows: list[LocalizedFile] = []
    rounds = settings.patch.rounds if request.rounds is None else request.rounds
    if rounds > 0 and request.replies is None:
        budget -= max_new + FEEDBACK_RESERVE_TOKENS  # room for one reply and its feedback in the same budget
    if rules is not None and rules.files:
        rules_tokens = count(rules_block(rules))
        fits = rules_tokens <= budget // 2
        budget -= rules_tokens if fits else 0
        rows.append(LocalizedFile(", ".join(rules.paths), 0.0, RULES_REASON,
                                  "full" if fits else f"not shown ({rules_tokens} tokens: no room)"))
        if not fits:
            rules.text = ""
    for slot in slots:
        full = count(slot.text) + 16
        shown_as = "not shown"
        if len(shown) < len(considered):
            if full <= budget:
                shown.append(PromptFile(slot.path, slot.text))
                budget -= full
                shown_as = "full"
            elif fmt != WHOLE_FILE and slot.excerpt_text and count(slot.excerpt_text) + 24 <= budget:
                shown.append(PromptFile(slot.path, slot.excerpt_text, excerpt=True))
                budget -= count(slot.excerpt_text) + 24
                shown_as = "excerpt"
        rows.append(LocalizedFile(slot.path, round(slot.score, 4), slot.reason, shown_as))
    if not shown:
        raise UsageError("none of the localized files fits in the model's context window",
                         hint="pin a smaller file with --files, or use a model with a longer context")
    return fmt, reason, shown, rows, max_new


# --------------------------------------------------------------------------- the whole run


def run_patch(
    repo: Path,
    settings: Settings,
    backend: Backend | None,
    request: PatchRequest,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    backend_loader: Callable[[], Backend] | None = None,
) -> PatchReport:
    """Generate (or take ``request.replies``), validate and rank candidates; never writes to ``repo``.

    ``backend`` may be ``None`` when ``request.replies`` is given, or when
    ``backend_loader`` builds it: the CLI passes a loader so that a missing index
    or a bad ``--files`` fails before the model is loaded.
    """
    if not request.issue.strip():
        raise UsageError("the issue text is empty")
    if backend is None and request.replies is None and backend_loader is None:
        raise UsageError("a model backend is needed to generate candidates")
    repo = repo.resolve()
    timings: dict[str, float] = {}
    started = time.monotonic()
    slots, notes = localize_issue(repo, settings, request.issue, request.files, progress,
                                  need_index=request.replies is None)
    timings["localize"] = time.monotonic() - started

    if backend is None and request.replies is None and backend_loader is not None:
        backend = backend_loader()
    active = request.files[0] if request.files else (slots[0].path if slots else None)
    rules = project_rules(repo, active, settings.retrieval.rules_max_bytes)
    notes.extend(rules.notes)
    base_messages: list[ChatMessage] = []
    params: GenerationParams | None = None
    gen_s = 0.0
    if request.replies is not None:
        replies = list(request.replies)
        formats = [request.edit_format if request.edit_format not in (None, "auto") else detect_format(r)
                   for r in replies]
        fmt = formats[0] if len(set(formats)) == 1 else "mixed"
        fmt_reason = "given" if request.edit_format not in (None, "auto") else "detected from each reply"
        shown_rows = max(settings.patch.files, len(request.files))
        rows = [LocalizedFile(s.path, round(s.score, 4), s.reason, "not shown") for s in slots[:shown_rows]]
        known = [s.path for s in slots]
        full: list[str] = []
        model_name = "(replies given)"
        n = len(replies)
    else:
        assert backend is not None
        if not slots:
            raise UsageError("localization found no file for this issue",
                             hint="name the files to edit with --files")
        fmt, fmt_reason, shown, rows, max_new = plan_prompt(backend, settings, request, slots, rules)
        base_messages = [ChatMessage("system", system_prompt(fmt)),
                         ChatMessage("user", user_prompt(fmt, request.issue, shown, rules=rules_block(rules)))]
        n = max(1, request.samples or settings.patch.samples)
        params = GenerationParams(max_new_tokens=max_new, temperature=settings.patch.temperature,
                                  top_p=settings.model.top_p, seed=request.seed)
        if progress:
            progress(f"sampling {n} candidate(s) from {backend.model_name} ({fmt})")
        t0 = time.monotonic()
        replies = sample_n(backend, base_messages, params, n, cancel)
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled("patch generation cancelled")
        gen_s = time.monotonic() - t0
        timings["generate"] = gen_s
        known = [f.path for f in shown]
        full = [f.path for f in shown if not f.excerpt]
        model_name = backend.model_name
        formats = [fmt] * len(replies)

    t0 = time.monotonic()
    files = repo_files(repo)
    tests = TestSession(repo, files, request.issue, test_cmd=request.test_cmd, enabled=request.run_tests,
                        symbols=_index_symbols(repo, settings), timeout_s=settings.patch.test_timeout_s,
                        memory_mb=settings.patch.memory_mb, progress=progress)

    def validate(candidate: Candidate) -> None:
        plan = tests.plan_for(candidate.changes)
        candidate.validation = validate_changes(
            repo, candidate.changes, files=files, test_cmd=None, test_plan=plan,
            test_timeout_s=settings.patch.test_timeout_s, memory_mb=settings.patch.memory_mb,
        )
        if plan is not None:
            tests.compare(plan, candidate.validation)
        judge(candidate)

    built = [build_candidate(i, reply, repo, formats[i - 1], known, full) for i, reply in enumerate(replies, 1)]
    candidates = dedupe(built)
    prompt_tokens = sum(backend.count_tokens(m.content) for m in base_messages) if backend is not None else 0
    for number, candidate in enumerate(candidates, 1):
        started_one = time.monotonic()
        if candidate.changes and not candidate.rejection:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("patch validation cancelled")
            if progress:
                progress(f"validating candidate {number}/{len(candidates)}")
            validate(candidate)
        reply_tokens = backend.count_tokens(candidate.raw) if backend is not None and candidate.raw else 0
        candidate.rounds = [RoundRecord(
            round=0, verdict=candidate.verdict, summary=round_summary(candidate), well_formed=candidate.well_formed,
            prompt_tokens=prompt_tokens, reply_tokens=reply_tokens,
            seconds=round(gen_s / max(1, len(replies)) + time.monotonic() - started_one, 3))]
    timings["validate"] = time.monotonic() - t0

    rounds = settings.patch.rounds if request.rounds is None else request.rounds
    if rounds > 0 and request.replies is None and backend is not None and params is not None:
        t0 = time.monotonic()
        chat_backend = backend

        def room_for(conversation_tokens: int) -> int:
            """Tokens left for feedback: the same patch budget as the first prompt, the conversation counted."""
            from assistant.budget import task_budget

            budget = task_budget(settings, "patch", window=chat_backend.context_window,
                                 device=chat_backend.device, prompt_tokens=conversation_tokens)
            # no floor here: feedback that does not fit is cut, never pushed past the window
            return min(budget.tokens, min(budget.configured, budget.context_window) - budget.reserve)

        candidates, round_notes = run_rounds(
            candidates, rounds=rounds, backend=backend, base_messages=base_messages, params=params,
            edit_format=fmt, room_for=room_for,
            build=lambda reply: build_candidate(0, reply, repo, fmt, known, full), validate=validate,
            repo_text=lambda path: _repo_text(repo, path), progress=progress, cancel=cancel)
        notes.extend(round_notes)
        candidates = dedupe(candidates)
        timings["rounds"] = time.monotonic() - t0
    elif rounds > 0 and request.replies is not None:
        notes.append("repair rounds need a model: replies given with --reply are validated once")
    notes.extend(tests.notes)
    ranked = rank(candidates)

    report = PatchReport(
        issue_title=issue_title(request.issue), model=model_name, edit_format=fmt,
        format_reason=fmt_reason, localization=rows, candidates=ranked, samples_requested=n,
        test_cmd=request.test_cmd, notes=notes, tests=tests.to_dict(), rounds=rounds if params else 0,
    )
    if request.explain and backend is not None and report.best is not None:
        t0 = time.monotonic()
        if progress:
            progress("asking the model to explain the best patch")
        report.summary = explain_patch(backend, request.issue, report.best, cancel)
        timings["explain"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - started
    report.timings = timings
    return report


def _repo_text(repo: Path, path: str) -> str | None:
    """A repository file as text (for feedback that quotes it); ``None`` when unsafe, missing or binary."""
    try:
        _target, data = read_target(repo, normalise_relpath(path))
    except UnsafePath:
        return None
    return data.decode("utf-8", "replace") if data is not None else None


def _index_symbols(repo: Path, settings: Settings) -> dict[str, Any] | None:
    """The index's symbol table for test selection; ``None`` without an index (test files are then parsed)."""
    try:
        from indexer.reader import IndexReader

        reader = IndexReader.open(repo, settings.index)
    except IndexMissingError:
        return None
    try:
        return dict(reader.symbols())
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()


def explain_patch(backend: Backend, issue: str, candidate: Candidate,
                  cancel: threading.Event | None = None) -> str:
    """A short model-written summary of what the patch changes and why."""
    diff = candidate.diff
    if len(diff) > EXPLAIN_DIFF_CHARS:
        diff = diff[:EXPLAIN_DIFF_CHARS] + "\n... (diff shortened)\n"
    messages = [
        ChatMessage("system", "You review code changes. Answer in at most three short sentences."),
        ChatMessage("user", f"Issue:\n{issue.strip()[:EXPLAIN_DIFF_CHARS]}\n\nPatch:\n```diff\n{diff}```\n\n"
                            "What does this patch change, and how does it address the issue?"),
    ]
    params = GenerationParams(max_new_tokens=SUMMARY_TOKENS, temperature=0.2, top_p=0.95)
    text = "".join(backend.stream_chat(messages, params, cancel))
    return text.strip()
