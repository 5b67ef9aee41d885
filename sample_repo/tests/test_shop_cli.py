import io
import json

import pytest
from shopcore.cli import main


@pytest.fixture
def run(tmp_path):
    db = str(tmp_path / "shop.db")

    def _run(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        code = main(["--db", db, *args], out=out)
        return code, out.getvalue()

    assert _run("init", "--demo")[0] == 0
    assert _run("customer", "add", "ada@example.com", "Ada Lovelace", "--region", "DE")[0] == 0
    return _run


def test_missing_database_is_reported(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "none.db"), "product", "list"]) == 1
    assert "shopcore init" in capsys.readouterr().err


def test_product_commands(run):
    code, out = run("product", "add", "CUP-001", "Espresso cup", "4.50")
    assert code == 0 and "added CUP-001" in out
    code, out = run("product", "list", "--region", "FR")
    assert "CUP-001" in out and "(5.40 incl. VAT FR)" in out


def test_place_and_show_order(run):
    code, out = run("order", "place", "--customer", "1", "--item", "TEA-001:2", "--item", "MUG-001:2:10",
                    "--coupon", "WELCOME10")
    assert code == 0
    assert out.strip() == "placed order 1: total 36.42 EUR"
    code, out = run("order", "show", "1")
    assert "Total:" in out and "36.42 EUR" in out
    assert "Coupon WELCOME10: 10% off" in out
    code, out = run("order", "show", "1", "--json")
    data = json.loads(out)
    assert data["totals"]["tax"] == "4.56"
    assert data["lines"][0]["discount_percent"] is None


def test_errors_are_reported_not_raised(run, capsys):
    assert run("order", "place", "--customer", "1", "--item", "POT-001:50")[0] == 1
    assert "insufficient stock for POT-001" in capsys.readouterr().err
    assert run("order", "show", "42")[0] == 1


def test_order_lifecycle_and_listing(run):
    for _ in range(3):
        run("order", "place", "--customer", "1", "--item", "GIFT-025:1")
    assert run("order", "pay", "2")[1].strip() == "order 2 is now paid"
    assert run("order", "ship", "2")[1].strip() == "order 2 is now shipped"
    assert run("order", "cancel", "3")[1].strip() == "order 3 is now cancelled"
    _, out = run("order", "list", "--per-page", "2")
    assert out.splitlines()[0].startswith("#3 ")
    assert out.splitlines()[-1] == "page 1/2 (3 orders)"
    _, out = run("order", "list", "--status", "shipped")
    assert out.splitlines()[-1] == "page 1/1 (1 orders)"


def test_stock_and_coupon_commands(run):
    assert run("stock", "set", "pot-001", "2")[1].strip() == "POT-001: 2 on hand"
    _, out = run("report", "low-stock", "--threshold", "2")
    assert out.strip() == "POT-001    available 2"
    assert "available   500" in run("stock", "show")[1]
    _, out = run("coupon", "add", "SUMMER5", "--amount", "5", "--min-total", "20", "--max-uses", "10")
    assert out.strip() == "added coupon SUMMER5: 5.00 off (min. order 20.00, 0/10 used)"
    assert "SUMMER5" in run("coupon", "list")[1]


def test_sales_report_command(run):
    run("order", "place", "--customer", "1", "--item", "GIFT-025:2")
    code, out = run("report", "sales", "--from", "2000-01-01", "--to", "2099-12-31")
    assert code == 0 and "Orders:          1" in out
    code, out = run("report", "sales", "--from", "2000-01-01", "--to", "2099-12-31", "--json")
    data = json.loads(out)
    assert data["gross_revenue"] == "50.00"
    assert data["top_products"] == [["GIFT-025", 2]]


def test_bad_dates_are_rejected(run):
    with pytest.raises(SystemExit):
        run("report", "sales", "--from", "yesterday", "--to", "2024-01-01")
