"""Consistency of docker-compose.yaml with the Dockerfile, the pins and the local stack (no Docker engine).

The compose file is read with ``yaml.safe_load`` (which resolves the ``<<`` merge keys of the
x-airflow-common anchor) and ``${VAR:-default}`` substitutions are resolved to their defaults, never from
this machine's environment, so the checks are the same everywhere. Only the last test runs Docker's own
parser (``docker compose config``), when the compose plugin is installed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_SH = ROOT / "include" / "local_stack" / "env.sh"
REQUIREMENTS = ROOT / "requirements.txt"
CONSTRAINTS = ROOT / "constraints.txt"

# Services running the Airflow image (airflow-cli sits behind the "debug" profile, airflow-worker behind
# "celery", flower behind "flower").
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
    "airflow-cli",
    "airflow-worker",
    "flower",
)
REQUIRED_SERVICES = (
    pytest.param("airflow-apiserver", id="api-server"),
    pytest.param("airflow-scheduler", id="scheduler"),
    pytest.param("airflow-dag-processor", id="dag-processor"),
    pytest.param("airflow-triggerer", id="triggerer"),
    pytest.param("airflow-init", id="init"),
    pytest.param("postgres", id="metadata-postgres"),
    pytest.param("moto", id="moto"),
    pytest.param("warehouse", id="warehouse"),
)
AIRFLOW_SERVICE_PARAMS = tuple(pytest.param(name, id=name) for name in AIRFLOW_SERVICES)

# Hosts that connections may name before their service exists, with the module whose arrival makes the
# service due (include.demo.fx_api, as a module or a package).
PENDING_SERVICES: dict[str, tuple[Path, ...]] = {
    "fx-api": (ROOT / "include" / "demo" / "fx_api.py", ROOT / "include" / "demo" / "fx_api"),
}
DEFAULT_PORTS = {
    "postgres": 5432,
    "postgresql": 5432,
    "redshift": 5439,
    "http": 80,
    "https": 443,
    "redis": 6379,
}
# The two ways to run the stack: (profiles, variables) as a user passes them.
LOCAL_RUN: tuple[frozenset[str], dict[str, str]] = (frozenset(), {})
CELERY_RUN: tuple[frozenset[str], dict[str, str]] = (
    frozenset({"celery", "flower"}),
    {"AIRLAKE_EXECUTOR": "CeleryExecutor"},
)
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}

_SUBSTITUTION = re.compile(
    r"\$\$"
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_SUBSTITUTION_WITH_DEFAULT = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:-[^}]+\}$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


# ---------------------------------------------------------------------------------------------- helpers


def interpolate(value: str, variables: dict[str, str] | None = None) -> str:
    """Resolve compose variable substitution with only ``variables`` set (none by default): defaults
    apply to the others, ``$$`` is ``$``."""
    variables = variables or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        if variables.get(name):
            return variables[name]
        op = match.group("op") or ""
        return match.group("arg") if op in ("-", ":-") else ""

    return _SUBSTITUTION.sub(replace, value)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the ``KEY=VALUE`` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def mounts_of(service: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Yield (type, source, target) for each volume entry, short or long syntax, after substitution."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            kind = entry.get("type", "volume")
            source, target = interpolate(str(entry.get("source", ""))), str(entry["target"])
        else:
            parts = interpolate(entry).split(":")
            if len(parts) == 1:  # anonymous volume: a container path only
                yield "volume", "", parts[0]
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        yield kind, source, target


def container_ports_of(service: dict[str, Any]) -> set[int]:
    """The ports a service listens on inside the compose network (``expose`` plus ``ports`` targets)."""
    ports = {int(str(port).split("/")[0]) for port in service.get("expose") or []}
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(interpolate(str(entry)).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def urls_in(value: str) -> list[str]:
    """URLs in an environment value: the value itself, or the string fields of a JSON connection."""
    value = interpolate(value).strip()
    if _URL.match(value):
        return [value]
    if not value.startswith("{"):
        return []
    conn = json.loads(value)
    found = []
    if conn.get("host"):
        scheme = conn.get("conn_type", "tcp")
        port = f":{conn['port']}" if conn.get("port") else ""
        found.append(f"{scheme}://{conn['host']}{port}")
    extra = conn.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    found += [str(v) for v in extra.values() if isinstance(v, str) and _URL.match(v)]
    return found


def pinned_version(path: Path, distribution: str) -> str:
    """The ``==`` pin of a distribution in a requirements or constraints file."""
    pattern = re.compile(rf"^{re.escape(distribution)}\s*==\s*([^\s;#]+)", re.IGNORECASE | re.MULTILINE)
    match = pattern.search(path.read_text())
    assert match, f"{path.name}: no '{distribution}==' pin"
    return match.group(1)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    pairs = (line.split(maxsplit=1) for line in lines if line and not line.startswith("#"))
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def base_image() -> str:
    """The Dockerfile's FROM image with the ARG defaults declared before it substituted."""
    args: dict[str, str] = {}
    for instruction, rest in dockerfile_instructions():
        if instruction == "ARG":
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip("\"'")
        elif instruction == "FROM":
            image = rest.split()[0]
            return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], image)
    raise AssertionError("Dockerfile has no FROM")


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last matching rule wins)."""
    excluded = False
    if not DOCKERIGNORE.exists():
        return excluded
    for raw in DOCKERIGNORE.read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, f"{pattern}/*"):
            excluded = not negate
    return excluded


def env_sh_names() -> set[str]:
    """AIRFLOW_CONN_* and AIRFLOW_VAR_* names exported by the local stack's env.sh."""
    return set(re.findall(r"^export\s+(AIRFLOW_(?:CONN|VAR)_[A-Z0-9_]+)=", ENV_SH.read_text(), re.MULTILINE))


def active_services(services: dict[str, dict[str, Any]], profiles: frozenset[str]) -> set[str]:
    """Services ``docker compose --profile ...`` starts: those without profiles, and those of ``profiles``."""
    return {name for name, service in services.items() if not set(service.get("profiles") or ()) - profiles}


def compose_plugin() -> tuple[list[str] | None, str]:
    """The command running Compose v2 (the docker CLI plugin, else a standalone v2), or None and why."""
    tried = []
    docker = shutil.which("docker")
    if docker:
        run = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
        if run.returncode == 0:
            return [docker, "compose"], ""
        tried.append(f"'docker compose version' failed: {(run.stderr or run.stdout).strip()}")
    else:
        tried.append("no docker CLI on PATH")
    standalone = shutil.which("docker-compose")
    if standalone:
        run = subprocess.run([standalone, "version", "--short"], capture_output=True, text=True, timeout=30)
        major = run.stdout.strip().lstrip("v").split(".")[0]
        if run.returncode == 0 and major.isdigit() and int(major) >= 2:
            return [standalone], ""
        tried.append(f"docker-compose at {standalone} is not Compose v2 ({run.stdout.strip()})")
    else:
        tried.append("no standalone docker-compose on PATH")
    return None, " ".join("; ".join(tried).split())


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yaml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert isinstance(compose.get("services"), dict), "docker-compose.yaml has no 'services' mapping"
    return compose["services"]


# ---------------------------------------------------------------------------------------------- tests


def test_compose_file_is_well_formed(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    unknown = {key for key in compose if not key.startswith("x-")} - TOP_LEVEL_KEYS
    assert not unknown, f"unknown top-level keys (the obsolete 'version' included): {sorted(unknown)}"
    for name, service in services.items():
        assert isinstance(service, dict), f"service {name} is not a mapping"
        assert "image" in service or "build" in service, f"service {name} has neither image nor build"
        image = interpolate(str(service.get("image", "")))
        assert not image.endswith(":latest"), f"service {name}: pin the image version, not {image}"
        assert service.get("build") or ":" in image, f"service {name}: image {image} has no tag"


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_is_defined(services: dict[str, dict[str, Any]], name: str) -> None:
    assert name in services, f"docker-compose.yaml lacks the {name} service"


def test_depends_on_names_defined_services(services: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        items = {dep: {} for dep in depends_on} if isinstance(depends_on, list) else depends_on
        for dep, spec in items.items():
            condition = (spec or {}).get("condition", "service_started")
            if dep not in services:
                problems.append(f"{name} depends on undefined service {dep}")
            elif condition not in DEPENDS_ON_CONDITIONS:
                problems.append(f"{name} -> {dep}: unknown condition {condition}")
            elif condition == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck")
    assert not problems, "\n".join(problems)


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        (name, source)
        for name, service in services.items()
        for kind, source, _ in mounts_of(service)
        if kind == "volume" and source
    }
    problems = [
        f"{name} uses undeclared volume {source}" for name, source in sorted(used) if source not in declared
    ]
    assert not problems, "\n".join(problems)


def test_bind_mounts_exist_in_the_repo(services: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, service in services.items():
        for kind, source, target in mounts_of(service):
            if kind != "bind":
                continue
            host = (ROOT / source).resolve()
            if not host.is_relative_to(ROOT):
                problems.append(f"{name}: {source} -> {target} mounts a host path outside the project")
            elif not host.exists():
                problems.append(f"{name}: {source} -> {target} does not exist in the repo")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", AIRFLOW_SERVICE_PARAMS)
def test_airflow_service_builds_from_our_dockerfile(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    build = service.get("build")
    assert build, f"{name} must build from ./Dockerfile"
    build = {"context": build} if isinstance(build, str) else build
    context = (ROOT / interpolate(str(build.get("context", ".")))).resolve()
    assert context == ROOT, f"{name}: build context {context} is not the project root"
    assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    # One image for all Airflow services, so that one build serves them all.
    assert interpolate(service["image"]) == interpolate(services["airflow-scheduler"]["image"])


def test_dockerfile_base_image_matches_pinned_airflow() -> None:
    image = base_image()
    repository, _, tag = image.partition(":")
    assert repository == "apache/airflow", f"FROM {image}: not the official Airflow image"
    version = tag.split("-")[0]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"FROM {image}: tag has no exact Airflow version"
    assert version == pinned_version(REQUIREMENTS, "apache-airflow"), "Dockerfile FROM vs requirements.txt"
    assert version == pinned_version(CONSTRAINTS, "apache-airflow"), "Dockerfile FROM vs constraints.txt"


def test_dockerfile_installs_requirements_with_constraints() -> None:
    instructions = dockerfile_instructions()
    copies = " ".join(rest for instruction, rest in instructions if instruction == "COPY")
    runs = [rest for instruction, rest in instructions if instruction == "RUN"]
    for name in ("requirements.txt", "constraints.txt"):
        assert name in copies, f"the Dockerfile does not COPY {name}"
        assert (ROOT / name).is_file(), f"{name} is missing from the project root"
        assert not dockerignore_excludes(name), f".dockerignore keeps {name} out of the build context"
    install = [run for run in runs if "pip install" in run]
    assert install, "the Dockerfile has no pip install"
    assert re.search(r"-r\s+\S*requirements\.txt", install[0]), "pip install must use -r requirements.txt"
    assert re.search(r"-c\s+\S*constraints\.txt", install[0]), "pip install must use -c constraints.txt"
    # The image holds the runtime set only: the local stand-ins and the test tools stay out of it.
    for name in ("requirements-local.txt", "requirements-dev.txt"):
        assert name not in copies and not any(name in run for run in runs), (
            f"the image must not install {name}"
        )
        assert dockerignore_excludes(name), f".dockerignore must keep {name} out of the build context"
    users = [rest for instruction, rest in instructions if instruction == "USER"]
    assert users and users[-1] == "airflow", "pip must run as the airflow user"


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions per stage name (``FROM ... AS name``)."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, rest in dockerfile_instructions():
        if instruction == "FROM":
            words = rest.split()
            assert len(words) == 3 and words[1].upper() == "AS", f"FROM {rest}: name every stage"
            current = stages.setdefault(words[2], [])
        current.append((instruction, rest))
    return stages


def env_of_stage(instructions: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for instruction, rest in instructions:
        if instruction == "ENV":
            found.update(pair.split("=", 1) for pair in rest.split())
    return found


def test_compose_builds_the_runtime_target(services: dict[str, dict[str, Any]]) -> None:
    stages = dockerfile_stages()
    assert list(stages) == ["runtime", "deploy"], "runtime (compose, mounts) then deploy (the default)"
    assert stages["deploy"][0][1].split()[0] == "runtime", "deploy must build on runtime: the same packages"
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert build.get("target") == "runtime", f"{name}: compose mounts the code, build target runtime"


def test_deploy_target_ships_the_code_as_compose_mounts_it(services: dict[str, dict[str, Any]]) -> None:
    deploy = dockerfile_stages()["deploy"]
    copies = {}
    for instruction, rest in deploy:
        if instruction == "COPY":
            words = [w for w in rest.split() if not w.startswith("--")]
            copies[words[0].rstrip("/")] = words[1].rstrip("/")
    scheduler = services["airflow-scheduler"]
    mounts = {
        Path(source).as_posix(): target for kind, source, target in mounts_of(scheduler) if kind == "bind"
    }
    for folder in ("dags", "plugins", "sql", "include"):
        assert copies.get(folder) == mounts[folder], f"deploy copies {folder}/ where compose mounts it"
    env, compose_env = env_of_stage(deploy), environment_of(scheduler)
    for key in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER", "PYTHONPATH", "AIRLAKE_ROOT"):
        assert env[key] == compose_env[key], f"deploy's {key} differs from docker-compose.yaml's"
    assert env["AIRLAKE_CODE_REVISION"] == "${AIRLAKE_CODE_REVISION}", "the manifests record the revision"
    assert [rest for instruction, rest in deploy if instruction == "USER"][-1] == "airflow"


def test_build_context_holds_the_code_and_no_local_state() -> None:
    shipped = [
        path.relative_to(ROOT).as_posix()
        for folder in ("dags", "plugins", "sql", "include")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and "local_stack" not in path.parts
    ]
    assert "include/airflow/pools.json" in shipped and "include/contracts/orders.yaml" in shipped
    kept_out = [path for path in shipped if dockerignore_excludes(path)]
    assert not kept_out, f".dockerignore keeps code the deploy image needs out: {kept_out[:5]}"
    for path in (
        ".venv/bin/python",
        ".local/airflow/airflow.cfg",
        ".git/HEAD",
        "tests/conftest.py",
        "bench/README.md",
        "include/local_stack/env.sh",
        "plugins/airlake/__pycache__/lake.cpython-311.pyc",
        "requirements-dev.txt",
    ):
        assert dockerignore_excludes(path), f".dockerignore lets {path} into the build context"


def test_moto_image_matches_pinned_moto(services: dict[str, dict[str, Any]]) -> None:
    repository, _, tag = interpolate(services["moto"]["image"]).partition(":")
    assert repository == "motoserver/moto"
    assert tag == pinned_version(CONSTRAINTS, "moto"), "moto image tag vs constraints.txt (the local stack)"
    assert 5000 in container_ports_of(services["moto"])
    assert "healthcheck" in services["moto"]


@pytest.mark.parametrize("name", AIRFLOW_SERVICE_PARAMS)
def test_urls_in_airflow_env_point_at_services(services: dict[str, dict[str, Any]], name: str) -> None:
    problems = []
    for key, value in environment_of(services[name]).items():
        for url in urls_in(value):
            parts = urlsplit(url)
            # db+postgresql:// (Celery's SQLAlchemy result backend) is a postgresql URL
            host, scheme = parts.hostname, parts.scheme.removeprefix("db+").split("+")[0]
            if host in PENDING_SERVICES and host not in services:
                due = [str(p.relative_to(ROOT)) for p in PENDING_SERVICES[host] if p.exists()]
                if due:
                    problems.append(f"{key}: {due[0]} exists now: add the {host} service")
                continue
            if host not in services:
                problems.append(f"{key}: host {host!r} in {url} is not a compose service")
                continue
            port = parts.port or DEFAULT_PORTS.get(scheme)
            listening = container_ports_of(services[host])
            if listening and port not in listening:
                problems.append(f"{key}: {host} listens on {sorted(listening)}, not on {port}")
    assert not problems, "\n".join(problems)


def test_connections_reach_the_stand_ins(services: dict[str, dict[str, Any]]) -> None:
    env = environment_of(services["airflow-scheduler"])
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert aws["conn_type"] == "aws"
    assert urlsplit(aws["extra"]["endpoint_url"]).hostname == "moto"
    assert aws["extra"]["region_name"] == "us-east-1"
    warehouse = urlsplit(interpolate(env["AIRFLOW_CONN_AIRLAKE_WAREHOUSE"]))
    shop = urlsplit(interpolate(env["AIRFLOW_CONN_SHOP_DB"]))
    assert (warehouse.scheme, warehouse.hostname, warehouse.path) == ("postgres", "warehouse", "/warehouse")
    assert (shop.scheme, shop.hostname, shop.path) == ("postgres", "warehouse", "/shop")
    assert urlsplit(env["AIRFLOW_CONN_FX_API"]).scheme == "http"
    assert env["AIRFLOW_VAR_AIRLAKE_QUERY_ENGINE"] == "duckdb"
    assert interpolate(env["AIRFLOW_VAR_AIRLAKE_BUCKET"]) == "airlake-local"


@pytest.mark.parametrize("name", AIRFLOW_SERVICE_PARAMS)
def test_env_names_match_local_stack(services: dict[str, dict[str, Any]], name: str) -> None:
    compose_names = {
        key for key in environment_of(services[name]) if key.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    expected = env_sh_names()
    assert expected, f"{ENV_SH} exports no AIRFLOW_CONN_*/AIRFLOW_VAR_*"
    assert compose_names == expected, (
        f"only in docker-compose.yaml: {sorted(compose_names - expected)}; "
        f"only in env.sh: {sorted(expected - compose_names)}"
    )


@pytest.mark.parametrize("name", AIRFLOW_SERVICE_PARAMS)
def test_airflow_folders_match_mounts(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    env = environment_of(service)
    targets = {
        Path(source).as_posix(): target for kind, source, target in mounts_of(service) if kind == "bind"
    }
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == targets["dags"]
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == targets["plugins"]
    assert "sql" in targets
    python_path = env["PYTHONPATH"].split(":")
    assert targets["plugins"] in python_path, "`import airlake` needs the plugins folder on PYTHONPATH"
    assert str(Path(targets["include"]).parent) in python_path, (
        "`import include` needs its parent on PYTHONPATH"
    )
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


def test_published_ports_bind_to_localhost(services: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, service in services.items():
        for entry in service.get("ports") or []:
            if isinstance(entry, dict):
                host_ip = entry.get("host_ip", "")
            else:
                parts = interpolate(str(entry)).split(":")
                host_ip = parts[0] if len(parts) == 3 else ""
            if host_ip != "127.0.0.1":
                problems.append(f"{name}: port {entry!r} is not bound to 127.0.0.1")
    assert not problems, "\n".join(problems)


def test_no_credentials_come_from_the_host(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), "an AWS access key id in docker-compose.yaml"
    problems = []
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if key.startswith("AWS_") and "$" in value:
                problems.append(f"{name}: {key} must be a fixed moto placeholder, not taken from the host")
            secret = re.search(r"PASSWORD|SECRET|FERNET", key) and not key.startswith("AWS_")
            # An empty Fernet key is allowed, as in the official file (stored secrets are not encrypted).
            if secret and not _SUBSTITUTION_WITH_DEFAULT.match(value) and value != "${FERNET_KEY:-}":
                problems.append(f"{name}: {key} must be ${{VAR:-local-default}}, got {value!r}")
    assert not problems, "\n".join(problems)


RUNS = (pytest.param(*LOCAL_RUN, id="local-executor"), pytest.param(*CELERY_RUN, id="celery-profile"))


@pytest.mark.parametrize(("profiles", "variables"), RUNS)
def test_each_run_starts_only_what_it_depends_on(
    services: dict[str, dict[str, Any]], profiles: frozenset[str], variables: dict[str, str]
) -> None:
    active = active_services(services, profiles)
    problems = []
    for name in sorted(active):
        depends_on = services[name].get("depends_on") or {}
        items = {dep: {} for dep in depends_on} if isinstance(depends_on, list) else depends_on
        for dep, spec in items.items():
            if dep not in active and (spec or {}).get("required", True):
                problems.append(f"{name} needs {dep}, which this run does not start")
    assert not problems, "\n".join(problems)
    executors = {
        name: interpolate(environment_of(services[name])["AIRFLOW__CORE__EXECUTOR"], variables)
        for name in active & set(AIRFLOW_SERVICES)
    }
    expected = "CeleryExecutor" if "celery" in profiles else "LocalExecutor"
    assert set(executors.values()) == {expected}, executors


def test_default_run_is_the_local_executor_without_celery(services: dict[str, dict[str, Any]]) -> None:
    active = active_services(services, LOCAL_RUN[0])
    assert {"airflow-scheduler", "airflow-apiserver", "moto", "warehouse"} <= active
    assert not {"redis", "airflow-worker", "flower"} & active
    # the scheduler runs the tasks: it waits for the stand-ins they use
    needs = services["airflow-scheduler"]["depends_on"]
    assert needs["moto"]["condition"] == needs["warehouse"]["condition"] == "service_healthy"


def test_celery_profile_follows_the_official_layout(services: dict[str, dict[str, Any]]) -> None:
    profiles, variables = CELERY_RUN
    active = active_services(services, profiles)
    assert {"redis", "airflow-worker", "flower"} <= active
    assert services["redis"]["profiles"] == ["celery"] and services["airflow-worker"]["profiles"] == [
        "celery"
    ]
    assert services["flower"]["profiles"] == ["flower"], "Flower is optional, as in the official file"
    repository, _, tag = interpolate(services["redis"]["image"]).partition(":")
    assert repository == "redis" and tag.startswith("7.2"), "7.2: the official file's (BSD-licensed) Redis"
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]

    worker = services["airflow-worker"]
    env = {key: interpolate(value, variables) for key, value in environment_of(worker).items()}
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname) == ("redis", "redis")
    assert (broker.port or DEFAULT_PORTS["redis"]) in container_ports_of(services["redis"])
    backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert backend.scheme == "db+postgresql"
    assert (backend.hostname, backend.path) == (metadata.hostname, metadata.path) == ("postgres", "/airflow")
    assert env["DUMB_INIT_SETSID"] == "0", "warm shutdown of the worker on SIGTERM"
    assert int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) >= 1
    # The worker runs the tasks now: it waits for the broker and the stand-ins the tasks use.
    needs = worker["depends_on"]
    for dep in ("redis", "moto", "warehouse", "airflow-apiserver"):
        assert needs[dep]["condition"] == "service_healthy", f"airflow-worker must wait for {dep}"
    health = " ".join(worker["healthcheck"]["test"])
    assert "airflow.providers.celery.executors.celery_executor.app inspect ping" in health
    assert interpolate(services["flower"]["command"]) == "celery flower"
    assert 5555 in container_ports_of(services["flower"])
    # The scheduler queues on redis when it runs; the default run has no redis, so not required.
    assert services["airflow-scheduler"]["depends_on"]["redis"] == {
        "condition": "service_healthy",
        "required": False,
    }


def test_celery_app_of_the_worker_healthcheck_is_installed() -> None:
    """The runtime set holds the Celery provider whose app the worker's health check pings."""
    import importlib.util

    assert pinned_version(CONSTRAINTS, "apache-airflow-providers-celery")
    assert "apache-airflow-providers-celery" in REQUIREMENTS.read_text().split()
    assert importlib.util.find_spec("airflow.providers.celery.executors.celery_executor") is not None


def _run_worker_command(
    services: dict[str, dict[str, Any]], executor: str, tmp_path: Path
) -> subprocess.CompletedProcess:
    """The airflow-worker's start script, run by bash with a stub ``airflow`` that prints its arguments."""
    command = services["airflow-worker"]["command"]
    assert command[:2] == ["bash", "-c"], "the worker's command is a bash script (the image runs it as is)"
    stub = tmp_path / "airflow"
    stub.write_text('#!/bin/sh\necho "airflow $*"\n')
    stub.chmod(0o755)
    return subprocess.run(
        ["bash", "-c", interpolate(command[2])],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "AIRFLOW__CORE__EXECUTOR": executor},
    )


def test_worker_starts_celery_under_the_celery_executor(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    run = _run_worker_command(services, "CeleryExecutor", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "airflow celery worker"


def test_worker_refuses_to_start_under_another_executor(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    run = _run_worker_command(services, "LocalExecutor", tmp_path)
    assert run.returncode == 1
    assert "AIRLAKE_EXECUTOR=CeleryExecutor" in run.stderr
    assert run.stdout == "", "celery must not start"


@pytest.mark.parametrize(("profiles", "variables"), RUNS)
def test_docker_compose_config_accepts_the_file(profiles: frozenset[str], variables: dict[str, str]) -> None:
    command, why_not = compose_plugin()
    if command is None:
        pytest.skip(f"Docker Compose v2 is not installed here: {why_not}")
    flags = [flag for profile in sorted(profiles) for flag in ("--profile", profile)]
    run = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), *flags, "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **variables},
    )
    assert run.returncode == 0, f"docker compose config failed:\n{run.stderr}"
