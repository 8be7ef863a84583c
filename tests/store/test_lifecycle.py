"""The lifecycle state machine alone (no database)."""

from __future__ import annotations

import pytest

from docgap.store.lifecycle import STATES, TRANSITIONS, TransitionError, next_state


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [
        ("new", "claim", "in_review"),
        ("in_review", "accept", "accepted"),
        ("in_review", "override", "overridden"),
        ("in_review", "draft-query", "query_drafted"),
        ("query_drafted", "draft-query", "query_drafted"),
        ("query_drafted", "send-query", "query_sent"),
        ("query_sent", "answer", "answered"),
        ("accepted", "close", "closed"),
        ("overridden", "close", "closed"),
        ("answered", "close", "closed"),
    ],
)
def test_allowed_transitions(state: str, action: str, target: str) -> None:
    assert next_state(state, action) == target


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("new", "send-query"),
        ("new", "close"),
        ("in_review", "answer"),
        ("query_drafted", "answer"),
        ("query_sent", "accept"),
        ("closed", "claim"),
        ("closed", "override"),
        ("accepted", "draft-query"),
    ],
)
def test_impossible_transitions_are_clear_errors(state: str, action: str) -> None:
    with pytest.raises(TransitionError, match=f"cannot {action} an item in state '{state}'"):
        next_state(state, action)


def test_unknown_action() -> None:
    with pytest.raises(TransitionError, match="unknown action 'approve'"):
        next_state("new", "approve")


def test_every_target_is_a_state_and_closed_is_final() -> None:
    for sources, target in TRANSITIONS.values():
        assert target in STATES
        assert sources <= set(STATES)
    assert not any("closed" in sources for sources, _ in TRANSITIONS.values())
