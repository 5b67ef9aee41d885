"""shopcore: a small order and inventory service.

The package is organised in layers:

* :mod:`shopcore.models` - plain dataclasses for products, customers and orders;
* :mod:`shopcore.pricing` - money arithmetic, VAT, coupons and the order price
  calculation (:func:`shopcore.pricing.calculator.compute_order_total`);
* :mod:`shopcore.storage` - the SQLite schema and repositories;
* :mod:`shopcore.inventory` - stock levels and reservations;
* :mod:`shopcore.services` - the order workflow that ties everything together;
* :mod:`shopcore.reports`, :mod:`shopcore.cli` and :mod:`shopcore.api` - the
  ways users get data in and out.
"""

__version__ = "0.4.2"

__all__ = ["__version__"]
