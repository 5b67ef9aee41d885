"""Canned replies for the scripted backend, keyed by what the prompt asks for."""

from __future__ import annotations

from assistant.models.base import ChatMessage
from tests.tui.fakes import ANSWER

PATCH_REPLY = """shopcore/pricing/calculator.py
```python
<<<<<<< SEARCH
    net = sum_money(line.net for line in totals) - deducted_after_tax
=======
    net = sum_money(line.net for line in totals)
>>>>>>> REPLACE
```
"""

PATCH_SUMMARY = ("The patch stops taking a fixed coupon off after tax, so VAT is computed on the "
                 "discounted net amount, as the issue expects.")

COMPLETION = "return totals"


def reply(messages: list[ChatMessage]) -> str:
    """The scripted model's answer: a patch, its summary, a completion or a cited answer."""
    system = messages[0].content if messages else ""
    if "SEARCH/REPLACE" in system:
        return PATCH_REPLY
    if "review code changes" in system:
        return PATCH_SUMMARY
    if messages and messages[0].role == "user" and len(messages) == 1:
        return COMPLETION
    return ANSWER
