"""What a pack's ``pack.yml`` declares (name, code, version, elements), read cheaply.

The writers, the Spark schema, the evaluation and the decision itself learn a pack's elements
from here without validating its rules, building a pipeline or loading the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docgap.resources import lexicon_dir
from docgap.rules.lexicon import DEFAULT_PACK, LexiconError, find_pack_dir, read_yaml

__all__ = ["PackInfo", "pack_info"]


@dataclass(frozen=True)
class PackInfo:
    """A pack's identity and elements, as its pack.yml declares them."""

    name: str
    code: str
    version: str
    elements: tuple[str, ...]


def pack_info(pack: str | Path = DEFAULT_PACK, lexicons: Path | None = None) -> PackInfo:
    """What pack.yml says of a pack, read without validating rules or building anything.

    ``pack`` is a registered name (looked up in ``lexicons``, the packaged rules by default)
    or a folder: a pack folder holding pack.yml, or a lexicon folder (its default pack).
    """
    if isinstance(pack, Path):
        pack_dir = pack if (pack / "pack.yml").is_file() else find_pack_dir(pack)
    else:
        pack_dir = find_pack_dir(lexicons or lexicon_dir(), pack)
    path = pack_dir / "pack.yml"
    data = read_yaml(path)
    try:
        return PackInfo(
            name=str(data["name"]),
            code=str(data["code"]),
            version=str(data["version"]),
            elements=tuple(data["elements"]),
        )
    except (KeyError, TypeError):
        raise LexiconError(f"{path}: needs name, code, version and elements") from None
