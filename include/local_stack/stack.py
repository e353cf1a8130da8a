"""Command line of the local stack: ``python -m include.local_stack.stack up|down|status [--only a,b]``.

Ports and the state folder come from the environment that ``include/local_stack/env.sh`` sets
(AIRLAKE_MOTO_PORT, AIRLAKE_PG_PORT, AIRLAKE_FX_API_PORT, AIRFLOW_PORT, AIRLAKE_STATE); whatever is not set takes
env.sh's default, because the CLI sources env.sh on top of the current environment.

To add a service, write its start/stop/pid functions in a module of ``services/`` (re-exported by
``services/__init__.py``) and add one ``Service`` to ``SERVICES`` below (in start order; ``down`` stops
in reverse order).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from include.local_stack import services


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its state and which ports it uses, from env.sh's environment."""

    env: dict[str, str]

    @classmethod
    def from_environment(cls) -> StackConfig:
        """Source env.sh on top of os.environ (so its defaults apply to what is unset)."""
        return cls(env=services.load_env())

    @property
    def state_dir(self) -> Path:
        return Path(self.env["AIRLAKE_STATE"])

    def port(self, variable: str) -> int:
        """Return the port in ``variable``, with a clear error when it is not a number."""
        value = self.env.get(variable, "")
        try:
            return int(value)
        except ValueError as exc:
            raise services.StackError(f"{variable} must be a port number, not {value!r}") from exc

    @cached_property
    def moto_port(self) -> int:
        return self.port(services.MOTO_PORT_VAR)

    @cached_property
    def pg_port(self) -> int:
        return self.port(services.PG_PORT_VAR)

    @cached_property
    def fx_api_port(self) -> int:
        return self.port(services.FX_API_PORT_VAR)

    @cached_property
    def airflow_port(self) -> int:
        return self.port(services.AIRFLOW_PORT_VAR)


@dataclass(frozen=True)
class Service:
    """One service of the stack: start it (returns a line to print), stop it, find its pid, show where."""

    name: str
    start: Callable[[StackConfig], str]
    stop: Callable[[StackConfig], bool]
    pid: Callable[[StackConfig], int | None]
    address: Callable[[StackConfig], str]


def _start_moto(cfg: StackConfig) -> str:
    pid = services.start_moto(port=cfg.moto_port, state_dir=cfg.state_dir)
    return f"http://127.0.0.1:{cfg.moto_port} (pid {pid}; S3, Glue, ... state lives in memory)"


def _start_postgres(cfg: StackConfig) -> str:
    dsn = services.start_postgres(port=cfg.pg_port, state_dir=cfg.state_dir)
    return f"{dsn} databases warehouse, shop, airflow (pid {services.postgres_pid(state_dir=cfg.state_dir)})"


def _start_fx_api(cfg: StackConfig) -> str:
    pid = services.start_fx_api(port=cfg.fx_api_port, state_dir=cfg.state_dir)
    return f"http://127.0.0.1:{cfg.fx_api_port}/rates (pid {pid}; the fx_rates source)"


def _start_airflow(cfg: StackConfig) -> str:
    pid = services.start_airflow(port=cfg.airflow_port, state_dir=cfg.state_dir, env=cfg.env)
    user, password = services.airflow_login(cfg.state_dir)
    return f"http://127.0.0.1:{cfg.airflow_port} login {user} / {password} (pid {pid})"


def _airflow_address(cfg: StackConfig) -> str:
    address = f"http://127.0.0.1:{cfg.airflow_port}"
    try:
        user, password = services.airflow_login(cfg.state_dir)
    except services.StackError:
        return address
    return f"{address} login {user} / {password}"


SERVICES: tuple[Service, ...] = (
    Service(
        name="moto",
        start=_start_moto,
        stop=lambda cfg: services.stop_moto(state_dir=cfg.state_dir),
        pid=lambda cfg: services.moto_pid(state_dir=cfg.state_dir),
        address=lambda cfg: f"http://127.0.0.1:{cfg.moto_port}",
    ),
    Service(
        name="postgres",
        start=_start_postgres,
        stop=lambda cfg: services.stop_postgres(state_dir=cfg.state_dir),
        pid=lambda cfg: services.postgres_pid(state_dir=cfg.state_dir),
        address=lambda cfg: f"postgresql://airlake@127.0.0.1:{cfg.pg_port}",
    ),
    Service(
        name="fx-api",
        start=_start_fx_api,
        stop=lambda cfg: services.stop_fx_api(state_dir=cfg.state_dir),
        pid=lambda cfg: services.fx_api_pid(state_dir=cfg.state_dir),
        address=lambda cfg: f"http://127.0.0.1:{cfg.fx_api_port}/rates",
    ),
    Service(
        name="airflow",
        start=_start_airflow,
        stop=lambda cfg: services.stop_airflow(state_dir=cfg.state_dir),
        pid=lambda cfg: services.airflow_pid(state_dir=cfg.state_dir),
        address=_airflow_address,
    ),
)


def _select(only: str | None) -> list[Service]:
    """Return the services named in ``only`` (comma separated), in stack order; all when None."""
    if not only:
        return list(SERVICES)
    names = {name.strip() for name in only.split(",") if name.strip()}
    known = {service.name for service in SERVICES}
    unknown = names - known
    if unknown:
        raise services.StackError(
            f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(sorted(known))}"
        )
    return [service for service in SERVICES if service.name in names]


def up(cfg: StackConfig, selected: Sequence[Service]) -> None:
    """Start ``selected`` in order and print one line each."""
    for service in selected:
        already = service.pid(cfg) is not None
        line = service.start(cfg)
        print(f"{service.name:<9} {'running' if already else 'started'}  {line}", flush=True)
    print(f"state in {cfg.state_dir} (logs in {cfg.state_dir / 'logs'})")


def down(cfg: StackConfig, selected: Sequence[Service]) -> None:
    """Stop ``selected`` in reverse order and print one line each."""
    for service in reversed(selected):
        stopped = service.stop(cfg)
        print(f"{service.name:<9} {'stopped' if stopped else 'was not running'}", flush=True)


def status(cfg: StackConfig, selected: Sequence[Service]) -> bool:
    """Print each service up or down; return True when all of them are up."""
    all_up = True
    for service in selected:
        pid = service.pid(cfg)
        all_up &= pid is not None
        state = f"up    {service.address(cfg)} (pid {pid})" if pid is not None else "down"
        print(f"{service.name:<9} {state}")
    return all_up


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (1 with the message of a StackError)."""
    parser = argparse.ArgumentParser(
        prog="python -m include.local_stack.stack",
        description="Start, stop or show the local stack (moto, PostgreSQL, Airflow standalone).",
    )
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument(
        "--only",
        metavar="NAMES",
        help=f"comma-separated subset of: {', '.join(s.name for s in SERVICES)}",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        selected = _select(args.only)
        cfg = StackConfig.from_environment()
        if args.command == "up":
            up(cfg, selected)
        elif args.command == "down":
            down(cfg, selected)
        else:
            status(cfg, selected)
    except services.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
