"""Streaming an :class:`assistant.answer.Answer` to the terminal, then its sources."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_answer(answer: Any, as_json: bool) -> int:
    if as_json:
        for _delta in answer:
            pass
        stats = answer.stats
        print(json.dumps({
            "answer": answer.text,
            "citations": [c.label for c in answer.citations],
            "cited": [c.label for c in answer.cited()],
            "notes": answer.notes,
            "context_tokens": answer.context_tokens,
            "stats": None if stats is None else {
                "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
                "time_to_first_token_s": round(stats.time_to_first_token_s, 3),
                "tokens_per_s": round(stats.tokens_per_s, 2), "total_s": round(stats.total_s, 3),
                "finish_reason": stats.finish_reason},
        }, indent=2))
        return 0
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    for delta in answer:
        sys.stdout.write(delta)
        sys.stdout.flush()
    if not answer.text.endswith("\n"):
        sys.stdout.write("\n")
    if answer.citations:
        sys.stdout.write("\nSources:\n" + "".join(f"- {c.label}\n" for c in answer.citations))
    sys.stdout.flush()
    stats = answer.stats
    if stats is not None:
        print(f"[{stats.completion_tokens} tokens, first after {stats.time_to_first_token_s:.2f} s, "
              f"{stats.tokens_per_s:.1f} tok/s, {stats.finish_reason}]", file=sys.stderr)
    return 0
