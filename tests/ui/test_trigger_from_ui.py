"""Issue 7: pipelines triggered from the real Airflow UI, in Debian's headless Chromium driven by Playwright.

A user logs in through the Simple auth manager's form, opens a DAG, clicks Trigger and fills the trigger
form (the DAG's params rendered from their JSON Schema). The tests then follow the run through the REST
API and check what it did to the lake, the Glue catalog and the warehouse against the FX API's own
rates (``fx_api.rates_for``), never against what the pipeline wrote.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg.rows import dict_row

from include.demo import fx_api

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.ui.conftest import AirflowStack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

DAY = "2026-11-20"
RUN_TIMEOUT = 600.0
"""Seconds a whole pipeline run may take: task processes start slowly on 2 shared cores."""
COLUMNS = ("rate_date", "base_currency", "quote_currency", "rate", "published_at")


# --------------------------------------------------------------------------------------------------
# The UI, as a user drives it
# --------------------------------------------------------------------------------------------------


def log_in(page: Page, stack: AirflowStack) -> None:
    """Sign in through the Simple auth manager's login form."""
    from playwright.sync_api import expect

    page.goto(f"{stack.base_url}/")
    expect(page.get_by_label("Username")).to_be_visible()
    assert "/auth/login" in page.url, f"an anonymous visitor must be sent to the login form, not {page.url}"
    page.get_by_label("Username").fill(stack.username)
    page.get_by_label("Password").fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    expect(page.get_by_test_id("nav-dags-link")).to_be_visible()


def open_trigger_form(page: Page, stack: AirflowStack, dag_id: str) -> Locator:
    """Open a DAG's page and its trigger form; return the dialog."""
    from playwright.sync_api import expect

    page.goto(f"{stack.base_url}/dags/{dag_id}")
    expect(page.get_by_role("heading", name=dag_id, exact=True)).to_be_visible()
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Trigger Dag - {dag_id}")).to_be_visible()
    expect(dialog.locator("input[name=element_start_date]")).to_be_visible()
    return dialog


def submit_trigger_form(page: Page, dialog: Locator, dag_id: str) -> str:
    """Press the form's Trigger button; the UI opens the new run's page: return its run id."""
    from playwright.sync_api import expect

    submit = dialog.get_by_test_id("trigger-dag-submit")
    expect(submit).to_be_enabled()
    submit.click()
    page.wait_for_url(re.compile(rf"/dags/{dag_id}/runs/[^/?#]+"))
    run_id = unquote(re.search(rf"/dags/{dag_id}/runs/([^/?#]+)", page.url).group(1))
    expect(page.get_by_test_id("header-card").get_by_role("heading", name=run_id, exact=True)).to_be_visible()
    return run_id


# --------------------------------------------------------------------------------------------------
# What the lake, the catalog and the warehouse must hold: the FX API's rates of the day
# --------------------------------------------------------------------------------------------------


def expected_rows(day: str) -> list[tuple[Any, ...]]:
    """The day's rates as typed rows (the contract's columns), sorted by quote currency."""
    return sorted(
        (
            date.fromisoformat(item["rate_date"]),
            item["base_currency"],
            item["quote_currency"],
            Decimal(item["rate"]),
            datetime.fromisoformat(item["published_at"]),
        )
        for item in fx_api.rates_for(day)
    )


def typed(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row read back from Parquet or PostgreSQL, in the types of ``expected_rows``."""
    rate_date = row["rate_date"]
    rate_date = rate_date.date() if isinstance(rate_date, datetime) else rate_date
    return (
        rate_date,
        row["base_currency"],
        row["quote_currency"],
        Decimal(str(row["rate"])),
        row["published_at"],
    )


def read(stack: AirflowStack, key: str) -> bytes:
    return stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()


def assert_raw(stack: AirflowStack, day: str) -> None:
    """One run folder of the day in the raw zone, SSE-encrypted gzip JSON lines equal to the API's items."""
    keys = stack.lake_keys(f"raw/fx_rates/ingest_date={day}/")
    assert keys, f"nothing landed under raw/fx_rates/ingest_date={day}/ (bucket: {stack.lake_keys()})"
    assert len({key.split("/")[3] for key in keys}) == 1, f"more than one run folder: {keys}"
    records = []
    for key in keys:
        assert key.endswith(".jsonl.gz"), key
        head = stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256", key
        records += [json.loads(line) for line in gzip.decompress(read(stack, key)).splitlines() if line]
    assert sorted(records, key=lambda r: r["quote_currency"]) == fx_api.rates_for(day)


def assert_curated_and_catalogued(stack: AirflowStack, day: str) -> None:
    """Glue's only fx_rates partition is the day's, at one new version whose Parquet rows are the API's."""
    glue = stack.client("glue")
    partitions = glue.get_partitions(DatabaseName=stack.glue_database, TableName="fx_rates")["Partitions"]
    assert [p["Values"] for p in partitions] == [[day]]
    location = partitions[0]["StorageDescriptor"]["Location"]
    match = re.fullmatch(rf"s3://{stack.bucket}/(curated/fx_rates/dt={day}/v=[^/]+)/?", location)
    assert match, f"partition {day} points at {location}"
    versions = {key.split("/")[3] for key in stack.lake_keys(f"curated/fx_rates/dt={day}/")}
    assert versions == {match.group(1).split("/")[-1]}, f"curated versions {versions}, Glue at {location}"
    files = [key for key in stack.lake_keys(f"{match.group(1)}/") if key.endswith(".parquet")]
    assert files, f"no Parquet file under {location}"
    rows = [
        typed(row)
        for key in files
        for row in pq.read_table(io.BytesIO(read(stack, key)), columns=list(COLUMNS)).to_pylist()
    ]
    assert sorted(rows) == expected_rows(day)


def assert_warehouse(stack: AirflowStack, day: str) -> None:
    with psycopg.connect(stack.warehouse_dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"select {', '.join(COLUMNS)} from fx_rates order by quote_currency")
        rows = [typed(row) for row in cur.fetchall()]
    assert rows == expected_rows(day)


# --------------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------------


def test_bad_params_are_refused(page: Page, airflow_stack: AirflowStack) -> None:
    """The form refuses what its JSON Schema can express; the plan task refuses the rest, before data moves."""
    from playwright.sync_api import expect

    stack = airflow_stack
    log_in(page, stack)

    # A required date left empty: the form says so and cannot be submitted.
    dialog = open_trigger_form(page, stack, "airlake_reprocess")
    expect(dialog.get_by_text("This field is required")).to_be_visible()
    expect(dialog.get_by_test_id("trigger-dag-submit")).to_be_disabled()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Last day before first day: each date is valid on its own, so JSON Schema (no cross-field rules)
    # lets the form through; the run's plan task fails it and nothing downstream runs.
    keys_before = stack.lake_keys()
    dialog = open_trigger_form(page, stack, "dataset_fx_rates")
    dialog.locator("input[name=element_start_date]").fill("2026-11-18")
    dialog.locator("input[name=element_end_date]").fill("2026-11-17")
    run_id = submit_trigger_form(page, dialog, "dataset_fx_rates")

    run = stack.wait_for_run("dataset_fx_rates", run_id, timeout=RUN_TIMEOUT)
    assert run["conf"]["start_date"] == "2026-11-18" and run["conf"]["end_date"] == "2026-11-17"
    states = stack.task_states("dataset_fx_rates", run_id)
    assert run["state"] == "failed", stack.describe("dataset_fx_rates", run_id)
    assert states.pop("plan") == "failed", states
    assert states and set(states.values()) == {"upstream_failed"}, states
    log = stack.task_log("dataset_fx_rates", run_id, "plan")
    assert "param end_date 2026-11-17 is before start_date 2026-11-18" in log, log
    assert stack.lake_keys() == keys_before, "a refused run must not write to the lake"
    page.reload()
    expect(page.get_by_test_id("header-card").get_by_test_id("state-badge")).to_have_text("Failed")


def test_reprocess_fx_rates_from_the_trigger_form(page: Page, airflow_stack: AirflowStack) -> None:
    """airlake_reprocess triggered from the UI for fx_rates on one day lands that day's rates everywhere."""
    from playwright.sync_api import expect

    stack = airflow_stack
    log_in(page, stack)
    dialog = open_trigger_form(page, stack, "airlake_reprocess")
    dialog.get_by_role("combobox").click()  # the dataset enum: a select of the contracts' names
    page.get_by_role("option", name="fx_rates", exact=True).click()
    expect(dialog.locator("input[name=element_dataset]")).to_have_value("fx_rates")
    dialog.locator("input[name=element_start_date]").fill(DAY)
    run_id = submit_trigger_form(page, dialog, "airlake_reprocess")

    run = stack.wait_for_run("airlake_reprocess", run_id, timeout=RUN_TIMEOUT, also_watch="dataset_fx_rates")
    assert run["state"] == "success", stack.describe("airlake_reprocess", run_id)
    assert run["conf"] == {
        "dataset": "fx_rates",
        "start_date": DAY,
        "end_date": None,
        "full_refresh": False,
        "dry_run": False,
    }
    [child] = [r for r in stack.dag_runs("dataset_fx_rates") if r["run_type"] == "operator_triggered"]
    assert child["state"] == "success", stack.describe("dataset_fx_rates", child["dag_run_id"])
    # the trigger form's params, passed on (integrations such as OpenLineage may add keys of their own)
    passed_on = {"start_date": DAY, "end_date": None, "full_refresh": False, "dry_run": False}
    assert {key: child["conf"].get(key) for key in passed_on} == passed_on, child["conf"]
    states = stack.task_states("dataset_fx_rates", child["dag_run_id"])
    for task_id in ("plan", "ingest", "curate", "quality", "catalog", "load"):
        assert states.get(task_id) == "success", states

    assert_raw(stack, DAY)
    assert_curated_and_catalogued(stack, DAY)
    assert_warehouse(stack, DAY)

    page.reload()
    expect(page.get_by_test_id("header-card").get_by_test_id("state-badge")).to_have_text("Success")
