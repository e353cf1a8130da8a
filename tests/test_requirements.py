"""The runtime set (requirements.txt) is what runs inside Airflow on AWS, and it is enough.

requirements.txt is what the Dockerfile installs: no local stand-ins (moto), no test or lint packages.
Its closure is computed from the installed distributions' metadata (``Requires-Dist`` with markers and
extras), so a package that plugins/ or dags/ import only through a test dependency is caught here, not on
the first deployment. The last test imports every plugins/ and dags/ module in a child interpreter where
every module outside the runtime closure is blocked, as if only the runtime set were installed.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "requirements.txt"
LOCAL = ROOT / "requirements-local.txt"
DEV = ROOT / "requirements-dev.txt"
CONSTRAINTS = ROOT / "constraints.txt"
FIRST_PARTY = {"airlake", "include", "tests", "bench"}
# Never in the image: the local stand-ins and the test/lint tools.
NOT_RUNTIME = {"moto", "pytest", "playwright", "ruff", "sqlfluff", "pandas"}


def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of one file, ``-r`` includes not followed."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def includes(path: Path) -> list[str]:
    return re.findall(r"^-r\s+(\S+)", path.read_text(), re.MULTILINE)


def all_requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of one file and of the files it includes (``-r``)."""
    lines = requirement_lines(path)
    for included in includes(path):
        lines += all_requirement_lines(path.parent / included)
    return lines


def runtime_closure() -> frozenset[str]:
    """Canonical names of requirements.txt and everything it needs, from the installed metadata."""
    return closure_of(RUNTIME)


@cache
def closure_of(path: Path) -> frozenset[str]:
    """Canonical names of a requirements file (with its includes) and everything they need."""
    seen: set[str] = set()
    todo = [Requirement(line) for line in all_requirement_lines(path)]
    extras_seen: set[tuple[str, str]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        new_extras = {extra for extra in req.extras if (name, extra) not in extras_seen}
        if name in seen and not new_extras:
            continue
        seen.add(name)
        extras_seen.update((name, extra) for extra in req.extras)
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue  # an optional platform-specific dependency not installed here
        for spec in requires:
            dep = Requirement(spec)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                todo.append(dep)
    return frozenset(seen)


def imports_of(*patterns: str) -> dict[str, set[str]]:
    """Top-level module names imported (absolutely) anywhere in the files of ``patterns``, with where."""
    found: dict[str, set[str]] = {}
    for path in sorted({path for pattern in patterns for path in ROOT.glob(pattern)}):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_runtime_set_has_no_local_or_test_packages() -> None:
    runtime = {canonicalize_name(Requirement(line).name) for line in requirement_lines(RUNTIME)}
    assert not runtime & NOT_RUNTIME, f"requirements.txt must not hold {sorted(runtime & NOT_RUNTIME)}"
    assert not includes(RUNTIME), "requirements.txt includes another file: the image would install it"
    assert not runtime_closure() & NOT_RUNTIME, (
        f"the runtime closure pulls in {sorted(runtime_closure() & NOT_RUNTIME)}"
    )


def test_local_and_dev_sets_chain_onto_the_runtime_set() -> None:
    local = {canonicalize_name(Requirement(line).name) for line in requirement_lines(LOCAL)}
    dev = {canonicalize_name(Requirement(line).name) for line in requirement_lines(DEV)}
    assert includes(LOCAL) == ["requirements.txt"]
    assert includes(DEV) == ["requirements-local.txt"], "setup.sh installs requirements-dev.txt: all three"
    assert "moto" in local
    assert {"pytest", "ruff", "sqlfluff", "playwright"} <= dev


def test_every_requirement_is_pinned_by_the_constraints() -> None:
    pins = {}
    for line in requirement_lines(CONSTRAINTS):
        name, _, version = line.partition("==")
        pins[canonicalize_name(name)] = version
    problems = []
    for path in (RUNTIME, LOCAL, DEV):
        for line in requirement_lines(path):
            req = Requirement(line)
            name = canonicalize_name(req.name)
            if name not in pins:
                problems.append(f"{path.name}: {req.name} is not pinned in constraints.txt")
            elif req.specifier and pins[name] not in req.specifier:
                problems.append(f"{path.name}: {line} disagrees with constraints.txt =={pins[name]}")
    assert not problems, "\n".join(problems)


# What runs where: plugins/ and dags/ inside Airflow, include/demo/fx_api.py in the compose image's
# fx-api service, the rest of include/ (local stack, demo driver) on the developer's machine.
IMPORT_SETS = (
    pytest.param(("plugins/**/*.py", "dags/**/*.py"), RUNTIME, id="plugins-dags-runtime"),
    pytest.param(("include/demo/fx_api.py",), RUNTIME, id="fx-api-runtime"),
    pytest.param(("include/**/*.py",), LOCAL, id="include-local"),
)


@pytest.mark.parametrize(("patterns", "requirements"), IMPORT_SETS)
def test_every_import_resolves_to_its_requirements(patterns: tuple[str, ...], requirements: Path) -> None:
    providers = md.packages_distributions()
    closure = closure_of(requirements)
    problems = []
    for module, where in sorted(imports_of(*patterns).items()):
        if (
            module in sys.stdlib_module_names
            or module in FIRST_PARTY
            or (ROOT / "dags" / f"{module}.py").exists()
        ):
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported by {sorted(where)[0]}) is not installed at all")
        elif not dists & closure:
            problems.append(
                f"{module} (imported by {sorted(where)[0]}) comes from {sorted(dists)}, not {requirements.name}"
            )
    assert not problems, "\n".join(problems)


# A child interpreter whose import system refuses any module installed by a distribution outside the
# runtime closure (stdlib and first-party modules pass), then imports every plugins/ and dags/ module.
_CHILD = textwrap.dedent(
    """
    import importlib, importlib.abc, importlib.metadata as md, json, pkgutil, sys
    from pathlib import Path
    closure, root = set(json.loads(sys.argv[1])), Path(sys.argv[2])
    from packaging.utils import canonicalize_name
    blocked = {
        module
        for module, dists in md.packages_distributions().items()
        if module not in sys.stdlib_module_names and not {canonicalize_name(d) for d in dists} & closure
    }
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ModuleNotFoundError(f"{name} is not in the runtime set (requirements.txt)", name=name)
            return None
    for name in list(sys.modules):
        if name.split(".")[0] in blocked:
            del sys.modules[name]
    sys.meta_path.insert(0, Blocker())
    import airlake
    modules = [m.name for m in pkgutil.walk_packages(airlake.__path__, "airlake.")]
    for name in modules:
        importlib.import_module(name)
    dags = sorted(p.stem for p in (root / "dags").glob("*.py"))
    for name in dags:
        importlib.import_module(name)
    print(json.dumps({"modules": len(modules), "dags": len(dags)}))
    """
)


def test_plugins_and_dags_import_with_the_runtime_set_only(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("plugins", "dags", ".")),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
    }
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(sorted(runtime_closure())), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert run.returncode == 0, f"an import needs a package outside requirements.txt:\n{run.stderr[-4000:]}"
    counts = json.loads(run.stdout.strip().splitlines()[-1])
    assert counts["modules"] > 50 and counts["dags"] >= 6, counts


def test_blocker_does_block_a_dev_package(tmp_path: Path) -> None:
    """The import check above can fail: with the same blocker, importing moto is refused."""
    child = _CHILD.split("\nimport airlake")[0] + "\nimport moto\n"
    run = subprocess.run(
        [sys.executable, "-c", child, json.dumps(sorted(runtime_closure())), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode != 0
    assert "moto is not in the runtime set" in run.stderr
