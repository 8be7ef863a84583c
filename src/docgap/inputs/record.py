"""The input record every reader yields: a note's id, its text or why it has none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["NoteInput"]


@dataclass
class NoteInput:
    """One input record: its id, and its text or the reason it has none."""

    note_id: str
    text: str | None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
