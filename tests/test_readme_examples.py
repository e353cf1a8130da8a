"""Every Python and shell example of the README and the package READMEs runs, as written, against the test stack.

A fenced ``python``/``bash``/``sh``/``shell`` block is run unless the line before its fence says why it is not
(``<!-- example: not run: <reason> -->``), and the blocks allowed to say so are listed here, command by
command, in :data:`NOT_RUN_EXAMPLES` (those that start the whole stack, run the demo, the whole suite or the
benchmarks, or need Docker or a real AWS account): a new example, or a new command in a listed one, is run
or fails this test. Python runs with the repository's interpreter, shell with bash, both from the repository
root with the session's environment (moto and PostgreSQL as ``aws_default`` and the warehouse); shell gets a
stack state folder of its own (``AIRLAKE_STATE``), so ``make down`` and friends never touch a developer's
running stack. A Python line ``print(...)  # <expected>`` also checks that ``<expected>`` is printed, in order.

The README's Layout block is checked against the tree: every path it names exists, and it names every
top-level folder, every folder of ``include/`` and every package and module of ``plugins/airlake/``.
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
TRAILING_COMMENT = re.compile(r"\s+#(\s.*)?$")
README_FOLDERS = ("plugins", "include", "dags", "bench")
"""Folders whose README.md files are package or tool READMEs (the top-level README.md besides)."""

NOT_RUN_EXAMPLES: dict[tuple[str, tuple[str, ...]], str] = {
    ("README.md", ("make demo", "make test")): "the demo starts the whole stack; make test runs the whole "
    "suite, this test included",
    (
        "README.md",
        (
            "docker build --target deploy --build-arg AIRLAKE_CODE_REVISION=$(git rev-parse --short HEAD) "
            "-t airlake:rev .",
        ),
    ): "needs a Docker daemon and pulls the official Airflow image",
    (
        "README.md",
        (
            "aws athena update-work-group --work-group airlake --configuration-updates BytesScannedCutoffPerQuery=10000000000",
        ),
    ): "moto has no UpdateWorkGroup; it is for a real AWS account",
    ("README.md", ("make bench", 'make bench BENCH_ARGS="--quick"')): "minutes to an hour of benchmarks",
    (
        "bench/README.md",
        (
            ".venv/bin/python -m bench run",
            ".venv/bin/python -m bench run --sizes 1M,4M --out bench/results/<date>-results",
            ".venv/bin/python -m bench run --sizes 16M --stages curate --out bench/results/<date>-results --append",
            ".venv/bin/python -m bench run --quick",
            ".venv/bin/python -m bench profile --stages curate --sizes 1M --formats csv --engines airlake",
            ".venv/bin/python -m bench report bench/results/<date>-results.json --analysis notes.md",
        ),
    ): "minutes to an hour of benchmarks (and placeholders for a results file)",
}
"""The examples that are not run: (README, its commands without comments) -> why, in this test's words."""


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

    @property
    def commands(self) -> tuple[str, ...]:
        """The example's commands: continued lines joined, blank lines and ``#`` comments left out."""
        joined = re.sub(r"\\\n\s*", "", self.code)
        lines = (TRAILING_COMMENT.sub("", line).strip() for line in joined.splitlines())
        return tuple(line for line in lines if line and not line.startswith("#"))


def readmes(root: Path = ROOT) -> list[Path]:
    """The README and every README.md of a package or tool folder beside the code."""
    found = [root / "README.md"]
    for folder in README_FOLDERS:
        found.extend(
            path
            for path in sorted((root / folder).rglob("README.md"))
            if not any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(root).parts)
        )
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
    assert any(e.path == "README.md" and e.language == "shell" for e in RUN)
    assert any(e.path.startswith("plugins/") for e in RUN)


def test_only_the_listed_examples_are_not_run() -> None:
    """A marker alone does not skip an example: the skip is listed here too, with every command."""
    not_run = {(e.path, e.commands): e for e in ALL if e.not_run is not None}
    assert sorted(not_run) == sorted(NOT_RUN_EXAMPLES), (
        "not run but not listed: "
        + ", ".join(not_run[key].id for key in set(not_run) - set(NOT_RUN_EXAMPLES))
        + "; listed but run or gone: "
        + "; ".join(f"{path}: {commands}" for path, commands in set(NOT_RUN_EXAMPLES) - set(not_run))
    )
    for example in not_run.values():
        assert len(example.not_run or "") >= 10, f"{example.id}: give the reason it is not run"


def test_the_extractor_finds_markers_languages_and_commands(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "text\n```python\nprint(1)  # 1\n```\n<!-- example: not run: needs Docker running -->\n"
        "```bash\n# list them\ndocker ps   # the containers\n\naws s3 ls \\\n  s3://b\n```\n```\nnot code\n```\n"
    )
    found = examples(readme, root=tmp_path)
    assert [(e.line, e.language, e.not_run) for e in found] == [
        (2, "python", None),
        (6, "shell", "needs Docker running"),
    ]
    assert found[1].commands == ("docker ps", "aws s3 ls s3://b")


def test_the_package_readmes_are_found(tmp_path: Path) -> None:
    for relative in (
        "README.md",
        "plugins/pkg/README.md",
        "include/tool/README.md",
        "plugins/.hidden/README.md",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("# x\n")
    assert [p.relative_to(tmp_path).as_posix() for p in readmes(tmp_path)] == [
        "README.md",
        "plugins/pkg/README.md",
        "include/tool/README.md",
    ]


@pytest.mark.parametrize("example", RUN, ids=[example.id for example in RUN])
def test_example_runs_as_written(example: Example, local_services, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    if example.language == "python":
        command = [sys.executable, "-c", example.code]
    else:
        env["AIRLAKE_STATE"] = str(tmp_path / "stack")
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


CITED_NAME = re.compile(r"(?<![\w.])airlake(?:\.\w+)+")


def resolves(name: str) -> bool:
    """Whether a dotted ``airlake.`` name is a module, or an attribute of one."""
    import importlib

    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def test_the_airlake_names_the_docs_cite_exist() -> None:
    """``airlake.x.y`` in a README or in pyproject.toml names a module or an attribute that is there."""
    cited = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in [*readmes(), ROOT / "pyproject.toml"]
        for name in CITED_NAME.findall(path.read_text())
    }
    assert any(path == "pyproject.toml" for path, _name in cited)
    assert sorted(f"{path}: {name}" for path, name in cited if not resolves(name)) == []


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*$", re.MULTILINE)


def slug(title: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a Markdown file whose file or heading is not there."""
    text = path.read_text()
    broken = []
    for match in LINK.finditer(text):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part) if file_part else path
        if not linked.exists() or (
            anchor
            and linked.suffix == ".md"
            and anchor not in {slug(t) for t in HEADING.findall(linked.read_text())}
        ):
            broken.append(target)
    return broken


@pytest.mark.parametrize("readme", readmes(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_the_readmes_links_lead_somewhere(readme: Path) -> None:
    assert broken_links(readme) == []


def test_the_link_check_finds_a_missing_file_or_heading(tmp_path: Path) -> None:
    (tmp_path / "lake.py").write_text("")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Top\n## Failed runs, reruns and recovery\n[a](lake.py) [b](gone.py) [c](#failed-runs-reruns-and-recovery)"
        " [d](#nowhere) [e](https://example.org/x)\n"
    )
    assert broken_links(readme, tmp_path) == ["gone.py", "#nowhere"]


# -- the Layout section -------------------------------------------------------------------------------

LAYOUT_ENTRY = re.compile(r"^(?P<indent> *)(?P<path>[\w.-]+(?:/[\w.-]+)*/?)(?:\s{2,}(?P<about>.*))?$")
NAMED = re.compile(
    r"(?<![\w/.])(?P<path>[\w-]+(?:[./][\w-]+)*\.(?:py|md|sh|sql|yaml|json|html)\b|[\w-]+(?:/[\w-]+)*/(?!\w))"
)
"""A file (``name.py``, ``a/b.sql``...) or a folder (``sources/``) named in an entry's description."""


def layout(readme: Path = ROOT / "README.md") -> dict[str, str]:
    """The README's Layout block as {path: what it says about it}; an indented entry is inside the one above."""
    text = readme.read_text()
    section = text.split("\n## Layout\n", 1)[1]
    block = section.split("```\n", 2)[1]
    entries: dict[str, str] = {}
    parents: list[tuple[int, str]] = []
    path, about_column = "", 0
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if path and about_column and indent >= about_column:  # the description goes on
            entries[path] += " " + line.strip()
            continue
        match = LAYOUT_ENTRY.match(line)
        assert match, f"Layout: not an entry: {line!r}"
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + match["path"]
        entries[path] = (match["about"] or "").strip()
        about_column = match.start("about") if match["about"] else 0
        if path.endswith("/"):
            parents.append((indent, path))
    return entries


def _children(folder: Path) -> set[str]:
    return {
        path.name + ("/" if path.is_dir() else "")
        for path in folder.iterdir()
        if not path.name.startswith((".", "__"))
    }


def unknown_in_layout(root: Path = ROOT) -> list[str]:
    """What the Layout block names that is not in the tree."""
    unknown = []
    for path, about in layout(root / "README.md").items():
        if not (root / path).exists():
            unknown.append(path)
            continue
        base = root / path if path.endswith("/") else (root / path).parent
        unknown.extend(
            f"{path}: {named['path']}"
            for named in NAMED.finditer(about)
            if not (base / named["path"]).exists() and not (root / named["path"]).exists()
        )
    return unknown


def missing_from_layout(root: Path = ROOT) -> list[str]:
    """The top-level folders, include/ folders and plugins/airlake packages and modules the block leaves out."""
    wanted = {name for name in _children(root) if name.endswith("/")}
    wanted |= {f"include/{name}" for name in _children(root / "include") if name.endswith("/")}
    wanted |= {f"plugins/{name}" for name in _children(root / "plugins")}
    package = root / "plugins" / "airlake"
    wanted |= {
        f"plugins/airlake/{name}"
        for name in _children(package)
        if name.endswith(".py") or (package / name / "__init__.py").exists()
    }
    return sorted(wanted - set(layout(root / "README.md")))


def test_the_layout_names_only_what_exists() -> None:
    assert unknown_in_layout() == []


def test_the_layout_names_every_folder_package_and_module() -> None:
    assert missing_from_layout() == []


def test_the_layout_check_finds_what_is_missing_or_gone(tmp_path: Path) -> None:
    for relative in (
        "plugins/airlake/lake.py",
        "plugins/airlake/catalog/__init__.py",
        "plugins/airlake/new.py",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    (tmp_path / "include" / "demo").mkdir(parents=True)
    (tmp_path / "README.md").write_text(
        "# x\n\n## Layout\n\ntext\n\n```\nplugins/     code\n  airlake/   the package\n"
        "    catalog/  Glue: partitions.py\n    lake.py   keys\n    gone.py   was split\n"
        "include/     run time\n```\n"
    )
    assert unknown_in_layout(tmp_path) == [
        "plugins/airlake/catalog/: partitions.py",
        "plugins/airlake/gone.py",
    ]
    assert missing_from_layout(tmp_path) == ["include/demo/", "plugins/airlake/new.py"]
