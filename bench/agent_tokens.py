"""Tokens an agent reads before the gold file's code is in front of it: grep-and-read vs our MCP tools.

For every SWE-bench Lite dev issue (``../shared/data/swebench_lite_dev.jsonl``; releases
fetched, unpacked and indexed with the helpers of ``bench/localization.py``, same cache):

(a) **grep-and-read** — what an agent without an index does: grep the issue's identifiers
    (backticked names, snake_case, CamelCase, dotted names, calls) and quoted strings, in
    the order the issue mentions them, and read every matching file whole, in grep-hit
    order (``grep -rl`` lists paths sorted), until the gold file has been read.  A second
    row reads the most specific term's hits first (fewest matching files), a smarter agent.
(b) **localize + context** — our MCP tools, their text exactly as the server returns it
    (``mcp_server.tools.RepoTools``): one ``localize(issue)`` call, then ``context`` on
    each ranked file's best chunk (``path:start-end``, the issue title as query) until a
    context holds code of the gold file.

Reported side by side: median and p90 tokens (an issue whose gold file is never reached
counts as infinite) and the share of issues reached within 16K tokens.

    .venv/bin/python bench/agent_tokens.py --quick     # one release per project
    .venv/bin/python bench/agent_tokens.py             # the whole dev set (BM25-only index)
    .venv/bin/python bench/agent_tokens.py --vectors   # hybrid: embeds every release (slow on a CPU)
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.localization import (
    CACHE,
    DATA,
    Instance,
    extract,
    fetch_sdist,
    index_release,
    load_instances,
    quick_selection,
    token_counter,
)

REACH_TOKENS = 16_000
LOCALIZE_FILES = 10
CONTEXT_BUDGET = 1_500
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_QUOTED = re.compile(r"`([^`\n]{3,80})`|\"([^\"\n]{4,80})\"|(?<![A-Za-z])'([^'\n]{4,80})'(?![A-Za-z])")
_FILE_NAME = re.compile(r"[\w./-]+\.(?:py|pyx|pyi|c|h|cfg|toml|ini|txt|rst|js|ts)")
_CODE_BLOCK = re.compile(r"```.*?```", re.S)


@dataclass
class Strategy:
    """Per issue: tokens read until the gold file's code was in front of the agent (inf: never)."""

    tokens: list[float] = field(default_factory=list)

    def summary(self) -> tuple[float, float, float]:
        values = sorted(self.tokens)
        p90 = values[min(len(values) - 1, math.ceil(0.9 * len(values)) - 1)]
        reached = sum(1 for t in values if t <= REACH_TOKENS) / len(values)
        return statistics.median(values), p90, reached


class FileCosts:
    """Whole-file token counts, taken when a file is first read (tokenizing every file costs minutes)."""

    def __init__(self, files: dict[str, str], count: Callable[[str], int]) -> None:
        self.files = files
        self.count = count
        self.known: dict[str, int] = {}

    def __call__(self, path: str) -> int:
        if path not in self.known:
            self.known[path] = self.count(self.files[path])
        return self.known[path]


def issue_terms(text: str) -> list[str]:
    """What an agent would grep for, in the order the issue mentions it: quoted strings, then code-like names."""
    terms: list[str] = []

    def add(term: str) -> None:
        term = term.strip()
        if len(term) >= 3 and term not in terms and not term.startswith(("/", "~")):
            terms.append(term)
        if "." in term and _IDENT.fullmatch(term) and not _FILE_NAME.fullmatch(term):
            add(term.rsplit(".", 1)[1])  # `Session.resolve_redirects`: grep `resolve_redirects` too

    for match in _QUOTED.finditer(text):
        quoted = next(g for g in match.groups() if g is not None)
        idents = _IDENT.fullmatch(quoted.removesuffix("()"))
        add(quoted.removesuffix("()") if idents else quoted)
    prose = _CODE_BLOCK.sub(" ", text)
    for source in (prose, text):
        for match in _IDENT.finditer(source):
            name = match.group(0)
            after = source[match.end():match.end() + 1]
            code_like = "_" in name.strip("_") or "." in name or re.search(r"[a-z][A-Z]", name) or after == "("
            if code_like and not name.replace(".", "").isdigit():
                add(name)
    return terms


def _matches(path: str, text: str, term: str) -> bool:
    """A file name (``sessions.py``) is found by name, as an agent would open it; anything else by content."""
    if _FILE_NAME.fullmatch(term) and " " not in term:
        return path == term or path.endswith("/" + term.lstrip("./"))
    return term in text


def grep_and_read(files: dict[str, str], cost: Callable[[str], int], terms: Sequence[str], gold: str,
                  specific_first: bool) -> float:
    """Tokens of the whole files read, in grep-hit order, until ``gold`` is read (inf if never)."""
    hits = [[p for p in sorted(files) if _matches(p, files[p], term)] for term in terms]
    if specific_first:
        hits = sorted((h for h in hits if h), key=len)
    read: set[str] = set()
    used = 0
    for paths in hits:
        for path in paths:
            if path in read:
                continue
            read.add(path)
            used += cost(path)
            if path == gold:
                return float(used)
    return math.inf


def with_tools(tools: object, issue: str, gold: str, count: Callable[[str], int]) -> float:
    """Tokens of the ``localize`` answer plus each ``context`` answer until one shows the gold file."""
    from retrieval.localize import issue_title

    located = tools.localize(issue, LOCALIZE_FILES)  # type: ignore[attr-defined]
    used = count(located.content[0].text)
    query = issue_title(issue) or issue.strip().splitlines()[0][:200]
    for entry in located.structured_content["files"]:
        best = entry["chunks"][0] if entry["chunks"] else None
        target = f"{entry['path']}:{best['start_line']}-{best['end_line']}" if best else entry["path"]
        shown = tools.context(target, query, CONTEXT_BUDGET)  # type: ignore[attr-defined]
        used += count(shown.content[0].text)
        items = shown.structured_content["items"]
        if any(item["path"] == gold and item["kind"] != "repo-map" for item in items):
            return float(used)
    return math.inf


def _fmt(value: float) -> str:
    return "not reached" if math.isinf(value) else f"{value:,.0f}"


def print_table(rows: dict[str, Strategy], counter_name: str) -> None:
    print(f"\nTokens read until the gold file's code is in front of the agent ({counter_name})")
    print(f"{'strategy':<44} {'median':>12} {'p90':>12} {'reached <= 16K':>15}")
    for name, strategy in rows.items():
        median, p90, reached = strategy.summary()
        print(f"{name:<44} {_fmt(median):>12} {_fmt(p90):>12} {reached:>14.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one release per project")
    parser.add_argument("--vectors", action="store_true", help="embed the releases (hybrid localize)")
    parser.add_argument("--project", action="append", default=[], help="only this project (repeatable)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)

    from assistant.session import Session
    from base.config import Settings
    from mcp_server.tools import RepoTools

    instances: list[Instance] = load_instances(args.data)
    if args.project:
        instances = [i for i in instances if i.project in set(args.project)]
    if args.quick:
        instances = quick_selection(instances)
    count, counter_name = token_counter()
    releases: dict[tuple[str, str], list[Instance]] = defaultdict(list)
    for inst in instances:
        releases[(inst.project, inst.version)].append(inst)
    rows = {"(a) grep-and-read, issue order": Strategy(), "(a') grep-and-read, most specific term first": Strategy(),
            f"(b) localize + context ({'hybrid' if args.vectors else 'BM25-only index'})": Strategy()}
    grep_rows, specific_rows, tool_rows = rows.values()
    skipped: dict[str, int] = defaultdict(int)
    print(f"{len(instances)} instances, {len(releases)} releases; tokens counted with {counter_name}", flush=True)
    for (project, version), items in sorted(releases.items()):
        archive = fetch_sdist(project, version, args.cache)
        if archive is None:
            skipped["sdist unavailable"] += len(items)
            continue
        source = extract(archive, args.cache / "src" / f"{project}-{version}")
        started = time.perf_counter()
        index_release(source, args.vectors)
        settings = Settings()
        settings.index.embeddings = args.vectors
        session = Session(source, settings, persist=False)
        tools = RepoTools(session)
        try:
            indexed = session.reader().files()
            files = {p: (source / p).read_text(encoding="utf-8", errors="replace") for p in indexed}
            cost = FileCosts(files, count)
            for inst in items:
                gold = inst.gold[0]
                if gold not in files:
                    skipped["gold file not in the sdist"] += 1
                    continue
                terms = issue_terms(inst.problem)
                grep_rows.tokens.append(grep_and_read(files, cost, terms, gold, specific_first=False))
                specific_rows.tokens.append(grep_and_read(files, cost, terms, gold, specific_first=True))
                tool_rows.tokens.append(with_tools(tools, inst.problem, gold, count))
        finally:
            session.close_reader()
        print(f"  {project} {version}: {len(files)} files, {time.perf_counter() - started:.0f}s; "
              f"{len(tool_rows.tokens)} instances so far", flush=True)
    if not tool_rows.tokens:
        print("no instance evaluated", file=sys.stderr)
        return 1
    print(f"\nEvaluated {len(tool_rows.tokens)} of {len(instances)} instances; skipped: {dict(skipped) or 'none'}")
    print_table(rows, counter_name)
    (grep_median, _p90, grep_reached), (ours_median, _p, ours_reached) = grep_rows.summary(), tool_rows.summary()
    if not math.isinf(grep_median) and not math.isinf(ours_median):
        print(f"\nmedian: {1 - ours_median / grep_median:.0%} fewer tokens than grep-and-read; "
              f"reached within 16K: {ours_reached:.1%} vs {grep_reached:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
