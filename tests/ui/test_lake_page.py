"""Issue 16: the Lake page inside the real Airflow UI, in Debian's headless Chromium driven by Playwright.

Runs after the trigger-form tests (tests/ui/conftest.py orders it last and shares their stack), so the
lake holds what their fx_rates pipeline run published; run alone, it triggers that run itself through
the REST API. A storage report and a business report are written into the lake by their own code. A
user logs in, opens "Lake" from the navigation, and every number the page shows must equal the status
JSON the plugin serves (and the JSON must equal Glue and the run's curate manifest); the report links
serve the lake's own report files through the API server, and an anonymous client gets nothing.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airlake.lake import manifest_key
from airlake.report.html import human_bytes, usd

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.ui.conftest import AirflowStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

DAY = "2026-11-20"
REPORT_DATE = "2026-11-22"
RUN_TIMEOUT = 600.0
STATUS = "/airlake/status.json"


def _store(stack: AirflowStack) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airlake.store import LakeStore

    return LakeStore(S3Hook(aws_conn_id="aws_default"), stack.bucket)  # the session's moto, as the stack's


def _published_fx_rates(stack: AirflowStack) -> list[dict[str, Any]]:
    """fx_rates' Glue partitions; when no earlier UI test published the day, a run of our own does."""
    glue = stack.client("glue")

    def partitions() -> list[dict[str, Any]]:
        try:
            return glue.get_partitions(DatabaseName=stack.glue_database, TableName="fx_rates")["Partitions"]
        except glue.exceptions.EntityNotFoundException:
            return []

    if not partitions():
        conf = {"start_date": DAY, "end_date": None, "full_refresh": False, "dry_run": False}
        created = stack.api.post(
            "/api/v2/dags/dataset_fx_rates/dagRuns", json={"logical_date": None, "conf": conf}
        )
        assert created.status_code == 200, created.text
        run_id = created.json()["dag_run_id"]
        run = stack.wait_for_run("dataset_fx_rates", run_id, timeout=RUN_TIMEOUT)
        assert run["state"] == "success", stack.describe("dataset_fx_rates", run_id)
    found = partitions()
    assert found, "no fx_rates partition in Glue after the pipeline run"
    return found


def _write_reports(stack: AirflowStack) -> None:
    from airlake.report.business import write_report
    from airlake.report.storage import storage_report
    from tests.plugins.airlake.report.test_business import demo_report

    store = _store(stack)
    storage_report(store, report_date=REPORT_DATE, region="us-east-1", now=datetime(2026, 11, 22, tzinfo=UTC))
    write_report(store, demo_report())


_READ_PAGE = """
(body) => {
  const cell = (el, key) => {
    const c = el.querySelector(`[data-key="${key}"]`);
    return c ? {text: c.innerText, value: c.getAttribute("data-value")} : null;
  };
  const rows = (el, section) => [...el.querySelectorAll(`[data-section="${section}"] tbody tr`)];
  const keys = (tr, names) => Object.fromEntries(names.map((k) => [k, cell(tr, k)]));
  const summary = Object.fromEntries(rows(body, "summary").map((tr) => [tr.dataset.dataset, keys(tr,
    ["last_partition", "age_hours", "rule_hours", "status", "partitions", "bytes", "monthly_cost_usd"])]));
  const sections = Object.fromEntries([...body.querySelectorAll("section[data-dataset]")].map((s) => [
    s.dataset.dataset, {
      runs: rows(s, "runs").map((tr) => ({run_id: tr.dataset.run,
        ...keys(tr, ["read", "written", "quarantined", "duplicates", "published"])})),
      reasons: rows(s, "reasons").map((tr) => [tr.dataset.reason, cell(tr, "rows").text]),
      classes: rows(s, "dataset-storage").map((tr) => [tr.dataset.class, cell(tr, "bytes").value]),
    }]));
  return {
    as_of: cell(body, "as_of").text,
    summary,
    sections,
    classes: rows(body, "storage-classes").map((tr) => [tr.dataset.class, cell(tr, "bytes").text]),
    charts: body.querySelectorAll('svg[role="img"]').length,
  };
}
"""
"""What the page shows, read from its DOM in one round trip (text as rendered, and the exact values the
server put in ``data-value``); nothing is computed."""


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _dash(value: Any, fmt: str) -> str:
    return "\u2013" if value is None else format(value, fmt)


def _check_page(shown: dict[str, Any], status: dict[str, Any]) -> None:
    """Every figure the page shows equals the status JSON's."""
    assert shown["as_of"] == status["as_of"]
    assert list(shown["summary"]) == [d["dataset"] for d in status["datasets"]]
    for dataset in status["datasets"]:
        name, fresh, storage = dataset["dataset"], dataset["freshness"], dataset["storage"]
        row = {key: cell["text"] for key, cell in shown["summary"][name].items()}
        assert storage is not None, f"{name}: the storage report has no entry"
        assert row == {
            "last_partition": fresh["last_partition"] or "none",
            "age_hours": _dash(fresh["age_hours"], ".1f"),
            "rule_hours": _dash(fresh["rule_hours"], "g"),
            "status": fresh["status"],
            "partitions": f"{dataset['glue']['partitions']:,}",
            "bytes": human_bytes(storage["bytes"]),
            "monthly_cost_usd": usd(storage["monthly_cost_usd"]),
        }, name
        assert int(shown["summary"][name]["bytes"]["value"]) == storage["bytes"]
        assert float(shown["summary"][name]["monthly_cost_usd"]["value"]) == pytest.approx(
            storage["monthly_cost_usd"]
        )
        section = shown["sections"][name]
        assert [
            {key: run[key] if key == "run_id" else run[key]["text"] for key in run} for run in section["runs"]
        ] == [
            {
                "run_id": run["run_id"],
                **{key: f"{run['rows'][key]:,}" for key in ("read", "written", "quarantined", "duplicates")},
                "published": "yes" if run["published"] else "no",
            }
            for run in dataset["runs"]
        ], name
        assert [(reason, _count(rows)) for reason, rows in section["reasons"]] == [
            (q["reason"], q["rows"]) for q in dataset["quarantine"]["top_reasons"]
        ], name
        assert [(c, int(size)) for c, size in section["classes"]] == [
            (c["storage_class"], c["bytes"]) for c in storage["by_storage_class"]
        ], name
    assert shown["classes"] == [
        [c["storage_class"], human_bytes(c["bytes"])] for c in status["storage_report"]["by_storage_class"]
    ]
    assert shown["charts"] == 1  # the bytes-per-class chart, drawn on the server


def test_lake_page_shows_what_the_lake_says(page: Page, airflow_stack: AirflowStack, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.ui.test_trigger_from_ui import log_in

    stack = airflow_stack
    started = time.monotonic()

    def phase(name: str) -> None:  # where the test's time goes (printed, never asserted)
        print(f"lake page test: {name} after {time.monotonic() - started:.1f} s")

    partitions = _published_fx_rates(stack)
    _write_reports(stack)
    phase("lake ready, reports written")

    # nobody gets the page, the JSON or a report without Airflow's login
    with httpx.Client(base_url=stack.base_url, trust_env=False, timeout=30) as anonymous:
        for path in ("/airlake/", STATUS, "/airlake/reports/storage"):
            assert anonymous.get(path).status_code == 401, path
        forged = anonymous.get(STATUS, headers={"Authorization": "Bearer not-a-jwt"})
        assert forged.status_code == 403, forged.text  # Airflow's own verdict on the token

    log_in(page, stack)
    phase("logged in")
    page.get_by_role("link", name="Lake", exact=True).click()
    page.wait_for_url(f"{stack.base_url}/plugin/lake")
    frame = page.frame_locator('iframe[title="Lake"]')
    expect(frame.locator("h1")).to_have_text("Lake")
    status = stack.get(STATUS)  # served from the same short-lived cache as the page
    if frame.locator('[data-key="as_of"]').inner_text() != status["as_of"]:  # the cache turned over between
        page.reload()
        status = stack.get(STATUS)
    expect(frame.locator('[data-key="as_of"]')).to_have_text(status["as_of"])
    phase("Lake page shown")

    # the JSON is what the lake says: Glue's partitions and the run's curate manifest
    fx = next(d for d in status["datasets"] if d["dataset"] == "fx_rates")
    assert fx["glue"]["partitions"] == len(partitions)
    assert fx["freshness"]["last_partition"] == max(p["Values"][0] for p in partitions) == DAY
    assert fx["runs"], "no fx_rates run on the page's JSON"
    curate = _store(stack).get_json(manifest_key("fx_rates", fx["runs"][0]["run_id"], "curate"))
    assert fx["runs"][0]["rows"]["read"] == curate["rows"]["read"] > 0
    assert fx["runs"][0]["rows"]["written"] == curate["rows"]["written"]
    assert fx["runs"][0]["published"] is True
    assert status["storage_report"]["date"] == REPORT_DATE

    # the page shows the JSON as it is
    _check_page(frame.locator("body").evaluate(_READ_PAGE), status)
    screenshot = tmp_path / "lake_page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"Lake page: {screenshot}")
    phase("page checked")

    # the reports come through the plugin (the page's own session), byte for byte what the lake holds
    store = _store(stack)
    served: dict[tuple[str, str], bytes] = {}
    for kind, section in (("storage", "storage_report"), ("business", "business_report")):
        for fmt in ("html", "json"):
            response = page.request.get(f"{stack.base_url}/airlake/reports/{kind}?format={fmt}")
            assert response.status == 200, (kind, fmt, response.status)
            key = status[section][f"{fmt}_key"]
            served[kind, fmt] = response.body()
            assert served[kind, fmt] == store.client.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    business = json.loads(served["business", "json"])
    frame.locator('a[data-report="business"]').click()
    expect(frame.locator("body")).to_contain_text(business["week_start"])
    phase("reports checked")
