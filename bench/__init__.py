"""Airlake benchmarks: stages against anchors on generated inputs (see bench/README.md)."""

from __future__ import annotations
