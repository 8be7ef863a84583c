"""The query lifecycle as a state machine: which action leads from which state to which.

Pure data and one function, no database: the web forms, the CLI and the tests all ask
:func:`next_state`, so an impossible transition is refused in one place with one message.

    new -> in_review -> accepted | overridden | query_drafted
    query_drafted -> query_drafted (edit) | query_sent -> answered
    accepted | overridden | answered -> closed (with the final code)
    any open state -> cancelled (the document was withdrawn: HL7 MDM^T11)

``accept``, ``override`` and ``draft-query`` on a ``new`` item claim it first (the audit
log shows the claim as its own entry).
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "OPEN_STATES",
    "RESPONSES",
    "STATES",
    "TRANSITIONS",
    "TransitionError",
    "next_state",
]

STATES = (
    "new",
    "in_review",
    "accepted",
    "overridden",
    "query_drafted",
    "query_sent",
    "answered",
    "closed",
    "cancelled",
)

#: the states of the open worklist (``closed`` and ``cancelled`` are final)
OPEN_STATES = frozenset(STATES) - {"closed", "cancelled"}

RESPONSES = ("agree", "disagree", "undetermined")

#: action -> (states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "claim": (frozenset({"new"}), "in_review"),
    "accept": (frozenset({"in_review"}), "accepted"),
    "override": (frozenset({"in_review"}), "overridden"),
    "draft-query": (frozenset({"in_review", "query_drafted"}), "query_drafted"),
    "send-query": (frozenset({"query_drafted"}), "query_sent"),
    "answer": (frozenset({"query_sent"}), "answered"),
    "close": (frozenset({"accepted", "overridden", "answered"}), "closed"),
    "cancel": (OPEN_STATES, "cancelled"),
}

ACTIONS = tuple(TRANSITIONS)

#: actions that claim a ``new`` item on the way
CLAIMS_FIRST = frozenset({"accept", "override", "draft-query"})


class TransitionError(ValueError):
    """An action that the item's state does not allow, or that lacks what it needs."""


def next_state(state: str, action: str) -> str:
    """The state ``action`` leads to from ``state``; :class:`TransitionError` if impossible."""
    if action not in TRANSITIONS:
        raise TransitionError(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
    sources, target = TRANSITIONS[action]
    if state not in sources:
        allowed = ", ".join(a for a, (src, _) in TRANSITIONS.items() if state in src) or "none"
        raise TransitionError(
            f"cannot {action} an item in state {state!r} "
            f"(needs {' or '.join(sorted(sources))}); allowed now: {allowed}"
        )
    return target
