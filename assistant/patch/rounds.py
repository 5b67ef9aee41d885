"""Repair rounds: send each failed candidate's validation back to the model, in the same conversation.

After the first validation, every candidate the validators found fault with
(malformed, a search text that matched nowhere or in several places, syntax
errors, new lint findings, failing tests) gets one more turn per round: its
own conversation (the original prompt, its reply, then the feedback from
:mod:`assistant.patch.feedback`), and the new reply is parsed, validated and
judged exactly like a first sample.  The loop stops early as soon as any
candidate passes the tests; a candidate's conversation ends when there is
nothing to repair, when the model repeats an earlier reply (same text or the
same change), when the test run hangs, or when the context window has no room
left for feedback.  Every round is recorded with its tokens and seconds.

The conversation is kept within the same token budget as the first prompt:
the caller passes ``room_for(conversation_tokens)``, the patch budget left
once the conversation so far and the answer are reserved; the oldest
exchanges are dropped first, and the feedback is cut to what remains.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from assistant.models.base import Backend, ChatMessage, GenerationParams
from assistant.patch.candidate import TESTS_PASS, Candidate, RoundRecord
from assistant.patch.feedback import build_feedback, fit_to_budget, needs_repair
from base.errors import GenerationCancelled

MIN_FEEDBACK_TOKENS = 48
MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators of a chat template, per message
REPEATED = "repeated an earlier reply"


def candidate_key(candidate: Candidate) -> object:
    """What makes two replies the same attempt: the same changes, or the same text when nothing applies."""
    if candidate.changes:
        return ("changes", tuple((c.path, c.new) for c in candidate.changes))
    return ("raw", " ".join(candidate.raw.split()))


def round_summary(candidate: Candidate) -> str:
    """One short phrase for a round's outcome (the full reasons stay on the candidate)."""
    if candidate.rejection_kind:
        return candidate.rejection_kind
    v = candidate.validation
    if v is None:
        return candidate.verdict
    if v.syntax_errors:
        return "syntax error"
    bits = []
    if v.new_findings:
        bits.append(f"{len(v.new_findings)} new finding(s)")
    if v.tests is not None:
        if v.tests.timed_out:
            bits.append("tests timed out")
        elif candidate.regressions:
            bits.append(f"{len(candidate.regressions)} regression(s)")
        elif not v.tests.passed:
            failing = sum(1 for r in v.tests.results.values() if r == "failed")
            bits.append(f"tests fail ({failing})" if failing else "tests fail")
        else:
            bits.append("tests pass")
    return ", ".join(bits) or candidate.verdict


@dataclass
class _Conversation:
    candidate: Candidate
    exchanges: list[tuple[str, str]] = field(default_factory=list)  # (reply, feedback) already sent
    seen: set[object] = field(default_factory=set)
    done: str = ""


def _tokens(messages: Sequence[ChatMessage], count: Callable[[str], int]) -> int:
    return sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def _messages(base: Sequence[ChatMessage], exchanges: Sequence[tuple[str, str]]) -> list[ChatMessage]:
    out = list(base)
    for reply, feedback in exchanges:
        out += [ChatMessage("assistant", reply), ChatMessage("user", feedback)]
    return out


def run_rounds(
    candidates: list[Candidate],
    *,
    rounds: int,
    backend: Backend,
    base_messages: Sequence[ChatMessage],
    params: GenerationParams,
    edit_format: str,
    room_for: Callable[[int], int],
    build: Callable[[str], Candidate],
    validate: Callable[[Candidate], None],
    repo_text: Callable[[str], str | None],
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[Candidate], list[str]]:
    """Repair ``candidates`` for up to ``rounds`` rounds; returns the final candidates and notes.

    ``build`` parses a reply into a candidate, ``validate`` validates and judges
    it in place; ``room_for`` gives the tokens left for feedback after a conversation of so many tokens.
    """
    count = backend.count_tokens
    conversations = [_Conversation(c, seen={candidate_key(c)}) for c in candidates]
    notes: list[str] = []
    for number in range(1, rounds + 1):
        if any(c.candidate.verdict == TESTS_PASS for c in conversations):
            notes.append(f"rounds stopped before round {number}: a candidate passes the tests")
            break
        for conv in conversations:
            if conv.done:
                continue
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("patch repair cancelled")
            current = conv.candidate
            if not needs_repair(current):
                conv.done = "nothing the model could repair" if current.verdict != TESTS_PASS else "tests pass"
                _mark_stopped(current, conv.done)
                continue
            messages, feedback_tokens = _next_messages(conv, base_messages, edit_format, repo_text, room_for,
                                                       count)
            if messages is None:
                conv.done = "no room left in the context window for feedback"
                _mark_stopped(current, conv.done)
                continue
            if progress:
                progress(f"round {number}: asking the model to repair candidate {current.index}")
            started = time.monotonic()
            seeded = replace(params, stop=list(params.stop),
                             seed=None if params.seed is None else params.seed + 1000 * number + current.index)
            reply = "".join(backend.stream_chat(messages, seeded, cancel))
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled("patch repair cancelled")
            fresh = build(reply)
            key = candidate_key(fresh)
            record = RoundRecord(round=number, verdict=fresh.verdict, summary="", well_formed=fresh.well_formed,
                                 prompt_tokens=_tokens(messages, count), feedback_tokens=feedback_tokens,
                                 reply_tokens=count(reply) if reply else 0)
            conv.exchanges.append((current.raw, messages[-1].content))
            if key in conv.seen:
                record.summary, record.verdict = REPEATED, current.verdict
                record.seconds = round(time.monotonic() - started, 3)
                record.stopped = REPEATED
                current.rounds.append(record)
                conv.done = REPEATED
                continue
            conv.seen.add(key)
            if fresh.changes and not fresh.rejection:
                validate(fresh)
            record.verdict, record.summary = fresh.verdict, round_summary(fresh)
            record.seconds = round(time.monotonic() - started, 3)
            fresh.index, fresh.samples = current.index, list(current.samples)
            fresh.rounds = [*current.rounds, record]
            conv.candidate = fresh
            if fresh.verdict == TESTS_PASS:
                break
    if any(conv.candidate.verdict == TESTS_PASS for conv in conversations):
        for conv in conversations:
            if conv.candidate.verdict != TESTS_PASS and not conv.done:
                _mark_stopped(conv.candidate, "another candidate passes the tests")
    return [conv.candidate for conv in conversations], notes


def _mark_stopped(candidate: Candidate, why: str) -> None:
    if candidate.rounds and not candidate.rounds[-1].stopped:
        candidate.rounds[-1].stopped = why


def _next_messages(conv: _Conversation, base: Sequence[ChatMessage], edit_format: str,
                   repo_text: Callable[[str], str | None], room_for: Callable[[int], int],
                   count: Callable[[str], int]) -> tuple[list[ChatMessage] | None, int]:
    """The conversation for the next round, within the budget; ``(None, 0)`` when feedback cannot fit."""
    feedback = build_feedback(conv.candidate, edit_format, repo_text)
    exchanges = list(conv.exchanges)
    while True:
        fixed = [*_messages(base, exchanges), ChatMessage("assistant", conv.candidate.raw)]
        room = room_for(_tokens(fixed, count) + MESSAGE_OVERHEAD_TOKENS)
        if room >= MIN_FEEDBACK_TOKENS or not exchanges:
            break
        exchanges.pop(0)  # the oldest exchange goes first
    if room < MIN_FEEDBACK_TOKENS:
        return None, 0
    fitted = fit_to_budget(feedback, room, count)
    if not fitted:
        return None, 0
    return [*fixed, ChatMessage("user", fitted)], count(fitted)
