import io
import json

import pytest
from shopcore.api import ShopApp
from shopcore.cli import main


@pytest.fixture
def app(tmp_path):
    db = tmp_path / "shop.db"
    main(["--db", str(db), "init", "--demo"], out=io.StringIO())
    main(["--db", str(db), "customer", "add", "ada@example.com", "Ada", "--region", "NL"], out=io.StringIO())
    return ShopApp(db)


def call(app, method, path, body=None, query=""):
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    status = {}

    def start_response(status_line, headers):
        status["code"] = int(status_line.split()[0])
        status["headers"] = dict(headers)

    payload = json.loads(b"".join(app(environ, start_response)))
    assert status["headers"]["Content-Type"] == "application/json"
    return status["code"], payload


def test_list_products(app):
    code, products = call(app, "GET", "/products")
    assert code == 200
    assert products[0] == {"sku": "GIFT-025", "name": "Gift card 25 EUR", "unit_price": "25.00",
                           "tax_category": "exempt"}


def test_place_and_fetch_order(app):
    code, order = call(app, "POST", "/orders", {"customer_id": 1, "items": [{"sku": "MUG-001", "quantity": 1}]})
    assert code == 201
    assert order["totals"]["total"] == "14.52"  # 12.00 + 21% NL VAT
    code, fetched = call(app, "GET", f"/orders/{order['id']}")
    assert code == 200 and fetched == order


def test_errors(app):
    assert call(app, "GET", "/orders/99")[0] == 404
    assert call(app, "GET", "/nowhere")[0] == 404
    assert call(app, "DELETE", "/orders/1")[0] == 405
    assert call(app, "POST", "/orders", {"items": []})[0] == 400
    code, body = call(app, "POST", "/orders", {"customer_id": 1, "items": [{"sku": "POT-001", "quantity": 60}]})
    assert code == 409 and "insufficient stock" in body["error"]
    code, body = call(
        app, "POST", "/orders",
        {"customer_id": 1, "items": [{"sku": "MUG-001", "quantity": 1}], "coupon": "WELCOME10"},
    )
    assert code == 422


def test_sales_report(app):
    call(app, "POST", "/orders", {"customer_id": 1, "items": [{"sku": "GIFT-025", "quantity": 1}]})
    code, report = call(app, "GET", "/reports/sales", query="from=2000-01-01&to=2099-12-31")
    assert code == 200 and report["orders"] == 1
    assert call(app, "GET", "/reports/sales", query="from=2024-01-01")[0] == 400
