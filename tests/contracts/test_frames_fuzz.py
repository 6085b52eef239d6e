"""Hypothesis on the wire contract's frame handling: whatever arrives, the result is a message or
``BadMessage`` (the link turns that into a reject), never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.limits import MAX_DEPTH, depth_exceeds, sniff
from contracts.messages import BadMessage, parse_message

TYPES = ["hello", "status", "selftest", "event", "command_result", "command", "schedule", "ack", "heartbeat",
         "zap"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@st.composite
def envelopes(draw: Any) -> dict[str, Any]:
    """Frames shaped like messages, with fields missing, mistyped or added."""
    body: dict[str, Any] = {"type": draw(st.sampled_from(TYPES)), "site": "urumqi",
                            "msg_id": draw(st.one_of(st.text(max_size=80), st.integers(), st.none()))}
    fields = ["devices", "calls", "kind", "device", "data", "ack_ids", "rejected", "kept", "command_id",
              "state", "deadline", "agent_version", "schema_version", "schema_minor", "checks", "meetings",
              "extra"]
    for key in draw(st.lists(st.sampled_from(fields), max_size=6)):
        body[key] = draw(json_values)
    return body


def nested(depth: int) -> str:
    return '{"type": "status", "msg_id": "n1", "site": "urumqi", "x": ' + "[" * depth + "]" * depth + "}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 json_values.map(json.dumps), envelopes().map(json.dumps),
                 st.integers(min_value=0, max_value=100_000).map(nested)))
def test_any_frame_parses_or_is_a_bad_message(frame: str) -> None:
    try:
        parse_message(frame)
    except BadMessage:
        pass
    sniff(frame)            # never raises either


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_depth_check_agrees_with_the_real_depth(value: Any) -> None:
    def depth(v: Any) -> int:
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        return 0

    assert depth_exceeds(json.dumps(value)) == (depth(value) > MAX_DEPTH)


def test_depth_check_without_recursion_on_huge_nesting() -> None:
    assert depth_exceeds("[" * 1_000_000)
    assert depth_exceeds('{"a":' * 200_000)
    assert depth_exceeds("[" * 33 + "]" * 33)
    assert not depth_exceeds("[" * 32 + "]" * 32)
    assert not depth_exceeds('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]')    # brackets inside a string
