"""Binary formats (.bin, .so, .a, ...) are skipped as "binary", not "ignored"; real ignore rules still win."""

from __future__ import annotations

from pathlib import Path

from base.config import IndexSettings
from indexer.discover import discover


def test_binary_suffixes_are_reported_as_binary(tmp_path: Path) -> None:
    for name in ("main.py", "weights.bin", "lib/libfoo.so", "lib/libfoo.so.1", "lib/libbar.a", "img/logo.PNG",
                 "skipme.bin"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00\x01")
    (tmp_path / ".gitignore").write_text("skipme.bin\n")
    found = discover(tmp_path, IndexSettings())
    assert [f.path for f in found.files] == [".gitignore", "main.py"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons == {"weights.bin": "binary", "lib/libfoo.so": "binary", "lib/libfoo.so.1": "binary",
                       "lib/libbar.a": "binary", "img/logo.PNG": "binary", "skipme.bin": "ignored"}
