"""One module per measured stage: ``prepare_<engine>(params)`` returns the timed work."""

from __future__ import annotations
