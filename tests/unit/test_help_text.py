"""Every command's ``--help`` reads as written for a user (issue 15).

Rendered through Typer's ``CliRunner`` exactly as a terminal shows it, each help page is
checked for the defects a newcomer met: rich markup swallowing ``[spark]``, Python type
names as placeholders, a pointer to a spec file users do not have, and ``scan``'s exit
codes copied onto commands they do not describe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docgap.cli import app

COMMANDS = [
    [],
    ["scan"],
    ["check"],
    ["worklist"],
    ["report"],
    ["evaluate"],
    ["compare"],
    ["stats"],
    ["train"],
    ["serve"],
    ["model", "evaluate"],
    ["model", "card"],
]
TYPE_NAME = re.compile(r"<(?:bool|str|int|float|path|file|list\[[^\]]*\])[^>]*>")
SCAN_ONLY = ("141 the output pipe was closed", "3 some records could not be analysed")


def _help(command: list[str]) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "docgap")
def test_help_has_no_type_names_and_no_missing_files(command: list[str]) -> None:
    text = _help(command)
    assert not TYPE_NAME.search(text), TYPE_NAME.search(text)
    assert "spec section" not in text
    assert "Usage: docgap" in text


@pytest.mark.parametrize("command", COMMANDS[3:], ids=lambda c: " ".join(c))
def test_scan_exit_codes_stay_on_scan(command: list[str]) -> None:
    text = _help(command)
    for phrase in SCAN_ONLY:
        assert phrase not in text


def test_scan_keeps_its_exit_codes_and_the_spark_extra() -> None:
    text = _help(["scan"])
    for phrase in SCAN_ONLY:
        assert phrase in re.sub(r"\s+", " ", text)
    assert "'docgap[spark]'" in re.sub(r"\s+", "", text).replace("install", "install ")


def test_placeholders_say_what_a_value_is() -> None:
    text = _help(["scan"])
    assert "--format [jsonl|csv|parquet|html]" in text
    assert "--workers N" in text
    assert re.search(r"--quiet\s+No progress", text)  # a flag takes no value
    assert "{GOLD}" in _help(["evaluate"])
    assert "REPORT" in _help(["worklist"])


def test_evaluate_describes_the_gold_format() -> None:
    text = re.sub(r"\s+", " ", _help(["evaluate"]))
    assert '"gold": {"elements"' in text
    assert "Evaluate docgap on your own notes" in text
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "### Evaluate docgap on your own notes" in readme
