"""Command line: validate contracts and keep the committed JSON Schema in step.

PYTHONPATH=plugins python -m airlake.contracts check [FOLDER]
PYTHONPATH=plugins python -m airlake.contracts schema --write   # or --check (CI)
"""

from __future__ import annotations

import argparse
import sys

from airlake.contracts.loader import (
    JSON_SCHEMA_PATH,
    contracts_dir,
    display_path,
    render_json_schema,
    scan_contracts,
    write_json_schema,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airlake.contracts", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate every contract of a folder")
    check.add_argument("folder", nargs="?", help="default: $AIRLAKE_CONTRACTS_DIR or include/contracts")
    schema = commands.add_parser("schema", help=f"print, write or check {display_path(JSON_SCHEMA_PATH)}")
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the committed schema file")
    mode.add_argument("--check", action="store_true", help="fail if the committed schema file is stale")
    args = parser.parse_args(argv)

    if args.command == "check":
        scan = scan_contracts(args.folder)
        for issue in scan.issues:
            print(issue, file=sys.stderr)
        folder = display_path(contracts_dir(args.folder))
        print(
            f"{len(scan.contracts)} valid contract(s) in {folder}: {', '.join(sorted(scan.contracts)) or '-'}"
        )
        return 1 if scan.issues else 0

    if args.write:
        print(f"wrote {display_path(write_json_schema())}")
        return 0
    if args.check:
        current = JSON_SCHEMA_PATH.read_text(encoding="utf-8") if JSON_SCHEMA_PATH.exists() else ""
        if current != render_json_schema():
            print(
                f"{display_path(JSON_SCHEMA_PATH)} is stale: run python -m airlake.contracts schema --write",
                file=sys.stderr,
            )
            return 1
        return 0
    sys.stdout.write(render_json_schema())
    return 0


if __name__ == "__main__":
    sys.exit(main())
