"""Split a file into retrievable chunks along its syntax tree (split-then-merge, as in cAST).

For languages with a tree-sitter grammar (see :mod:`indexer.languages`):

* every **definition** (function, method, class, struct, impl, interface…) becomes
  its own chunk with its qualified name (``Order.total``), kind and the enclosing
  signatures as ``header``; comments directly above a definition belong to it;
* a definition larger than the token limit is **split** at statement boundaries
  (recursively, down to line windows for a single giant statement); a container
  (class, impl, namespace) that is too large yields one chunk per member plus
  chunks for its own lines (signature, fields);
* the remaining top-level (or class-level) statements — imports, constants,
  module code — are **merged** greedily into chunks under the limit.

Other files: Markdown by headings, everything else by line windows (the previous
window's last lines are carried in ``header`` as overlap, so no line is *in* two
chunks).  A parser failure never drops a file: it falls back to line windows.

Invariant (tested with hypothesis): a file's chunks cover every non-blank line and
their line ranges are pairwise disjoint.  Token counts are estimated as characters
/ 4, which is close to BPE tokenizers on code and costs nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from indexer.languages import SPECS, LangSpec, parser_for, symbol_query
from indexer.types import Chunk, FileSymbols, SymbolDef

# 2: a C++ ``.h`` header is chunked with the C++ grammar (it was C: no classes, namespaces, methods)
CHUNKER_VERSION = 2
_CLOSERS = re.compile(r"^[\s})\];,]*(end)?[\s})\];,]*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_WINDOW_OVERLAP_LINES = 3


@dataclass
class Piece:
    """A contiguous, 0-based inclusive row range and what it is."""

    start: int
    end: int
    kind: str
    symbol: str
    header: str = ""
    is_def: bool = False


@dataclass
class FileChunks:
    """The result of chunking one file."""

    chunks: list[Chunk]
    symbols: FileSymbols
    parse_fallback: bool = False  # the grammar failed and line windows were used


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def chunk_id(path: str, start_line: int, end_line: int, digest: str) -> str:
    return hashlib.sha1(f"{path}\0{start_line}\0{end_line}\0{digest}".encode()).hexdigest()[:24]


def _end_row(node: Any) -> int:
    row, col = node.end_point
    start = node.start_point[0]
    return row - 1 if col == 0 and row > start else row


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


class _FileChunker:
    def __init__(self, path: str, language: str, text: str, max_tokens: int) -> None:
        self.path = path
        self.language = language
        self.lines = text.split("\n")
        self.max_tokens = max(16, max_tokens)
        prefix = [0]
        for line in self.lines:
            prefix.append(prefix[-1] + len(line) + 1)
        self.char_prefix = prefix
        self.ascii = text.isascii()  # then byte offsets are character offsets (most source files)
        self.defs: list[SymbolDef] = []
        self.spec: LangSpec | None = SPECS.get(language)

    # ------------------------------------------------------------------ sizes

    def tokens(self, start: int, end: int) -> int:
        return (self.char_prefix[end + 1] - self.char_prefix[start] + 3) // 4

    def blank(self, row: int) -> bool:
        return not self.lines[row].strip()

    # ------------------------------------------------------------------ fallbacks

    def windows(self, start: int, end: int, kind: str, symbol: str, header: str) -> list[Piece]:
        """Line windows under the limit, cut at a blank line near the end of each window when possible."""
        pieces: list[Piece] = []
        row = start
        while row <= end:
            stop = row
            while stop + 1 <= end and self.tokens(row, stop + 1) <= self.max_tokens:
                stop += 1
            if stop < end:
                for cut in range(stop, row + (stop - row) * 2 // 3, -1):
                    if self.blank(cut):
                        stop = cut
                        break
            pieces.append(Piece(row, stop, kind, symbol, header))
            row = stop + 1
        return pieces

    def text_pieces(self) -> list[Piece]:
        pieces = self.windows(0, len(self.lines) - 1, "text", "", "")
        for previous, piece in itertools.pairwise(pieces):
            tail = [line for line in self.lines[previous.start:previous.end + 1] if line.strip()]
            piece.header = "\n".join(tail[-_WINDOW_OVERLAP_LINES:])
        return pieces

    def markdown_pieces(self) -> list[Piece]:
        sections: list[tuple[int, str, str]] = []  # (start row, heading, parent chain)
        chain: list[tuple[int, str]] = []
        in_fence = False
        for row, line in enumerate(self.lines):
            if _FENCE.match(line):
                in_fence = not in_fence
                continue
            match = None if in_fence else _HEADING.match(line)
            if match:
                level = len(match.group(1))
                chain = [(lvl, title) for lvl, title in chain if lvl < level]
                parents = "\n".join("#" * lvl + " " + title for lvl, title in chain)
                chain.append((level, match.group(2)))
                sections.append((row, match.group(2), parents))
        pieces: list[Piece] = []
        starts = [row for row, _, _ in sections]
        if not starts or starts[0] > 0:
            first_end = (starts[0] - 1) if starts else len(self.lines) - 1
            pieces.extend(self.windows(0, first_end, "text", "", ""))
        for i, (row, title, parents) in enumerate(sections):
            end = starts[i + 1] - 1 if i + 1 < len(starts) else len(self.lines) - 1
            pieces.extend(self.windows(row, end, "section", title[:120], parents))
        return pieces

    # ------------------------------------------------------------------ definitions

    def definition(self, node: Any) -> tuple[Any, str, str] | None:
        """``(definition node, kind, name)`` when ``node`` is (or wraps) a definition."""
        spec = self.spec
        assert spec is not None
        inner = node
        if node.type in spec.wrappers:
            inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
            if inner is None:
                inner = next((c for c in node.named_children if c.type in spec.defs), None)
            if inner is None or inner.type not in spec.defs:
                return None
        if inner.type not in spec.defs:
            return None
        kind = spec.defs[inner.type]
        kind_name = self.name_of(inner, kind)
        if kind_name is None:
            return None
        return inner, kind_name[0], kind_name[1]

    def name_of(self, node: Any, kind: str) -> tuple[str, str] | None:
        kind_out = kind
        t = node.type
        if t in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                if declarator.type != "variable_declarator":
                    continue
                value = declarator.child_by_field_name("value")
                if value is not None and value.type in ("arrow_function", "function_expression", "function",
                                                        "generator_function", "class"):
                    return ("class" if value.type == "class" else "function"), _text(
                        declarator.child_by_field_name("name"))
            return None
        if t in ("struct_specifier", "enum_specifier", "union_specifier", "class_specifier") and \
                node.child_by_field_name("body") is None:
            return None
        if t == "type_declaration":
            spec_node = next((c for c in node.named_children if c.type in ("type_spec", "type_alias")), None)
            if spec_node is None:
                return None
            inner_type = spec_node.child_by_field_name("type")
            if inner_type is not None and inner_type.type == "struct_type":
                kind_out = "struct"
            elif inner_type is not None and inner_type.type == "interface_type":
                kind_out = "interface"
            return kind_out, _text(spec_node.child_by_field_name("name"))
        if t == "impl_item":
            return kind_out, _text(node.child_by_field_name("type"))
        if t == "method_declaration" and self.language == "go":
            name = _text(node.child_by_field_name("name"))
            receiver = node.child_by_field_name("receiver")
            recv_type = ""
            if receiver is not None:
                for ident in _walk(receiver):
                    if ident.type == "type_identifier":
                        recv_type = _text(ident)
                        break
            return kind_out, f"{recv_type}.{name}" if recv_type else name
        if t == "function_definition" and self.language in ("c", "cpp"):
            declarator = node.child_by_field_name("declarator")
            macro_class = _class_behind_export_macro(node, declarator)
            if macro_class is not None:
                return macro_class
            while declarator is not None and declarator.child_by_field_name("declarator") is not None:
                declarator = declarator.child_by_field_name("declarator")
            return kind_out, _text(declarator).replace("::", ".")
        if t == "type_definition":
            return kind_out, _text(node.child_by_field_name("declarator"))
        name_node = node.child_by_field_name("name")
        return kind_out, _text(name_node).replace("::", ".")

    def signature(self, node: Any) -> str:
        """The definition's first line(s) up to its body (at most 3 lines), as written."""
        start = node.start_point[0]
        body = node.child_by_field_name("body")
        stop = body.start_point[0] if body is not None else start
        stop = min(max(stop, start), start + 2)
        lines = self.lines[start:stop + 1]
        if body is not None and body.start_point[0] == stop and stop > start:
            lines = lines[:-1] or lines
        text = "\n".join(lines).rstrip()
        return text if len(text) <= 300 else text[:300]

    # ------------------------------------------------------------------ the split-then-merge walk

    def units(self, nodes: list[Any], scope: list[str], headers: list[str], kind: str, symbol: str) -> list[Piece]:
        """Pieces for a list of sibling nodes: definitions alone, everything else packed."""
        assert self.spec is not None
        pieces: list[Piece] = []
        plain: list[Any] = []
        comments: list[Any] = []
        header = "\n".join(headers)
        for node in self.siblings(nodes):
            found = self.definition(node)
            if found is None:
                if node.type in self.spec.comment_types:
                    comments.append(node)
                else:
                    plain.extend(comments)
                    comments = []
                    plain.append(node)
                continue
            start = node.start_point[0]
            attached = start
            while comments and _end_row(comments[-1]) >= attached - 1:
                attached = comments.pop().start_point[0]
            plain.extend(comments)
            comments = []
            pieces.extend(self.pack(plain, kind, symbol, header))
            plain = []
            inner, def_kind, name = found
            pieces.extend(self.definition_pieces(node, inner, def_kind, name, attached, scope, headers))
        plain.extend(comments)
        pieces.extend(self.pack(plain, kind, symbol, header))
        return pieces

    def siblings(self, nodes: list[Any]) -> list[Any]:
        """``nodes`` with each transparent block (``#ifndef GUARD`` … ``#endif``) replaced by its children:
        the definitions inside an include guard are top-level definitions."""
        assert self.spec is not None
        transparent = self.spec.transparent
        if not transparent or not any(node.type in transparent for node in nodes):
            return nodes
        out: list[Any] = []
        for node in nodes:
            if node.type in transparent:
                out.extend(self.siblings(list(node.children)))
            else:
                out.append(node)
        return out

    def pack(self, nodes: list[Any], kind: str, symbol: str, header: str) -> list[Piece]:
        """Merge consecutive plain nodes into pieces under the limit (split the ones too big alone)."""
        pieces: list[Piece] = []
        current: Piece | None = None
        for node in nodes:
            start, end = node.start_point[0], _end_row(node)
            if current is not None and start <= current.end:
                current.end = max(current.end, end)
                continue
            if current is not None and self.tokens(current.start, end) <= self.max_tokens:
                current.end = end
                continue
            if current is not None:
                pieces.append(current)
                current = None
            if self.tokens(start, end) <= self.max_tokens:
                current = Piece(start, end, kind, symbol, header)
            else:
                pieces.extend(self.split(node, start, end, kind, symbol, header, header))
        if current is not None:
            pieces.append(current)
        return pieces

    def split(self, node: Any, start: int, end: int, kind: str, symbol: str, first_header: str,
              cont_header: str) -> list[Piece]:
        """Split one oversized node at its children's boundaries (line windows for leaves)."""
        children = list(node.children)
        if len(children) == 1:
            return self.split(children[0], start, end, kind, symbol, first_header, cont_header)
        if not children:
            pieces = self.windows(start, end, kind, symbol, cont_header)
        else:
            pieces = self.fill(start, end, self.pack(children, kind, symbol, cont_header), kind, symbol, cont_header)
        if pieces:
            pieces[0].header = first_header
        return pieces

    def definition_pieces(self, outer: Any, inner: Any, kind: str, name: str, start: int, scope: list[str],
                          headers: list[str]) -> list[Piece]:
        assert self.spec is not None
        qualified, end, signature = self.register(inner, kind, name, start, _end_row(outer), scope)
        if scope and kind == "function":
            kind = "method"
        header = "\n".join(headers)
        body = inner.child_by_field_name("body")
        container = inner.type in self.spec.containers and body is not None
        inner_scope = [*scope, name] if name else scope
        if self.tokens(start, end) <= self.max_tokens:
            if container:
                self.register_members(body, inner_scope)
            return [Piece(start, end, kind, qualified, header, is_def=True)]
        if container:
            members = self.units(list(body.children), inner_scope, [*headers, signature], kind, qualified)
            pieces = self.fill(start, end, members, kind, qualified, header)
            if pieces and pieces[0].start == start:
                pieces[0].header = header
        else:
            target = body if body is not None and body.child_count else inner
            cont_header = "\n".join([*headers, signature])
            pieces = self.fill(start, end, self.pack(list(target.children), kind, qualified, cont_header),
                               kind, qualified, cont_header)
            if pieces:
                pieces[0].header = header
        for piece in pieces:
            if piece.symbol == qualified:
                piece.is_def = True
        return pieces

    def register(self, inner: Any, kind: str, name: str, start: int, end: int,
                 scope: list[str]) -> tuple[str, int, str]:
        """Record a definition in the symbol table; returns (qualified name, end row, signature)."""
        qualified = ".".join([*scope, name]) if name else ".".join(scope)
        signature = self.signature(inner)
        if scope and kind == "function":
            kind = "method"
        self.defs.append(SymbolDef(name=name.rsplit(".", 1)[-1], qualified_name=qualified, kind=kind,
                                   path=self.path, start_line=start + 1, end_line=end + 1,
                                   signature=textwrap.dedent(signature)))
        return qualified, end, signature

    def register_members(self, body: Any, scope: list[str]) -> None:
        """Symbols of a container that stays one chunk: its members are still definitions."""
        assert self.spec is not None
        for node in self.siblings(list(body.children)):
            found = self.definition(node)
            if found is None:
                continue
            inner, kind, name = found
            self.register(inner, kind, name, node.start_point[0], _end_row(node), scope)
            inner_body = inner.child_by_field_name("body")
            if inner.type in self.spec.containers and inner_body is not None:
                self.register_members(inner_body, [*scope, name] if name else scope)

    def fill(self, start: int, end: int, pieces: list[Piece], kind: str, symbol: str, header: str) -> list[Piece]:
        """Make ``pieces`` cover every non-blank row of ``start..end`` without overlaps."""
        pieces = normalise(pieces)
        out: list[Piece] = []
        row = start
        for piece in pieces:
            if piece.start > row:
                self._gap(out, row, piece.start - 1, piece, kind, symbol, header)
            out.append(piece)
            row = max(row, piece.end + 1)
        if row <= end:
            self._gap(out, row, end, None, kind, symbol, header)
        return normalise(out)

    def _gap(self, out: list[Piece], start: int, end: int, following: Piece | None, kind: str, symbol: str,
             header: str) -> None:
        while start <= end and self.blank(start):
            start += 1
        while end >= start and self.blank(end):
            end -= 1
        if start > end:
            return
        previous = out[-1] if out else None
        closing = all(_CLOSERS.match(self.lines[r]) for r in range(start, end + 1))
        if previous is not None and (closing or not previous.is_def) and \
                self.tokens(previous.start, end) <= self.max_tokens + 32:
            previous.end = end
        elif following is not None and not following.is_def and \
                self.tokens(start, following.end) <= self.max_tokens:
            following.start = start
        else:
            out.extend(self.windows(start, end, kind, symbol, header))

    # ------------------------------------------------------------------ entry point

    def run(self, tree: Any) -> list[Piece]:
        root = tree.root_node
        pieces = self.units(list(root.children), [], [], "module", "")
        return self.fill(0, len(self.lines) - 1, pieces, "module", "", "")


_FUNCTION_DECLARATORS = frozenset({"function_declarator", "pointer_declarator", "reference_declarator"})


def _class_behind_export_macro(node: Any, declarator: Any) -> tuple[str, str] | None:
    """``(kind, name)`` for ``class EXPORT_API Name final : public Base { … }``, else ``None``.

    The grammars do not know export macros (``TORCH_API``, ``Q_DECL_EXPORT``): they read the macro
    as the class name and the whole class as a function named ``Name final : public Base``.  A real
    function has a function declarator; this one's declarator is the class name (and what follows).
    """
    type_node = node.child_by_field_name("type")
    if type_node is None or type_node.type not in ("class_specifier", "struct_specifier") or \
            type_node.child_by_field_name("body") is not None:
        return None
    if declarator is None:  # error recovery may leave the name without its field
        declarator = next((c for c in node.named_children if c.type in ("identifier", "qualified_identifier")), None)
    if declarator is None or declarator.type in _FUNCTION_DECLARATORS:
        return None
    name = next((n for n in _walk(declarator) if n.type in ("identifier", "namespace_identifier",
                                                            "type_identifier")), None)
    if name is None:
        return None
    return ("class" if type_node.type == "class_specifier" else "struct"), _text(name)


def normalise(pieces: list[Piece]) -> list[Piece]:
    """Sort pieces and merge any that share a row (the later one is absorbed)."""
    out: list[Piece] = []
    for piece in sorted(pieces, key=lambda p: (p.start, p.end)):
        if out and piece.start <= out[-1].end:
            out[-1].end = max(out[-1].end, piece.end)
            continue
        out.append(piece)
    return out


def _walk(node: Any) -> Any:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _ensure_coverage(chunker: _FileChunker, pieces: list[Piece]) -> list[Piece]:
    """Safety net for the invariant: cover any stray non-blank row, drop blank-only pieces."""
    pieces = normalise(pieces)
    covered = [False] * len(chunker.lines)
    for piece in pieces:
        for row in range(piece.start, piece.end + 1):
            covered[row] = True
    extra: list[Piece] = []
    row = 0
    while row < len(chunker.lines):
        if not covered[row] and not chunker.blank(row):
            stop = row
            while stop + 1 < len(chunker.lines) and not covered[stop + 1]:
                stop += 1
            extra.extend(chunker.windows(row, stop, "module" if chunker.spec else "text", "", ""))
            row = stop + 1
        else:
            row += 1
    result = []
    for piece in normalise(pieces + extra):
        while piece.start <= piece.end and chunker.blank(piece.start):
            piece.start += 1
        while piece.end >= piece.start and chunker.blank(piece.end):
            piece.end -= 1
        if piece.start <= piece.end:
            result.append(piece)
    return result


def _imports(language: str, root: Any, captured: list[Any]) -> list[str]:
    """The modules a file imports, in source order (``captured``: the ``@imp`` nodes of :func:`symbol_query`)."""
    spec = SPECS[language]
    found: list[str] = []
    nodes = _walk_limited(root, spec.import_types, depth=4) if language == "ruby" else captured
    for node in sorted(nodes, key=lambda n: n.start_byte):
        t = node.type
        if t == "import_statement" and language == "python":
            for child in node.named_children:
                target = child.child_by_field_name("name") if child.type == "aliased_import" else child
                found.append(_text(target))
        elif t == "import_from_statement":
            module = _text(node.child_by_field_name("module_name"))
            found.append(module)
            for child in node.children_by_field_name("name"):
                target = child.child_by_field_name("name") if child.type == "aliased_import" else child
                sep = "" if module.endswith(".") else "."
                found.append(f"{module}{sep}{_text(target)}")
        elif t == "import_statement":
            found.append(_text(node.child_by_field_name("source")).strip("'\"`"))
        elif t == "import_spec":
            found.append(_text(node.child_by_field_name("path")).strip('"`'))
        elif t == "use_declaration":
            found.append(_text(node.child_by_field_name("argument")))
        elif t == "import_declaration":
            found.append(_text(node).removeprefix("import").strip().removeprefix("static").strip().rstrip(";"))
        elif t == "preproc_include":
            found.append(_text(node.child_by_field_name("path")).strip('<>"'))
        elif t == "call" and language == "ruby":
            method = _text(node.child_by_field_name("method"))
            args = node.child_by_field_name("arguments")
            if method in ("require", "require_relative") and args is not None and args.named_children:
                found.append(_text(args.named_children[0]).strip("'\""))
    return [f for f in dict.fromkeys(found) if f]


def _walk_limited(root: Any, types: frozenset[str], depth: int) -> Any:
    stack = [(root, 0)]
    while stack:
        node, level = stack.pop()
        if node.type in types:
            yield node
            continue
        if level < depth:
            stack.extend((c, level + 1) for c in reversed(node.children))


def _references(source: bytes, captured: list[Any], defined: set[str]) -> list[str]:
    """Identifiers used in the file (parsed from ``source``), first use first, without the ones it defines.

    Their text is sliced from ``source`` by byte offsets: ``node.text`` costs a quarter more per node, and
    a file has hundreds of identifier nodes (the reference query is a sixth of a cold index's chunking).
    The query hands its captures out in no fixed order (it differed between two runs over the same
    file), so they are put in source order: the same file always gives the same symbols.
    """
    spans = sorted((node.start_byte, node.end_byte) for node in captured)
    names = dict.fromkeys(source[start:end] for start, end in spans)
    out: list[str] = []
    for raw in names:
        name = raw.decode("utf-8", "replace") if raw else ""
        if len(name) > 1 and name not in defined:
            out.append(name)
    return out


def chunk_file(path: str, text: str, language: str, max_tokens: int = 400) -> FileChunks:
    """Chunks and symbols of one file (``text`` as decoded; lines are kept exactly)."""
    chunker = _FileChunker(path, language, text, max_tokens)
    references: list[str] = []
    imports: list[str] = []
    fallback = False
    parser = parser_for(language) if language in SPECS else None
    if parser is not None:
        try:
            source = text.encode("utf-8", "surrogatepass")
            tree = parser.parse(source)
            pieces = chunker.run(tree)
            defined = {d.name for d in chunker.defs}
            captures = symbol_query(language).captures(tree.root_node)
            references = _references(source, captures.get("ref", []), defined)
            imports = _imports(language, tree.root_node, captures.get("imp", []))
        except (RecursionError, ValueError, UnicodeError):
            fallback = True
            chunker.defs = []
            pieces = chunker.text_pieces()
    elif language == "markdown":
        pieces = chunker.markdown_pieces()
    else:
        pieces = chunker.text_pieces()
    pieces = _ensure_coverage(chunker, pieces)
    chunks = _to_chunks(chunker, pieces)
    symbols = FileSymbols(path=path, language=language, definitions=tuple(chunker.defs),
                          references=tuple(references), imports=tuple(imports))
    return FileChunks(chunks=chunks, symbols=symbols, parse_fallback=fallback)


def _to_chunks(chunker: _FileChunker, pieces: list[Piece]) -> list[Chunk]:
    raw_starts = chunker.char_prefix if chunker.ascii else _byte_line_starts(chunker.lines)
    chunks: list[Chunk] = []
    for piece in pieces:
        line = chunker.lines[piece.end]
        text = "\n".join(chunker.lines[piece.start:piece.end + 1])
        digest = content_hash(piece.header + "\0" + text)
        chunks.append(Chunk(
            id=chunk_id(chunker.path, piece.start + 1, piece.end + 1, digest),
            path=chunker.path, language=chunker.language, kind=piece.kind, symbol=piece.symbol,
            start_line=piece.start + 1, end_line=piece.end + 1,
            start_byte=raw_starts[piece.start],
            end_byte=raw_starts[piece.end] + (len(line) if chunker.ascii else _byte_len(line)),
            text=text, header=piece.header, content_hash=digest,
        ))
    return chunks


def _byte_len(line: str) -> int:
    return len(line.encode("utf-8", "surrogatepass"))


def _byte_line_starts(lines: list[str]) -> list[int]:
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + _byte_len(line) + 1)
    return starts


__all__ = ["CHUNKER_VERSION", "FileChunks", "chunk_file", "content_hash", "estimate_tokens"]
