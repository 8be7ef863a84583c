r"""Values every output can hold: no NaN/Infinity, no lone surrogates.

Input fields carry values a report file cannot: a CSV or Parquet column read as a float
holds ``NaN`` or ``Infinity`` (``json.dumps`` would write them as bare tokens that strict
JSON parsers reject), and a JSON Lines ``"\\ud83d"`` escape or an undecodable byte gives a
lone surrogate (which UTF-8, Arrow and the JVM cannot encode; Spark silently turns it into
``?``). Every writer, and the Spark engine, passes its values through :func:`clean_value`
so that all outputs agree:

* a non-finite float becomes ``null`` (an empty CSV cell): the value is missing, not a number;
* a lone surrogate becomes U+FFFD (the Unicode replacement character).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REPLACEMENT", "clean_text", "clean_value"]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a paired one cannot occur in str)."""
    return _SURROGATE.sub(REPLACEMENT, text) if _SURROGATE.search(text) else text


def clean_value(value: Any) -> Any:
    """``value`` (nested dicts, lists, tuples) with non-finite floats as None and clean strings."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {
            clean_text(k) if isinstance(k, str) else k: clean_value(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [clean_value(v) for v in value]
    return value
