"""pass@k estimator and intervals against values computed by hand."""

from __future__ import annotations

import math

import pytest

from assistant.evaluation.passk import (
    bootstrap_ci,
    mcnemar_p_value,
    pass_at_k,
    sign_flip_p_value,
    wilson_ci,
)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 2 / 5),  # pass@1 is c/n
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (5, 0, 1, 0.0),
        (5, 5, 5, 1.0),
        (5, 1, 5, 1.0),  # any sample among all 5 passes
        (4, 3, 2, 1.0),  # n - c < k
        (20, 1, 10, 0.5),  # 1 - C(19,10)/C(20,10) = 1 - 10/20
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_agrees_with_the_binomial_formula_for_large_n() -> None:
    for n, c, k in [(200, 17, 1), (200, 17, 10), (200, 17, 100), (50, 49, 3)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-9)


def test_pass_at_k_is_not_first_or_any_sample() -> None:
    # 1 of 5 samples passes: "any sample" would say 1.0 and "first sample" 0 or 1; the estimate is 0.2.
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)


def test_pass_at_k_rejects_impossible_inputs() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_wilson_interval_known_cases() -> None:
    lo, hi = wilson_ci(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_ci(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(0.2775, abs=1e-4)


def test_bootstrap_over_tasks_matches_the_binomial_interval() -> None:
    # 164 tasks with one sample each, 82 pass: the bootstrap interval of the mean must agree with
    # the binomial (Wilson) interval to within Monte-Carlo error.
    values = [1.0] * 82 + [0.0] * 82
    lo, hi = bootstrap_ci(values, resamples=4000, seed=1)
    wlo, whi = wilson_ci(82, 164)
    assert lo == pytest.approx(wlo, abs=0.015)
    assert hi == pytest.approx(whi, abs=0.015)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)  # deterministic


def test_paired_tests() -> None:
    # B solves 6 tasks A does not, A solves none that B does not: exact p = 2 * (1/2)^6.
    a = [0.0] * 6 + [1.0] * 10 + [0.0] * 10
    b = [1.0] * 6 + [1.0] * 10 + [0.0] * 10
    assert mcnemar_p_value(0, 6) == pytest.approx(2 / 64)
    assert sign_flip_p_value(a, b) == pytest.approx(2 / 64)
    assert sign_flip_p_value(a, a) == 1.0
    assert mcnemar_p_value(3, 3) == 1.0
    # Balanced differences are noise.
    assert sign_flip_p_value([1.0, 0.0] * 10, [0.0, 1.0] * 10) == pytest.approx(1.0)
