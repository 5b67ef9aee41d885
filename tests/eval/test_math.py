"""Math answers: extraction, normalisation, SymPy equivalence, and the bundled 20-problem set."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from assistant.evaluation.math_answers import answers_equivalent, extract_answer, last_boxed, normalize_answer
from assistant.evaluation.math_eval import MATH_SMALL, load_math


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so we get \\boxed{\\frac{3}{4}}.", "\\frac{3}{4}"),
        ("first \\boxed{1} then \\boxed{\\frac{\\sqrt{2}}{\\sqrt{3}}}", "\\frac{\\sqrt{2}}{\\sqrt{3}}"),
        ("The answer is $1,250.", "1,250"),
        ("Therefore, the final answer is 42. Done.", "42"),
        ("Answer: 3.5 hours", "3.5 hours"),
        ("Natalia sold 48 clips...\n#### 72", "72"),
        ("We have 3 apples and then 7 pears", "7"),
        ("no numbers here", None),
    ],
)
def test_extraction(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_boxed_with_deeply_nested_braces() -> None:
    assert last_boxed("x \\boxed{\\frac{1}{\\left(2^{3}\\right)}} y") == "\\frac{1}{\\left(2^{3}\\right)}"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("$1,250$", "1250"), ("12 cm", "12"), ("\\text{5 apples}", "5"), ("2.50", "2.5"), ("x = 7", "7"),
     ("45^\\circ", "45"), ("25\\%", "25"), ("\\$80", "80"), ("3.0", "3"), ("1,000,000", "1000000")],
)
def test_normalisation(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


@pytest.mark.parametrize(
    ("predicted", "reference", "same"),
    [
        ("0.75", "\\frac{3}{4}", True),
        ("\\dfrac{6}{8}", "3/4", True),
        ("2\\sqrt{3}", "\\sqrt{12}", True),
        ("\\frac{\\sqrt{2}}{2}", "1/sqrt(2)", True),
        ("9\\pi", "28.274333882308138", True),
        ("(1, 2)", "\\left(1,2\\right)", True),
        ("1,250", "1250", True),
        ("0.3333", "1/3", False),  # rounded is not equal within 1e-6
        ("5", "6", False),
        ("(1, 2)", "(2, 1)", False),
        ("x + 1", "1 + x", True),
        ("banana", "7", False),
    ],
)
def test_equivalence(predicted: str, reference: str, same: bool) -> None:
    assert answers_equivalent(predicted, reference) is same


# Each answer of the bundled set computed independently of its stored text.
INDEPENDENT = {
    "m01": 4 * 3 + 6 * 1.5,
    "m02": Fraction(3, 4) + Fraction(1, 6),
    "m03": 80 * 2.5,
    "m04": (25 - 7) / 3,
    "m05": 0.15 * 240,
    "m06": (30 / 2 - 6) * 6,
    "m07": sum(range(1, 101)),
    "m08": math.hypot(2, 2),
    "m09": 1250 * 12,
    "m10": math.pi * 3 ** 2,
    "m11": 2 ** 10 - 24,
    "m12": Fraction(0.125),
    "m13": 48 * 3 / 4,
    "m14": math.lcm(12, 18),
    "m15": 80 * (1 - 0.25),
    "m16": max((5 + math.sqrt(25 + 56)) / 2, (5 - math.sqrt(25 + 56)) / 2),
    "m17": sum([4, 8, 15, 16, 23, 42]) / 6,
    "m18": math.sqrt(50),
    "m19": 3.5 * 60,
    "m20": Fraction(2, 3) * 4,
}


def test_bundled_math_set_answers_are_verified() -> None:
    problems = load_math(MATH_SMALL)
    assert len(problems) == 20
    assert {p.problem_id for p in problems} == set(INDEPENDENT)
    for problem in problems:
        value = INDEPENDENT[problem.problem_id]
        as_text = f"{value.numerator}/{value.denominator}" if isinstance(value, Fraction) else repr(float(value))
        assert answers_equivalent(as_text, problem.answer), (problem.problem_id, as_text, problem.answer)
        # A model's reply stating the reference in a box is judged correct; an off-by-one one is not.
        assert answers_equivalent(extract_answer(f"... so \\boxed{{{problem.answer}}}"), problem.answer)
        assert not answers_equivalent(repr(float(value) + 1), problem.answer), problem.problem_id
