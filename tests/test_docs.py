"""Documentation that cannot drift: every `$ ledger ...` example in README.md and docs/*.md, and every
example in a command's --help, runs here on a fresh copy of the corpus; where the docs show output, the
output is compared."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from ledger.cli import COMMANDS, main

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NEVER_RETURNS = ("ledger serve",)  # a server runs until stopped: tests/test_serve.py starts and stops it


def console_examples(path: Path) -> list[tuple[str, str, str]]:
    """(where, command, shown output) for each `$ ledger` line in the console blocks of a Markdown file."""
    found, lines = [], path.read_text(encoding="utf-8").splitlines()
    in_block, index = False, 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and line.startswith("$ ledger"):
            start, command = index, line[2:]
            while command.endswith("\\"):
                index += 1
                command = command[:-1] + " " + lines[index].strip()
            output = []
            while index + 1 < len(lines) and not lines[index + 1].startswith(("$ ", "```")):
                index += 1
                output.append(lines[index])
            found.append((f"{path.name}:{start + 1}", command.split("  #")[0].strip(), "\n".join(output).strip()))
        index += 1
    return found


def help_examples() -> list[tuple[str, str]]:
    """(command name, example) for every example line under "Example(s):" in each command's --help."""
    found = []
    for name in sorted(COMMANDS):
        text = CliRunner().invoke(main, [name, "--help"], terminal_width=200).output
        after = text.split("Example", 1)[1] if "Example" in text else ""
        for line in after.splitlines()[1:]:
            stripped = line.strip()
            if stripped.startswith("ledger "):
                found.append((name, re.split(r"\s{2,}", stripped)[0]))
            elif stripped and not line.startswith("    "):
                break
    return found


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    """A folder holding the corpus as a fresh clone has it, and no ledger yet."""
    shutil.copytree(REPO / "events", tmp_path / "events")
    return tmp_path


def run(command: str, folder: Path) -> subprocess.CompletedProcess:
    ledger = [sys.executable, "-m", "ledger"]
    shell = command.replace("ledger ", " ".join(ledger) + " ", 1) if command.startswith("ledger ") else command
    shell = re.sub(r"\| ledger ", "| " + " ".join(ledger) + " ", shell)
    return subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=folder, capture_output=True, text=True, timeout=300)


def run_in_order(examples: list[tuple[str, str, str]], folder: Path) -> list[str]:
    """Run examples one after another in ``folder`` (later ones use what earlier ones made); the failures."""
    failures = []
    for where, command, shown in examples:
        if command.startswith(NEVER_RETURNS):
            continue
        result = run(command, folder)
        if result.returncode != 0 or "Traceback" in result.stderr:
            failures.append(f"{where}: {command}: exit {result.returncode}\n{result.stderr[-1500:]}")
        elif shown and result.stdout.strip() != shown:
            failures.append(f"{where}: {command}: printed\n{result.stdout}\ninstead of\n{shown}")
    return failures


@pytest.mark.parametrize("doc", DOCS, ids=[path.name for path in DOCS])
def test_every_documented_command_runs_and_prints_what_the_docs_show(doc, fresh_clone):
    """Examples of one page run in the order the page gives them, on a fresh clone of the corpus."""
    examples = console_examples(doc)
    if not examples:
        pytest.skip(f"{doc.name} shows no ledger command")
    assert run_in_order(examples, fresh_clone) == []


HELP_EXAMPLES = help_examples()
SETUP = [
    "ledger ingest events",
    "ledger keygen -o ledger-key",
    "ledger checkpoint -o checkpoint.json --key ledger-key",
    "ledger prove biden-agrees-counter-fire-shift -o proof.json",
]


def test_every_command_has_examples_in_its_help():
    with_examples = {name for name, _ in HELP_EXAMPLES}
    assert with_examples >= set(COMMANDS) - {"bench", "schema", "keygen"}


@pytest.mark.parametrize("name", sorted({name for name, _ in HELP_EXAMPLES}))
def test_every_help_example_runs(name, fresh_clone):
    """A command's examples run in order on an ingested corpus with a key and a checkpoint, as a user would have."""
    examples = [(name, example, "") for command, example in HELP_EXAMPLES if command == name]
    setup = [("setup", command, "") for command in (SETUP[:1] if name == "keygen" else SETUP)]
    assert run_in_order(setup, fresh_clone) == []
    assert run_in_order(examples, fresh_clone) == []


def python_examples(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_python_example_runs_on_a_fresh_clone(fresh_clone):
    for code in python_examples(REPO / "README.md"):
        result = subprocess.run([sys.executable, "-c", code], cwd=fresh_clone, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "'us-weapons-strikes-inside-russia': 'conditional'" in result.stdout
