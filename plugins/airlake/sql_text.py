"""SQL text from the files in sql/: identifiers validated and quoted, values always bound parameters."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from airlake.paths import sql_dir

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,126}$")


def quote_identifier(name: str) -> str:
    """Quote a (possibly schema-qualified) identifier after checking every part is a plain name."""
    parts = name.split(".")
    for part in parts:
        if not _IDENTIFIER.match(part):
            raise ValueError(f"unsafe SQL identifier {name!r}: {part!r} is not a plain name")
    return ".".join(f'"{part}"' for part in parts)


@cache
def _template(relative_path: str) -> Any:
    import jinja2

    environment = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701 - SQL
    return environment.from_string((sql_dir() / relative_path).read_text())


def render_sql(relative_path: str, **values: Any) -> str:
    """Render sql/<relative_path> with already-quoted identifiers."""
    return _template(relative_path).render(**values)
