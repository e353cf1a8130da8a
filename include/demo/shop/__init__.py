"""The demo online shop: deterministic source data with realistic flaws, one day at a time.

``generate_day(day, seed)`` is pure: the same seed and day always give identical data, whatever was
generated before, and days are consistent with each other (an order placed on Monday and shipped on
Wednesday appears in Monday's and Wednesday's deliveries with the same order_id, amount and customer).

Datasets and what a delivery day holds (``DemoDay``):

* ``orders`` - rows of the operational table ``public.orders`` whose ``updated_at`` falls on the day:
  the orders placed that day plus status updates of orders placed up to ``ORDER_LOOKBACK_DAYS`` earlier
  (placed -> paid -> shipped, placed -> cancelled, placed -> paid -> cancelled). Values are typed
  (int, Decimal, aware UTC datetime). ``coupon_code`` is always a key (the table has the column) but is
  None for orders placed before ``SCHEMA_CHANGE_DATE``. Flaw: a few rows with negative quantity
  and/or amount (``out_of_range``); they stay ``placed`` and never get a payment.
* ``clickstream`` - JSON events as put on the Kinesis stream (partition key ``session_id``), in arrival
  order. Sessions follow the funnel page_view -> product_view -> add_to_cart -> checkout -> purchase.
  ``event_time`` carries the device's UTC offset on mobile (``+00:00`` on web), so its UTC date is what
  counts. ``app_version`` is a key only on mobile events delivered from ``SCHEMA_CHANGE_DATE`` on.
  Flaws: ~1% exact duplicates (same event_id and body), ~2% late (whole sessions whose event_time is
  1-3 days before the delivery day), 3-6 malformed (``not_json``, ``bad_event_time``: "not-a-date",
  ``missing_event_id``).
* ``products`` - CSV rows (all values strings, as in the file) the partner drops as
  ``products-<n>.csv.gz`` (at most ``PRODUCT_FILE_ROWS`` rows per file). Daily: the products whose price
  changed or that were introduced that day; on Mondays: a full catalog snapshot. Columns
  ``PRODUCT_COLUMNS`` plus ``brand`` from ``SCHEMA_CHANGE_DATE`` on (empty when unknown). Prices are EUR
  decimal strings. Flaws: one extra row with a non-numeric price (``bad_price``) for a product whose price
  did not change that day, and one exactly duplicated row.
* ``payments`` - JSON SQS message bodies, one per payment status change (natural key: payment_id +
  status): failed attempts, authorized (cards only) + captured when an order is paid, refunded when a
  paid order is cancelled. ``amount`` is a JSON number with 2 decimals. Flaws: ~3% duplicate deliveries (same body
  twice) and one malformed body (``not_json`` or ``missing_payment_id``).
* ``fx_rates`` - the day's rates, exactly what the FX API serves (``include.demo.fx_api.rates_for``).

Every delivered record is a ``Record``: ``value`` is a dict for parseable records, the raw string for a
record that is not JSON; ``flaws`` says which flaws it carries. Expected curated results therefore are:
the records without ``malformed`` or ``duplicate`` (and without ``out_of_range`` for orders), with the
late ones belonging to their event-time date.

The generators live in one module per dataset: :mod:`.products`, :mod:`.orders`, :mod:`.payments`,
:mod:`.clickstream` (the FX rates come from :mod:`include.demo.fx_api`), sharing the vocabulary of
:mod:`.records` (constants, flaw tags, ``Record``) and the deterministic randomness of :mod:`.common`;
:mod:`.day` puts a day together. Every public name is importable from ``include.demo.shop``.
"""

from __future__ import annotations

from include.demo.shop.clickstream import clickstream_records
from include.demo.shop.day import DemoDay, generate_day
from include.demo.shop.orders import order_rows
from include.demo.shop.payments import payment_messages
from include.demo.shop.products import Product, product_rows
from include.demo.shop.records import (
    CATALOG_EPOCH,
    COUNTRIES,
    CUSTOMER_IDS,
    DATASETS,
    DEFAULT_SEED,
    DUPLICATE,
    EVENT_TYPES,
    LATE,
    MALFORMED,
    N_BASE_PRODUCTS,
    ORDER_COLUMNS,
    ORDER_LOOKBACK_DAYS,
    ORDER_STATUSES,
    OUT_OF_RANGE,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    PLATFORMS,
    PRODUCT_COLUMNS,
    PRODUCT_COLUMNS_FROM_SCHEMA_CHANGE,
    PRODUCT_FILE_ROWS,
    SCHEMA_CHANGE_DATE,
    Record,
    as_date,
)

__all__ = [
    "CATALOG_EPOCH",
    "COUNTRIES",
    "CUSTOMER_IDS",
    "DATASETS",
    "DEFAULT_SEED",
    "DUPLICATE",
    "EVENT_TYPES",
    "LATE",
    "MALFORMED",
    "N_BASE_PRODUCTS",
    "ORDER_COLUMNS",
    "ORDER_LOOKBACK_DAYS",
    "ORDER_STATUSES",
    "OUT_OF_RANGE",
    "PAYMENT_METHODS",
    "PAYMENT_STATUSES",
    "PLATFORMS",
    "PRODUCT_COLUMNS",
    "PRODUCT_COLUMNS_FROM_SCHEMA_CHANGE",
    "PRODUCT_FILE_ROWS",
    "SCHEMA_CHANGE_DATE",
    "DemoDay",
    "Product",
    "Record",
    "as_date",
    "clickstream_records",
    "generate_day",
    "order_rows",
    "payment_messages",
    "product_rows",
]
