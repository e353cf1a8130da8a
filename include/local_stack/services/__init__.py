"""Start and stop the services of the local stack: moto server, PostgreSQL 15, FX API and Airflow standalone.

Every service keeps its files under one state folder (``$AIRLAKE_STATE``, ``.local`` by default):
``logs/<service>.log``, ``run/<service>.pid``, ``postgres/`` (data and socket) and ``airflow/``
(AIRFLOW_HOME). Every ``start_*`` is idempotent and every ``stop_*`` is safe when nothing runs.
Services are started detached in their own process group (session), so that stopping one kills
everything it spawned and nothing else.

One module per concern: :mod:`.common` (paths, port variables, StackError, env.sh, ports, HTTP),
:mod:`.process` (pid files, process groups, detached HTTP daemons), then one module per service:
:mod:`.moto`, :mod:`.fx_api`, :mod:`.postgres`, :mod:`.airflow`. Importers use this package
(``from include.local_stack import services``), which re-exports their names.
"""

from __future__ import annotations

from include.local_stack.services.airflow import (
    airflow_health,
    airflow_health_url,
    airflow_home,
    airflow_login,
    airflow_pid,
    start_airflow,
    stop_airflow,
)
from include.local_stack.services.common import (
    AIRFLOW_PORT_VAR,
    ENV_SH,
    FX_API_PORT_VAR,
    MOTO_PORT_VAR,
    PG_BIN,
    PG_PORT_VAR,
    PROJECT_ROOT,
    VENV_BIN,
    StackError,
    http_status,
    load_env,
    port_in_use,
)
from include.local_stack.services.fx_api import fx_api_pid, start_fx_api, stop_fx_api
from include.local_stack.services.moto import moto_pid, start_moto, stop_moto
from include.local_stack.services.postgres import postgres_pid, start_postgres, stop_postgres
from include.local_stack.services.process import pid_alive

__all__ = [
    "AIRFLOW_PORT_VAR",
    "ENV_SH",
    "FX_API_PORT_VAR",
    "MOTO_PORT_VAR",
    "PG_BIN",
    "PG_PORT_VAR",
    "PROJECT_ROOT",
    "VENV_BIN",
    "StackError",
    "airflow_health",
    "airflow_health_url",
    "airflow_home",
    "airflow_login",
    "airflow_pid",
    "fx_api_pid",
    "http_status",
    "load_env",
    "moto_pid",
    "pid_alive",
    "port_in_use",
    "postgres_pid",
    "start_airflow",
    "start_fx_api",
    "start_moto",
    "start_postgres",
    "stop_airflow",
    "stop_fx_api",
    "stop_moto",
    "stop_postgres",
]
