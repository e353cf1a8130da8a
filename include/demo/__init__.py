"""The demo online shop: deterministic source data with realistic flaws, and its delivery to the local stack.

- ``include.demo.shop``: pure generators (``generate_day``).
- ``include.demo.publish``: delivery of a day to PostgreSQL, Kinesis, S3 and SQS (also a CLI).
- ``include.demo.fx_api``: the local FX-rates HTTP API (also a CLI).
"""

from __future__ import annotations
