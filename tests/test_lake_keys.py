"""No module but lake.py spells a lake key: ``curated/``, ``raw/``, ``_manifests/``, ``quarantine/``, ``_state/``.

lake.py is the one builder and parser of keys (issue 17): a key literal elsewhere is a second copy of the
layout that a change of layout would miss. Docstrings and comments may describe the layout; code asks
:mod:`airlake.lake` (``curated_version_prefix``, ``manifests_prefix``, ``zone_prefix``, ...).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("plugins", "dags", "include")
HOME = Path("plugins/airlake/lake.py")
KEY_LITERAL = re.compile(r"(?:^|[^\w/<.:-])(curated|raw|_manifests|quarantine|_state)/")
"""A zone folder at the start of a key: not inside a longer path (``.../curated/``), a placeholder
(``<raw>/``) or a URI of another scheme (``x-airlake://curated/``)."""
ALLOWED = {
    ("plugins/airlake/curate/sqlrun/athena.py", "curated/"): "a folder below the Athena scratch location",
    ("include/demo/", "_manifests/"): "the demo lists the manifests by hand (to do: lake.manifests_prefix())",
}
"""(file or folder, zone folder) pairs that are not lake keys, or are known and named here until they move."""


def _docstrings(tree: ast.AST) -> set[int]:
    """The string statements: docstrings of modules, classes, functions and attributes."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        for statement in body if isinstance(body, list) else []:  # a lambda's body is one expression
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                found.add(id(statement.value))
    return found


def key_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, zone folder) of each string literal (or literal part of an f-string) that starts a lake key."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for match in KEY_LITERAL.finditer(node.value):
                yield node.lineno, f"{match.group(1)}/"


def found_outside_lake() -> list[str]:
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "__pycache__" in path.parts or relative == HOME:
                continue
            for line, literal in key_literals(path.read_text(encoding="utf-8")):
                if not any(
                    relative.as_posix().startswith(where) and literal == allowed for where, allowed in ALLOWED
                ):
                    found.append(f"{relative}:{line}: {literal!r}")
    return found


def test_key_literals_are_found_in_code_not_in_docs() -> None:
    source = '''
"""Writes curated/<dataset>/dt=<dt>/ (a docstring may say so)."""
KEY = "raw/orders/"
URI = "x-airlake://curated/orders"
def f(ds):
    """Reads _manifests/."""
    return f"_manifests/{ds}/", f"s3://b/{ds}/curated/", "<raw>/x"
'''
    assert list(key_literals(source)) == [(3, "raw/"), (7, "_manifests/")]


def test_only_lake_py_builds_lake_keys() -> None:
    found = found_outside_lake()
    assert not found, "lake keys spelled outside airlake/lake.py (build them with its functions):\n" + (
        "\n".join(found)
    )
