"""The ``docgap`` command line: one module per command over the library; no NLP here.

Importing this package registers every command on :data:`docgap.cli.base.app`. Heavy
libraries (spaCy, medspaCy, scikit-learn, pandas) are imported inside the commands that need
them, so ``docgap --help`` starts in well under a second.
"""

from docgap.cli import (
    check,
    compare,
    db,
    evaluate,
    mllp,
    report,
    scan,
    serve,
    stats,
    train,
    worklist,
)
from docgap.cli.base import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNUSABLE,
    app,
)

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "app",
    "main",
]

# Registered for their side effect (each adds its command to ``app``), in help order.
_COMMANDS = (scan, check, worklist, report, evaluate, compare, stats, train, serve, mllp, db)


def main() -> None:
    """Entry point of the ``docgap`` script."""
    app(prog_name="docgap")
