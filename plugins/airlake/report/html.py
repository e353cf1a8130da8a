"""The storage report as one self-contained HTML page: inline CSS and SVG bar charts, no script.

The charts are drawn by :mod:`airlake.report.charts`, shared with the business report.

The page is opened from S3 or a laptop with no network, so nothing is fetched: no JavaScript, no CDN,
no web font. Every name that comes from the lake (zones, datasets, storage classes, views, buckets,
manifest keys) is escaped: S3 keys may hold ``<``, ``>``, ``&`` and quotes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airlake.report.charts import bar_chart, stacked_bar_chart
from airlake.report.charts import esc as _e

CLASS_COLORS = {
    "STANDARD": "#2f6fb0",
    "INTELLIGENT_TIERING": "#4f8fd0",
    "STANDARD_IA": "#3c9a5f",
    "ONEZONE_IA": "#6cbf84",
    "GLACIER_IR": "#8a6bbf",
    "GLACIER": "#6a4a9f",
    "DEEP_ARCHIVE": "#3f2a6b",
}
COST_COLOR = "#c0703a"
SCAN_COLOR = "#b0902f"
TOP_DATASETS = 20

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2430;max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d8dde6}
.meta{color:#5a6577;font-size:.9rem}.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1.2rem 0}
.card{border:1px solid #d8dde6;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.card b{display:block;font-size:1.25rem}.card span{color:#5a6577;font-size:.85rem}
table{border-collapse:collapse;font-size:.88rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e6e9ef;padding:.25rem .7rem;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
svg{display:block;margin:.6rem 0}svg text{font-size:12px;fill:#1d2430}
.warn{color:#9a3b00}
"""


def human_bytes(size: float | None) -> str:
    """``1536`` -> ``1.5 KiB`` (binary units, like S3's GB)."""
    if size is None:
        return "n/a"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def usd(amount: float | None) -> str:
    """Dollars with cents, or six decimals for the fractions of a cent a small lake costs."""
    if amount is None:
        return "n/a"
    if amount == 0:
        return "$0.00"
    if abs(amount) < 0.000001:
        return "<$0.000001"
    if abs(amount) < 0.01:
        return f"${amount:.6f}"
    return f"${amount:,.2f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{_e(cell)}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(value: str, caption: str) -> str:
    return f'<div class="card"><b>{_e(value)}</b><span>{_e(caption)}</span></div>'


def render_html(document: Mapping[str, Any]) -> str:
    """The whole page for a report document (see :func:`airlake.report.storage.build_document`)."""
    totals, pricing, athena = document["totals"], document["pricing"], document["athena"]
    zones, classes, datasets = document["by_zone"], document["by_storage_class"], document["by_dataset"]
    buckets = ", ".join(str(b["bucket"]) for b in document["buckets"])
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Airlake storage report {_e(document['date'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Airlake storage &amp; cost report, {_e(document['date'])}</h1>",
        f'<p class="meta">Bucket(s) {_e(buckets)}; generated {_e(document["generated_at"])}. '
        f"Prices: {_e(pricing['region'])}, {_e(pricing['currency'])}, as of {_e(pricing['as_of'])} "
        f"({_e(pricing['source'])}; {_e(pricing['file'])}). Storage per GB-month (GB = 2^30 bytes), "
        "list prices without requests, retrievals or minimum billable sizes.</p>",
        '<div class="cards">',
        _card(f"{totals['objects']:,}", "objects"),
        _card(human_bytes(totals["bytes"]), f"{totals['bytes']:,} bytes"),
        _card(usd(totals["storage_monthly_cost_usd"]), "storage per month"),
        _card(usd(totals["athena_monthly_cost_usd"]), "Athena per month (estimate)"),
        _card(usd(totals["monthly_cost_usd"]), "total per month"),
        "</div>",
    ]
    if document.get("warnings"):
        out.append("<h2>Warnings</h2><ul>")
        out.extend(f'<li class="warn">{_e(w)}</li>' for w in document["warnings"])
        out.append("</ul>")

    out.append("<h2>Zones</h2>")
    out.append(
        stacked_bar_chart(
            "Bytes by zone and storage class",
            [(z["zone"], {c: split["bytes"] for c, split in z["by_storage_class"].items()}) for z in zones],
            fmt=human_bytes,
            colors=CLASS_COLORS,
        )
    )
    out.append(
        bar_chart(
            "Monthly storage cost by zone",
            [(z["zone"], z["monthly_cost_usd"], None) for z in zones],
            fmt=usd,
            color=COST_COLOR,
        )
    )
    out.append(
        _table(
            ["zone", "objects", "bytes", "size", "cost / month"],
            [
                (
                    z["zone"],
                    f"{z['objects']:,}",
                    f"{z['bytes']:,}",
                    human_bytes(z["bytes"]),
                    usd(z["monthly_cost_usd"]),
                )
                for z in zones
            ],
            numeric=(1, 2, 3, 4),
        )
    )

    out.append("<h2>Storage classes</h2>")
    out.append(
        bar_chart(
            "Bytes by storage class",
            [(c["storage_class"], c["bytes"], CLASS_COLORS.get(c["storage_class"])) for c in classes],
            fmt=human_bytes,
        )
    )
    out.append(
        _table(
            ["storage class", "objects", "bytes", "size", "USD per GB-month", "cost / month"],
            [
                (
                    c["storage_class"],
                    f"{c['objects']:,}",
                    f"{c['bytes']:,}",
                    human_bytes(c["bytes"]),
                    "n/a" if c["price_gb_month"] is None else f"{c['price_gb_month']:g}",
                    usd(c["monthly_cost_usd"]),
                )
                for c in classes
            ],
            numeric=(1, 2, 3, 4, 5),
        )
    )

    out.append("<h2>Datasets</h2>")
    largest = sorted(datasets, key=lambda d: (-d["bytes"], d["zone"], d["dataset"]))[:TOP_DATASETS]
    out.append(
        bar_chart(
            f"Largest datasets (top {TOP_DATASETS}) by bytes",
            [(f"{d['zone']}/{d['dataset']}", d["bytes"], None) for d in largest],
            fmt=human_bytes,
        )
    )
    out.append(
        _table(
            ["zone", "dataset", "storage class", "objects", "bytes", "size", "cost / month"],
            [
                (
                    d["zone"],
                    d["dataset"],
                    storage_class,
                    f"{split['objects']:,}",
                    f"{split['bytes']:,}",
                    human_bytes(split["bytes"]),
                    usd(split["monthly_cost_usd"]),
                )
                for d in datasets
                for storage_class, split in d["by_storage_class"].items()
            ],
            numeric=(3, 4, 5, 6),
        )
    )

    out.append("<h2>Athena</h2>")
    out.append(
        f'<p class="meta">Last run of each view: {human_bytes(athena["last_run_bytes_scanned"])} scanned '
        f"({athena['last_run_bytes_scanned']:,} bytes), billed {athena['last_run_billed_bytes']:,} bytes "
        f"at {_e(usd(athena['per_tb_scanned_usd']))} per TB (at least {athena['minimum_mb_per_query']:g} MB "
        f"a query): {_e(usd(athena['last_run_cost_usd']))}; x {athena['runs_per_month']} runs a month = "
        f"{_e(usd(athena['monthly_cost_usd']))}.</p>"
    )
    queries = athena["queries"]
    out.append(
        bar_chart(
            "Bytes scanned by view, last run",
            [(q["view"], q["bytes_scanned"] or 0, None) for q in queries],
            fmt=human_bytes,
            color=SCAN_COLOR,
        )
    )
    if queries:
        out.append(
            _table(
                ["view", "run", "dt", "bytes scanned", "billed bytes", "cost", "manifest"],
                [
                    (
                        q["view"],
                        q.get("run_id") or "",
                        q.get("dt") or "",
                        "n/a" if q["bytes_scanned"] is None else f"{q['bytes_scanned']:,}",
                        f"{q['billed_bytes']:,}",
                        usd(q["cost_usd"]),
                        q["manifest"],
                    )
                    for q in queries
                ],
                numeric=(3, 4, 5),
            )
        )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
