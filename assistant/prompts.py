"""Prompt templates for questions and explanations.

Kept apart from the code that fills them so they can be read, reviewed and tuned
in one place.  The context they carry is rendered by the one renderer
(:mod:`retrieval.render`), whose block headings are ``### path:start-end (why)``:
the same form these prompts ask the model to cite.  Completion prompts are not
here: their format is the model family's (``assistant.models.families``).
"""

from __future__ import annotations

from assistant.models.base import ChatMessage

NO_CONTEXT = "(no context found)"

ANSWER_SYSTEM = """\
You are a senior engineer answering questions about the repository "{repo}".
Answer in Markdown, concisely. Base the answer on the code in the context below.
When you use a snippet, cite it as `path:start-end` exactly as its heading shows
(narrow the lines with the numbers in front of them when you mean fewer).
If the context does not contain the answer, say so and say which file or symbol
would be needed; do not invent code that is not shown."""

EXPLAIN_SYSTEM = """\
You are a senior engineer explaining code from the repository "{repo}" to a colleague.
Answer in Markdown: first one sentence on what the code does, then how it works step
by step, then anything surprising (edge cases, error handling, side effects).
Cite the snippets you use as `path:start-end` exactly as their headings show."""

ASK_USER = """\
Context from the repository:

{context}

Question: {question}"""

EXPLAIN_USER = """\
Context from the repository:

{context}

Explain `{label}`: `{cite}`, in the block headed `{block}`."""


def ask_messages(repo: str, question: str, context: str) -> list[ChatMessage]:
    """A question with its rendered context (``context`` empty: a draft, for counting)."""
    return [
        ChatMessage("system", ANSWER_SYSTEM.format(repo=repo)),
        ChatMessage("user", ASK_USER.format(context=context, question=question.strip())),
    ]


def explain_messages(repo: str, label: str, cite: str, block: str, context: str) -> list[ChatMessage]:
    """An explanation of ``label``, the lines ``cite`` shown in ``context`` in the block headed ``block``."""
    return [
        ChatMessage("system", EXPLAIN_SYSTEM.format(repo=repo)),
        ChatMessage("user", EXPLAIN_USER.format(context=context, label=label, cite=cite, block=block)),
    ]
