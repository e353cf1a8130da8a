"""Inline SVG charts for the lake's self-contained HTML reports (storage report, business report).

One home for the drawing code: no script, no external asset, every label and value escaped (names come
from the lake: S3 keys, product names and countries may hold ``<``, ``>``, ``&`` and quotes). Each chart
returns an ``<h3>`` title and an ``<svg role="img">`` with a ``<title>`` per mark, so a hover or a screen
reader gets the exact value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

BAR_COLOR = "#2f6fb0"
MAX_LABEL = 40


def esc(value: Any) -> str:
    """HTML-escaped text, quotes included (safe in attributes too)."""
    return escape(str(value), quote=True)


def short_label(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, float, str | None]],
    *,
    fmt: Callable[[float], str],
    color: str = BAR_COLOR,
    label_width: int = 260,
    bar_width: int = 360,
    width: int = 760,
    label_chars: int = MAX_LABEL,
) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour or None) per bar, longest = full width."""
    row_height = 24
    rows = [row for row in rows if row[1] is not None]
    if not rows:
        return f'<p class="meta">{esc(title)}: nothing to show.</p>'
    top = max(value for _label_, value, _c in rows) or 1
    height = row_height * len(rows) + 8
    parts = [
        f'<svg role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    for index, (label, value, bar_color) in enumerate(rows):
        y = 4 + index * row_height
        length = 0.0 if value <= 0 else max(1.0, value / top * bar_width)
        shown = fmt(value)
        parts.append(
            f"<g><title>{esc(label)}: {esc(shown)}</title>"
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">'
            f"{esc(short_label(label, label_chars))}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row_height - 6}" '
            f'fill="{esc(bar_color or color)}" rx="2"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 16}">{esc(shown)}</text></g>'
        )
    parts.append("</svg>")
    return f"<h3>{esc(title)}</h3>" + "".join(parts)


def stacked_bar_chart(
    title: str,
    rows: Sequence[tuple[str, Mapping[str, float]]],
    *,
    fmt: Callable[[float], str],
    colors: Mapping[str, str],
) -> str:
    """Horizontal bars split into segments (label, {segment: value}), with a legend of the segments."""
    width, label_width, bar_width, row_height = 760, 260, 360, 24
    rows = [(label, {k: v for k, v in parts.items() if v > 0}) for label, parts in rows]
    rows = [(label, parts) for label, parts in rows if parts]
    if not rows:
        return f'<p class="meta">{esc(title)}: nothing to show.</p>'
    order = list(colors)
    segments = sorted(
        {name for _label_, parts in rows for name in parts},
        key=lambda n: (order.index(n) if n in order else len(order), n),
    )
    palette = {name: colors.get(name, "#888888") for name in segments}
    top = max(sum(parts.values()) for _label_, parts in rows) or 1
    legend_height = 22
    height = legend_height + row_height * len(rows) + 8
    out = [
        f'<svg role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    x = label_width
    for name in segments:
        out.append(
            f'<rect x="{x}" y="4" width="10" height="10" fill="{esc(palette[name])}"/>'
            f'<text x="{x + 14}" y="13">{esc(name)}</text>'
        )
        x += 24 + 8 * len(name)
    for index, (label, parts) in enumerate(rows):
        y = legend_height + 4 + index * row_height
        total = sum(parts.values())
        out.append(
            f'<g><text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{esc(short_label(label))}</text>'
        )
        start = float(label_width)
        for name in segments:
            value = parts.get(name, 0)
            if not value:
                continue
            length = max(1.0, value / top * bar_width)
            out.append(
                f'<rect x="{start:.1f}" y="{y + 3}" width="{length:.1f}" height="{row_height - 6}" '
                f'fill="{esc(palette[name])}"><title>{esc(label)} {esc(name)}: {esc(fmt(value))}</title></rect>'
            )
            start += length
        out.append(f'<text x="{start + 6:.1f}" y="{y + 16}">{esc(fmt(total))}</text></g>')
    out.append("</svg>")
    return f"<h3>{esc(title)}</h3>" + "".join(out)


def column_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    fmt: Callable[[float], str],
    notes: Sequence[str] | None = None,
    width: int = 760,
    plot_height: int = 200,
) -> str:
    """
    Grouped vertical columns: one group per category (a day), one column per series, with a legend.

    :param series: (name, one value per category or None, colour).
    :param notes: one short text per category printed above its group (e.g. the day's conversion rate).
    """
    values = [v for _name, vals, _c in series for v in vals if v is not None]
    if not categories or not values:
        return f'<p class="meta">{esc(title)}: nothing to show.</p>'
    top = max(values) or 1
    left, legend_height, note_height, axis_height = 56, 24, 18 if notes else 0, 22
    plot_top = legend_height + note_height
    height = plot_top + plot_height + axis_height
    group = (width - left - 8) / len(categories)
    column = max(4.0, min(28.0, (group - 12) / max(1, len(series))))
    out = [
        f'<svg role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    x = float(left)
    for name, _vals, colour in series:
        out.append(
            f'<rect x="{x:.1f}" y="6" width="10" height="10" fill="{esc(colour)}"/>'
            f'<text x="{x + 14:.1f}" y="15">{esc(name)}</text>'
        )
        x += 30 + 7 * len(name)
    for fraction in (0.0, 0.5, 1.0):
        y = plot_top + plot_height * (1 - fraction)
        out.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e9ef"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{esc(fmt(top * fraction))}</text>'
        )
    for index, category in enumerate(categories):
        start = left + index * group + (group - column * len(series)) / 2
        out.append("<g>")
        for offset, (name, vals, colour) in enumerate(series):
            value = vals[index] if index < len(vals) else None
            if value is None:
                continue
            bar = 0.0 if value <= 0 else max(1.0, value / top * plot_height)
            out.append(
                f'<rect x="{start + offset * column:.1f}" y="{plot_top + plot_height - bar:.1f}" '
                f'width="{column - 2:.1f}" height="{bar:.1f}" fill="{esc(colour)}" rx="1">'
                f"<title>{esc(category)} {esc(name)}: {esc(fmt(value))}</title></rect>"
            )
        centre = left + index * group + group / 2
        if notes:
            out.append(
                f'<text x="{centre:.1f}" y="{legend_height + 12}" text-anchor="middle" class="note">'
                f"{esc(notes[index])}</text>"
            )
        out.append(f'<text x="{centre:.1f}" y="{height - 6}" text-anchor="middle">{esc(category)}</text></g>')
    out.append("</svg>")
    return f"<h3>{esc(title)}</h3>" + "".join(out)
