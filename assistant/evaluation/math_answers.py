"""Final answers of math solutions: extract, normalise, and decide equivalence with SymPy.

Models state answers in many ways (``\\boxed{\\frac{3}{4}}``, "the answer is
0.75", "$1,250", "12 cm"), so a string match under-counts.  Extraction takes,
in order: the last ``\\boxed{...}`` (braces matched, so nested ``\\frac{..}{..}``
survive), the last "the answer is ..." / "Answer: ..." / GSM8K "#### ...", else
the last number in the text.  Normalisation removes LaTeX wrappers, units and
thousands separators.  Equivalence: equal strings, else both sides parsed by
SymPy and compared exactly (``simplify(a - b) == 0``) or numerically within a
relative tolerance; tuples/lists compare element by element.
"""

from __future__ import annotations

import re
from functools import lru_cache

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*(?:is)?\s*:?|answer\s*:|####)\s*(.+)",
    re.IGNORECASE,
)
_UNIT_WORDS = (
    r"(?:cm|mm|km|m|meters?|metres?|centimeters?|kilometers?|inches|inch|in|feet|foot|ft|miles?|mph|"
    r"km/h|hours?|hrs?|minutes?|mins?|seconds?|secs?|s|days?|weeks?|months?|years?|dollars?|cents?|"
    r"euros?|pounds?|kg|g|grams?|kilograms?|lbs?|liters?|litres?|l|ml|units?|square\s+units|sq\s+units|"
    r"degrees?|apples?|people|students|items?|points?|marbles?|books?|cookies?|pages?|toys?)"
)
_TRAILING_UNIT = re.compile(rf"(?<=[\d)}}])\s*{_UNIT_WORDS}(?:\^\{{?[23]\}}?|[23])?\.?$",
                            re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d])")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}``, nested braces matched."""
    best = None
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    best = text[start:i]
                    break
    if best is None:
        bare = re.findall(r"\\boxed\s+([^\s$]+)", text)  # \boxed 5
        if bare:
            best = bare[-1]
    return best


def extract_answer(text: str) -> str | None:
    """The final answer stated in ``text`` (see the module docstring), or ``None``."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    matches = list(_ANSWER_IS.finditer(text))
    if matches:
        tail = matches[-1].group(1).strip()
        tail = tail.split("\n")[0]
        tail = re.split(r"(?<=[^\d])\.(?:\s|$)|\.\s", tail)[0]  # end of the sentence (not a decimal point)
        tail = tail.strip().strip("$").rstrip(".").strip()
        if tail:
            return tail
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _strip_latex_wrappers(s: str) -> str:
    s = s.replace("\\!", "").replace("\\,", "").replace("\\;", "").replace("\\ ", " ")
    s = re.sub(r"\\(?:left|right|displaystyle|mathrm|mathbf|textbf)\b", "", s)
    s = re.sub(r"\\(?:text|mbox|textrm|operatorname)\s*\{([^{}]*)\}", r"\1", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("^\\circ", "").replace("^{\\circ}", "").replace("°", "")
    s = s.replace("\\%", "%").replace("\\$", "$")
    return s


def normalize_answer(answer: str) -> str:
    """A canonical text form: no LaTeX dressing, units, currency, thousands separators or trailing period."""
    s = answer.strip()
    s = re.sub(r"^\$+|\$+$", "", s).strip()  # math-mode dollars around the whole answer
    s = _strip_latex_wrappers(s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5"
    s = s.replace("$", "").replace("€", "").replace("£", "")
    s = s.strip().rstrip(".").strip()
    for _ in range(2):
        s = _TRAILING_UNIT.sub("", s).strip()
    s = s.rstrip("%").strip()
    s = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), s)
    s = re.sub(r"\s+", " ", s)
    if re.fullmatch(r"-?\d+\.\d*?0+", s):  # 2.50 -> 2.5, 3.0 -> 3
        s = s.rstrip("0").rstrip(".")
    return s


def _latex_to_sympy(s: str) -> str:
    out = s
    for _ in range(5):  # nested fractions/roots resolve from the inside out
        out = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))", out)
        out = re.sub(r"\\frac\s*(\d)(\d)", r"((\1)/(\2))", out)
        out = re.sub(r"\\sqrt\s*\[([^{}\]]*)\]\s*\{([^{}]*)\}", r"((\2)**(1/(\1)))", out)
        out = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", out)
        out = re.sub(r"\\sqrt\s*(\d+|[a-z])", r"sqrt(\1)", out)
    out = out.replace("\\pi", "pi").replace("π", "pi").replace("\\cdot", "*").replace("\\times", "*")
    out = out.replace("\\infty", "oo").replace("{", "(").replace("}", ")").replace("^", "**")
    out = out.replace("\\", "")
    return out


@lru_cache(maxsize=4096)
def _sympy_value(text: str) -> object | None:
    if len(text) > 200 or not text:
        return None
    try:
        from sympy.parsing.sympy_parser import (
            convert_xor,
            implicit_multiplication_application,
            parse_expr,
            standard_transformations,
        )

        transformations = (*standard_transformations, implicit_multiplication_application, convert_xor)
        return parse_expr(_latex_to_sympy(text), transformations=transformations, evaluate=True)
    except Exception:  # SymPy raises many types for unparsable text
        return None


def _split_items(s: str) -> list[str]:
    inner = s.strip()
    if len(inner) >= 2 and inner[0] in "([{" and inner[-1] in ")]}":
        inner = inner[1:-1]
    depth, current, items = 0, "", []
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    items.append(current.strip())
    return [i for i in items if i]


def _scalar_equal(a: str, b: str, rel_tol: float) -> bool:
    if a == b:
        return True
    va, vb = _sympy_value(a), _sympy_value(b)
    if va is None or vb is None:
        return False
    try:
        import sympy

        difference = sympy.simplify(va - vb)  # type: ignore[operator]
        if difference == 0:
            return True
        na, nb = complex(sympy.N(va)), complex(sympy.N(vb))
        return abs(na - nb) <= rel_tol * max(1.0, abs(na), abs(nb))
    except Exception:  # symbols left over, or not numeric
        return False


def answers_equivalent(predicted: str | None, reference: str, rel_tol: float = 1e-6) -> bool:
    """Whether ``predicted`` states the same value as ``reference`` (after normalisation)."""
    if predicted is None:
        return False
    a, b = normalize_answer(predicted), normalize_answer(reference)
    if a == b:
        return True
    items_a, items_b = _split_items(a), _split_items(b)
    if len(items_b) > 1 or len(items_a) > 1:
        return len(items_a) == len(items_b) and all(
            _scalar_equal(x, y, rel_tol) for x, y in zip(items_a, items_b, strict=True))
    return _scalar_equal(a, b, rel_tol)
