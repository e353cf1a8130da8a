"""The project's own local stack: moto server, PostgreSQL 15 and Airflow standalone, without Docker.

Source ``include/local_stack/env.sh`` for the environment, then run
``python -m include.local_stack.stack up|down|status``. The functions live in
:mod:`include.local_stack.services`.
"""

from __future__ import annotations
