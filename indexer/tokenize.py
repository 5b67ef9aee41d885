"""The code-aware BM25 tokenizer, shared by indexing and querying.

Code search fails with a plain word tokenizer: ``getOrderTotal`` must match a
query for "order total" *and* a query for ``getOrderTotal``.  So every
identifier is kept whole (lower-cased) and also split on snake_case, camelCase
and digit boundaries.  Identifiers are never stemmed (``parse`` and ``parser``
are different things in code); only a short list of English stopwords, which
carry no signal in natural-language queries, is dropped.  The same function
tokenizes chunks and queries, so scores are consistent.
"""

from __future__ import annotations

import re
from functools import lru_cache

from indexer.types import Chunk

# Identifier-like runs: letters, digits and underscores, starting with a letter or underscore,
# or a bare number (kept: error codes, HTTP statuses and versions are searched for).
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
# Pieces of one identifier: an upper-case acronym not followed by lower case (``HTTP`` in
# ``HTTPServer``), a capitalised or lower-case word, or a run of digits.
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# English stopwords only: words that appear in questions ("where is the order total computed")
# but never identify code.  Programming keywords (``if``, ``for``, ``not``, ``in``) are not here on
# purpose: BM25's idf already makes them cheap, and a user searching for them means it.
_STOPWORD_TEXT = """a an the and or but of to at by on with from into onto than then so such
    is are was were be been being am do does did done has have had having
    this that these those it its it's there here which who whom whose what when where why how
    i me my we our you your he him his she her they them their
    can could would should will shall may might must also very just only
    about above after again against all any both each few more most other some same
    between through during before below up down out off over under further once"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())

_MAX_LEN = 64  # longer "identifiers" are base64 blobs or hashes: keep the whole token, skip splitting


def split_identifier(name: str) -> list[str]:
    """Split one identifier into lower-cased parts: ``parseHTTPResponse_v2`` → parse, http, response, v, 2.

    Returns ``[]`` for text without letters or digits.  The whole identifier is *not* included
    (see :func:`code_tokens`, which adds it).
    """
    parts: list[str] = []
    for piece in name.split("_"):
        if piece:
            parts.extend(p.lower() for p in _PART.findall(piece))
    return parts


def _word_tokens(word: str) -> tuple[str, ...]:
    lower = word.lower()
    if len(lower) > _MAX_LEN or word.isdigit():
        return (lower,)
    parts = split_identifier(word)
    if len(parts) <= 1:
        return () if lower in STOPWORDS else (lower,)
    return (lower, *parts)


# Words repeat enormously in code (self, return, the same identifiers), so the split of each
# distinct word is computed once per process; the cache is bounded by clearing it when large.
_CACHE: dict[str, tuple[str, ...]] = {}
_CACHE_LIMIT = 500_000


def code_tokens(text: str) -> list[str]:
    """BM25 tokens of a chunk or a query, in order, with repeats (term frequency matters).

    Each identifier yields its lower-cased whole form followed by its parts when it has more
    than one part (``order_total`` → order_total, order, total; ``total`` → total).  English
    stopwords are dropped when they stand alone, never from inside an identifier.
    """
    cache = _CACHE
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    tokens: list[str] = []
    extend = tokens.extend
    for word in _WORD.findall(text):
        found = cache.get(word)
        if found is None:
            found = cache[word] = _word_tokens(word)
        extend(found)
    return tokens


def path_tokens(path: str) -> list[str]:
    """Tokens for a repository-relative path (see :func:`_path_tokens`); a new list each call."""
    return list(_path_tokens(path))


@lru_cache(maxsize=4096)  # every chunk of a file asks for the same path
def _path_tokens(path: str) -> tuple[str, ...]:
    """Tokens for a repository-relative path: each directory and the file stem, whole and split.

    ``shopcore/pricing/tax_rules.py`` → shopcore, pricing, tax_rules, tax, rules, py.  Added to
    every chunk of the file so a query naming a module or folder finds its code.
    """
    tokens: list[str] = []
    for component in path.replace("\\", "/").split("/"):
        if not component:
            continue
        stem, dot, ext = component.rpartition(".")
        if not dot or not stem:
            stem, ext = component, ""
        tokens.extend(code_tokens(stem.replace("-", "_").replace(".", "_")))
        if ext:
            tokens.append(ext.lower())
    return tuple(tokens)


def bm25_tokens(chunk: Chunk) -> list[str]:
    """A chunk's BM25 document: its header and text, then its path's tokens.

    Here (not in the pipeline) because both the indexing run and the Qdrant copy of the
    keyword index (:mod:`indexer.keyword_points`) must count exactly the same terms.
    """
    return code_tokens(f"{chunk.header}\n{chunk.text}") + path_tokens(chunk.path)
