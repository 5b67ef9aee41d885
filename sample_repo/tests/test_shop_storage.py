import sqlite3
from datetime import date
from decimal import Decimal

import pytest
from shopcore.errors import NotFoundError, ValidationError
from shopcore.models import Customer, Order, OrderLine, OrderStatus, Product
from shopcore.pricing.discounts import Coupon
from shopcore.storage.db import connect, init_schema, load_demo_data, open_database, transaction
from shopcore.storage.repositories import (
    CouponRepository,
    CustomerRepository,
    OrderRepository,
    ProductRepository,
)


def test_schema_is_idempotent(conn):
    init_schema(conn)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"products", "customers", "orders", "order_lines", "coupons", "stock"} <= tables


def test_demo_data_loads(conn):
    load_demo_data(conn)
    assert len(ProductRepository(conn).list()) == 5
    assert CouponRepository(conn).get("welcome10").percent_off == Decimal("10")


def test_open_database_requires_existing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_database(tmp_path / "missing.db")
    db = open_database(tmp_path / "new.db", create=True)
    db.close()
    open_database(tmp_path / "new.db").close()


def test_product_round_trip(conn):
    repo = ProductRepository(conn)
    repo.add(Product("MUG-001", "Mug", Decimal("12.00")))
    with pytest.raises(ValidationError):
        repo.add(Product("MUG-001", "Mug again", Decimal("1.00")))
    product = repo.get("mug-001")
    assert product.unit_price == Decimal("12.00")
    repo.update(product.with_price(Decimal("13.50")))
    assert repo.get("MUG-001").unit_price == Decimal("13.50")
    repo.update(Product("MUG-001", "Mug", Decimal("13.50"), active=False))
    assert repo.list() == []
    assert len(repo.list(include_inactive=True)) == 1
    with pytest.raises(NotFoundError):
        repo.get("NOPE-001")


def test_customer_round_trip(conn):
    repo = CustomerRepository(conn)
    ada = repo.add(Customer("ada@example.com", "Ada", "DE"))
    assert ada.id == 1
    assert repo.get(1).created_at == ada.created_at
    assert repo.find_by_email("ADA@example.com").name == "Ada"
    assert repo.find_by_email("bob@example.com") is None
    with pytest.raises(ValidationError):
        repo.add(Customer("ada@example.com", "Other Ada", "FR"))


def test_coupon_round_trip_keeps_nulls(conn):
    repo = CouponRepository(conn)
    repo.add(Coupon("TENOFF", amount_off=Decimal("10"), valid_until=date(2024, 12, 31)))
    coupon = repo.get("tenoff")
    assert coupon.amount_off == Decimal("10.00")
    assert coupon.percent_off is None
    assert coupon.min_order_total is None
    assert coupon.max_uses is None
    assert coupon.valid_until == date(2024, 12, 31)
    repo.record_use("TENOFF")
    assert repo.get("TENOFF").times_used == 1


def test_order_round_trip_with_null_line_discount(conn, catalog):
    repo = OrderRepository(conn)
    order = Order(
        customer_id=1,
        region="DE",
        lines=[
            OrderLine("MUG-001", 2, Decimal("12.00")),
            OrderLine("TEA-001", 1, Decimal("6.90"), "reduced", Decimal("5")),
        ],
    )
    repo.add(order)
    loaded = repo.get(order.id)
    assert loaded.lines[0].discount_percent is None
    assert loaded.lines[1].discount_percent == Decimal("5")
    assert loaded.total == order.total
    assert repo.stored_total(order.id) is None


def test_order_list_pagination(conn, catalog):
    repo = OrderRepository(conn)
    for _ in range(5):
        repo.add(Order(customer_id=1, region="DE", lines=[OrderLine("MUG-001", 1, Decimal("1.00"))]))
    assert repo.count() == 5
    assert repo.count(OrderStatus.PLACED) == 0
    first = repo.list_summaries(limit=2)
    assert [row.id for row in first] == [5, 4]
    assert [row.id for row in repo.list_summaries(limit=2, offset=4)] == [1]


def test_transaction_rolls_back(conn, catalog):
    with pytest.raises(RuntimeError), transaction(conn):
        ProductRepository(conn).add(Product("CUP-001", "Cup", Decimal("3.00")))
        raise RuntimeError("boom")
    with pytest.raises(NotFoundError):
        ProductRepository(conn).get("CUP-001")


def test_nested_transaction_uses_savepoint(conn, catalog):
    products = ProductRepository(conn)
    with transaction(conn):
        products.add(Product("CUP-001", "Cup", Decimal("3.00")))
        with pytest.raises(RuntimeError), transaction(conn):
            products.add(Product("CUP-002", "Cup 2", Decimal("3.00")))
            raise RuntimeError("inner")
    assert products.get("CUP-001")
    with pytest.raises(NotFoundError):
        products.get("CUP-002")


def test_connect_enforces_foreign_keys():
    db = connect()
    init_schema(db)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO stock (sku, on_hand, updated_at) VALUES ('X-01', 1, 'now')")
