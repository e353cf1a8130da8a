"""Source kinds of the ingest stage, one module each."""

from __future__ import annotations
