"""Every Python and shell example of the README and the package READMEs runs, as written, against the test stack.

A fenced ``python``/``bash``/``sh``/``shell`` block is run unless the line before its fence says why it is not
(``<!-- example: not run: <reason> -->``: it starts the whole stack, needs Docker or a real AWS account, runs
for minutes). Python runs with the repository's interpreter, shell with bash, both from the repository root
and with the session's environment (moto and PostgreSQL as ``aws_default`` and the warehouse). A Python line
``print(...)  # <expected>`` also checks that ``<expected>`` is printed, in order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = {"python": "python", "py": "python", "bash": "shell", "sh": "shell", "shell": "shell"}
NOT_RUN = re.compile(r"^<!--\s*example:\s*not run:\s*(?P<reason>\S.*?)\s*-->$")
FENCE = re.compile(r"^```(?P<info>[^`]*)$")
EXPECTED = re.compile(r"^\s*print\(.*\)\s+#\s*(?P<expected>\S.*)$")


@dataclass(frozen=True)
class Example:
    path: str
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def readmes() -> list[Path]:
    """The README and every README.md of a package or tool folder tracked beside the code."""
    found = [ROOT / "README.md", *sorted((ROOT / "plugins").rglob("README.md")), ROOT / "bench" / "README.md"]
    return [path for path in found if path.is_file()]


def examples(path: Path, root: Path = ROOT) -> list[Example]:
    """The fenced Python and shell blocks of one Markdown file, with the opt-out reason when there is one."""
    lines = path.read_text().splitlines()
    found: list[Example] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index].strip())
        if not fence:
            index += 1
            continue
        language = fence["info"].strip().split(" ")[0].lower()
        end = next((n for n in range(index + 1, len(lines)) if lines[n].strip() == "```"), None)
        if end is None:
            raise AssertionError(f"{path}:{index + 1}: a fenced block is never closed")
        if language in LANGUAGES:
            before = lines[index - 1].strip() if index else ""
            marker = NOT_RUN.match(before)
            found.append(
                Example(
                    path=path.relative_to(root).as_posix(),
                    line=index + 1,
                    language=LANGUAGES[language],
                    code="\n".join(lines[index + 1 : end]) + "\n",
                    not_run=marker["reason"] if marker else None,
                )
            )
        index = end + 1
    return found


ALL = [example for path in readmes() for example in examples(path)]
RUN = [example for example in ALL if example.not_run is None]


def test_the_readmes_have_examples_to_run() -> None:
    assert any(e.path == "README.md" and e.language == "python" for e in RUN)
    assert any(e.language == "shell" for e in RUN)


def test_an_example_that_is_not_run_says_why() -> None:
    for example in ALL:
        if example.not_run is not None:
            assert len(example.not_run) >= 10, f"{example.id}: give the reason it is not run"


def test_the_extractor_finds_markers_and_languages(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "text\n```python\nprint(1)  # 1\n```\n<!-- example: not run: needs Docker running -->\n"
        "```bash\ndocker ps\n```\n```\nnot code\n```\n"
    )
    found = examples(readme, root=tmp_path)
    assert [(e.line, e.language, e.not_run) for e in found] == [
        (2, "python", None),
        (6, "shell", "needs Docker running"),
    ]


@pytest.mark.parametrize("example", RUN, ids=[example.id for example in RUN])
def test_example_runs_as_written(example: Example, local_services, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    if example.language == "python":
        command = [sys.executable, "-c", example.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", example.code]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, (
        f"{example.id}: the {example.language} example fails (exit {done.returncode}):\n"
        f"{example.code}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    output = done.stdout
    for line in example.code.splitlines():
        expected = EXPECTED.match(line)
        if expected:
            at = output.find(expected["expected"])
            assert at >= 0, f"{example.id}: expected {expected['expected']!r} in the output:\n{done.stdout}"
            output = output[at + len(expected["expected"]) :]
