"""Bad contracts fail with file + field path + reason (and the line), one problem per line."""

from __future__ import annotations

import pytest

from airlake.contracts import ContractError, load_contract, load_contracts, scan_contracts
from tests.plugins.airlake.contracts.contract_helpers import (
    BASE,
    assert_reported,
    error_lines,
    mutate,
    with_source,
    write,
)

# --------------------------------------------------------------------------------------------------
# Bad contracts: each error names the file, the field path and what is wrong
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field_path", "reason"),
    [
        pytest.param(mutate("type: string", "type: strng"), "schema[1].type", "unknown type 'strng' (expected one of", id="unknown-type"),
        pytest.param(mutate("type: string", "type: String"), "schema[1].type", "type names are lowercase", id="uppercase-type"),
        pytest.param(mutate("decimal(10,2)", "decimal(39,2)"), "schema[2].type", "precision must be 1..38", id="decimal-precision"),
        pytest.param(mutate("decimal(10,2)", "decimal(4,5)"), "schema[2].type", "scale must be 0..precision", id="decimal-scale"),
        pytest.param(mutate("primary_key: [widget_id]", "primary_key: [widget]"), "primary_key[0]", "unknown column 'widget' (not in schema; did you mean 'widget_id'?)", id="key-not-in-schema"),
        pytest.param(mutate("primary_key: [widget_id]", "primary_key: [widget_id, color]"), "primary_key[1]", "primary key column 'color' is nullable", id="nullable-key"),
        pytest.param(mutate("primary_key: [widget_id]", "primary_key: []"), "primary_key", "at least 1 item", id="empty-key"),
        pytest.param(mutate('schedule: "@daily"', 'schedule: "0 25 * * *"'), "schedule", "invalid cron expression '0 25 * * *'", id="bad-cron"),
        pytest.param(mutate('schedule: "@daily"', 'schedule: "0 0 * * * *"'), "schedule", "a cron expression has 5 fields", id="cron-six-fields"),
        pytest.param(mutate('schedule: "@daily"', 'schedule: "@dayly"'), "schedule", "unknown schedule preset '@dayly'", id="bad-preset"),
        pytest.param(mutate("name: widgets", "name: ../x"), "name", "invalid name '../x'", id="name-path-traversal"),
        pytest.param(mutate("name: widgets", "name: Widgets"), "name", "names are lowercase", id="name-uppercase"),
        pytest.param(mutate("name: widgets", "name: select"), "name", "reserved SQL word", id="name-reserved"),
        pytest.param(mutate("name: widgets", "name: x" + "y" * 63), "name", "at most 63", id="name-too-long"),
        pytest.param(mutate("  - name: color", "  - name: order"), "schema[1].name", "reserved SQL word", id="column-reserved"),
        pytest.param(mutate("  - name: color", "  - name: widget_id"), "schema[1].name", "duplicate column 'widget_id'", id="duplicate-column"),
        pytest.param(mutate("owner: test-team", "owner: test-team\nownr: someone"), "ownr", "unknown field 'ownr'", id="unknown-top-field"),
        pytest.param(mutate("  watermark_column: updated_at", "  watermark_column: updated_at\n  batch_row: 10"), "source.batch_row", "did you mean 'batch_rows'?", id="unknown-source-field"),
        pytest.param(mutate("    nullable: false\n  - name: color", "    nullable: false\n    nulable: true\n  - name: color"), "schema[0].nulable", "unknown field 'nulable'", id="unknown-column-field"),
        pytest.param(mutate("watermark_column: updated_at", "watermark_column: modified_at"), "source.watermark_column", "unknown column 'modified_at' (not in schema", id="watermark-missing"),
        pytest.param(mutate("watermark_column: updated_at", "watermark_column: color"), "source.watermark_column", "watermark column 'color' is nullable", id="watermark-nullable"),
        pytest.param(mutate("glacier_after_days: 90", "glacier_after_days: 40"), "tiering.glacier_after_days", "at least 30 days after standard_ia_after_days", id="tiering-glacier-too-early"),
        pytest.param(mutate("glacier_after_days: 90", "glacier_after_days: 90\n  expire_after_days: 60"), "tiering.expire_after_days", "must be greater than glacier_after_days (90)", id="tiering-expire-before-glacier"),
        pytest.param(mutate("standard_ia_after_days: 30", "standard_ia_after_days: 7"), "tiering.standard_ia_after_days", "greater than or equal to 30", id="tiering-ia-below-s3-minimum"),
        pytest.param(mutate("  kind: database", "  kind: db"), "source.kind", "unknown kind 'db'", id="unknown-source-kind"),
        pytest.param(mutate("  kind: database\n", ""), "source.kind", "required field missing", id="missing-source-kind"),
        pytest.param(mutate("owner: test-team\n", ""), "owner", "required field missing", id="missing-owner"),
        pytest.param(mutate("table: public.widgets", "table: widgets"), "source.table", "expected 'schema.table'", id="source-table-without-schema"),
        pytest.param(mutate("event_time: updated_at", "event_time: price"), "event_time", "expected timestamp, timestamptz or date", id="event-time-not-temporal"),
        pytest.param(mutate("  order_by: updated_at\n", ""), "dedup.order_by", "required when keep is 'latest'", id="dedup-latest-without-order-by"),
        pytest.param(mutate("  order_by: updated_at", "  order_by: updated"), "dedup.order_by", "unknown column 'updated'", id="dedup-order-by-missing"),
        pytest.param(mutate("event_time: updated_at", "event_time: updated_at\npartitioning:\n  column: color"), "partitioning.column", "clashes with schema column", id="partition-column-clash"),
        pytest.param(mutate("      column: price\n      min: 0", "      column: prize\n      min: 0"), "quality.checks[0].column", "unknown column 'prize'", id="check-column-missing"),
        pytest.param(mutate("values: [red, green]", "values: [red, yes]"), "quality.checks[1].values[1]", "YAML reads yes/no/on/off as booleans", id="accepted-values-yaml-boolean"),
        pytest.param(mutate("      min: 0", "      min: 10\n      max: 1"), "quality.checks[0].max", "smaller than min", id="range-inverted"),
        pytest.param(mutate("  mode: merge", "  mode: upsert"), "warehouse.mode", "expected 'merge', 'append' or 'partition_replace'", id="warehouse-mode"),
        pytest.param(mutate("  mode: merge", "  mode: merge\n  dist_key: colour"), "warehouse.dist_key", "unknown column 'colour'", id="warehouse-dist-key-missing"),
        pytest.param(mutate("  - name: color\n    type: string", "  - name: color\n    type: string\n    added_in: 2026-13-01"), "schema[1].added_in", "invalid date '2026-13-01'", id="added-in-bad-date"),
        pytest.param(mutate("  - name: color\n    type: string", "  - name: color\n    type: string\n    nullable: false\n    added_in: 2026-11-20"), "schema[1].nullable", "must be nullable", id="added-column-not-nullable"),
        pytest.param(mutate("tags: [test]", "tags: test"), "tags", "expected a list, got string 'test'", id="tags-not-a-list"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: ../landing/widgets/
              format: csv
            """), "source.landing_prefix", "'..' segments are not allowed", id="files-prefix-dotdot"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: /landing/widgets/
              format: csv
            """), "source.landing_prefix", "no leading '/'", id="files-prefix-absolute"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: landing/widgets/
              format: xml
            """), "source.format", "expected 'csv', 'jsonl' or 'parquet'", id="files-format"),
        pytest.param(with_source("""\
            source:
              kind: files
              landing_prefix: landing/widgets/
              format: jsonl
              csv: {delimiter: ";"}
            """), "source.csv", "apply to format csv only", id="files-csv-options-on-jsonl"),
        pytest.param(with_source("""\
            source:
              kind: http
              conn_id: widgets_api
              endpoint: https://api.example.com/widgets
            """), "source.endpoint", "the host comes from the Airflow connection", id="http-endpoint-url"),
        pytest.param(with_source("""\
            source:
              kind: http
              conn_id: widgets_api
              endpoint: /widgets
              pagination: {style: scroll}
            """), "source.pagination.style", "expected 'page' or 'cursor'", id="http-pagination-style"),
        pytest.param(with_source("""\
            source:
              kind: sqs
              queue_name: widgets
              max_messages_per_batch: 11
            """), "source.max_messages_per_batch", "less than or equal to 10", id="sqs-batch-over-limit"),
        pytest.param(with_source("""\
            source:
              kind: kinesis
              stream_name: widgets
              max_records_per_call: 20000
            """), "source.max_records_per_call", "less than or equal to 10000", id="kinesis-limit"),
    ],
)  # fmt: skip
def test_bad_contract_is_reported_with_file_path_and_reason(tmp_path, text, field_path, reason):
    lines = error_lines(write(tmp_path, text))
    assert_reported(lines, "widgets.yaml", field_path, reason)
    assert all(line.startswith(str(tmp_path / "widgets.yaml")) for line in lines)


def test_every_problem_is_listed_one_per_line_with_its_line_number(tmp_path):
    text = mutate("type: string", "type: strng").replace('schedule: "@daily"', 'schedule: "@dayly"')
    lines = error_lines(write(tmp_path, text))
    assert len(lines) == 2
    assert_reported(lines, "widgets.yaml", "schedule", "unknown schedule preset '@dayly'")
    assert_reported(lines, "widgets.yaml", "schema[1].type", "unknown type 'strng'")
    assert lines[0].endswith("(line 4)")  # in file order
    assert lines[1].endswith("(line 16)")  # the line of `type: strng`


def test_cross_field_problems_are_all_listed(tmp_path):
    text = mutate("primary_key: [widget_id]", "primary_key: [widget]").replace(
        "watermark_column: updated_at", "watermark_column: modified_at"
    )
    lines = error_lines(write(tmp_path, text))
    assert len(lines) == 2
    assert_reported(lines, "widgets.yaml", "source.watermark_column", "unknown column 'modified_at'")
    assert_reported(lines, "widgets.yaml", "primary_key[0]", "unknown column 'widget'")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(mutate("  conn_id: shop_db", "  conn_id: shop_db\n bad: [unclosed"), "invalid YAML:", id="syntax-error"),
        pytest.param(mutate("  conn_id: shop_db", "  conn_id: shop_db\n  conn_id: other_db"), "duplicate key 'conn_id' (first defined on line 8)", id="duplicate-key"),
        pytest.param("", "the file is empty", id="empty"),
        pytest.param("- a\n- b\n", "expected a mapping of contract fields", id="not-a-mapping"),
    ],
)  # fmt: skip
def test_yaml_problems_name_the_file_and_the_line(tmp_path, text, reason):
    lines = error_lines(write(tmp_path, text))
    assert_reported(lines, "widgets.yaml", "", reason)
    if "YAML" in reason or "duplicate" in reason:
        assert "(line 9, column" in lines[0]


def test_file_stem_must_equal_the_dataset_name(tmp_path):
    lines = error_lines(write(tmp_path, BASE, stem="gadgets"))
    assert_reported(
        lines, "gadgets.yaml", "name", "dataset name 'widgets' does not match the file name 'gadgets.yaml'"
    )


def test_duplicate_dataset_name_across_files_names_both_files(tmp_path):
    write(tmp_path, BASE, stem="widgets")
    (tmp_path / "widgets.yml").write_text(BASE, encoding="utf-8")
    with pytest.raises(ContractError) as excinfo:
        load_contracts(tmp_path)
    lines = str(excinfo.value).splitlines()
    assert_reported(
        lines,
        "widgets.yaml",
        "name",
        f"duplicate dataset name 'widgets': also defined in {tmp_path}/widgets.yml",
    )
    assert_reported(
        lines,
        "widgets.yml",
        "name",
        f"duplicate dataset name 'widgets': also defined in {tmp_path}/widgets.yaml",
    )


def test_scan_keeps_valid_contracts_and_reports_invalid_ones(tmp_path):
    write(tmp_path, BASE)
    write(
        tmp_path,
        mutate("name: widgets", "name: gizmos").replace("type: string", "type: strng"),
        stem="gizmos",
    )
    scan = scan_contracts(tmp_path)
    assert list(scan.contracts) == ["widgets"]
    assert scan.files["widgets"] == tmp_path / "widgets.yaml"
    assert scan.error is not None
    assert_reported(str(scan.error).splitlines(), "gizmos.yaml", "schema[1].type", "unknown type")
    with pytest.raises(ContractError):
        load_contracts(tmp_path)


def test_contract_errors_are_value_errors_with_structured_issues(tmp_path):
    with pytest.raises(ValueError, match="unknown type") as excinfo:
        load_contract(write(tmp_path, mutate("type: string", "type: strng")))
    error = excinfo.value
    assert isinstance(error, ContractError)
    (issue,) = error.issues
    assert (issue.path, issue.line) == ("schema[1].type", 16)
    assert error.files == (str(tmp_path / "widgets.yaml"),)
