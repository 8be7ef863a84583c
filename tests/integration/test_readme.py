"""The README works as written (issue 15: its Python example failed with ``NameError``).

- Every ```python block runs, in a fresh namespace, in a temporary folder. A block whose
  first line is ``# readme: skip - <reason>`` (Spark, a cluster, a server) is skipped with
  that reason, so a skip is visible in the test report, never silent.
- Every ``docgap`` command line in a ```sh or ```bash block names a real command, whose
  ``--help`` exits 0, and only options that command's help lists.
- The README opens with ``make run`` and ``make test``, and ``make run`` installs docgap
  without the dev and Spark extras while ``make test`` installs them.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docgap.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"^# readme: skip - (.+)$")
COMMAND = re.compile(r"^(?:\.venv/bin/)?docgap(?:\s|$)")


def _blocks(*languages: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [
        (text[: m.start()].count("\n") + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) in languages
    ]


def _python_params() -> list[object]:
    params = []
    for line, code in _blocks("python"):
        first = code.splitlines()[0] if code.strip() else ""
        skip = SKIP.match(first)
        marks = [pytest.mark.skip(reason=f"README line {line}: {skip.group(1)}")] if skip else []
        params.append(pytest.param(code, id=f"line-{line}", marks=marks))
    return params


@pytest.mark.parametrize("code", _python_params())
def test_python_block_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           analyzer: object) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_python_blocks_exist_and_most_run() -> None:
    params = _python_params()
    runnable = [p for p in params if not p.marks]  # type: ignore[attr-defined]
    assert len(runnable) >= 2, "the API and pandas examples must be run, not skipped"


def _command_lines() -> list[tuple[int, list[str]]]:
    found = []
    for start, block in _blocks("sh", "bash"):
        joined = re.sub(r"\\\n\s*", " ", block)
        for offset, raw in enumerate(joined.splitlines()):
            line = raw.split(" #", 1)[0].split("|", 1)[0].strip()
            if COMMAND.match(line):
                words = shlex.split(line)
                found.append((start + offset + 1, words[1:]))
    return found


def _help(words: list[str]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"docgap {' '.join(words)} --help: {result.output}"
    return result.output


def _command_of(args: list[str]) -> list[str]:
    """The (sub)command words: ``scan``, ``model evaluate``, ``db upgrade``, or [] for the root."""
    if not args or args[0].startswith("-"):
        return []
    groups = {"model", "db", "users"}  # command groups: their second word is the command
    return args[:2] if args[0] in groups and len(args) > 1 else args[:1]


@pytest.mark.parametrize(("line", "args"), _command_lines(),
                         ids=lambda v: f"line-{v}" if isinstance(v, int) else "")
def test_shell_command_and_options_exist(line: int, args: list[str]) -> None:
    command = _command_of(args)
    text = _help(command)
    for word in args:
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"README line {line}: docgap {' '.join(command)} has no {option}"
            )


def test_shell_blocks_name_the_main_commands() -> None:
    named = {" ".join(_command_of(args)) for _, args in _command_lines()}
    assert {"scan", "worklist", "report", "check", "evaluate", "compare", "stats",
            "serve", "train"} <= named


def test_readme_opens_with_make_run_and_make_test() -> None:
    _, first = _blocks("sh", "bash", "python", "")[0]
    commands = [line.split("#", 1)[0].strip() for line in first.splitlines()]
    assert commands[:2] == ["make run", "make test"]
    text = README.read_text(encoding="utf-8")
    assert "about 4 s" not in text
    assert "NameError" not in text


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("target", "extras"), [("run", False), ("test", True)])
def test_make_installs_extras_only_for_tests(target: str, extras: bool, tmp_path: Path) -> None:
    """``make -n`` from a fresh venv path: what each target would install."""
    venv = tmp_path / "venv"
    dry = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    installs = [line for line in dry.splitlines() if "pip install -c constraints.txt" in line]
    assert installs, dry
    assert any(".[dev,spark]" in line for line in installs) is extras
    if not extras:
        assert all(line.rstrip().endswith("-e .") for line in installs), installs
