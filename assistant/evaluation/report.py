"""Summaries of runs, the tables printed for them, and the paired comparison of two runs."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.evaluation.execute import VERDICTS
from assistant.evaluation.passk import (
    bootstrap_ci,
    mcnemar_p_value,
    mean,
    pass_at_k,
    sign_flip_p_value,
    wilson_ci,
)
from assistant.evaluation.store import REPORT_FILE
from base.errors import UsageError

REPORT_VERSION = 1


def _dist(values: Sequence[float]) -> dict[str, float] | None:
    clean = sorted(v for v in values if v is not None)
    if not clean:
        return None
    p90 = clean[min(len(clean) - 1, round(0.9 * (len(clean) - 1)))]
    return {"median": round(statistics.median(clean), 4), "p90": round(p90, 4), "mean": round(mean(clean), 4)}


def summarize_passk(records: Mapping[str, list[dict[str, Any]]], n: int, ks: Sequence[int]) -> dict[str, Any]:
    """The report of a pass@k run from its per-task sample records.

    A task contributes to pass@k once it has at least k samples; the run is
    ``complete`` when every task has its n samples.
    """
    per_task: dict[str, dict[str, Any]] = {}
    verdicts: Counter[str] = Counter()
    ttft, sample_s, tps, exec_s = [], [], [], []
    tokens = 0
    gen_time = 0.0
    isolated = set()
    for task_id, samples in records.items():
        counts = Counter(s["verdict"] for s in samples)
        verdicts.update(counts)
        c = counts.get("passed", 0)
        entry: dict[str, Any] = {"n": len(samples), "c": c, "verdicts": dict(counts)}
        for k in ks:
            if len(samples) >= k:
                entry[f"pass@{k}"] = round(pass_at_k(len(samples), c, k), 6)
        per_task[task_id] = entry
        for s in samples:
            if "ttft_s" in s:
                ttft.append(s["ttft_s"])
                sample_s.append(s["gen_s"])
                tokens += int(s.get("tokens", 0))
                gen_time += float(s["gen_s"])
                if s.get("tokens_per_s"):
                    tps.append(s["tokens_per_s"])
            if s.get("network_isolated") is not None:  # it was executed (not a syntax error)
                exec_s.append(s.get("exec_s", 0.0))
                isolated.add(bool(s["network_isolated"]))
    pass_k: dict[str, Any] = {}
    for k in ks:
        values = [t[f"pass@{k}"] for t in per_task.values() if f"pass@{k}" in t]
        if not values:
            continue
        lo, hi = bootstrap_ci(values)
        item: dict[str, Any] = {"value": round(mean(values), 6), "ci95": [round(lo, 6), round(hi, 6)],
                                "tasks": len(values), "ci_method": "bootstrap over tasks"}
        if k == 1 and all(t["n"] == 1 for t in per_task.values() if f"pass@{k}" in t):
            wl, wh = wilson_ci(sum(t["c"] for t in per_task.values() if t["n"] == 1), len(values))
            item["wilson95"] = [round(wl, 6), round(wh, 6)]
        pass_k[f"pass@{k}"] = item
    complete = bool(per_task) and all(t["n"] >= n for t in per_task.values())
    return {
        "kind": "passk",
        "version": REPORT_VERSION,
        "status": "complete" if complete else "partial",
        "tasks_total": len(records),
        "tasks_complete": sum(1 for t in per_task.values() if t["n"] >= n),
        "samples": sum(t["n"] for t in per_task.values()),
        "n": n,
        "pass_at_k": pass_k,
        "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
        "latency": {
            "ttft_s": _dist(ttft),
            "sample_s": _dist(sample_s),
            "tokens_per_s": _dist(tps),
            "generated_tokens": tokens,
            "exec_s": _dist(exec_s),
        },
        "network_isolated": (isolated == {True}) if isolated else None,
        "tasks": per_task,
    }


def load_report(path: Path) -> dict[str, Any]:
    """A report from a run directory or a ``report.json`` file."""
    file = path / REPORT_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"no report at {file}", hint="pass a run directory written by `eval ... --out`") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read report {file}: {exc}") from exc
    if not isinstance(data, dict) or "kind" not in data:
        raise UsageError(f"{file} is not a repo-assistant evaluation report")
    return data


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _fmt_ci(ci: Sequence[float] | None) -> str:
    return "–" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _fmt_dist(d: Mapping[str, float] | None, unit: str = "s") -> str:
    if not d:
        return "–"
    return f"{d['median']:.2f}{unit} (p90 {d['p90']:.2f}{unit})"


def passk_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, value)`` rows of a pass@k report's summary table."""
    rows: list[tuple[str, str]] = []
    config = report.get("config", {})
    if config:
        rows.append(("model", f"{config.get('model')} ({config.get('mode')})"))
        rows.append(("suite", str(config.get("suite"))))
        rows.append(("sampling", f"n={config.get('n')}, temperature={config.get('temperature')}, "
                                 f"max_new_tokens={config.get('max_new_tokens')}"))
    rows.append(("status", f"{report['status']} ({report['tasks_complete']}/{report['tasks_total']} tasks, "
                           f"{report['samples']} samples)"))
    for name, item in report["pass_at_k"].items():
        extra = f"  Wilson {_fmt_ci(item['wilson95'])}" if "wilson95" in item else ""
        rows.append((name, f"{_pct(item['value'])}  95% CI {_fmt_ci(item['ci95'])}{extra}"))
    rows.append(("verdicts", ", ".join(f"{k} {v}" for k, v in report["verdicts"].items() if v) or "–"))
    latency = report.get("latency", {})
    if latency.get("sample_s"):
        rows.append(("time to first token", _fmt_dist(latency["ttft_s"])))
        rows.append(("time per sample", _fmt_dist(latency["sample_s"])))
        rows.append(("tokens/s per sample", _fmt_dist(latency["tokens_per_s"], "")))
    if latency.get("exec_s"):
        rows.append(("execution per sample", _fmt_dist(latency["exec_s"])))
    if latency.get("generated_tokens") is not None:
        rows.append(("generated tokens", str(latency["generated_tokens"])))
    rounds = report.get("rounds")
    if rounds:
        rows.append(("repair rounds", f"up to {config.get('rounds')}: {rounds['passed_first_try']} → "
                                      f"{rounds['passed_after_rounds']} of {rounds['samples']} samples pass; "
                                      f"{rounds['repair_replies']} repair replies ({rounds['repeated_replies']} "
                                      f"repeated), {rounds['repair_tokens']} tokens, {rounds['repair_gen_s']}s"))
    isolated = report.get("network_isolated")
    if isolated is not None:
        rows.append(("sandbox network", "isolated" if isolated else "NOT isolated (unavailable here)"))
    return rows


# -- comparison ---------------------------------------------------------------

def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any], *, alpha: float = 0.05) -> dict[str, Any]:
    """Paired comparison of two runs on the tasks they share.

    For each k, the per-task pass@k values are paired; the difference B − A gets
    a 95% bootstrap interval over tasks and a sign-flip permutation p-value.  When
    both runs drew one sample per task, the exact McNemar test on the discordant
    tasks is added.  "exceeds the noise" means p < alpha.
    """
    if a.get("kind") != b.get("kind"):
        raise UsageError(f"cannot compare a {a.get('kind')} report with a {b.get('kind')} report")
    ta, tb = a["tasks"], b["tasks"]
    common = [t for t in ta if t in tb]
    if not common:
        raise UsageError("the two reports share no task ids")
    metrics = _comparable_metrics(a, b)
    result: dict[str, Any] = {"tasks_common": len(common), "only_a": len(set(ta) - set(tb)),
                              "only_b": len(set(tb) - set(ta)), "metrics": {}, "per_task": []}
    for metric in metrics:
        pairs = [(ta[t][metric], tb[t][metric]) for t in common if metric in ta[t] and metric in tb[t]]
        if not pairs:
            continue
        xa, xb = [p[0] for p in pairs], [p[1] for p in pairs]
        diffs = [y - x for x, y in pairs]
        lo, hi = bootstrap_ci(diffs)
        p = sign_flip_p_value(xa, xb)
        entry: dict[str, Any] = {"a": round(mean(xa), 6), "b": round(mean(xb), 6),
                                 "diff": round(mean(diffs), 6), "ci95": [round(lo, 6), round(hi, 6)],
                                 "p_value": round(p, 6), "test": "paired sign-flip permutation over tasks",
                                 "tasks": len(pairs)}
        binary = all(v in (0.0, 1.0) for v in xa + xb)
        if binary:
            only_a = sum(1 for x, y in pairs if x == 1.0 and y == 0.0)
            only_b = sum(1 for x, y in pairs if x == 0.0 and y == 1.0)
            entry["mcnemar"] = {"only_a": only_a, "only_b": only_b, "p_value": round(mcnemar_p_value(only_a, only_b), 6)}
        entry["significant"] = p < alpha
        result["metrics"][metric] = entry
    first = metrics[0] if metrics else None
    if first:
        rows = []
        for t in common:
            va, vb = ta[t].get(first), tb[t].get(first)
            if va is None or vb is None or va == vb:
                continue
            rows.append({"task_id": t, "a": va, "b": vb, "diff": round(vb - va, 6)})
        result["per_task"] = sorted(rows, key=lambda r: (-abs(r["diff"]), r["task_id"]))
        result["per_task_metric"] = first
    result["latency"] = {"a": a.get("latency"), "b": b.get("latency")}
    return result


def _comparable_metrics(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    if a.get("kind") == "passk":
        return [m for m in a["pass_at_k"] if m in b["pass_at_k"]]
    return [m for m in a.get("metric_names", []) if m in b.get("metric_names", [])]


def verdict_line(metric: str, entry: Mapping[str, Any]) -> str:
    """One sentence on whether the difference in ``metric`` exceeds the noise."""
    sign = "+" if entry["diff"] >= 0 else ""
    where = "exceeds the noise" if entry["significant"] else "is within the noise"
    return (f"{metric}: B − A = {sign}{100 * entry['diff']:.1f} points, 95% CI {_fmt_ci(entry['ci95'])}, "
            f"p = {entry['p_value']:.3g} over {entry['tasks']} paired tasks: the difference {where}.")
