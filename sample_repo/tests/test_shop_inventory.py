import pytest
from shopcore.errors import InsufficientStockError, NotFoundError, ValidationError
from shopcore.inventory import ReservationManager, StockLedger


@pytest.fixture
def ledger(conn, catalog):
    return StockLedger(conn)


@pytest.fixture
def manager(conn, ledger):
    conn.execute(
        "INSERT INTO orders (customer_id, status, region, created_at)"
        " VALUES (1, 'draft', 'DE', '2024-03-01T00:00:00+00:00'),"
        "        (1, 'draft', 'DE', '2024-03-01T00:00:00+00:00')"
    )
    return ReservationManager(conn, ledger)


def test_levels_and_receiving(ledger):
    assert ledger.level("MUG-001").on_hand == 20
    assert ledger.receive("MUG-001", 5) == 25
    assert ledger.remove("MUG-001", 10) == 15
    with pytest.raises(ValidationError):
        ledger.remove("MUG-001", 16)
    with pytest.raises(ValidationError):
        ledger.set_on_hand("MUG-001", -1)
    with pytest.raises(NotFoundError):
        ledger.level("CUP-001")
    assert [level.sku for level in ledger.levels()] == ["MUG-001", "POT-001", "TEA-001"]


def test_low_stock(ledger):
    assert [level.sku for level in ledger.low_stock(4)] == ["POT-001"]


def test_reservation_reduces_availability(manager, ledger):
    reservation = manager.reserve(1, "pot-001", 2)
    assert reservation.sku == "POT-001"
    level = ledger.level("POT-001")
    assert (level.on_hand, level.reserved, level.available) == (4, 2, 2)
    assert manager.reserved_quantity("POT-001") == 2


def test_cannot_reserve_more_than_available(manager):
    manager.reserve(1, "POT-001", 1)
    with pytest.raises(InsufficientStockError) as info:
        manager.reserve(2, "POT-001", 6)
    assert (info.value.requested, info.value.available) == (6, 3)
    with pytest.raises(ValidationError):
        manager.reserve(2, "POT-001", 0)


def test_reserve_all_is_atomic(manager, ledger):
    with pytest.raises(InsufficientStockError):
        manager.reserve_all(1, [("MUG-001", 2), ("POT-001", 9)])
    assert manager.for_order(1) == []
    reservations = manager.reserve_all(1, [("MUG-001", 2), ("TEA-001", 1), ("MUG-001", 1)])
    assert [(r.sku, r.quantity) for r in reservations] == [("MUG-001", 3), ("TEA-001", 1)]


def test_release_and_fulfil(manager, ledger):
    manager.reserve(1, "MUG-001", 3)
    manager.reserve(2, "MUG-001", 2)
    assert manager.release(2) == 1
    assert manager.fulfil(1) == 3
    level = ledger.level("MUG-001")
    assert (level.on_hand, level.reserved) == (17, 0)
