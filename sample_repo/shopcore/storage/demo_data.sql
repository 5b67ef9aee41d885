-- Demo catalogue loaded by `shopcore init --demo`.

INSERT INTO products (sku, name, unit_price, tax_category) VALUES
    ('TEA-001',  'Assam breakfast tea 250g',  '6.90',  'reduced'),
    ('TEA-002',  'Sencha green tea 100g',     '8.40',  'reduced'),
    ('MUG-001',  'Stoneware mug 350ml',       '12.00', 'standard'),
    ('POT-001',  'Cast iron teapot 0.8l',     '42.00', 'standard'),
    ('GIFT-025', 'Gift card 25 EUR',          '25.00', 'exempt');

INSERT INTO stock (sku, on_hand, updated_at) VALUES
    ('TEA-001',  120, '2024-01-02T08:00:00+00:00'),
    ('TEA-002',  80,  '2024-01-02T08:00:00+00:00'),
    ('MUG-001',  35,  '2024-01-02T08:00:00+00:00'),
    ('POT-001',  6,   '2024-01-02T08:00:00+00:00'),
    ('GIFT-025', 500, '2024-01-02T08:00:00+00:00');

INSERT INTO coupons (code, percent_off, amount_off, min_order_total, valid_until, max_uses) VALUES
    ('WELCOME10', '10', NULL,    '30.00', NULL,         NULL),
    ('FIVEOFF',  NULL,  '5.00',  '25.00', NULL,         1000);
