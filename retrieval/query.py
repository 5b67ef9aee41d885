"""Read a query or an issue text the way a developer would: spot the code in it.

Natural-language questions and bug reports mix prose with code: ``parse_header``,
``PriceCalculator``, ``requests.models.Response``, ``shopcore/pricing/tax.py``,
``File "app.py", line 12, in total``.  Those names are far more specific than
the prose around them, so they are pulled out here and boosted by search (their
BM25 tokens are repeated, and exact definition/path matches form ranked lists
of their own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from indexer.tokenize import STOPWORDS, code_tokens

# File extensions we treat as source/text files when they appear in a query.
_EXTENSIONS = (
    "py|pyi|pyx|js|jsx|mjs|cjs|ts|tsx|go|rs|java|kt|c|h|cc|cpp|cxx|hpp|hh|rb|php|cs|swift|scala|"
    "sh|bash|sql|md|rst|txt|toml|yaml|yml|json|cfg|ini|html|css|scss|vue"
)
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:" + _EXTENSIONS + r"))(?![\w/])")
# Python traceback frame.
_PY_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([\w<>.]+))?')
# JavaScript / TypeScript frame: "at fn (path/to/x.js:10:5)" or "at path/to/x.js:10:5".
_JS_FRAME = re.compile(r"at (?:([\w$.<>]+) )?\(?((?:[\w.-]+/)*[\w.-]+\.\w+):(\d+)(?::\d+)?\)?")
# Generic "path.ext:LINE" (Go, Rust, compilers, pytest).
_GENERIC_FRAME = re.compile(r"((?:[\w.-]+/)*[\w-]+\.(?:" + _EXTENSIONS + r")):(\d+)")
_BACKTICKED = re.compile(r"`([^`\n]{1,120})`")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_SINGLE_NAME = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*(?:\(\s*\))?")
_FILE_SUFFIX = re.compile(r"\.(?:" + _EXTENSIONS + r")$")
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Messages a program printed: exception text ("ValueError: bad input", pytest's "E   ..."
# lines) and log-style lines ("WARNING: no number is assigned for table:").
_EXCEPTION_MESSAGE = re.compile(r"^[\s>E]*[\w.]*(?:Error|Exception|Warning|Exit)\s*:\s*(.{8,})$", re.M)
_LOG_MESSAGE = re.compile(r"^\s*(?:WARNING|ERROR|CRITICAL|Warning|Error|warning|error)\s*:\s*(.{8,})$", re.M)
_FENCED = re.compile(r"```.*?```", re.S)
_MESSAGE_WORD = re.compile(r"[a-z]+")
MESSAGE_MIN_WORDS = 3

# Prose words that look like code because of capitals (sentence starts are lower-cased
# before the CamelCase test, so only mixed-case words reach it).
_NOT_CODE = frozenset({"GitHub", "JavaScript", "TypeScript", "PyPI", "macOS", "iOS", "OpenAI", "PyCharm",
                       "VSCode", "GitLab", "NumPy", "SciPy", "YouTube", "LaTeX", "McDonald", "Traceback"})


@dataclass(frozen=True)
class StackFrame:
    """One frame of a traceback found in the text (``function`` may be empty)."""

    path: str
    line: int
    function: str = ""


@dataclass
class QueryAnalysis:
    """What a query names: code identifiers (most specific first), dotted paths, files and frames."""

    text: str
    identifiers: list[str] = field(default_factory=list)
    dotted: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    frames: list[StackFrame] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # quoted error/warning text (see message_words)

    @property
    def names(self) -> list[str]:
        """Identifiers plus the last component of every dotted path, without repeats."""
        seen: dict[str, None] = dict.fromkeys(self.identifiers)
        for dotted in self.dotted:
            seen.setdefault(dotted.rsplit(".", 1)[-1], None)
        return list(seen)

    @property
    def frame_names(self) -> list[str]:
        """Functions named by traceback frames, innermost (last) first."""
        names: dict[str, None] = {}
        for frame in reversed(self.frames):
            if frame.function and not frame.function.startswith("<"):
                names.setdefault(frame.function.rsplit(".", 1)[-1], None)
        return list(names)


def message_words(text: str) -> list[str]:
    """The lower-case words of a message, as compared between an issue and string literals in code
    (placeholders such as ``%s`` or ``{name}`` reduce to a letter or a word and break no run)."""
    return _MESSAGE_WORD.findall(text.lower())


def _messages(text: str) -> list[str]:
    """Error and warning text the issue quotes, and backticked phrases of several words.

    The code that prints a message is often where the fix goes, and a message is a phrase,
    not a bag of words: BM25 sees "no number is assigned for table" as six common words.
    """
    found: list[str] = []
    unfenced = _FENCED.sub(" ", text)  # inline spans only: fences would pair the wrong backticks
    for pattern, source in ((_EXCEPTION_MESSAGE, text), (_LOG_MESSAGE, text), (_BACKTICKED, unfenced)):
        for m in pattern.finditer(source):
            message = m.group(1).strip()
            if len(message_words(message)) >= MESSAGE_MIN_WORDS:
                _add(found, message)
    return found


def is_code_identifier(word: str) -> bool:
    """Whether a bare word is clearly code: snake_case, camelCase, PascalCase with two humps, dunder."""
    if not word or not (word[0].isalpha() or word[0] == "_"):
        return False
    if word in _NOT_CODE:
        return False
    if "_" in word.strip("_") or (word.startswith("__") and word.endswith("__") and len(word) > 4):
        return any(c.isalpha() for c in word)
    if word.startswith("_") and len(word) > 2:
        return True
    has_lower = any(c.islower() for c in word)
    has_upper_after_first = any(c.isupper() for c in word[1:])
    if has_lower and has_upper_after_first:
        return True  # camelCase, PascalCase with at least two humps
    return word.isupper() and len(word) >= 4 and "_" in word


def _add(target: list[str], value: str) -> None:
    if value and value not in target:
        target.append(value)


def analyze_query(text: str) -> QueryAnalysis:
    """Extract identifiers, dotted paths, file paths, stack-trace frames and messages from ``text``."""
    analysis = QueryAnalysis(text=text, messages=_messages(text))
    frames: list[StackFrame] = []
    for m in _PY_FRAME.finditer(text):
        frames.append(StackFrame(m.group(1).replace("\\", "/"), int(m.group(2)), m.group(3) or ""))
    for m in _JS_FRAME.finditer(text):
        frames.append(StackFrame(m.group(2), int(m.group(3)), m.group(1) or ""))
    known = {(f.path, f.line) for f in frames}
    for m in _GENERIC_FRAME.finditer(text):
        if (m.group(1), int(m.group(2))) not in known:
            frames.append(StackFrame(m.group(1), int(m.group(2))))
    analysis.frames = frames
    # Frame lines are a signal of their own (see QueryAnalysis.frames): the names and paths in
    # them are not read again as prose identifiers or file mentions.
    text = _GENERIC_FRAME.sub(" ", _JS_FRAME.sub(" ", _PY_FRAME.sub(" ", text)))

    for m in _PATH.finditer(text):
        _add(analysis.paths, m.group(1).lstrip("./"))

    # Backticked spans are what the writer marked as code.  A span that is one name (`total`,
    # `Order.total`, `total()`) counts whatever it looks like; in a longer span (a command line,
    # an error message) only the words that look like code on their own do.
    for m in _BACKTICKED.finditer(text):
        span = m.group(1).strip()
        single = _SINGLE_NAME.fullmatch(span)
        if single:
            name = single.group(1)
            if "." in name:
                _add(analysis.dotted, name)
                name = name.rsplit(".", 1)[-1]
            if len(name) > 1 and name.lower() not in STOPWORDS:
                _add(analysis.identifiers, name)
            continue
        for word in _WORD.findall(span):
            if is_code_identifier(word):
                _add(analysis.identifiers, word)

    path_texts = set(analysis.paths)
    for m in _DOTTED.finditer(text):
        dotted = m.group(1)
        if any(dotted in p for p in path_texts) or _FILE_SUFFIX.search(dotted):
            continue
        parts = dotted.split(".")
        # "e.g", "i.e" and sentence joins ("done.The") are not code.
        if len(parts[0]) <= 1 and len(parts) == 2:
            continue
        if not any(is_code_identifier(p) for p in parts) and not any(p.islower() for p in parts[1:]):
            continue
        if all(p.isalpha() and p.lower() in STOPWORDS for p in parts):
            continue
        _add(analysis.dotted, dotted)
        for part in parts:
            if is_code_identifier(part) or (part[:1].isupper() and part[1:].islower() and part is parts[-1]):
                _add(analysis.identifiers, part)

    for m in _CALL.finditer(text):
        word = m.group(1)
        if len(word) > 2 and word.lower() not in STOPWORDS and word not in _NOT_CODE:
            _add(analysis.identifiers, word)

    for word in _WORD.findall(text):
        if is_code_identifier(word):
            _add(analysis.identifiers, word)
    return analysis


def boosted_tokens(analysis: QueryAnalysis, boost: int = 3, max_tokens: int = 2000) -> list[str]:
    """BM25 query tokens: the whole text, plus each identifier's tokens ``boost`` more times.

    The reader weighs repeated query tokens more, so this is how names written in the
    query count for more than the prose around them.  Long issue texts are capped at
    ``max_tokens`` (the identifiers, added first, always survive).
    """
    extra: list[str] = []
    for name in [*analysis.names, *analysis.frame_names]:
        extra.extend(code_tokens(name) * boost)
    for path in analysis.paths:
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        extra.extend(code_tokens(stem) * boost)
    base = code_tokens(analysis.text)
    room = max(0, max_tokens - len(extra))
    return extra + base[:room]
