-- shopcore SQLite schema.
--
-- Money is stored as TEXT holding a decimal string ('12.50') so that no value
-- ever passes through a binary float.  Timestamps are UTC ISO-8601 strings
-- ('2024-03-31T18:30:00+00:00'); dates are 'YYYY-MM-DD'.
-- Nullable columns are optional attributes: NULL means "not set".

PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS customers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS products (
    sku           TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    unit_price    TEXT    NOT NULL,                 -- net price, e.g. '12.50'
    tax_category  TEXT    NOT NULL DEFAULT 'standard'
                  CHECK (tax_category IN ('standard', 'reduced', 'exempt')),
    active        INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS stock (
    sku         TEXT    PRIMARY KEY REFERENCES products (sku),
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0),
    updated_at  TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS coupons (
    code             TEXT    PRIMARY KEY,
    percent_off      TEXT,              -- NULL unless a percentage coupon
    amount_off       TEXT,              -- NULL unless a fixed-amount coupon
    min_order_total  TEXT,              -- NULL: no minimum order value
    valid_from       TEXT,              -- NULL: valid from the start
    valid_until      TEXT,              -- NULL: never expires (inclusive date)
    max_uses         INTEGER,           -- NULL: unlimited
    times_used       INTEGER NOT NULL DEFAULT 0,
    CHECK ((percent_off IS NULL) <> (amount_off IS NULL))
);

CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id     INTEGER NOT NULL REFERENCES customers (id),
    status          TEXT    NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'placed', 'paid', 'shipped', 'cancelled')),
    region          TEXT    NOT NULL,
    currency        TEXT    NOT NULL DEFAULT 'EUR',
    coupon_code     TEXT    REFERENCES coupons (code),
    created_at      TEXT    NOT NULL,
    placed_at       TEXT,               -- NULL while the order is a draft
    -- Totals are frozen when the order is placed (NULL before that).
    subtotal        TEXT,
    discount_total  TEXT,
    tax_total       TEXT,
    grand_total     TEXT
);

CREATE TABLE IF NOT EXISTS order_lines (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id          INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    sku               TEXT    NOT NULL REFERENCES products (sku),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price        TEXT    NOT NULL,
    tax_category      TEXT    NOT NULL,
    discount_percent  TEXT,             -- NULL: no line discount
    UNIQUE (order_id, position)
);

CREATE TABLE IF NOT EXISTS reservations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku         TEXT    NOT NULL REFERENCES products (sku),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    created_at  TEXT    NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_orders_placed_at ON orders (placed_at);
CREATE INDEX IF NOT EXISTS idx_orders_customer ON orders (customer_id);
CREATE INDEX IF NOT EXISTS idx_reservations_sku ON reservations (sku);
CREATE INDEX IF NOT EXISTS idx_reservations_order ON reservations (order_id);
