"""Localization scoring, and ``eval localization`` on the sample repository's own issues."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from assistant.evaluation.localization import load_cases, paths_match, score_ranking
from tests.conftest import PROJECT_ROOT, run_cli


def test_paths_match_on_path_boundaries() -> None:
    assert paths_match("astropy-5.0.1/astropy/modeling/separable.py", "astropy/modeling/separable.py")
    assert paths_match("shopcore/pricing/tax.py", "shopcore/pricing/tax.py")
    assert not paths_match("shopcore/pricing/xtax.py", "tax.py")
    assert not paths_match("shopcore/pricing/tax.py", "shopcore/pricing/money.py")


def test_score_ranking_hand_computed() -> None:
    ranked = ["a.py", "b.py", "gold1.py", "c.py", "d.py", "e.py", "gold2.py"]
    scores = score_ranking(ranked, ["gold1.py", "gold2.py"])
    assert scores["mrr"] == pytest.approx(1 / 3)
    assert scores["hit@1"] == 0.0 and scores["hit@5"] == 1.0 and scores["hit@10"] == 1.0
    assert scores["recall@5"] == 0.5 and scores["recall@10"] == 1.0
    assert score_ranking([], ["x.py"])["mrr"] == 0.0


def test_load_cases_reads_swebench_rows(tmp_path: Path) -> None:
    shared = Path("/work/shared/data/swebench_lite_dev.jsonl")
    if shared.is_file():
        cases = load_cases(shared, limit=3)
        assert len(cases) == 3 and all(c.gold_files and c.issue for c in cases)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "issue": "text"}\n')
    from base.errors import UsageError

    with pytest.raises(UsageError, match="gold_files"):
        load_cases(bad)


def _sample_issues(repo: Path, out: Path) -> Path:
    """Rows built from the sample repo's issues and the files their fixing patches touch."""
    rows = []
    for issue in sorted((repo / "ISSUES").glob("*.md")):
        patch = PROJECT_ROOT / "tests" / "sample_tasks" / (issue.stem + ".patch")
        if not patch.is_file():
            continue
        gold = sorted(set(re.findall(r"^\+\+\+ b/(\S+)", patch.read_text(), re.MULTILINE)))
        rows.append({"id": issue.stem, "issue": issue.read_text(), "gold_files": gold})
    out.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return out


@pytest.mark.slow
def test_eval_localization_on_sample_repo(sample_repo_copy: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("retrieval.localize") is None:
        pytest.skip("retrieval.localize is not in this build yet")
    suite = _sample_issues(sample_repo_copy, tmp_path / "issues.jsonl")
    index = run_cli("index", str(sample_repo_copy), "--set", "index.embeddings=false", cwd=sample_repo_copy)
    assert index.returncode == 0, index.stderr
    out = tmp_path / "loc"
    r = run_cli("eval", "localization", str(suite), "--repo", str(sample_repo_copy), "--out", str(out), "--json",
                cwd=sample_repo_copy)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["status"] == "complete" and report["tasks_total"] >= 1
    hit10 = report["metrics"]["hit@10"]["value"]
    assert 0.0 <= report["metrics"]["hit@1"]["value"] <= hit10 <= 1.0
    assert hit10 > 0  # BM25 alone finds the pricing/inventory files for these issues
