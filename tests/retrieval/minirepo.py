"""A tiny hand-written repository and its symbol table, for unit tests without the indexer.

The symbol table is derived with :mod:`ast` (definitions with spans and signatures,
referenced names, imports) so it matches the files exactly.
"""

from __future__ import annotations

import ast

from indexer.types import FileSymbols, SymbolDef

FILES: dict[str, str] = {
    "shop/__init__.py": '"""Shop package."""\n',
    "shop/pricing/__init__.py": "",
    "shop/pricing/money.py": '''from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """Round to cents, half up, as invoices do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class Money:
    """An amount in one currency."""

    def __init__(self, amount: Decimal, currency: str = "EUR") -> None:
        self.amount = round_money(amount)
        self.currency = currency

    def add(self, other: "Money") -> "Money":
        return Money(self.amount + other.amount, self.currency)
''',
    "shop/pricing/discounts.py": '''from decimal import Decimal

from shop.pricing.money import round_money


def apply_discount(amount: Decimal, percent: int) -> Decimal:
    """Take ``percent`` off ``amount``."""
    return round_money(amount * (100 - percent) / 100)
''',
    "shop/pricing/calculator.py": '''from decimal import Decimal

from shop.pricing.discounts import apply_discount
from shop.pricing.money import Money, round_money


class PriceCalculator:
    """Computes the price of an order: line subtotals, discount, tax."""

    def __init__(self, tax_rate: Decimal) -> None:
        self.tax_rate = tax_rate

    def subtotal(self, lines: list) -> Decimal:
        return sum((line.unit_price * line.quantity for line in lines), Decimal(0))

    def total(self, lines: list, discount_percent: int = 0) -> Money:
        net = apply_discount(self.subtotal(lines), discount_percent)
        return Money(round_money(net * (1 + self.tax_rate)))
''',
    "shop/orders.py": '''from dataclasses import dataclass, field
from decimal import Decimal

from shop.pricing.calculator import PriceCalculator


@dataclass
class OrderLine:
    sku: str
    unit_price: Decimal
    quantity: int


@dataclass
class Order:
    customer: str
    lines: list = field(default_factory=list)

    def add_line(self, sku: str, unit_price: Decimal, quantity: int) -> None:
        self.lines.append(OrderLine(sku, unit_price, quantity))

    def price(self, calculator: PriceCalculator) -> Decimal:
        total = calculator.total(self.lines)
        return total.amount
''',
    "shop/http/headers.py": '''def parse_header(line: str) -> tuple[str, str]:
    """Split ``Name: value`` into a lower-cased name and the stripped value."""
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def format_header(name: str, value: str) -> str:
    return f"{name.title()}: {value}"
''',
    "tests/test_orders.py": '''from decimal import Decimal

from shop.orders import Order
from shop.pricing.calculator import PriceCalculator


def test_price() -> None:
    order = Order("ada")
    order.add_line("x", Decimal("10"), 2)
    assert order.price(PriceCalculator(Decimal("0"))) == Decimal("20.00")
''',
}


def _symbols(path: str, text: str) -> FileSymbols:
    tree = ast.parse(text)
    lines = text.splitlines()
    defs: list[SymbolDef] = []
    defined: set[str] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.ClassDef):
                qual = f"{prefix}.{child.name}" if prefix else child.name
                start = min([child.lineno, *[d.lineno for d in child.decorator_list]])
                kind = "class" if isinstance(child, ast.ClassDef) else ("method" if prefix else "function")
                defs.append(SymbolDef(child.name, qual, kind, path, start, child.end_lineno or child.lineno,
                                      lines[child.lineno - 1].strip()))
                defined.add(child.name)
                visit(child, qual)

    visit(tree, "")
    refs: list[str] = []
    imports: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in defined and node.id not in refs:
            refs.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr not in defined and node.attr not in refs:
            refs.append(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.append(node.module)
            for alias in node.names:
                if alias.name not in refs:
                    refs.append(alias.name)
        elif isinstance(node, ast.Import):
            imports.extend(a.name for a in node.names)
    return FileSymbols(path, "python", tuple(defs), tuple(refs), tuple(imports))


def symbols(files: dict[str, str] | None = None) -> dict[str, FileSymbols]:
    files = FILES if files is None else files
    return {path: _symbols(path, text) for path, text in files.items() if path.endswith(".py")}


def whitespace_tokens(text: str) -> int:
    """The fake token counter of the unit tests: whitespace-separated words."""
    return len(text.split())
