"""Many strings stored as one text and character offsets: cheap to save, load, extend and splice.

The repo map's tables hold ~400K names and ~300K outline rows on a 24K-file tree.  As a
list of ``str`` objects, loading them costs one object each and every edit rebuilds the
list; packed, loading is one decode, reading a string slices it out when asked, and an
edit appends or inserts a few strings by copying the text once (milliseconds).  Any
character is stored as it is (a parser may hand out a C++ "name" spanning lines).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from typing import Any


class PackedStrings(Sequence[str]):
    """An immutable sequence of strings: ``text[offsets[i]:offsets[i + 1]]`` is string ``i``."""

    def __init__(self, text: str = "", offsets: Any = None) -> None:
        import numpy as np

        self.text = text
        self.offsets = np.zeros(1, dtype=np.int64) if offsets is None else offsets

    @classmethod
    def pack(cls, strings: Sequence[str]) -> PackedStrings:
        import numpy as np

        if isinstance(strings, PackedStrings):
            return strings
        offsets = np.zeros(len(strings) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in strings], out=offsets[1:])
        return cls("".join(strings), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.text[int(self.offsets[i]):int(self.offsets[i + 1])]

    def to_list(self) -> list[str]:
        """All strings at once (one pass over the offsets, not one lookup each)."""
        return [self.text[a:b] for a, b in itertools.pairwise(self.offsets.tolist())]

    def bisect_left(self, value: str) -> int:
        """Where ``value`` is, or would go, in these strings when they are sorted."""
        return bisect.bisect_left(self, value)

    def extended(self, strings: Sequence[str]) -> PackedStrings:
        """These strings followed by ``strings``."""
        return self.inserted([len(self)] * len(strings), strings)

    def inserted(self, positions: Sequence[int], strings: Sequence[str]) -> PackedStrings:
        """A copy with ``strings[k]`` placed before string ``positions[k]`` (positions ascending)."""
        import numpy as np

        if not strings:
            return self
        where = np.asarray(positions, dtype=np.int64)
        lengths = np.insert(np.diff(self.offsets), where, np.fromiter(map(len, strings), np.int64, len(strings)))
        places, firsts = np.unique(where, return_index=True)
        bounds = [*firsts.tolist(), len(strings)]
        pieces: list[str] = []
        start = 0
        for k, place in enumerate(places.tolist()):
            pieces.append(self.text[int(self.offsets[start]):int(self.offsets[place])])
            pieces.append("".join(strings[bounds[k]:bounds[k + 1]]))
            start = place
        pieces.append(self.text[int(self.offsets[start]):])
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return PackedStrings("".join(pieces), offsets)

    def take(self, ids: Any) -> PackedStrings:
        """The strings at ``ids`` (a numpy integer array), in that order."""
        return PackedStrings.pack([self[i] for i in ids.tolist()])

    def arrays(self, name: str) -> dict[str, Any]:
        """These strings as two numpy arrays named ``<name>.text`` (UTF-8) and ``<name>.offsets``."""
        import numpy as np

        return {f"{name}.text": np.frombuffer(self.text.encode("utf-8", "surrogatepass"), dtype=np.uint8),
                f"{name}.offsets": self.offsets}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], name: str) -> PackedStrings:
        return cls(arrays[f"{name}.text"].tobytes().decode("utf-8", "surrogatepass"), arrays[f"{name}.offsets"])
