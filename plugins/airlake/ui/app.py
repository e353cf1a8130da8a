"""The Lake page's FastAPI app: server-rendered HTML and the same document as JSON, behind Airflow's auth.

Airflow 3.3 mounts a plugin's ``fastapi_apps`` in the API server as they are (``app.mount``): it adds no
authentication of its own, so every route here depends on :func:`require_viewer`, which runs Airflow's own
``get_user`` (the ``Authorization: Bearer`` JWT, or the ``_token`` cookie the UI sets at login and the
page's iframe sends) and the auth manager's ``is_authorized_view(WEBSITE)``: who may see the Airflow UI
may see the Lake page; anyone else gets 401/403.

Routes (under the ``/airlake`` prefix the plugin mounts them at):

- ``/`` the page (HTML, what :func:`airlake.status.lake_status` says, rendered on the server);
- ``/status.json`` the same document;
- ``/reports/business`` and ``/reports/storage`` the newest report's HTML (``?format=json``: its JSON),
  read from the lake through the API server: the bucket stays private, and only these two keys, as the
  status names them, can be served.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

AWS_CONN_ID = "aws_default"
BUCKET_VARIABLE = "airlake_bucket"
DATABASE_VARIABLE = "airlake_glue_database"
CACHE_SECONDS = 30.0
"""How long one status document is served: page views within that time read nothing from the lake."""
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
"""The reports are self-contained (inline CSS and SVG, no script): they may load nothing else."""

_bearer = HTTPBearer(auto_error=False)
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


async def require_viewer(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Airflow's own checks: a valid JWT (header or the UI's cookie) of a user allowed to see the UI."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user, requires_access_view

    user = await get_user(request, None, bearer)
    requires_access_view(AccessView.WEBSITE)(request, user)


def _lake() -> tuple[Any, Any, str]:
    """The lake store, a Glue client and the Glue database, from ``aws_default`` and the Variables."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from airlake.aws import lake_client
    from airlake.store import LakeStore

    bucket = Variable.get(BUCKET_VARIABLE)
    database = Variable.get(DATABASE_VARIABLE, default="airlake")
    store = LakeStore(S3Hook(aws_conn_id=AWS_CONN_ID), bucket)
    return store, lake_client(GlueCatalogHook(aws_conn_id=AWS_CONN_ID)), database


def build_status() -> dict[str, Any]:
    from airlake.contracts import load_contracts
    from airlake.status import lake_status

    store, glue, database = _lake()
    return lake_status(store, glue, database, load_contracts().values(), now=datetime.now(UTC))


class _Cache:
    """The status document, built at most every :data:`CACHE_SECONDS` (built lazily: no read at import)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: Any = None

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._cache is None:
                from airlake.status import StatusCache

                self._cache = StatusCache(build_status, ttl=CACHE_SECONDS)
        return self._cache.get()


status_cache = _Cache()


def render_page(document: dict[str, Any]) -> str:
    """The page's HTML from the status document (numbers formatted here, on the server)."""
    from airlake.report.charts import bar_chart
    from airlake.report.html import human_bytes, usd

    storage = document.get("storage_report")
    chart = ""
    if storage and storage["by_storage_class"]:
        chart = bar_chart(
            "Lake bytes per storage class",
            [(row["storage_class"], row["bytes"], None) for row in storage["by_storage_class"]],
            fmt=human_bytes,
            label_width=200,
        )
    return _templates.get_template("lake.html").render(
        status=document,
        chart=Markup(chart),  # noqa: S704 - charts.py escapes every label and value
        human_bytes=human_bytes,
        usd=usd,
        count=lambda value: "\u2013" if value is None else f"{int(value):,}",
    )


app = FastAPI(title="Airlake lake status", dependencies=[Depends(require_viewer)])


@app.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse(render_page(status_cache.get()))


@app.get("/status.json")
def status_json() -> JSONResponse:
    return JSONResponse(status_cache.get())


@app.get("/reports/{kind}")
def report(kind: str, format: str = "html") -> Response:
    """The newest business or storage report, as the status names it (no other key can be asked for)."""
    sections = {"business": "business_report", "storage": "storage_report"}
    if kind not in sections or format not in ("html", "json"):
        raise HTTPException(404, f"no report {kind!r} as {format!r}: business or storage, html or json")
    section = status_cache.get().get(sections[kind])
    if not section:
        raise HTTPException(404, f"the lake holds no {kind} report yet")
    key = section[f"{format}_key"]
    store, _glue, _database = _lake()
    try:
        body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    except store.client.exceptions.NoSuchKey:
        raise HTTPException(404, f"s3://{store.bucket}/{key} is gone") from None
    media = "text/html; charset=utf-8" if format == "html" else "application/json"
    return Response(body, media_type=media, headers={"Content-Security-Policy": REPORT_CSP})
