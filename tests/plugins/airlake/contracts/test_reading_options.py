"""Reading options of files sources (issue 13): defaults keep today's contracts, bad options are reported
with file, field path and line, and the JSON Schema knows them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from airlake.contracts import ContractError, get_contract, json_schema, load_contract

FILES = textwrap.dedent(
    """\
    name: partner
    description: Partner files.
    owner: test-team
    source:
      kind: files
      landing_prefix: landing/partner/
      format: csv
      csv:
        delimiter: ";"
    {source_extra}
    schema:
      - name: id
        type: bigint
        nullable: false
      - name: label
        type: string
      - name: at
        type: timestamptz
        nullable: false
    {column_extra}
    primary_key: [id]
    event_time: at
    """
)


def load(tmp_path: Path, source_extra: str = "", column_extra: str = ""):
    path = tmp_path / "partner.yaml"
    path.write_text(
        FILES.replace("{source_extra}", textwrap.indent(source_extra, "  ")).replace(
            "{column_extra}", textwrap.indent(column_extra, "  ")
        )
    )
    return load_contract(path)


def errors(tmp_path: Path, **extra: str) -> list[str]:
    with pytest.raises(ContractError) as excinfo:
        load(tmp_path, **extra)
    return str(excinfo.value).splitlines()


def test_defaults_keep_todays_reading(tmp_path: Path) -> None:
    source = load(tmp_path).source
    csv = source.csv
    assert (csv.delimiter, csv.header, csv.quote, csv.escape, csv.encoding) == (";", True, '"', None, "utf-8")
    assert (csv.null_values, csv.trim, csv.skip_rows, csv.comment) == (("",), "none", 0, None)
    assert (csv.newlines_in_values, csv.max_field_bytes) == (True, 1024 * 1024)
    assert (source.timezone, source.timestamp_formats) == ("UTC", ())
    assert (source.on_extra_columns, source.on_missing_nullable) == ("warn", "null")
    assert (source.jsonl.null_values, source.jsonl.trim) == ((), "none")
    assert get_contract("products").source.csv.null_values == ("",)  # a demo contract, unchanged


def test_every_option_can_be_set(tmp_path: Path) -> None:
    contract = load(
        tmp_path,
        source_extra=textwrap.dedent(
            """\
            timezone: Europe/Paris
            timestamp_formats: ["%d/%m/%Y %H:%M", iso]
            on_extra_columns: refuse
            on_missing_nullable: refuse
            """
        ),
        column_extra=textwrap.dedent(
            """\
            - name: amount
              type: decimal(8,2)
              null_values: ["-", ""]
            - name: local_time
              type: timestamp
              timezone: Asia/Seoul
              formats: ["%Y%m%d%H%M%S"]
            """
        ),
    )
    assert contract.source.timezone == "Europe/Paris"
    assert contract.column("amount").null_values == ("-", "")
    assert contract.column("local_time").formats == ("%Y%m%d%H%M%S",)


@pytest.mark.parametrize(
    ("extra", "where", "says"),
    [
        pytest.param(
            {"source_extra": "timezone: Mars/Olympus"}, "source.timezone", "unknown time zone", id="zone"
        ),
        pytest.param(
            {"source_extra": "timestamp_formats: [dd/mm/yyyy]"},
            "source.timestamp_formats[0]",
            "% directives",
            id="format",
        ),
        pytest.param(
            {"source_extra": "on_extra_columns: drop"}, "source.on_extra_columns", "ignore", id="extra-policy"
        ),
        pytest.param(
            {"source_extra": "jsonl:\n  trim: all"}, "source.jsonl", "format jsonl only", id="jsonl-on-csv"
        ),
        pytest.param(
            {"column_extra": "- name: n\n  type: int\n  formats: ['%Y']"},
            "schema[3].formats",
            "date and timestamp",
            id="formats-on-int",
        ),
        pytest.param(
            {"column_extra": "- name: d\n  type: date\n  timezone: UTC"},
            "schema[3].timezone",
            "timestamp columns",
            id="zone-on-date",
        ),
    ],
)
def test_bad_options_name_file_field_and_line(
    tmp_path: Path, extra: dict[str, str], where: str, says: str
) -> None:
    lines = errors(tmp_path, **extra)
    matching = [line for line in lines if f"partner.yaml: {where}: " in line and says in line]
    assert matching, "\n".join(lines)
    assert "(line " in matching[0]


@pytest.mark.parametrize(
    ("csv_block", "where", "says"),
    [
        pytest.param("encoding: klingon", "source.csv.encoding", "unknown encoding", id="encoding"),
        pytest.param("encoding: base64", "source.csv.encoding", "not a text encoding", id="bytes-codec"),
        pytest.param('quote: ";"', "source.csv.quote", "also the delimiter", id="quote-is-delimiter"),
        pytest.param("trim: both", "source.csv.trim", "strings", id="trim"),
        pytest.param(
            "max_field_bytes: 0", "source.csv.max_field_bytes", "greater than or equal to 1", id="limit"
        ),
        pytest.param("skip_rows: -1", "source.csv.skip_rows", "greater than or equal to 0", id="skip"),
        pytest.param("null_value: [NA]", "source.csv.null_value", "did you mean 'null_values'", id="typo"),
    ],
)
def test_bad_csv_options_are_reported(tmp_path: Path, csv_block: str, where: str, says: str) -> None:
    path = tmp_path / "partner.yaml"
    path.write_text(
        FILES.replace('    delimiter: ";"\n', f'    delimiter: ";"\n    {csv_block}\n')
        .replace("{source_extra}", "")
        .replace("{column_extra}", "")
    )
    with pytest.raises(ContractError) as excinfo:
        load_contract(path)
    lines = str(excinfo.value).splitlines()
    assert any(
        f"partner.yaml: {where}: " in line and says in line and "(line 10)" in line for line in lines
    ), "\n".join(lines)


def test_json_schema_documents_the_options() -> None:
    defs = json_schema()["$defs"]
    assert {
        "null_values",
        "encoding",
        "quote",
        "escape",
        "trim",
        "skip_rows",
        "comment",
        "max_field_bytes",
    } <= set(defs["CsvOptions"]["properties"])
    assert {"timezone", "timestamp_formats", "on_extra_columns", "on_missing_nullable", "jsonl"} <= set(
        defs["FilesSource"]["properties"]
    )
    assert defs["FilesSource"]["properties"]["on_extra_columns"]["default"] == "warn"
    assert {"null_values", "formats", "timezone"} <= set(defs["Column"]["properties"])
