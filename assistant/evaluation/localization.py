"""Score the retriever's file localization against the files a real fix changed.

Input: JSONL rows with an id (``instance_id``/``id``/``task_id``), the issue text
(``problem_statement``/``issue``/``text``) and ``gold_files`` (paths relative to
the repository root).  The repository is, per row: ``repo_path`` (relative to
the JSONL file), else ``--repos-dir``/``<pypi_name>-<pypi_version>`` or
``--repos-dir``/``<instance_id>`` (SWE-bench rows), else the current repository.
Each must already be indexed (``repo-assistant index``).

Metrics per row, averaged: hit@k (a gold file among the top k), recall@k (share
of gold files among the top k) and MRR (1 / rank of the first gold file).
A predicted path matches a gold path when one is a suffix of the other on a
path boundary, so an sdist's ``pkg-1.0/`` prefix does not matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.evaluation.passk import bootstrap_ci, mean
from assistant.evaluation.report import REPORT_VERSION
from assistant.evaluation.store import REPORT_FILE, SampleStore, write_json_atomic
from assistant.evaluation.tasks import read_jsonl
from base.errors import UsageError

KS = (1, 5, 10)


@dataclass
class LocalizationCase:
    case_id: str
    issue: str
    gold_files: list[str]
    repo: Path | None


def _row_repo(row: dict[str, Any], base: Path, repos_dir: Path | None) -> Path | None:
    if row.get("repo_path"):
        return (base / str(row["repo_path"])).resolve()
    if repos_dir is not None:
        candidates = []
        if row.get("pypi_name") and row.get("pypi_version"):
            candidates.append(repos_dir / f"{row['pypi_name']}-{row['pypi_version']}")
        for key in ("instance_id", "id", "task_id"):
            if row.get(key):
                candidates.append(repos_dir / str(row[key]))
        for candidate in candidates:
            if candidate.is_dir():
                return candidate.resolve()
        raise UsageError(f"no repository for {row.get('instance_id') or row.get('id')} under {repos_dir}",
                         hint="expected a directory named <pypi_name>-<pypi_version> or <instance_id>")
    return None


def load_cases(path: Path, repos_dir: Path | None = None, limit: int | None = None) -> list[LocalizationCase]:
    cases = []
    for number, row in enumerate(read_jsonl(path), start=1):
        case_id = row.get("instance_id") or row.get("id") or row.get("task_id") or str(number)
        issue = row.get("problem_statement") or row.get("issue") or row.get("text")
        gold = row.get("gold_files")
        if not issue or not isinstance(gold, list) or not gold:
            raise UsageError(f"{path}: row {number} needs an issue text and a non-empty gold_files list")
        cases.append(LocalizationCase(str(case_id), str(issue), [str(g) for g in gold],
                                      _row_repo(row, path.parent, repos_dir)))
        if limit is not None and len(cases) >= limit:
            break
    return cases


def paths_match(predicted: str, gold: str) -> bool:
    p = predicted.replace("\\", "/").strip("/")
    g = gold.replace("\\", "/").strip("/")
    return p == g or p.endswith("/" + g) or g.endswith("/" + p)


def score_ranking(ranked: list[str], gold: list[str]) -> dict[str, float]:
    """hit@k, recall@k and reciprocal rank of one ranked file list."""
    first = next((rank for rank, path in enumerate(ranked, start=1) if any(paths_match(path, g) for g in gold)),
                 None)
    scores: dict[str, float] = {"mrr": 1.0 / first if first else 0.0}
    for k in KS:
        top = ranked[:k]
        found = sum(1 for g in gold if any(paths_match(p, g) for p in top))
        scores[f"hit@{k}"] = 1.0 if found else 0.0
        scores[f"recall@{k}"] = found / len(gold)
    return scores


def summarize_localization(cases: list[LocalizationCase], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    done = [records[c.case_id] for c in cases if c.case_id in records]
    names = [f"hit@{k}" for k in KS] + [f"recall@{k}" for k in KS] + ["mrr"]
    metrics = {}
    for name in names:
        values = [r["scores"][name] for r in done]
        lo, hi = bootstrap_ci(values)
        metrics[name] = {"value": round(mean(values), 6), "ci95": [round(lo, 6), round(hi, 6)]}
    return {
        "kind": "localization",
        "version": REPORT_VERSION,
        "status": "complete" if len(done) == len(cases) else "partial",
        "tasks_total": len(cases),
        "tasks_complete": len(done),
        "metric_names": names,
        "metrics": metrics,
        "latency": {"query_s_mean": round(mean([r["seconds"] for r in done]), 4) if done else None},
        "tasks": {r["task_id"]: {**r["scores"], "top": r["ranked"][:5]} for r in done},
    }


def run_localization(cases: list[LocalizationCase], out_dir: Path, *, default_repo: Path, k: int,
                     open_reader: Callable[[Path], Any], progress: Callable[[str], None] | None = None,
                     suite: str = "") -> dict[str, Any]:
    """Localize every case not yet in ``out_dir`` with ``retrieval.localize`` and write the report."""
    from retrieval.localize import localize  # the retriever owns localization; imported when used

    say = progress or (lambda _m: None)
    store = SampleStore(out_dir, {"suite": suite, "kind": "localization", "k": k})
    readers: dict[Path, Any] = {}
    interrupted = False
    try:
        for number, case in enumerate(cases, start=1):
            if store.done_indices(case.case_id):
                continue
            repo = case.repo or default_repo
            if repo not in readers:
                readers[repo] = open_reader(repo)
            start = time.monotonic()
            result = localize(readers[repo], case.issue, k)
            seconds = time.monotonic() - start
            ranked = list(result.paths())
            scores = score_ranking(ranked, case.gold_files)
            store.append({"task_id": case.case_id, "index": 0, "scores": scores, "ranked": ranked,
                          "gold_files": case.gold_files, "repo": str(repo), "seconds": round(seconds, 4)})
            say(f"[{number}/{len(cases)}] {case.case_id}: hit@1 {scores['hit@1']:.0f}, mrr {scores['mrr']:.2f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for reader in readers.values():
            close = getattr(reader, "close", None)
            if close is not None:
                close()
    records = {tid: r for (tid, _i), r in store.records.items()}
    report = summarize_localization(cases, records)
    report["config"] = {"suite": suite, "k": k}
    write_json_atomic(out_dir / REPORT_FILE, report)
    if interrupted:
        raise KeyboardInterrupt
    return report
