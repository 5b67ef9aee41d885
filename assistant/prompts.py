"""Prompt templates for completion, explanation and questions.

Kept apart from the code that fills them so they can be read, reviewed and
tuned in one place.  Completion prompts are not here: their format is the
model family's (``assistant.models.families.build_completion_prompt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.models.base import ChatMessage

ANSWER_SYSTEM = """\
You are a senior engineer answering questions about the repository "{repo}".
Answer in Markdown, concisely. Base the answer on the code in the context below.
When you use a snippet, cite it as `path:start-end` exactly as its heading shows.
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
Related code from the repository:

{context}

Explain `{label}`:

```{language}
{code}
```"""


@dataclass(frozen=True)
class Snippet:
    """One piece of context shown to the model, with the label it is cited by."""

    path: str
    start_line: int
    end_line: int
    text: str
    reason: str = ""
    language: str = ""

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


def render_snippet(snippet: Snippet) -> str:
    """A snippet as a Markdown heading (its citation label) and a fenced code block."""
    why = f" ({snippet.reason})" if snippet.reason else ""
    body = snippet.text.rstrip("\n")
    return f"### {snippet.label}{why}\n```{snippet.language}\n{body}\n```"


def render_context(snippets: Sequence[Snippet]) -> str:
    return "\n\n".join(render_snippet(s) for s in snippets) if snippets else "(no context found)"


def ask_messages(repo: str, question: str, context: str) -> list[ChatMessage]:
    return [
        ChatMessage("system", ANSWER_SYSTEM.format(repo=repo)),
        ChatMessage("user", ASK_USER.format(context=context, question=question.strip())),
    ]


def explain_messages(repo: str, label: str, code: str, language: str, context: str) -> list[ChatMessage]:
    return [
        ChatMessage("system", EXPLAIN_SYSTEM.format(repo=repo)),
        ChatMessage("user", EXPLAIN_USER.format(context=context, label=label, language=language,
                                                code=code.rstrip("\n"))),
    ]
