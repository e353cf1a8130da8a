"""A corpus of malformed and edge-case partner files, one class each, written as bytes by the tests.

Every :class:`Case` is a files-source contract (options as the YAML would say them), the bytes of one
landing file, and what must come of it: the rows that reach curated (all their values) and the
records quarantined (physical line, reason). The schema is the same for all: ``id`` bigint NOT NULL,
``name`` string, ``amount`` decimal(8,2), ``at`` timestamptz NOT NULL (the event time).
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from airlake.contracts import Contract

T = datetime(2026, 11, 20, 10, tzinfo=UTC)
STAMP = "2026-11-20T10:00:00Z"
HEADER = "id,name,amount,at"
Row = tuple[int, "str | None", "Decimal | None", datetime]


def csv_text(*rows: str, header: str = HEADER, end: str = "\n") -> str:
    """Lines joined by ``end``, each ended by it."""
    return "".join(f"{line}{end}" for line in ((header,) if header else ()) + rows)


def ok(i: int, name: str | None = None, amount: str = "1.00") -> str:
    """A valid CSV record: ``i,name,amount,STAMP`` (name defaults to n<i>)."""
    return f"{i},{name if name is not None else f'n{i}'},{amount},{STAMP}"


def row(i: int, name: str | None = "", amount: str | None = "1.00", at: datetime = T) -> Row:
    """The curated values of :func:`ok` (name '' = n<i>)."""
    return (i, f"n{i}" if name == "" else name, None if amount is None else Decimal(amount), at)


@dataclass(frozen=True)
class Case:
    id: str
    body: bytes
    rows: tuple[Row, ...]
    """Rows that reach curated (compared as a multiset)."""
    rejects: tuple[tuple[int, str], ...] = ()
    """(physical line, reason) of every quarantined record, in file order."""
    fmt: str = "csv"
    csv: dict[str, Any] = field(default_factory=dict)
    jsonl: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    """Other keys of the files source (timezone, timestamp_formats, on_extra_columns, ...)."""
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-column keys added to the schema (null_values, formats, timezone)."""
    header: dict[str, Any] | None = None
    """Expected header findings of the part (subset of HeaderCheck.as_dict())."""

    def contract(self) -> Contract:
        schema = [
            {"name": "id", "type": "bigint", "nullable": False},
            {"name": "name", "type": "string"},
            {"name": "amount", "type": "decimal(8,2)"},
            {"name": "at", "type": "timestamptz", "nullable": False},
        ]
        for column in schema:
            column.update(self.columns.get(column["name"], {}))
        source: dict[str, Any] = {"kind": "files", "landing_prefix": "landing/corpus/", "format": self.fmt}
        if self.csv:
            source["csv"] = self.csv
        if self.jsonl:
            source["jsonl"] = self.jsonl
        source.update(self.source)
        return Contract.model_validate(
            {
                "name": "corpus",
                "description": "malformed files",
                "owner": "tests",
                "source": source,
                "schema": schema,
                "primary_key": ["id"],
                "event_time": "at",
            }
        )


def _u(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def _jl(*lines: str | dict[str, Any]) -> bytes:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode()


def _j(i: int, **values: Any) -> dict[str, Any]:
    return {"id": i, "name": f"n{i}", "amount": "1.00", "at": STAMP, **values}


def _parquet(table: Any) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _parquet_cases() -> list[Case]:
    import pyarrow as pa

    stamps = pa.array([T, T], pa.timestamp("us", tz="UTC"))
    with_nul = pa.table({"id": [1, 2], "name": ["a\x00b", "ok"], "amount": ["1.00", "2.00"], "at": stamps})
    extra = pa.table(
        {"id": [1, 2], "name": ["a", "b"], "amount": ["1.00", "2.00"], "at": stamps, "x": [1, 2]}
    )
    no_at = pa.table({"id": [1, 2], "name": ["a", "b"]})
    bad_utf8 = pa.table(
        {
            "id": [1, 2, 3],
            "name": pa.array([b"ok", b"\xff\xfe", b"a\x00"], pa.binary()).view(pa.string()),
            "at": pa.array([T, T, T], pa.timestamp("us", tz="UTC")),
        }
    )
    return [
        Case(
            "parquet-nul-in-string",
            _parquet(with_nul),
            (row(2, "ok", "2.00"),),
            ((1, "nul_byte"),),
            fmt="parquet",
        ),
        Case(
            "parquet-invalid-utf-8-and-nul",
            _parquet(bad_utf8),
            (row(1, "ok", None),),
            ((2, "bad_encoding"), (3, "nul_byte")),
            fmt="parquet",
        ),
        Case(
            "parquet-extra-column-warns",
            _parquet(extra),
            (row(1, "a"), row(2, "b", "2.00")),
            fmt="parquet",
            header={"extra": ["x"], "missing": []},
        ),
        Case(
            "parquet-missing-required-column-refuses-file",
            _parquet(no_at),
            (),
            ((1, "missing_column"), (2, "missing_column")),
            fmt="parquet",
            header={"missing": ["amount", "at"]},
        ),
    ]


HUGE = "x" * (1024 * 1024 + 1)
WIDE = "é" * 300_000  # 300,000 characters, 600,000 UTF-8 bytes
SEOUL = timezone(timedelta(hours=9))

CASES: list[Case] = [
    # ---- line ends and framing ----------------------------------------------------------------
    Case("plain", _u(csv_text(ok(1), ok(2))), (row(1), row(2))),
    Case("crlf", _u(csv_text(ok(1), ok(2), end="\r\n")), (row(1), row(2))),
    Case("cr-only", _u(csv_text(ok(1), ok(2), end="\r")), (row(1), row(2))),
    Case("mixed-line-ends", _u(f"{HEADER}\r\n{ok(1)}\n{ok(2)}\r{ok(3)}\r\n"), (row(1), row(2), row(3))),
    Case("no-final-line-end", _u(csv_text(ok(1)) + ok(2)), (row(1), row(2))),
    Case("gzip", gzip.compress(_u(csv_text(ok(1), ok(2)))), (row(1), row(2))),
    Case("empty-file", b"", ()),
    Case("header-only", _u(csv_text()), ()),
    Case(
        "blank-line-is-a-rejected-record",
        _u(csv_text(ok(1), "", ok(2))),
        (row(1), row(2)),
        ((3, "empty_row"),),
    ),
    Case("blanks-only-line", _u(csv_text(ok(1), "   ", ok(2))), (row(1), row(2)), ((3, "bad_csv_row"),)),
    # ---- quoting ---------------------------------------------------------------------------------
    Case(
        "unterminated-quote-mid-file-never-merges",
        _u(csv_text(ok(1), f'2,"abc,1.00,{STAMP}', ok(3), ok(4))),
        (row(1), row(3), row(4)),
        ((3, "unterminated_quote"),),
    ),
    Case(
        "unterminated-quote-at-eof",
        _u(csv_text(ok(1), ok(2), f'3,"abc,1.00,{STAMP}')),
        (row(1), row(2)),
        ((4, "unterminated_quote"),),
    ),
    Case(
        "unterminated-quote-newlines-not-allowed",
        _u(csv_text(ok(1), f'2,"abc,1.00,{STAMP}', ok(3))),
        (row(1), row(3)),
        ((3, "unterminated_quote"),),
        csv={"newlines_in_values": False},
    ),
    Case(
        "quote-reopened-on-a-later-line",
        _u(csv_text(ok(1), f'2,"abc,1.00,{STAMP}', f'3,"n3",1.00,{STAMP}', ok(4))),
        (row(1), row(3), row(4)),
        ((3, "unterminated_quote"),),
    ),
    Case(
        "quoted-newline-allowed-is-one-record",
        _u(csv_text(f'1,"two\nlines",1.00,{STAMP}', ok(2))),
        ((1, "two\nlines", Decimal("1.00"), T), row(2)),
    ),
    Case(
        "quoted-crlf-inside-value",
        _u(csv_text(f'1,"two\r\nlines",1.00,{STAMP}', ok(2), end="\r\n")),
        ((1, "two\r\nlines", Decimal("1.00"), T), row(2)),
    ),
    Case(
        "quoted-newline-not-allowed-splits-lines",
        _u(csv_text(f'1,"two\nlines",1.00,{STAMP}', ok(2))),
        (row(2),),
        ((2, "unterminated_quote"), (3, "bad_csv_row")),
        csv={"newlines_in_values": False},
    ),
    Case(
        "text-after-closing-quote",
        _u(csv_text(f'1,"ab"c,1.00,{STAMP}', ok(2))),
        (row(2),),
        ((2, "bad_quoting"),),
    ),
    Case(
        "doubled-quotes-and-delimiter-in-quotes",
        _u(csv_text(f'1,"say ""hi"", ok",1.00,{STAMP}')),
        ((1, 'say "hi", ok', Decimal("1.00"), T),),
    ),
    Case(
        "escape-character",
        _u(csv_text(f'1,"say \\"hi\\"",1.00,{STAMP}', f"2,a\\,b,1.00,{STAMP}")),
        ((1, 'say "hi"', Decimal("1.00"), T), (2, "a,b", Decimal("1.00"), T)),
        csv={"escape": "\\"},
    ),
    Case(
        "quoting-off-keeps-quotes",
        _u(csv_text(f'1,"x",1.00,{STAMP}')),
        ((1, '"x"', Decimal("1.00"), T),),
        csv={"quote": None},
    ),
    Case(
        "semicolon-delimiter",
        _u(csv_text(f"1;a,b;1.00;{STAMP}", header="id;name;amount;at")),
        ((1, "a,b", Decimal("1.00"), T),),
        csv={"delimiter": ";"},
    ),
    # ---- field counts --------------------------------------------------------------------------
    Case(
        "too-many-fields",
        _u(csv_text(ok(1), ok(2) + ",extra", ok(3))),
        (row(1), row(3)),
        ((3, "bad_csv_row"),),
    ),
    Case("too-few-fields", _u(csv_text(ok(1), "2,n2,1.00", ok(3))), (row(1), row(3)), ((3, "bad_csv_row"),)),
    # ---- bytes: encodings, BOM, NUL, size --------------------------------------------------------
    Case("utf-8-bom", b"\xef\xbb\xbf" + _u(csv_text(ok(1, "café"))), (row(1, "café"),)),
    Case(
        "invalid-utf-8-byte",
        _u(csv_text(ok(1))) + b"2,caf\xe9,1.00," + _u(STAMP) + b"\n" + _u(ok(3)) + b"\n",
        (row(1), row(3)),
        ((3, "bad_encoding"),),
    ),
    Case("nul-byte", _u(csv_text(ok(1), ok(2, "a\x00b"), ok(3))), (row(1), row(3)), ((3, "nul_byte"),)),
    Case("latin-1", _u(csv_text(ok(1, "café")), "latin-1"), (row(1, "café"),), csv={"encoding": "latin-1"}),
    Case(
        "cp1252-euro-and-an-undefined-byte",
        _u(csv_text(ok(1, "5 €")), "cp1252") + b"2,\x81,1.00," + _u(STAMP) + b"\n",
        (row(1, "5 €"),),
        ((3, "bad_encoding"),),
        csv={"encoding": "cp1252"},
    ),
    Case(
        "utf-16-with-bom",
        _u(csv_text(ok(1, "ü"), ok(2), end="\r\n"), "utf-16"),
        (row(1, "ü"), row(2)),
        csv={"encoding": "utf-16"},
    ),
    Case("cp949", _u(csv_text(ok(1, "서울")), "cp949"), (row(1, "서울"),), csv={"encoding": "cp949"}),
    Case(
        "field-over-max-field-bytes",
        _u(csv_text(ok(1), ok(2, HUGE), ok(3))),
        (row(1), row(3)),
        ((3, "field_too_large"),),
    ),
    Case(
        "multibyte-field-over-max-field-bytes",
        _u(csv_text(ok(1, WIDE), ok(2))),
        (row(2),),
        ((2, "field_too_large"),),
        csv={"max_field_bytes": 500_000},
    ),
    Case(
        "quoted-field-over-max-field-bytes",
        _u(csv_text(ok(1), f'2,"{HUGE}",1.00,{STAMP}', ok(3))),
        (row(1), row(3)),
        ((3, "field_too_large"),),
    ),
    # ---- NULL markers and blanks ---------------------------------------------------------------
    Case(
        "null-markers-declared",
        _u(csv_text(f"1,NULL,NA,{STAMP}", f"2,\\N,,{STAMP}", ok(3, "NAME"))),
        (row(1, None, None), row(2, None, None), row(3, "NAME")),
        csv={"null_values": ["", "NA", "NULL", "\\N"]},
    ),
    Case(
        "na-is-text-by-default",
        _u(csv_text(f"1,NA,1.00,{STAMP}", f"2,n2,NA,{STAMP}")),
        (row(1, "NA"),),
        ((3, "wrong_type"),),
    ),
    Case(
        "per-column-null-values",
        _u(csv_text(f"1,-,-,{STAMP}", f"2,,1.00,{STAMP}")),
        (row(1, "-", None), row(2, None)),
        columns={"amount": {"null_values": ["-"]}},
    ),
    Case(
        "trim-none-keeps-string-blanks-numbers-trimmed",
        _u(csv_text(f"1, a ,  2.50 ,{STAMP}", f"2,  ,1.00,{STAMP}")),
        (row(1, " a ", "2.50"), row(2, "  ")),
    ),
    Case(
        "trim-strings",
        _u(csv_text(f"1, a ,  2.50 ,{STAMP}", f"2,  ,1.00,{STAMP}")),
        (row(1, "a", "2.50"), row(2, None)),
        csv={"trim": "strings"},
    ),
    Case(
        "trim-all-then-null-markers",
        _u(csv_text(f"1, NA , NA ,{STAMP}")),
        (row(1, None, None),),
        csv={"trim": "all", "null_values": ["", "NA"]},
    ),
    Case(
        "null-in-not-null-column",
        _u(csv_text(f",n1,1.00,{STAMP}", ok(2))),
        (row(2),),
        ((2, "null_value"),),
    ),
    # ---- header drift --------------------------------------------------------------------------
    Case(
        "header-reordered",
        _u(csv_text(f"{STAMP},1.00,n1,1", header="at,amount,name,id")),
        (row(1),),
        header={"missing": [], "extra": []},
    ),
    Case(
        "header-extra-column-warns",
        _u(csv_text(ok(1) + ",x", header=HEADER + ",legacy")),
        (row(1),),
        header={"extra": ["legacy"], "missing": []},
    ),
    Case(
        "header-extra-column-ignored",
        _u(csv_text(ok(1) + ",x", header=HEADER + ",legacy")),
        (row(1),),
        source={"on_extra_columns": "ignore"},
        header={"extra": ["legacy"]},
    ),
    Case(
        "header-extra-column-refused",
        _u(csv_text(ok(1) + ",x", ok(2) + ",y", header=HEADER + ",legacy")),
        (),
        ((2, "extra_column"), (3, "extra_column")),
        source={"on_extra_columns": "refuse"},
    ),
    Case(
        "header-missing-nullable-is-null",
        _u(csv_text(f"1,1.00,{STAMP}", header="id,amount,at")),
        (row(1, None),),
        header={"missing": ["name"]},
    ),
    Case(
        "header-missing-nullable-refused",
        _u(csv_text(f"1,1.00,{STAMP}", header="id,amount,at")),
        (),
        ((2, "missing_column"),),
        source={"on_missing_nullable": "refuse"},
    ),
    Case(
        "header-missing-required-refuses-file",
        _u(csv_text("1,n1,1.00", "2,n2,1.00", "", header="id,name,amount")),
        (),
        ((2, "missing_column"), (3, "missing_column"), (4, "missing_column")),
        header={"missing": ["at"]},
    ),
    Case(
        "header-duplicate-column-first-wins",
        _u(csv_text(ok(1) + ",other", header=HEADER + ",name")),
        (row(1),),
        header={"duplicates": ["name"]},
    ),
    Case(
        "header-with-blanks-and-bom",
        b"\xef\xbb\xbf" + _u(csv_text(ok(1), header=" id , name ,amount,at ")),
        (row(1),),
    ),
    Case(
        "header-unreadable-refuses-file",
        _u(csv_text(ok(1), header='id,"name,amount,at')),
        (),
        ((2, "bad_header"),),
    ),
    Case(
        "no-header-schema-order",
        _u(csv_text(ok(1), ok(2), header="")),
        (row(1), row(2)),
        csv={"header": False},
    ),
    Case(
        "skip-rows-preamble",
        _u("exported by partner\nversion 2\n" + csv_text(ok(1))),
        (row(1),),
        csv={"skip_rows": 2},
    ),
    Case(
        "comment-lines",
        _u(csv_text("# a comment", ok(1), "# another", "2,bad,x," + STAMP, header="# top\n" + HEADER)),
        (row(1),),
        ((6, "wrong_type"),),
        csv={"comment": "#"},
    ),
    # ---- types, overflow, time zones -----------------------------------------------------------
    Case(
        "overflow-and-precision",
        _u(
            csv_text(f"9223372036854775808,a,1.00,{STAMP}", ok(2, amount="1234567.00"), ok(3, amount="1.005"))
        ),
        (),
        ((2, "wrong_type"), (3, "decimal_too_large"), (4, "decimal_too_precise")),
    ),
    Case("bad-timestamp", _u(csv_text("1,a,1.00,yesterday", ok(2))), (row(2),), ((2, "bad_timestamp"),)),
    Case(
        "naive-timestamps-in-the-source-zone-with-formats",
        _u(csv_text("1,a,1.00,20/11/2026 11:00", f"2,b,1.00,{STAMP}")),
        (row(1, "a"), row(2, "b")),
        source={"timezone": "Europe/Paris", "timestamp_formats": ["%d/%m/%Y %H:%M", "iso"]},
    ),
    Case(
        "column-timezone-and-an-offset-that-wins",
        _u(csv_text("1,a,1.00,2026-11-20T19:00:00", "2,b,1.00,2026-11-20T10:00:00+00:00")),
        (row(1, "a"), row(2, "b")),
        columns={"at": {"timezone": "Asia/Seoul"}},
    ),
    Case(
        "dst-gap-is-rejected",
        _u(csv_text("1,a,1.00,2026-03-29T02:30:00", "2,b,1.00,2026-03-29T03:30:00")),
        (row(2, "b", at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),),
        ((2, "bad_timestamp"),),
        source={"timezone": "Europe/Paris"},
    ),
    Case(
        "duplicates-both-reach-the-merge",
        _u(csv_text(ok(1), ok(1), ok(2))),
        (row(1), row(1), row(2)),
    ),
    # ---- JSON Lines ----------------------------------------------------------------------------
    Case("jsonl-plain", _jl(_j(1), _j(2)), (row(1), row(2)), fmt="jsonl"),
    Case(
        "jsonl-blank-lines-crlf-and-bom",
        b"\xef\xbb\xbf" + _jl(_j(1), "", "   ") + json.dumps(_j(2)).encode() + b"\r\n",
        (row(1), row(2)),
        fmt="jsonl",
    ),
    Case(
        "jsonl-shapes",
        _jl(_j(1), '{"id": 2,', "[1, 2]", "null", '"text"', _j(3, name={"nested": 1})),
        (row(1),),
        (
            (2, "not_json"),
            (3, "not_an_object"),
            (4, "not_an_object"),
            (5, "not_an_object"),
            (6, "wrong_type"),
        ),
        fmt="jsonl",
    ),
    Case(
        "jsonl-nul-escape-and-lone-surrogate",
        _jl(
            _j(1),
            '{"id": 2, "name": "a\\u0000b", "at": "' + STAMP + '"}',
            '{"id": 3, "name": "\\ud800", "at": "' + STAMP + '"}',
        ),
        (row(1),),
        ((2, "nul_byte"), (3, "bad_encoding")),
        fmt="jsonl",
    ),
    Case("jsonl-bom-alone-on-the-first-line", b"\xef\xbb\xbf\n" + _jl(_j(1)), (row(1),), fmt="jsonl"),
    Case(
        "jsonl-raw-nul-byte",
        _jl(_j(1)) + b'{"id": 2, "name": "a\x00b", "at": "' + _u(STAMP) + b'"}\n',
        (row(1),),
        ((2, "nul_byte"),),
        fmt="jsonl",
    ),
    Case(
        "jsonl-invalid-utf-8",
        _jl(_j(1)) + b'{"id": 2, "name": "caf\xe9", "at": "' + _u(STAMP) + b'"}\n',
        (row(1),),
        ((2, "bad_encoding"),),
        fmt="jsonl",
    ),
    Case(
        "jsonl-null-markers-and-trim",
        _jl(_j(1, name=" NA ", amount="NA"), _j(2, name=" b ")),
        (row(1, None, None), row(2, "b")),
        fmt="jsonl",
        jsonl={"null_values": ["NA"], "trim": "all"},
    ),
    Case(
        "jsonl-exact-numbers-and-missing-fields",
        _jl(
            '{"id": 1, "amount": 12.34, "at": "' + STAMP + '"}',
            '{"id": 2.5, "at": "' + STAMP + '"}',
            '{"id": 3}',
        ),
        (row(1, None, "12.34"),),
        ((2, "wrong_type"), (3, "missing_field")),
        fmt="jsonl",
    ),
    *_parquet_cases(),
]
