"""A minimal JSON HTTP API (WSGI), consumed by ``clients/api_client.ts``.

Routes::

    GET  /products                         -> list of products
    GET  /orders/<id>                      -> one order with its totals
    POST /orders                           -> place an order, 201 + the order
         {"customer_id": 1, "items": [{"sku": "TEA-001", "quantity": 2}],
          "coupon": "WELCOME10"}
    GET  /reports/sales?from=YYYY-MM-DD&to=YYYY-MM-DD -> sales summary

Run it locally with ``python -m shopcore.api shop.db`` (uses wsgiref).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from shopcore.cli import order_to_dict
from shopcore.errors import (
    CouponError,
    InsufficientStockError,
    InvalidOrderStateError,
    NotFoundError,
    ShopError,
)
from shopcore.reports import sales_summary
from shopcore.services.order_service import OrderItem, OrderService
from shopcore.storage.db import open_database
from shopcore.storage.repositories import ProductRepository
from shopcore.timeutil import parse_date

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]

_STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    422: "422 Unprocessable Entity",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error_status(exc: ShopError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (InsufficientStockError, InvalidOrderStateError)):
        return 409
    if isinstance(exc, CouponError):
        return 422
    return 400


def _read_json(environ: Environ) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except (ValueError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise HttpError(400, "JSON body must be an object")
    return body


class ShopApp:
    """WSGI application; opens one SQLite connection per request."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = db_path

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, payload = self.dispatch(environ)
        except HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except ShopError as exc:
            status, payload = _error_status(exc), {"error": str(exc)}
        body = json.dumps(payload).encode("utf-8")
        start_response(
            _STATUS_TEXT[status],
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def dispatch(self, environ: Environ) -> tuple[int, Any]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
        conn = open_database(self.db_path)
        try:
            service = OrderService(conn)
            if path == "/products" and method == "GET":
                return 200, [
                    {"sku": p.sku, "name": p.name, "unit_price": str(p.unit_price),
                     "tax_category": p.tax_category.value}
                    for p in ProductRepository(conn).list()
                ]
            match = re.fullmatch(r"/orders/(\d+)", path)
            if match and method == "GET":
                return 200, order_to_dict(service.get_order(int(match.group(1))))
            if path == "/orders" and method == "POST":
                return 201, order_to_dict(self._place(service, _read_json(environ)))
            if path == "/reports/sales" and method == "GET":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                try:
                    start = parse_date(query["from"][0])
                    end = parse_date(query["to"][0])
                except (KeyError, ValueError) as exc:
                    raise HttpError(400, "query parameters from and to (YYYY-MM-DD) required") from exc
                return 200, sales_summary(conn, start, end).to_dict()
            if path in ("/products", "/orders", "/reports/sales") or match:
                raise HttpError(405, f"{method} not allowed on {path}")
            raise HttpError(404, f"no route for {path}")
        finally:
            conn.close()

    @staticmethod
    def _place(service: OrderService, body: dict[str, Any]):
        try:
            customer_id = int(body["customer_id"])
            items = [OrderItem(str(i["sku"]), int(i["quantity"])) for i in body["items"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise HttpError(400, "customer_id and items[{sku, quantity}] required") from exc
        return service.quick_order(customer_id, items, body.get("coupon"))


def serve(db_path: str, port: int = 8080) -> None:  # pragma: no cover - manual use
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", port, ShopApp(db_path)) as server:
        print(f"shopcore API on http://127.0.0.1:{port}")
        server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    serve(sys.argv[1] if len(sys.argv) > 1 else "shop.db")
