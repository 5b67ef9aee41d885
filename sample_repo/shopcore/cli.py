"""Command line interface: ``shopcore [--db PATH] COMMAND ...``.

Examples::

    shopcore --db shop.db init --demo
    shopcore customer add ada@example.com "Ada Lovelace" --region DE
    shopcore order place --customer 1 --item TEA-001:2 --item MUG-001:1 --coupon WELCOME10
    shopcore order show 1
    shopcore report sales --from 2024-03-01 --to 2024-03-31

The database path defaults to ``$SHOPCORE_DB`` or ``shop.db``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import TextIO

from shopcore import __version__
from shopcore.errors import ShopError
from shopcore.models.customer import Customer
from shopcore.models.order import Order, OrderStatus
from shopcore.models.product import Product
from shopcore.pricing.discounts import Coupon, parse_percent
from shopcore.pricing.money import format_money, to_decimal
from shopcore.pricing.tax import TaxCategory
from shopcore.reports import (
    Page,
    low_stock_report,
    page_offset,
    render_sales_summary,
    sales_summary,
    top_products,
)
from shopcore.services.order_service import OrderItem, OrderService
from shopcore.storage.db import load_demo_data, open_database
from shopcore.storage.repositories import CouponRepository, CustomerRepository, ProductRepository
from shopcore.timeutil import parse_date

DEFAULT_DB = "shop.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopcore", description="Order and inventory tool.")
    parser.add_argument("--db", default=os.environ.get("SHOPCORE_DB", DEFAULT_DB))
    parser.add_argument("--version", action="version", version=f"shopcore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="create the database")
    init.add_argument("--demo", action="store_true", help="load the demo catalogue")

    product = commands.add_parser("product").add_subparsers(dest="action", required=True)
    p_add = product.add_parser("add")
    p_add.add_argument("sku")
    p_add.add_argument("name")
    p_add.add_argument("price")
    p_add.add_argument("--tax-category", default="standard", choices=[c.value for c in TaxCategory])
    p_list = product.add_parser("list")
    p_list.add_argument("--region", default="DE", help="region for prices incl. VAT")

    stock = commands.add_parser("stock").add_subparsers(dest="action", required=True)
    s_set = stock.add_parser("set")
    s_set.add_argument("sku")
    s_set.add_argument("quantity", type=int)
    stock.add_parser("show")

    customer = commands.add_parser("customer").add_subparsers(dest="action", required=True)
    c_add = customer.add_parser("add")
    c_add.add_argument("email")
    c_add.add_argument("name")
    c_add.add_argument("--region", required=True)

    coupon = commands.add_parser("coupon").add_subparsers(dest="action", required=True)
    k_add = coupon.add_parser("add")
    k_add.add_argument("code")
    worth = k_add.add_mutually_exclusive_group(required=True)
    worth.add_argument("--percent")
    worth.add_argument("--amount")
    k_add.add_argument("--min-total")
    k_add.add_argument("--valid-from", type=parse_date)
    k_add.add_argument("--valid-until", type=parse_date)
    k_add.add_argument("--max-uses", type=int)
    coupon.add_parser("list")

    order = commands.add_parser("order").add_subparsers(dest="action", required=True)
    o_place = order.add_parser("place", help="create and place an order in one step")
    o_place.add_argument("--customer", type=int, required=True)
    o_place.add_argument("--item", action="append", required=True, metavar="SKU:QTY[:DISC%]")
    o_place.add_argument("--coupon")
    o_show = order.add_parser("show")
    o_show.add_argument("order_id", type=int)
    o_show.add_argument("--json", action="store_true")
    o_list = order.add_parser("list")
    o_list.add_argument("--status", choices=[s.value for s in OrderStatus])
    o_list.add_argument("--page", type=int, default=1)
    o_list.add_argument("--per-page", type=int, default=20)
    for action in ("pay", "ship", "cancel"):
        order.add_parser(action).add_argument("order_id", type=int)

    report = commands.add_parser("report").add_subparsers(dest="action", required=True)
    r_sales = report.add_parser("sales")
    r_sales.add_argument(
        "--from", dest="start", type=parse_date, required=True, help="first day, inclusive (UTC)"
    )
    r_sales.add_argument(
        "--to", dest="end", type=parse_date, required=True, help="last day, inclusive (UTC)"
    )
    r_sales.add_argument("--json", action="store_true")
    r_low = report.add_parser("low-stock")
    r_low.add_argument("--threshold", type=int, default=5)
    return parser


def render_order(order: Order) -> str:
    """Invoice-like text for ``order show``."""
    totals = order.totals
    cur = totals.currency
    out = [f"Order #{order.id}  [{order.status}]  customer {order.customer_id}  region {order.region}"]
    if order.placed_at is not None:
        out.append(f"Placed at {order.placed_at.isoformat()}")
    for line, priced in zip(order.lines, totals.lines, strict=True):
        disc = f" -{line.discount_percent.normalize():f}%" if line.discount_percent else ""
        out.append(
            f"  {line.sku:<10} {line.quantity:>3} x {line.unit_price:>8}{disc:<6}"
            f"  net {priced.net:>9}  VAT {priced.tax_rate * 100:.1f}% {priced.tax:>8}"
        )
    if order.coupon is not None:
        out.append(f"  Coupon {order.coupon.describe()}")
    out.append(f"  Subtotal: {format_money(totals.subtotal, cur):>16}")
    out.append(f"  Discount: {format_money(totals.discount, cur):>16}")
    out.append(f"  Net:      {format_money(totals.net, cur):>16}")
    out.append(f"  VAT:      {format_money(totals.tax, cur):>16}")
    out.append(f"  Total:    {format_money(totals.total, cur):>16}")
    return "\n".join(out)


def order_to_dict(order: Order) -> dict[str, object]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "status": order.status.value,
        "region": order.region,
        "coupon": order.coupon.code if order.coupon else None,
        "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        "lines": [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "discount_percent": None
                if line.discount_percent is None
                else str(line.discount_percent),
            }
            for line in order.lines
        ],
        "totals": order.totals.to_dict(),
    }


def _run(args: argparse.Namespace, conn: sqlite3.Connection, out: TextIO) -> None:
    service = OrderService(conn)
    command = (args.command, getattr(args, "action", None))

    if command == ("product", "add"):
        product = Product(args.sku, args.name, to_decimal(args.price), TaxCategory(args.tax_category))
        ProductRepository(conn).add(product)
        print(f"added {product.sku} {product.name} at {product.unit_price}", file=out)
    elif command == ("product", "list"):
        for product in ProductRepository(conn).list():
            shelf = product.price_including_tax(args.region)
            print(
                f"{product.sku:<10} {product.name:<30} {product.unit_price:>8}"
                f"  ({shelf} incl. VAT {args.region.upper()})",
                file=out,
            )
    elif command == ("stock", "set"):
        service.stock.set_on_hand(args.sku, args.quantity)
        print(f"{args.sku.upper()}: {args.quantity} on hand", file=out)
    elif command == ("stock", "show"):
        for level in service.stock.levels():
            print(
                f"{level.sku:<10} on hand {level.on_hand:>5}  reserved {level.reserved:>5}"
                f"  available {level.available:>5}",
                file=out,
            )
    elif command == ("customer", "add"):
        customer = CustomerRepository(conn).add(Customer(args.email, args.name, args.region))
        print(f"customer {customer.id}: {customer.display_name}", file=out)
    elif command == ("coupon", "add"):
        coupon = Coupon(
            code=args.code,
            percent_off=parse_percent(args.percent) if args.percent else None,
            amount_off=to_decimal(args.amount) if args.amount else None,
            min_order_total=to_decimal(args.min_total) if args.min_total else None,
            valid_from=args.valid_from,
            valid_until=args.valid_until,
            max_uses=args.max_uses,
        )
        CouponRepository(conn).add(coupon)
        print(f"added coupon {coupon.describe()}", file=out)
    elif command == ("coupon", "list"):
        for coupon in CouponRepository(conn).list():
            print(coupon.describe(), file=out)
    elif command == ("order", "place"):
        items = [OrderItem.parse(text) for text in args.item]
        order = service.quick_order(args.customer, items, args.coupon)
        print(f"placed order {order.id}: total {format_money(order.total, order.currency)}", file=out)
    elif command == ("order", "show"):
        order = service.get_order(args.order_id)
        if args.json:
            print(json.dumps(order_to_dict(order), indent=2), file=out)
        else:
            print(render_order(order), file=out)
    elif command == ("order", "list"):
        status = OrderStatus(args.status) if args.status else None
        total = service.orders.count(status)
        rows = service.orders.list_summaries(
            status=status, limit=args.per_page, offset=page_offset(args.page, args.per_page)
        )
        page = Page(rows, args.page, args.per_page, total)
        for row in page.items:
            amount = row.grand_total or "-"
            print(f"#{row.id:<5} {row.status.value:<9} customer {row.customer_id:<5} {amount}", file=out)
        print(f"page {page.number}/{page.page_count} ({page.total} orders)", file=out)
    elif command[0] == "order" and command[1] in ("pay", "ship", "cancel"):
        action = {"pay": service.mark_paid, "ship": service.ship, "cancel": service.cancel}
        order = action[command[1]](args.order_id)
        print(f"order {order.id} is now {order.status}", file=out)
    elif command == ("report", "sales"):
        summary = sales_summary(conn, args.start, args.end)
        if args.json:
            data = summary.to_dict()
            data["top_products"] = top_products(conn, args.start, args.end)
            print(json.dumps(data, indent=2), file=out)
        else:
            print(render_sales_summary(summary), file=out)
    elif command == ("report", "low-stock"):
        for level in low_stock_report(conn, args.threshold):
            print(f"{level.sku:<10} available {level.available}", file=out)
    else:  # pragma: no cover - argparse rejects unknown commands
        raise AssertionError(f"unhandled command {command}")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point; returns the process exit status."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            conn = open_database(args.db, create=True)
            if args.demo:
                load_demo_data(conn)
            conn.close()
            print(f"initialised {args.db}", file=out)
            return 0
        conn = open_database(args.db)
        try:
            _run(args, conn, out)
        finally:
            conn.close()
    except (ShopError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
