"""No module imports a private name (``_name``, not a dunder) from another package.

A leading underscore says "this package's own detail": a name another package needs is public in its home
(issue 17). Packages are the first two parts of a dotted module name (``airlake.catalog``,
``include.local_stack``; a top-level module is its own package). Only first-party modules are checked, as
importers (everything under plugins/, dags/ and include/) and as sources (the names those folders define).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = {"plugins": ROOT / "plugins", "dags": ROOT / "dags", "include": ROOT}
"""Where each folder's modules are imported from: plugins/ and dags/ are on sys.path, include/ is a package."""


def _files() -> Iterator[tuple[Path, str]]:
    """(file, its dotted module name) of every Python file under plugins/, dags/ and include/."""
    for folder, base in SOURCE_ROOTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield path, ".".join(parts)


def package_of(module: str) -> str:
    """``airlake.catalog.tables`` -> ``airlake.catalog``; ``airlake.lake`` -> itself; ``airlake`` -> itself."""
    return ".".join(module.split(".")[:2])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imported_module(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from <...> import``, relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def private_cross_package_imports() -> list[tuple[str, int, str, str]]:
    """(file, line, name, module) of each private name a module imports from another package."""
    files = list(_files())
    first_party = {module.split(".")[0] for _path, module in files if module}
    found: list[tuple[str, int, str, str]] = []
    for path, module in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _imported_module(node, module, is_package)
            if source.split(".")[0] not in first_party or package_of(source) == package_of(module):
                continue
            for alias in node.names:
                if is_private(alias.name):
                    found.append((str(path.relative_to(ROOT)), node.lineno, alias.name, source))
    return found


def test_package_of() -> None:
    assert package_of("airlake.catalog.tables") == "airlake.catalog"
    assert package_of("airlake.lake") == "airlake.lake"
    assert package_of("airlake_datasets") == "airlake_datasets"
    assert is_private("_glue_call") and not is_private("__version__") and not is_private("glue_call")


def test_no_private_name_is_imported_from_another_package() -> None:
    found = private_cross_package_imports()
    lines = [f"{file}:{line}: {name} from {module}" for file, line, name, module in found]
    assert not lines, "private names imported across packages (make them public in their home):\n" + (
        "\n".join(lines)
    )
