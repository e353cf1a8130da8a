"""Command line of the bench suite (see bench/README.md).

python -m bench run [--sizes 1M,4M,16M] [--stages curate,ingest,emulator,views,load,parse] [--quick]
python -m bench profile --stages curate --sizes 1M --formats csv --engines airlake
python -m bench report bench/results/<date>-results.json [--analysis notes.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import ROOT

if str(ROOT / "plugins") not in sys.path:  # the project's package, as tests and the DAG processor see it
    sys.path.insert(0, str(ROOT / "plugins"))

from bench import generate

RESULTS_DIR = ROOT / "bench" / "results"
QUICK_FORMATS = ("csv",)
QUICK_CONTRACTS = (1, 10)


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _stage_sizes(values: list[str]) -> dict[str, tuple[int, ...]]:
    from bench.runner import parse_rows

    found: dict[str, tuple[int, ...]] = {}
    for value in values:
        stage, _, sizes = value.partition("=")
        if not sizes:
            raise argparse.ArgumentTypeError(f"--stage-sizes takes stage=size[,size...], not {value!r}")
        found[stage.strip()] = tuple(parse_rows(s) for s in _list(sizes))
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "generate inputs, measure the stages and write the results (Markdown + JSON)"),
        ("profile", "run the selected measurements once under cProfile and write the top functions"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--sizes", help="rows per input, e.g. 1M,4M,16M (default 1M,4M; --quick: 100k)")
        sub.add_argument(
            "--stage-sizes",
            action="append",
            default=[],
            metavar="STAGE=SIZES",
            help="sizes for one stage, e.g. curate=1M,4M,16M (repeatable; overrides --sizes for it)",
        )
        sub.add_argument("--stages", help="comma-separated, default: curate,ingest,emulator,views,load,parse")
        sub.add_argument("--formats", help="input formats of curate/ingest/emulator: csv,csv.gz,jsonl")
        sub.add_argument("--contracts", help="contract counts of the parse stage (default 1,10,100)")
        sub.add_argument("--engines", help="only these engines (e.g. airlake,duckdb)")
        sub.add_argument("--dag-files", help="parse only these DAG files (names in dags/)")
        sub.add_argument(
            "--repeat", type=int, help="runs per measurement (default 2; --quick and profile: 1)"
        )
        sub.add_argument(
            "--quick",
            action="store_true",
            help="CI smoke run (< 3 min): 100k rows, CSV, 1 and 10 contracts, 1 run",
        )
        sub.add_argument(
            "--work-dir",
            type=Path,
            help="inputs and scratch (default: $TMPDIR/airlake-bench; inputs are reused)",
        )
        sub.add_argument("--out", type=Path, help="results file stem (default bench/results/<date>-results)")
        sub.add_argument("--append", action="store_true", help="merge into the results at --out if present")
        sub.add_argument("--analysis", type=Path, help="Markdown appended to the results (the analysis)")
        sub.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    report = commands.add_parser("report", help="render the Markdown of a results JSON again")
    report.add_argument("results", type=Path)
    report.add_argument("--analysis", type=Path, help="Markdown appended to the results (the analysis)")
    return parser


def _options(args: argparse.Namespace, *, profile: bool) -> object:
    from bench.runner import DEFAULT_CONTRACTS, DEFAULT_SIZES, QUICK_ROWS, STAGES, Options, parse_rows

    sizes = tuple(parse_rows(s) for s in _list(args.sizes)) if args.sizes else None
    options = Options(
        sizes=sizes or ((QUICK_ROWS,) if args.quick else DEFAULT_SIZES),
        stages=_list(args.stages) if args.stages else STAGES,
        formats=_list(args.formats) if args.formats else (QUICK_FORMATS if args.quick else generate.FORMATS),
        contracts=tuple(int(c) for c in _list(args.contracts))
        if args.contracts
        else (QUICK_CONTRACTS if args.quick else DEFAULT_CONTRACTS),
        repeat=args.repeat or (1 if profile or args.quick else 2),
        engines=_list(args.engines) if args.engines else None,
        stage_sizes=_stage_sizes(args.stage_sizes),
        seed=args.seed,
        quick=args.quick,
        dag_files=_list(args.dag_files) if args.dag_files else None,
    )
    if args.work_dir:
        options.work_dir = args.work_dir
    unknown = set(options.stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stage(s) {sorted(unknown)}; stages: {', '.join(STAGES)}")
    unknown = set(options.formats) - set(generate.FORMATS)
    if unknown:
        raise SystemExit(f"unknown format(s) {sorted(unknown)}; formats: {', '.join(generate.FORMATS)}")
    return options


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from bench import report

    analysis = args.analysis.read_text() if getattr(args, "analysis", None) else None
    if args.command == "report":
        results = json.loads(args.results.read_text())
        json_path, md_path = report.write(results, args.results.with_suffix(""), analysis)
        print(md_path)
        return 0

    from bench.runner import Bench

    profile = args.command == "profile"
    options = _options(args, profile=profile)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if profile:
        options.profile_dir = RESULTS_DIR / "profiles"  # type: ignore[attr-defined]
    default = RESULTS_DIR / ("quick" if args.quick else "") / f"{today}-{'profile' if profile else 'results'}"
    stem: Path = args.out or default
    started = time.monotonic()
    bench = Bench(options)  # type: ignore[arg-type]
    results = bench.run()
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    if args.append and stem.with_suffix(".json").exists():
        results = report.merge(json.loads(stem.with_suffix(".json").read_text()), results)
    json_path, md_path = report.write(results, stem, analysis)
    failed = [m for m in results["measurements"] if m.get("error") or m.get("check") not in ("ok", "", None)]
    print(f"results: {md_path} and {json_path} ({results['elapsed_seconds']:.0f} s)")
    for m in failed:
        print(f"  problem: {m['stage']}/{m['engine']} {m['case']}: {m.get('error') or m.get('check')}")
    if profile:
        print(f"profiles: {RESULTS_DIR / 'profiles'}")
    return 1 if any(m.get("error") for m in failed) else 0


if __name__ == "__main__":
    sys.exit(main())
