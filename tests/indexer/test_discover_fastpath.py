"""The walk's shortcuts give the reference verdicts: pathspec's git rules, fnmatch's secret globs, pathlib's suffixes."""

from __future__ import annotations

import fnmatch
import itertools
from pathlib import Path

import pathspec
import pytest

from indexer.discover import DEFAULT_EXCLUDES, _spec, is_binary_name
from indexer.secrets import SECRET_FILE_PATTERNS, is_secret_file

TRICKY_PATTERNS: tuple[str, ...] = (
    *DEFAULT_EXCLUDES,
    "*.log", "!keep.log", "!/logs/keep-*.log", "logs/", "/root-only.txt", "doc/*.md", "!doc/README.md",
    "**/generated/", "a/**/b", "**/deep.py", "build-*/", "!build-keep/", "x/**", "!x/y/", "[abc].py",
    "file?.txt", "\\!bang.py", "\\#hash.py", "trailing\\ ", "*.py[co]", "foo/*", "!foo/bar.py", "**/*.snap",
    "dir/sub/", "/anchored/dir/", "*~", ".#*", "name with spaces.txt", "ünïcode/", "(?P<x>).py", "a+b.py",
)
PATH_PARTS = ("a", "b", "logs", "doc", "x", "y", "foo", "generated", "build-1", "build-keep", "dir", "sub",
              "anchored", "node_modules", "build", ".venv", "ünïcode", "pkg.egg-info")
NAMES = ("keep.log", "other.log", "README.md", "guide.md", "deep.py", "bar.py", "baz.py", "a.py", "d.py",
         "file1.txt", "file12.txt", "!bang.py", "#hash.py", "trailing ", "mod.pyc", "mod.pyo", "x.snap",
         "root-only.txt", "keep-1.log", "b", "name with spaces.txt", "notes~", ".#lock", "app.min.js", "uv.lock",
         "(?P<x>).py", "a+b.py", "aab.py")


def _paths() -> list[tuple[str, bool]]:
    """Files and directories at depths 0-3 over the parts above: tens of thousands of cases."""
    cases: list[tuple[str, bool]] = []
    for depth in range(4):
        for dirs in itertools.product(PATH_PARTS, repeat=depth):
            prefix = "/".join(dirs)
            cases.extend((f"{prefix}/{name}" if prefix else name, False) for name in NAMES)
            if prefix:
                cases.append((prefix, True))
            if depth == 3:
                break  # a slice of depth 3 is enough
    return cases


@pytest.mark.parametrize("patterns", [
    TRICKY_PATTERNS,
    TRICKY_PATTERNS[::-1],  # last match wins: order matters
    ("*", "!*.py", "!*/"),
    ("!*.log", "*.log"),
    ("/*", "!/doc/", "/doc/*", "!/doc/README.md"),
])
def test_prefiltered_spec_agrees_with_pathspec(patterns: tuple[str, ...]) -> None:
    fast = _spec(list(patterns))
    reference = pathspec.GitIgnoreSpec.from_lines(list(patterns))
    assert fast is not None and fast.prefilter is not None  # the shortcut is really in use
    hits = 0
    for path, is_dir in _paths():
        query = path + "/" if is_dir else path
        expected = reference.check_file(query).include
        assert fast.verdict(query) == (None if expected is None else bool(expected)), (query, patterns)
        hits += expected is not None
    assert hits > 100  # the cases exercise the patterns, not only the misses


@pytest.mark.parametrize("name", [
    "a.py", "A.PNG", "libfoo.so", "libfoo.so.1", "libfoo.so.1.2", "x.tar.gz", ".so", ".bin", "..bin", "so.1",
    "a.", "a.bin.", "...", "noext", "a.b.c", "weights.BIN", "archive.zip.txt", ".hidden.so.3", "x.so.py",
])
def test_binary_names_match_pathlib_suffixes(name: str) -> None:
    suffixes = [s.lower() for s in Path(name).suffixes]
    expected = bool(suffixes) and (suffixes[-1] in {".so", ".bin", ".png", ".gz", ".zip"} or ".so" in suffixes[:-1])
    assert is_binary_name(name) == expected


@pytest.mark.parametrize("name", [
    ".env", ".env.local", "prod.env", ".envrc", "server.pem", "SERVER.PEM", "id_rsa", "id_rsa.pub", "id_rsa2",
    "credentials", "credentials.json", "credentials.jsonx", "aws.credentials", "service-account-1.json",
    "service-account.yaml", "secrets.toml", "secrets.py", "terraform.tfstate", "terraform.tfstate.backup",
    "main.py", "key.py", "x.key", "environment.py", "my.env.py", ".netrc", "netrc", "a\nb.pem",
])
def test_secret_names_match_the_globs(name: str) -> None:
    lower = name.lower()
    expected = lower.startswith(".env") or any(fnmatch.fnmatchcase(lower, p) for p in SECRET_FILE_PATTERNS)
    assert is_secret_file(name) == expected
