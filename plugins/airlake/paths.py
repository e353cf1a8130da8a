"""Project folders the package reads at run time (SQL templates), overridable for deployments."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def sql_dir() -> Path:
    return Path(os.environ.get("AIRLAKE_SQL_DIR", PROJECT_ROOT / "sql"))
