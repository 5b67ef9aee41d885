"""Printing a streamed answer (``ask``, ``explain``): the text as it comes, then its sources.

The events come from the feature service (:mod:`assistant.session`); this module only renders.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from assistant.chat import find_citations
from assistant.events import AnswerDelta, AnswerEvent, AnswerFinished, ContextReady, early_stop_note


def print_answer(events: Iterable[AnswerEvent], as_json: bool) -> int:
    """Stream ``events`` to stdout (or collect them as one JSON object); notes and stats go to stderr."""
    context = None
    notes: list[str] = []
    streamed = ""
    finished: AnswerFinished | None = None
    for event in events:
        if isinstance(event, ContextReady):
            context, notes = event.context, event.notes
            if not as_json:
                for note in notes:
                    print(f"note: {note}", file=sys.stderr)
        elif isinstance(event, AnswerDelta):
            streamed += event.text
            if not as_json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
        elif isinstance(event, AnswerFinished):
            finished = event
    sources = [item.label for item in (context.items if context is not None else []) if item.path]
    stats = finished.stats if finished is not None else None
    note = early_stop_note(stats)
    # what was saved: the streamed text, except that a loop the core cut is kept once
    text = finished.turn.content if finished is not None else streamed
    if as_json:
        print(json.dumps({
            "answer": text,
            "citations": sources,
            "cited": [c.label for c in find_citations(text, [s.rsplit(":", 1)[0] for s in sources])],
            "notes": notes + ([note] if note else []),
            "context_tokens": context.tokens_used if context is not None else 0,
            "stats": None if stats is None else {
                "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
                "time_to_first_token_s": round(stats.time_to_first_token_s, 3),
                "tokens_per_s": round(stats.tokens_per_s, 2), "total_s": round(stats.total_s, 3),
                "finish_reason": stats.finish_reason},
        }, indent=2))
        return 0
    if not streamed.endswith("\n"):
        sys.stdout.write("\n")
    if finished is not None and finished.turn.citations:
        sys.stdout.write("\nSources:\n" + "".join(f"- {c.label}\n" for c in finished.turn.citations))
    sys.stdout.flush()
    if note:
        print(f"note: {note}", file=sys.stderr)
    if stats is not None:
        print(f"[{stats.completion_tokens} tokens, first after {stats.time_to_first_token_s:.2f} s, "
              f"{stats.tokens_per_s:.1f} tok/s, {stats.finish_reason}]", file=sys.stderr)
    return 0
