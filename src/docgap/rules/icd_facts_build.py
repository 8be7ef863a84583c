"""Build ``icd_facts.json``: the few ICD-10-CM facts docgap reads, taken from simple-icd-10-cm.

Importing simple-icd-10-cm parses its whole tabular list (3-4 s per process); docgap needs
a few dozen codes. This builder, run when the package or the pack changes, writes them to
a small plain-JSON file that a scan reads in milliseconds::

    python -m docgap.rules.icd_facts_build            # rewrite src/docgap/rules/icd_facts.json
    python -m docgap.rules.icd_facts_build --check    # exit 1 if the shipped file is stale

Which codes: the pack's own code and its ``alternatives`` (``lexicons/packs/m53.0/pack.yml``)
and the whole of the families whose codes the decision completes or names with a dash
(:data:`FAMILIES`: M50.1- disc disorder with radiculopathy, whose inclusion terms give the
code of a disc level; M50.3- disc degeneration; M99.0- segmental dysfunction). Which facts:
exactly those :mod:`docgap.rules.codes` exposes (description, leaf or not, inclusion terms,
excludes1/excludes2 notes) and the descendants of each code, for the level lookup. A code
is valid if and only if it is in the file. The simple-icd-10-cm version is recorded; the
test ``tests/unit/test_icd_facts.py`` fails when the shipped file is not a fresh build.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

__all__ = ["FAMILIES", "FORMAT", "OUTPUT", "build_facts", "dumps", "pack_codes"]

FORMAT = "docgap-icd-facts"
FAMILIES = ("M50.1", "M50.3", "M99.0")
OUTPUT = Path(__file__).with_name("icd_facts.json")
PACK = ("packs", "m53.0", "pack.yml")


def pack_codes(pack_file: Path | None = None) -> list[str]:
    """The code, the ``alternatives`` and the role ``codes`` the pack file names (no dashes).

    The pack seam moved the decision's codes into ``codes:`` (by role); reading only
    ``alternatives`` made a fresh build lose them (the lexicon loader checks each).
    """
    import yaml

    if pack_file is None:
        from docgap.resources import lexicon_dir

        pack_file = lexicon_dir().joinpath(*PACK)
    data = yaml.safe_load(pack_file.read_text(encoding="utf-8"))
    codes = [
        str(data["code"]),
        *(str(c) for c in data.get("alternatives") or ()),
        *(str(c) for c in (data.get("codes") or {}).values()),
    ]
    return [code.rstrip("-") for code in codes]


def build_facts(codes: Iterable[str], families: Iterable[str] = FAMILIES) -> dict[str, Any]:
    """The facts file's content for ``codes`` plus every code of ``families``."""
    with warnings.catch_warnings():
        # simple-icd-10-cm imports pkg_resources, which warns on recent setuptools.
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as cm

    families = list(families)
    wanted = set(codes)
    for family in families:
        wanted.add(family)
        wanted.update(cm.get_descendants(family))
    unknown = sorted(code for code in wanted if not cm.is_valid_item(code))
    if unknown:
        raise ValueError(f"not ICD-10-CM codes: {', '.join(unknown)}")
    facts = {
        code: {
            "description": cm.get_description(code),
            "leaf": bool(cm.is_leaf(code)),
            "inclusion_terms": list(cm.get_inclusion_term(code)),
            "excludes1": list(cm.get_excludes1(code)),
            "excludes2": list(cm.get_excludes2(code)),
            "descendants": list(cm.get_descendants(code)),
        }
        for code in sorted(wanted)
    }
    return {
        "format": FORMAT,
        "format_version": 1,
        "source": {"package": "simple-icd-10-cm", "version": version("simple-icd-10-cm")},
        "families": families,
        "codes": facts,
    }


def dumps(facts: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, one item a line, so a rebuild diffs cleanly."""
    return json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) the facts file; the exit code says whether it was fresh."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = dumps(build_facts(pack_codes()))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is stale: run python -m docgap.rules.icd_facts_build",
                  file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
