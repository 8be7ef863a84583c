"""The web worklist (issue 16): :func:`worklist_router` for ``docgap serve --db URL``."""

from docgap.web.router import worklist_router

__all__ = ["worklist_router"]
