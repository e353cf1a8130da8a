"""Ingest stage: land source data unchanged, compressed and encrypted, in the raw zone."""

from __future__ import annotations
