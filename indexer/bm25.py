"""A segmented, incrementally updatable BM25 index whose queries read only their terms' postings.

Scoring is rank-bm25's BM25Okapi, exactly:

    idf(t)   = ln((N - df + 0.5) / (df + 0.5)), negative values replaced by
               epsilon * mean(idf over the vocabulary)          (epsilon = 0.25)
    score(d) = Σ_q idf(q) · tf(q,d)·(k1+1) / (tf(q,d) + k1·(1 - b + b·|d|/avgdl))
               (k1 = 1.5, b = 0.75; a repeated query token counts once per repeat)

rank-bm25 itself scores every document in a Python loop and persists by pickling, so it can
neither meet the latency target nor be updated one file at a time.  The previous version of
this module kept each segment as one ``.npz`` blob and loaded *every* segment for a query,
so a CLI search on a 374K-chunk repository read the whole index (2.6 s, 742 MB).  Now every
piece a query needs is a row it can read by key, inside the same SQLite database (and the
same transactions) as the chunks — so crash safety and snapshot reads come for free:

* ``bm25_postings(key = seg_id << 32 | term_id) -> docs, tfs``: one posting list per term
  and segment: local document numbers delta-encoded as LEB128 varints (most gaps fit one
  byte, so this is a third of raw uint32), and term frequencies as uint8, uint16 or uint32,
  whichever fits that list (the width is ``len(tfs) / number of docs``).  The key
  is segment-major so that a new segment is an append at the end of the B-tree (an
  incremental run does not rewrite pages all over the table), and a query looks up
  (segment × term) keys — a handful of segments times a handful of terms.  It is the
  table's rowid: a ``(seg_id, term_id)`` primary key made it a WITHOUT ROWID table, whose
  rows spill to overflow pages from ~1 KB on and leave half a page empty at the end of each
  long list (20 of 74 MB unused on site-packages; 4 of 59 with the rowid).
* ``bm25_segments(id) -> n_docs, doc_len``: document lengths per segment (uint32).
* ``bm25_docs(seg_id, local_idx) -> chunk_id`` (plus an index on ``chunk_id`` for
  deletes): only the top-k hits are mapped back to chunk ids.
* ``bm25_dead``: tombstones; deleting never rewrites a segment.
* ``bm25_df``: the live document frequency of every term id (one int32 blob) and
  ``bm25_stats``: N and mean(idf) over the vocabulary, both recomputed by the writer at
  each change, because the epsilon floor of BM25Okapi depends on *every* term's df and a
  query must not read the whole vocabulary to learn it.

Adding documents appends a segment; deleting tombstones them and subtracts their terms
from ``df`` (the caller passes the deleted documents' tokens, recomputed from the stored
chunk text: that is cheaper than a forward index on disk).  :func:`Bm25Writer.maybe_merge`
rewrites small or tombstoned segments into one, streaming term-id ranges so memory stays
bounded on any repository size.  ``tests/indexer/test_bm25.py`` checks every score against
rank-bm25 and against an in-memory implementation of the same formula.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import Any

import numpy as np

K1 = 1.5
B = 0.75
EPSILON = 0.25

# A cold run commits a segment every few seconds (~30 on a 24K-file tree).  A query looks up
# (segment, term) keys, so 32 segments cost it a few milliseconds; rewriting them into one
# would cost the cold run a full second pass over its postings.  So only the small ones merge.
MAX_SEGMENTS = 32
MAX_DEAD_FRACTION = 0.25
MERGE_BATCH_POSTINGS = 1_000_000  # postings held in memory at once while merging

_DOC = np.dtype("<u4")
_TF = {1: np.dtype("u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}


# ---------------------------------------------------------------------------- encoding

def _encode_docs(docs: np.ndarray, starts: np.ndarray) -> tuple[bytes, list[int]]:
    """Varint (LEB128) gaps of the ascending lists ``docs[starts[i]:starts[i+1]]``; each list's byte offset.

    The first gap of a list is its first document number.  Returns the bytes of all lists and
    ``len(starts) + 1`` offsets into them.
    """
    docs = docs.astype(np.int64)
    gaps = np.diff(docs, prepend=0)
    gaps[starts] = docs[starts]
    nbytes = 1 + (gaps >= 1 << 7) + (gaps >= 1 << 14) + (gaps >= 1 << 21) + (gaps >= 1 << 28)
    ends = np.cumsum(nbytes)
    first = ends - nbytes
    out = np.zeros(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    for k in range(5):
        sel = nbytes > k
        if not sel.any():
            break
        out[first[sel] + k] = ((gaps[sel] >> (7 * k)) & 0x7F) | ((nbytes[sel] > k + 1).astype(np.int64) << 7)
    return out.tobytes(), [*first[starts].tolist(), len(out)]


def _decode_gaps(blob: bytes) -> np.ndarray:
    """The varint values of ``blob`` (gaps: cumsum them per list), as int64."""
    b = np.frombuffer(blob, dtype=np.uint8)
    if not len(b):
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(b < 128)
    starts = np.concatenate(([0], ends[:-1] + 1))
    position = np.arange(len(b)) - np.repeat(starts, ends - starts + 1)
    return np.add.reduceat((b & 0x7F).astype(np.int64) << (7 * position), starts)


def decode_docs(blob: bytes) -> np.ndarray:
    """Local document numbers of one posting list, ascending, as int64."""
    return np.cumsum(_decode_gaps(blob))


def _decode_many_docs(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers of many posting lists concatenated, postings per list)."""
    joined = b"".join(blobs)
    gaps = _decode_gaps(joined)
    # postings per list = varint terminators (bytes < 128) inside each list's bytes
    terminators = np.concatenate(([0], np.cumsum(np.frombuffer(joined, dtype=np.uint8) < 128)))
    byte_ends = np.cumsum(np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs)))
    counts = np.diff(terminators[np.concatenate(([0], byte_ends))])
    before = np.concatenate(([0], np.cumsum(gaps)))  # a cumulative sum restarted at every list
    return before[1:] - np.repeat(before[np.cumsum(counts) - counts], counts), counts


def decode_tfs(blob: bytes, n: int) -> np.ndarray:
    """Term frequencies of one posting list (``n`` postings) as int64."""
    return np.frombuffer(blob, dtype=_TF[len(blob) // n] if n else _TF[1]).astype(np.int64)


def _concat_tfs(blobs: Sequence[bytes], lens: np.ndarray) -> np.ndarray:
    """The term frequencies of many posting lists, concatenated, whatever width each one has."""
    total = int(lens.sum())
    out = np.empty(total, dtype=np.int64)
    if not total:
        return out
    widths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs)) // np.maximum(lens, 1)
    starts = np.cumsum(lens) - lens
    for width, dtype in _TF.items():
        sel = np.flatnonzero((widths == width) & (lens > 0))
        if not len(sel):
            continue
        values = np.frombuffer(b"".join(blobs[i] for i in sel), dtype=dtype)
        sel_lens = lens[sel]
        shift = np.repeat(starts[sel] - (np.cumsum(sel_lens) - sel_lens), sel_lens)
        out[shift + np.arange(len(values))] = values
    return out


SEG_SHIFT = 32  # a posting list's key is seg_id << SEG_SHIFT | term_id
_TERM_MASK = (1 << SEG_SHIFT) - 1  # key & _TERM_MASK is the term id, key >> SEG_SHIFT the segment


def posting_key(seg_id: int, term_id: int) -> int:
    return seg_id << SEG_SHIFT | term_id


def _segment_keys(seg_id: int, lo: int = 0, hi: int = 1 << SEG_SHIFT) -> tuple[int, int]:
    """The key range ``[start, stop)`` of segment ``seg_id``'s terms ``lo <= term_id < hi``."""
    base = posting_key(seg_id, 0)
    return base + lo, base + min(hi, 1 << SEG_SHIFT)


def _posting_rows(seg_id: int, terms: np.ndarray, docs: np.ndarray, tfs: np.ndarray) -> Iterator[tuple]:
    """``(key, docs, tfs)`` rows from postings sorted by (term, doc)."""
    if not len(terms):
        return iter(())
    starts = np.flatnonzero(np.concatenate(([True], terms[1:] != terms[:-1])))
    ends = np.append(starts[1:], len(terms))
    maxima = np.maximum.reduceat(tfs, starts)
    widths = np.where(maxima < 256, 1, np.where(maxima < 65536, 2, 4))
    doc_bytes, offsets = _encode_docs(docs, starts)
    by_width = {w: tfs.astype(_TF[w]).tobytes() for w in (1, 2, 4) if (widths == w).any()}
    base = posting_key(seg_id, 0)
    return ((base | t, doc_bytes[lo:hi], by_width[w][w * s:w * e])
            for t, s, e, w, lo, hi in zip(terms[starts].tolist(), starts.tolist(), ends.tolist(), widths.tolist(),
                                          offsets[:-1], offsets[1:], strict=True))


def _narrow(values: np.ndarray) -> np.ndarray:
    """``values`` (non-negative) as uint16 where they fit, else int32: what a worker pickles back is a quarter
    of int64 (the writer widens where it multiplies)."""
    return values.astype(np.uint16 if not len(values) or int(values.max()) < 1 << 16 else np.int32)


@dataclass
class DocTerms:
    """The term counts of a list of documents, keyed by term *string*: BM25 postings before term ids exist.

    Tokenizing and counting are most of the cost of indexing a document, and need no
    vocabulary, so worker processes do them and hand over this compact form (a file's
    distinct terms once, three small arrays) instead of token lists or chunk text to
    re-tokenize; the writer only maps the distinct terms to ids and sorts the pairs.
    Postings are grouped by document, documents in order, terms in no particular order within one
    (:meth:`postings` sorts by term and relies on the document order); ``lens`` is each document's
    length in tokens.
    """

    terms: list[str]
    term_idx: np.ndarray  # per posting: index into ``terms``
    docs: np.ndarray  # per posting: document number, 0-based within these documents
    tfs: np.ndarray  # per posting: occurrences of the term in the document
    lens: np.ndarray  # per document: number of tokens

    @staticmethod
    def count(token_lists: Sequence[Sequence[str]]) -> DocTerms:
        """Count the tokens of each document: loops in C over every token, in Python over distinct terms only."""
        counters = [Counter(tokens) for tokens in token_lists]
        distinct = dict.fromkeys(chain.from_iterable(counters))
        index = dict(zip(distinct, range(len(distinct)), strict=True))  # built in C: thousands of terms a file
        pairs = sum(map(len, counters))
        term_idx = np.fromiter(map(index.__getitem__, chain.from_iterable(counters)), dtype=np.int64, count=pairs)
        tfs = np.fromiter(chain.from_iterable(c.values() for c in counters), dtype=np.int64, count=pairs)
        docs = np.repeat(np.arange(len(counters), dtype=np.int64), [len(c) for c in counters])
        lens = np.fromiter(map(len, token_lists), dtype=np.int32, count=len(token_lists))
        return DocTerms(list(index), _narrow(term_idx), _narrow(docs), _narrow(tfs), lens)

    @staticmethod
    def concat(parts: Sequence[DocTerms]) -> DocTerms:
        """The documents of ``parts`` one after the other (term indices and doc numbers shifted)."""
        term_base = np.cumsum([0, *(len(p.terms) for p in parts)])
        doc_base = np.cumsum([0, *(len(p.lens) for p in parts)])

        def joined(arrays: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)

        return DocTerms(list(chain.from_iterable(p.terms for p in parts)),
                        joined([p.term_idx + term_base[i] for i, p in enumerate(parts)]),
                        joined([p.docs + doc_base[i] for i, p in enumerate(parts)]),
                        joined([p.tfs for p in parts]), joined([p.lens for p in parts]))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the four arrays as one bytes value: a worker sends one of these per file, and
        unpickling numpy arrays one by one cost the indexing process 4x more than this."""
        arrays = (self.term_idx, self.docs, self.tfs, self.lens)
        return _doc_terms_from_bytes, (self.terms, b"".join(a.tobytes() for a in arrays),
                                       tuple(a.dtype.str for a in arrays), tuple(len(a) for a in arrays))

    def term_ids(self, vocab: dict[str, int]) -> np.ndarray:
        """The global term id of every posting (every term must be in ``vocab``)."""
        ids = np.fromiter(map(vocab.__getitem__, self.terms), dtype=np.int64, count=len(self.terms))
        return ids[self.term_idx]

    def postings(self, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(term ids, docs, tfs) sorted by term id then doc, as a segment stores them."""
        terms = self.term_ids(vocab)
        # documents are in order (``count`` and ``concat`` keep them so): a stable sort by term is by (term, doc)
        order = np.argsort(terms, kind="stable")
        return terms[order], self.docs[order], self.tfs[order]


def _doc_terms_from_bytes(terms: list[str], blob: bytes, dtypes: tuple[str, ...], sizes: tuple[int, ...]) -> DocTerms:
    """The inverse of :meth:`DocTerms.__reduce__` (the arrays are read-only views of ``blob``)."""
    arrays = []
    at = 0
    for dtype, size in zip(dtypes, sizes, strict=True):
        arrays.append(np.frombuffer(blob, dtype=dtype, count=size, offset=at))
        at += size * arrays[-1].itemsize
    return DocTerms(terms, *arrays)


def okapi_idf(df: int, n_live: int, eps: float) -> float:
    """BM25Okapi's idf of a term in ``df`` of ``n_live`` documents, floored at ``eps`` (epsilon * mean idf).

    The one formula every BM25 path uses: the local postings (:class:`Bm25Searcher`) and the query
    vector sent to a Qdrant copy of the index (:mod:`indexer.keyword_points`), so both score alike.
    """
    idf = float(np.log(np.array([n_live - df + 0.5]))[0] - np.log(np.array([df + 0.5]))[0])
    return eps if idf < 0 else idf


def idf_mean(df: np.ndarray, n_live: int) -> float:
    """mean(idf) over the terms present in live documents, as BM25Okapi computes it."""
    present = df[df > 0].astype(np.int64)
    if not len(present):
        return 0.0
    return float((np.log(n_live - present + 0.5) - np.log(present + 0.5)).mean())


# ---------------------------------------------------------------------------- writing (indexer only)

@dataclass
class _Df:
    """The live document frequency of every term id, loaded and saved by the writer."""

    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def grow(self, n_terms: int) -> None:
        if n_terms > len(self.values):
            grown = np.zeros(max(n_terms, int(len(self.values) * 1.25)), dtype=np.int32)
            grown[:len(self.values)] = self.values
            self.values = grown


class Bm25Writer:
    """Adds and removes documents inside the caller's SQLite transaction.

    The vocabulary is append-only and looked up lazily (only the terms of the documents
    being added), so editing one file does not load the whole vocabulary.  Pass the same
    ``vocab`` dict to successive writers of one run to reuse the lookups.
    """

    def __init__(self, conn: sqlite3.Connection, vocab: dict[str, int] | None = None) -> None:
        self.conn = conn
        self.vocab: dict[str, int] = vocab if vocab is not None else {}
        self._df: _Df | None = None
        self._dirty = False  # df changed since the statistics were last saved

    def _resolve(self, terms: Iterable[str]) -> None:
        """Give every term an id: from the run's lookups, the stored vocabulary, or a new one."""
        vocab = self.vocab
        unknown = set(terms).difference(vocab)  # a C loop over every distinct term of the batch
        if not unknown:
            return
        next_id = self._n_terms()
        if len(vocab) < next_id:  # ids held by the vocabulary only: look them up (never on a cold run)
            vocab.update(vocab_ids(self.conn, unknown))
        missing = sorted(t for t in unknown if t not in vocab)
        if missing:
            rows = [(term, next_id + i) for i, term in enumerate(missing)]
            self.conn.executemany("INSERT INTO bm25_vocab(term, id) VALUES (?, ?)", rows)
            vocab.update(rows)
            self.conn.execute("UPDATE bm25_stats SET n_terms = ? WHERE id = 0", (next_id + len(missing),))

    def _n_terms(self) -> int:
        row = self.conn.execute("SELECT n_terms FROM bm25_stats WHERE id = 0").fetchone()
        if row is None:
            self.conn.execute("INSERT INTO bm25_stats(id, n_live, idf_mean, n_terms) VALUES (0, 0, 0.0, 0)")
            return 0
        return int(row[0])

    def _load_df(self) -> _Df:
        if self._df is None:
            row = self.conn.execute("SELECT df FROM bm25_df WHERE id = 0").fetchone()
            self._df = _Df(np.frombuffer(row[0], dtype=np.int32).copy() if row else np.zeros(0, dtype=np.int32))
        return self._df

    def _save_stats(self) -> None:
        """Persist df, N and mean(idf): what every query needs besides its own postings."""
        if not self._dirty:
            return
        self._dirty = False
        df = self._load_df()
        self._n_terms()  # creates the stats row on a fresh index
        n_live = int(self.conn.execute("SELECT COUNT(*) FROM bm25_docs").fetchone()[0])
        self.conn.execute("INSERT OR REPLACE INTO bm25_df(id, df) VALUES (0, ?)", (df.values.tobytes(),))
        self.conn.execute("UPDATE bm25_stats SET n_live = ?, idf_mean = ? WHERE id = 0",
                          (n_live, idf_mean(df.values, n_live)))

    def add(self, chunk_ids: Sequence[str], token_lists: Sequence[Sequence[str]]) -> None:
        """:meth:`add_counted` for documents given as token lists."""
        self.add_counted(chunk_ids, DocTerms.count(token_lists))

    def add_counted(self, chunk_ids: Sequence[str], counted: DocTerms, *, known_new: bool = False) -> None:
        """Append one segment holding these documents (ids already present are replaced).

        Always saves the statistics (also those of a preceding ``delete(..., save=False)``).
        ``known_new``: the caller deleted every id it adds (the pipeline deletes a file's old
        chunks first), so the lookup of present ids is skipped: on a cold run of a 24K-file
        tree it was 850 queries for nothing.
        """
        if not chunk_ids:
            self._save_stats()
            return
        if not known_new:
            self._delete(chunk_ids, counted)
        self._resolve(counted.terms)
        terms, docs, tfs = counted.postings(self.vocab)
        seg_id = int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM bm25_segments").fetchone()[0])
        self._insert(seg_id, list(chunk_ids), terms, docs, tfs, counted.lens)
        df = self._load_df()
        df.grow(int(terms[-1]) + 1 if len(terms) else 0)
        per_term = np.bincount(terms)
        df.values[:len(per_term)] += per_term.astype(np.int32)
        self._dirty = True
        self._save_stats()

    def _insert(self, seg_id: int, chunk_ids: list[str], terms: np.ndarray, docs: np.ndarray, tfs: np.ndarray,
                lens: np.ndarray) -> None:
        self.conn.execute("INSERT INTO bm25_segments(id, n_docs, doc_len) VALUES (?, ?, ?)",
                          (seg_id, len(chunk_ids), lens.astype(_DOC).tobytes()))
        self.conn.executemany("INSERT INTO bm25_postings(key, docs, tfs) VALUES (?, ?, ?)",
                              _posting_rows(seg_id, terms, docs, tfs))
        self.conn.executemany("INSERT OR REPLACE INTO bm25_docs(seg_id, local_idx, chunk_id) VALUES (?, ?, ?)",
                              [(seg_id, i, cid) for i, cid in enumerate(chunk_ids)])

    def delete(self, chunk_ids: Sequence[str], token_lists: Sequence[Sequence[str]], *, save: bool = True) -> None:
        """Tombstone documents by chunk id (unknown ids are ignored).

        ``token_lists`` are the documents' tokens, as they were added: their terms leave ``df``.
        ``save=False`` leaves the statistics to a following :meth:`add` in the same transaction
        (saving costs a pass over the vocabulary: on a 700K-term index, half of a one-file edit).
        """
        self._delete(chunk_ids, DocTerms.count(token_lists))
        if save:
            self._save_stats()

    def _delete(self, chunk_ids: Sequence[str], counted: DocTerms) -> None:
        doc_of = {cid: i for i, cid in enumerate(chunk_ids)}
        ids = list(doc_of)
        removed: list[int] = []
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(f"SELECT chunk_id, seg_id, local_idx FROM bm25_docs WHERE chunk_id IN ({marks})",
                                     part).fetchall()
            if rows:
                self.conn.executemany("INSERT OR IGNORE INTO bm25_dead(seg_id, local_idx) VALUES (?, ?)",
                                      [(s, i) for _, s, i in rows])
                self.conn.execute(f"DELETE FROM bm25_docs WHERE chunk_id IN ({marks})", part)
                removed.extend(doc_of[cid] for cid, _, _ in rows)
        if not removed:
            return
        # each removed document leaves the df of each of its distinct terms once
        idx, per_term = np.unique(counted.term_idx[np.isin(counted.docs, removed)], return_counts=True)
        names = [counted.terms[i] for i in idx.tolist()]
        self._resolve(names)
        term_ids = np.fromiter(map(self.vocab.__getitem__, names), dtype=np.int64, count=len(names))
        df = self._load_df()
        df.grow(int(term_ids.max()) + 1)
        np.subtract.at(df.values, term_ids, per_term.astype(np.int32))  # a string may sit at two indices
        self._dirty = True

    def maybe_merge(self, force: bool = False) -> bool:
        """Keep the segment count and the tombstones bounded (tiered, like Lucene).

        Too many tombstones (or ``force``): rewrite every live document into one segment.
        More than ``MAX_SEGMENTS``: merge the smallest ones until half that many remain, so an
        incremental run's small segments merge among themselves and the big segments of the
        first run are left alone: the cost stays proportional to what changed.
        """
        sizes = dict(self.conn.execute("SELECT id, n_docs FROM bm25_segments"))
        dead = dict(self.conn.execute("SELECT seg_id, COUNT(*) FROM bm25_dead GROUP BY seg_id"))
        total = sum(sizes.values())
        dead_total = sum(dead.values())
        if force or (total and dead_total / total > MAX_DEAD_FRACTION):
            chosen = sorted(sizes)
        elif len(sizes) > MAX_SEGMENTS:
            by_size = sorted(sizes, key=lambda sid: (sizes[sid], sid))
            chosen = sorted(by_size[:len(sizes) - MAX_SEGMENTS // 2 + 1])
        else:
            return False
        if len(chosen) <= 1 and not any(dead.get(sid) for sid in chosen):
            return False
        self._merge(chosen, sizes)
        return True

    def _merge(self, seg_ids: list[int], sizes: dict[int, int]) -> None:
        """Rewrite ``seg_ids`` as one new segment of their live documents, one term-id range at a time."""
        conn = self.conn
        marks = ",".join("?" * len(seg_ids))
        dead_by_seg: dict[int, list[int]] = {}
        for seg_id, local in conn.execute(f"SELECT seg_id, local_idx FROM bm25_dead WHERE seg_id IN ({marks})",
                                          seg_ids):
            dead_by_seg.setdefault(seg_id, []).append(local)
        new_seg = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM bm25_segments").fetchone()[0])
        remap: dict[int, np.ndarray] = {}  # old local doc -> new local doc (-1: dead)
        lens: list[np.ndarray] = []
        ids: list[str] = []
        n_new = 0
        for seg_id in seg_ids:
            live = np.ones(sizes[seg_id], dtype=bool)
            live[dead_by_seg.get(seg_id, [])] = False
            remap[seg_id] = np.where(live, np.cumsum(live) - 1 + n_new, -1)
            n_new += int(live.sum())
            blob = conn.execute("SELECT doc_len FROM bm25_segments WHERE id = ?", (seg_id,)).fetchone()[0]
            lens.append(np.frombuffer(blob, dtype=_DOC)[live].astype(np.int64))
            by_local = dict(conn.execute("SELECT local_idx, chunk_id FROM bm25_docs WHERE seg_id = ?", (seg_id,)))
            ids.extend(by_local[i] for i in np.flatnonzero(live).tolist())
        conn.execute("INSERT INTO bm25_segments(id, n_docs, doc_len) VALUES (?, ?, ?)",
                     (new_seg, n_new, np.concatenate(lens).astype(_DOC).tobytes() if lens else b""))
        postings = self._load_df().values.astype(np.int64)
        bounds = _term_ranges(postings, MERGE_BATCH_POSTINGS)
        for lo, hi in bounds:
            terms_parts: list[np.ndarray] = []
            docs_parts: list[np.ndarray] = []
            tfs_parts: list[np.ndarray] = []
            for seg_id in seg_ids:
                if lo >= 1 << SEG_SHIFT:
                    continue
                rows = conn.execute("SELECT key, docs, tfs FROM bm25_postings WHERE key >= ? AND key < ?",
                                    _segment_keys(seg_id, lo, hi)).fetchall()
                if not rows:
                    continue
                old_docs, counts = _decode_many_docs([r[1] for r in rows])
                docs = remap[seg_id][old_docs]
                tfs = _concat_tfs([r[2] for r in rows], counts)
                term_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)) & _TERM_MASK
                terms = np.repeat(term_ids, counts)
                keep = docs >= 0
                terms_parts.append(terms[keep])
                docs_parts.append(docs[keep])
                tfs_parts.append(tfs[keep])
            if not terms_parts:
                continue
            terms = np.concatenate(terms_parts)
            order = np.argsort(terms, kind="stable")  # segments were read in order: docs stay ascending
            conn.executemany("INSERT INTO bm25_postings(key, docs, tfs) VALUES (?, ?, ?)",
                             _posting_rows(new_seg, terms[order], np.concatenate(docs_parts)[order],
                                           np.concatenate(tfs_parts)[order]))
        conn.executemany("DELETE FROM bm25_postings WHERE key >= ? AND key < ?",
                         [_segment_keys(seg_id) for seg_id in seg_ids])
        conn.execute(f"DELETE FROM bm25_segments WHERE id IN ({marks})", seg_ids)
        conn.execute(f"DELETE FROM bm25_dead WHERE seg_id IN ({marks})", seg_ids)
        conn.execute(f"DELETE FROM bm25_docs WHERE seg_id IN ({marks})", seg_ids)
        conn.executemany("INSERT INTO bm25_docs(seg_id, local_idx, chunk_id) VALUES (?, ?, ?)",
                         [(new_seg, i, cid) for i, cid in enumerate(ids)])


def _term_ranges(postings_per_term: np.ndarray, batch: int) -> list[tuple[int, int]]:
    """Term-id ranges ``[lo, hi)`` holding about ``batch`` live postings each (the last one open-ended)."""
    if not len(postings_per_term):
        return [(0, 2**62)]
    cumulative = np.cumsum(postings_per_term)
    cuts = np.searchsorted(cumulative, np.arange(batch, int(cumulative[-1]), batch), side="right")
    edges = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(postings_per_term))), 2**62]
    return list(pairwise(edges))


# ---------------------------------------------------------------------------- reading

class Bm25Searcher:
    """A read-only view of one generation: per-document arrays in memory, postings read per query.

    What is loaded (once per generation) is O(documents): segment sizes, document lengths,
    tombstones and the stored N and mean idf — a few MB at 374K chunks.  What a query reads
    is its terms' posting lists, one key per (segment, term), and the chunk ids of its top k.
    Call every method inside one read transaction of ``conn`` (the reader does), so the
    postings match the generation these arrays were loaded from.
    """

    def __init__(self, conn: sqlite3.Connection, avgdl: float | None = None) -> None:
        """``avgdl`` scores as if the mean document length were that (default: the live one's),
        as the points of a Qdrant copy weighted at an earlier length do (see indexer.keyword_points)."""
        rows = conn.execute("SELECT id, n_docs, doc_len FROM bm25_segments ORDER BY id").fetchall()
        self.seg_ids = [int(r[0]) for r in rows]
        self.seg_index = {sid: i for i, sid in enumerate(self.seg_ids)}
        self.offsets = np.cumsum([0] + [int(r[1]) for r in rows])
        total = int(self.offsets[-1])
        doc_len = (np.concatenate([np.frombuffer(r[2], dtype=_DOC) for r in rows]).astype(np.int64)
                   if rows else np.zeros(0, dtype=np.int64))
        self.live = np.ones(total, dtype=bool)
        for seg_id, local in conn.execute("SELECT seg_id, local_idx FROM bm25_dead"):
            if seg_id in self.seg_index:
                self.live[self.offsets[self.seg_index[seg_id]] + local] = False
        self.n_live = int(self.live.sum())
        # the average length of the live documents: BM25's length normalisation is relative to it
        self.avgdl = float(doc_len[self.live].sum()) / self.n_live if self.n_live else 1.0
        # Per-document length normaliser, precomputed once: k1 * (1 - b + b * |d| / avgdl).
        self.norm = K1 * (1 - B + B * doc_len.astype(np.float64) / ((avgdl or self.avgdl) or 1.0))
        self.eps = query_stats(conn)[1]  # the epsilon floor of idf, as the writer stored it

    def __len__(self) -> int:
        return self.n_live

    def _postings(self, conn: sqlite3.Connection, term_ids: list[int]) -> dict[int, list[tuple[int, bytes, bytes]]]:
        """term id -> [(segment index, docs, tfs)], segments in index order."""
        found: dict[int, list[tuple[int, bytes, bytes]]] = {}
        if not term_ids or not self.seg_ids:
            return found
        keys = [posting_key(seg_id, term_id) for term_id in term_ids for seg_id in self.seg_ids]
        for start in range(0, len(keys), 900):  # SQLite allows 999 parameters before 3.32
            part = keys[start:start + 900]
            rows = conn.execute(f"SELECT key, docs, tfs FROM bm25_postings WHERE key IN ({','.join('?' * len(part))})",
                                part)
            for key, docs, tfs in rows:
                found.setdefault(key & _TERM_MASK, []).append((self.seg_index[key >> SEG_SHIFT], docs, tfs))
        for lists in found.values():
            lists.sort(key=lambda item: item[0])
        return found

    def scores(self, conn: sqlite3.Connection, term_counts: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(global doc indices that match at least one term, their scores)."""
        total = len(self.live)
        score = np.zeros(total, dtype=np.float64)
        touched = np.zeros(total, dtype=bool)
        postings = self._postings(conn, list(term_counts))
        for tid, count in term_counts.items():
            lists = postings.get(tid)
            if not lists:
                continue
            decoded = []
            df = 0
            for seg, docs_blob, tfs_blob in lists:
                docs = decode_docs(docs_blob) + self.offsets[seg]
                decoded.append((docs, decode_tfs(tfs_blob, len(docs))))
                df += int(self.live[docs].sum())
            if not df:
                continue
            weight = okapi_idf(df, self.n_live, self.eps) * count
            for docs, tfs in decoded:
                tf = tfs.astype(np.float64)
                score[docs] += weight * tf * (K1 + 1) / (tf + self.norm[docs])
                touched[docs] = True
        hits = np.flatnonzero(touched & self.live)
        return hits, score[hits]

    def chunk_ids(self, conn: sqlite3.Connection, hits: Sequence[int]) -> list[str]:
        """Chunk ids of global document indices (all of them must be live)."""
        segs = np.searchsorted(self.offsets, np.asarray(hits, dtype=np.int64), side="right") - 1
        keys = [(self.seg_ids[s], int(h - self.offsets[s])) for s, h in zip(segs.tolist(), hits, strict=True)]
        found: dict[tuple[int, int], str] = {}
        for seg_id, local in keys:
            row = conn.execute("SELECT chunk_id FROM bm25_docs WHERE seg_id = ? AND local_idx = ?",
                               (seg_id, local)).fetchone()
            if row is not None:
                found[(seg_id, local)] = row[0]
        return [found[key] for key in keys]

    def top(self, conn: sqlite3.Connection, term_counts: dict[int, int], k: int) -> list[tuple[str, float]]:
        """The ``k`` best (chunk id, score) pairs, best first; ties broken by index order."""
        hits, scores = self.scores(conn, term_counts)
        if len(hits) == 0 or k <= 0:
            return []
        if len(hits) > k:
            part = np.argpartition(-scores, k - 1)[:k]
            hits, scores = hits[part], scores[part]
        order = np.lexsort((hits, -scores))
        ids = self.chunk_ids(conn, [int(hits[j]) for j in order])
        return [(cid, float(scores[j])) for cid, j in zip(ids, order, strict=True)]

    def all_scores(self, conn: sqlite3.Connection, term_counts: dict[int, int]) -> dict[str, float]:
        """Score of every live document (0 for non-matching), keyed by chunk id: for tests and benches."""
        result: dict[str, float] = {}
        index_of: dict[int, str] = {}
        for seg_id, local, cid in conn.execute("SELECT seg_id, local_idx, chunk_id FROM bm25_docs"):
            index_of[int(self.offsets[self.seg_index[int(seg_id)]]) + int(local)] = cid
            result[cid] = 0.0
        hits, scores = self.scores(conn, term_counts)
        for h, s in zip(hits.tolist(), scores.tolist(), strict=True):
            result[index_of[h]] = s
        return result


def vocab_ids(conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    """{term: term id} for the distinct ``terms`` that are in the vocabulary (read by key)."""
    wanted = list(dict.fromkeys(terms))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        marks = ",".join("?" * len(part))
        found.update((term, int(tid)) for term, tid in
                     conn.execute(f"SELECT term, id FROM bm25_vocab WHERE term IN ({marks})", part))
    return found


def lookup_terms(conn: sqlite3.Connection, tokens: Sequence[str]) -> dict[int, int]:
    """Query tokens → {term id: repeats}; tokens not in the vocabulary contribute nothing."""
    counts = Counter(tokens)
    return {tid: counts[term] for term, tid in vocab_ids(conn, counts).items()}


def stored_df(conn: sqlite3.Connection, term_ids: Iterable[int]) -> dict[int, int]:
    """The live document frequency the writer stored for each term id (0 for ids beyond it).

    Reads 4 bytes per term from the ``bm25_df`` blob, not the whole vocabulary's (MBs).
    """
    found = {tid: 0 for tid in term_ids}
    row = conn.execute("SELECT rowid FROM bm25_df WHERE id = 0").fetchone()
    if row is None or not found:
        return found
    with conn.blobopen("bm25_df", "df", int(row[0]), readonly=True) as blob:
        size = len(blob)
        for tid in found:
            if 0 <= 4 * tid < size:
                blob.seek(4 * tid)
                found[tid] = int(np.frombuffer(blob.read(4), dtype=np.int32)[0])
    return found


def query_stats(conn: sqlite3.Connection) -> tuple[int, float]:
    """(N, the epsilon floor of idf) as the writer stored them: what an idf needs besides a term's df."""
    row = conn.execute("SELECT n_live, idf_mean FROM bm25_stats WHERE id = 0").fetchone()
    return (int(row[0]), EPSILON * float(row[1])) if row else (0, 0.0)
