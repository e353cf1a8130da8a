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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from airlake.lake import manifest_key
from airlake.report.html import human_bytes, usd

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Page

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
    from airlake.analytics.report import write_report
    from airlake.report.storage import storage_report
    from tests.plugins.airlake.analytics.test_report import demo_report

    store = _store(stack)
    storage_report(store, report_date=REPORT_DATE, region="us-east-1", now=datetime(2026, 11, 22, tzinfo=UTC))
    write_report(store, demo_report())


def _cell(row: Any, key: str) -> Any:
    return row.locator(f'[data-key="{key}"]')


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _check_summary(frame: FrameLocator, status: dict[str, Any]) -> None:
    """The summary row of every dataset shows the JSON's freshness, Glue and storage figures."""
    from playwright.sync_api import expect

    rows = frame.locator('[data-section="summary"] tbody tr')
    expect(rows).to_have_count(len(status["datasets"]))
    for dataset in status["datasets"]:
        row = frame.locator(f'[data-section="summary"] tr[data-dataset="{dataset["dataset"]}"]')
        fresh = dataset["freshness"]
        assert _cell(row, "last_partition").inner_text() == (fresh["last_partition"] or "none")
        age = _cell(row, "age_hours").inner_text()
        assert age == ("\u2013" if fresh["age_hours"] is None else f"{fresh['age_hours']:.1f}"), dataset[
            "dataset"
        ]
        assert _cell(row, "rule_hours").inner_text() == (
            "\u2013" if fresh["rule_hours"] is None else f"{fresh['rule_hours']:g}"
        )
        assert _cell(row, "status").inner_text() == fresh["status"]
        assert _count(_cell(row, "partitions").inner_text()) == dataset["glue"]["partitions"]
        storage = dataset["storage"]
        assert storage is not None, f"{dataset['dataset']}: the storage report has no entry"
        assert int(_cell(row, "bytes").get_attribute("data-value")) == storage["bytes"]
        assert _cell(row, "bytes").inner_text() == human_bytes(storage["bytes"])
        assert float(_cell(row, "monthly_cost_usd").get_attribute("data-value")) == pytest.approx(
            storage["monthly_cost_usd"]
        )
        assert _cell(row, "monthly_cost_usd").inner_text() == usd(storage["monthly_cost_usd"])


def _check_dataset(frame: FrameLocator, dataset: dict[str, Any]) -> None:
    """A dataset's section: its runs' row accounting, reasons and per-class storage as the JSON says."""
    section = frame.locator(f'section[data-dataset="{dataset["dataset"]}"]')
    runs = section.locator('[data-section="runs"] tbody tr')
    assert [r.get_attribute("data-run") for r in runs.all()] == [r["run_id"] for r in dataset["runs"]]
    for run in dataset["runs"]:
        row = section.locator(f'[data-section="runs"] tr[data-run="{run["run_id"]}"]')
        for key in ("read", "written", "quarantined", "duplicates"):
            assert _count(_cell(row, key).inner_text()) == run["rows"][key], (run["run_id"], key)
        assert _cell(row, "published").inner_text() == ("yes" if run["published"] else "no")
    reasons = section.locator('[data-section="reasons"] tbody tr')
    assert [
        (r.get_attribute("data-reason"), _count(_cell(r, "rows").inner_text())) for r in reasons.all()
    ] == [(q["reason"], q["rows"]) for q in dataset["quarantine"]["top_reasons"]]
    classes = section.locator('[data-section="dataset-storage"] tbody tr')
    assert [
        (c.get_attribute("data-class"), int(_cell(c, "bytes").get_attribute("data-value")))
        for c in classes.all()
    ] == [(c["storage_class"], c["bytes"]) for c in dataset["storage"]["by_storage_class"]]


def test_lake_page_shows_what_the_lake_says(page: Page, airflow_stack: AirflowStack, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.ui.test_trigger_from_ui import log_in

    stack = airflow_stack
    partitions = _published_fx_rates(stack)
    _write_reports(stack)

    # nobody gets the page, the JSON or a report without Airflow's login
    with httpx.Client(base_url=stack.base_url, trust_env=False, timeout=30) as anonymous:
        for path in ("/airlake/", STATUS, "/airlake/reports/storage"):
            assert anonymous.get(path).status_code == 401, path

    log_in(page, stack)
    page.get_by_role("link", name="Lake", exact=True).click()
    page.wait_for_url(f"{stack.base_url}/plugin/lake")
    frame = page.frame_locator('iframe[title="Lake"]')
    expect(frame.locator("h1")).to_have_text("Lake")
    status = stack.get(STATUS)  # served from the same short-lived cache as the page
    if frame.locator('[data-key="as_of"]').inner_text() != status["as_of"]:  # the cache turned over between
        page.reload()
        status = stack.get(STATUS)
    expect(frame.locator('[data-key="as_of"]')).to_have_text(status["as_of"])

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
    _check_summary(frame, status)
    for dataset in status["datasets"]:
        if dataset["runs"]:
            _check_dataset(frame, dataset)
    classes = frame.locator('[data-section="storage-classes"] tbody tr')
    assert [(c.get_attribute("data-class"), _cell(c, "bytes").inner_text()) for c in classes.all()] == [
        (c["storage_class"], human_bytes(c["bytes"])) for c in status["storage_report"]["by_storage_class"]
    ]
    expect(frame.locator('svg[role="img"]')).to_have_count(
        1
    )  # the bytes-per-class chart, drawn on the server
    screenshot = tmp_path / "lake_page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"Lake page: {screenshot}")

    # the reports come through the plugin (the page's own session), byte for byte what the lake holds
    store = _store(stack)
    for kind, section in (("storage", "storage_report"), ("business", "business_report")):
        for fmt in ("html", "json"):
            served = page.request.get(f"{stack.base_url}/airlake/reports/{kind}?format={fmt}")
            assert served.status == 200, (kind, fmt, served.status)
            key = status[section][f"{fmt}_key"]
            assert served.body() == store.client.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    business = json.loads(page.request.get(f"{stack.base_url}/airlake/reports/business?format=json").body())
    frame.locator('a[data-report="business"]').click()
    expect(frame.locator("body")).to_contain_text(business["week_start"])
