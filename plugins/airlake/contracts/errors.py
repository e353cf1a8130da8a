"""Errors of contract loading: every problem names the file, the field path and what is wrong."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContractIssue:
    """One problem in one contract file.

    ``path`` is the field path in the file (``schema[3].type``, ``source.watermark_column``), empty
    for problems of the whole file; ``line`` (1-based) points into the YAML file when known.
    """

    file: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        position = ""
        if self.line is not None:
            position = f" (line {self.line}" + (f", column {self.column})" if self.column else ")")
        return f"{self.file}: {where}{self.message}{position}"


class ContractError(ValueError):
    """A contract file (or a set of them) is invalid. ``str(error)`` lists every issue, one per line."""

    def __init__(self, issues: Sequence[ContractIssue]) -> None:
        self.issues: tuple[ContractIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def files(self) -> tuple[str, ...]:
        """The files named by the issues, in order of first appearance."""
        return tuple(dict.fromkeys(issue.file for issue in self.issues))


Loc = tuple[str | int, ...]


class FieldIssues(ValueError):
    """Raised inside model validators to report problems at precise sub-paths of the model.

    pydantic keeps the exception in the error's context; the loader expands it into one issue per
    entry, with ``loc`` appended to the location of the model that raised it.
    """

    def __init__(self, issues: Iterable[tuple[Loc, str]]) -> None:
        self.issues: tuple[tuple[Loc, str], ...] = tuple(issues)
        super().__init__("; ".join(f"{format_loc(loc) or '(root)'}: {msg}" for loc, msg in self.issues))


def format_loc(loc: Iterable[str | int]) -> str:
    """``('schema', 3, 'type')`` -> ``schema[3].type``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out
