"""Triggers of Airlake's deferrable operators: importable by the triggerer (plugins/ is on its path)."""

from __future__ import annotations
