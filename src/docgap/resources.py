"""Where docgap finds the rule files and the model it ships.

An installed wheel carries them as package data (``docgap/lexicons``, ``docgap/models``);
a source checkout installed in editable mode reads the top-level folders that reviewers
edit. ``DOCGAP_LEXICONS`` / ``DOCGAP_MODELS`` point elsewhere, e.g. to a site's own rules.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["ResourceNotFoundError", "lexicon_dir", "model_dir"]


class ResourceNotFoundError(RuntimeError):
    """The packaged rules or model could not be located."""


def _locate(folder: str, env_var: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not path.is_dir():
            raise ResourceNotFoundError(f"{env_var}={override} is not a folder")
        return path
    packaged = Path(str(resources.files("docgap"))) / folder
    if packaged.is_dir():
        return packaged
    # Editable install from a source checkout: src/docgap -> repo root.
    source = Path(__file__).resolve().parents[2] / folder
    if source.is_dir():
        return source
    raise ResourceNotFoundError(
        f"docgap's {folder}/ folder was not found in the installed package; reinstall docgap"
    )


def lexicon_dir() -> Path:
    """The folder holding the reviewed rule files."""
    return _locate("lexicons", "DOCGAP_LEXICONS")


def model_dir() -> Path:
    """The folder holding the shipped model files."""
    return _locate("models", "DOCGAP_MODELS")
