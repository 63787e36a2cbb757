"""The quick body check (depth and possible surrogates) lets through exactly what the full walk lets
through, and a body it stops gets the full walk's OperationOutcome (same status, issue, path)."""
from __future__ import annotations

import json
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks import schemas
from cds_hooks.errors import ProtocolError
from cds_hooks.schemas import MAX_JSON_DEPTH, decode_json_object

PLAIN = st.characters(min_codepoint=0x20, max_codepoint=0x7e) | st.sampled_from("é€😀\\\"[]{}")
# lone surrogates: json.dumps writes them as \ud8xx escapes
ODD = PLAIN | st.characters(min_codepoint=0xd7f0, max_codepoint=0xe00f)


def _values(text):
    leaves = st.none() | st.booleans() | st.integers() | text
    return st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                        | st.dictionaries(text, children, max_size=3), max_leaves=12)


@st.composite
def bodies(draw) -> dict:
    """A JSON object with a value nested around the depth limit somewhere inside; half of them
    without any surrogate, so that the depth check alone decides."""
    text = st.text(alphabet=draw(st.sampled_from([PLAIN, ODD])), max_size=8)
    inner = draw(_values(text))
    nesting = st.integers(min_value=0, max_value=4) | st.integers(min_value=MAX_JSON_DEPTH - 5,
                                                                   max_value=MAX_JSON_DEPTH + 1)
    for _ in range(draw(nesting)):
        inner = [inner] if draw(st.booleans()) else {draw(text): inner}
    return {"hook": "patient-view", draw(text): inner, "other": draw(_values(text))}


def _outcome(check) -> tuple | None:
    try:
        check()
    except ProtocolError as err:
        return err.status, [issue.json() for issue in err.issues]
    return None


@settings(max_examples=120, deadline=None)
@given(body=bodies())
def test_quick_check_agrees_with_the_full_walk(body):
    raw = json.dumps(body).encode()
    # a body longer than QUICK_CHECK_MAX_CHARS always gets the full walk: with the limit below every
    # length, this body does too
    with mock.patch.object(schemas, "QUICK_CHECK_MAX_CHARS", -1):
        full = _outcome(lambda: decode_json_object(raw))
    assert _outcome(lambda: decode_json_object(raw)) == full


def _nested(levels: int) -> bytes:
    """A body whose deepest array lies at ``levels`` (the body itself is level 1)."""
    deep: object = 1
    for _ in range(levels - 1):
        deep = [deep]
    return json.dumps({"a": deep}).encode()


def test_the_limits_are_still_enforced():
    assert _outcome(lambda: decode_json_object(_nested(MAX_JSON_DEPTH))) is None
    assert _outcome(lambda: decode_json_object(_nested(MAX_JSON_DEPTH + 1)))[0] == 400
    assert _outcome(lambda: decode_json_object(b'{"a": {"b": "x\\udc00y"}}'))[1][0]["expression"] == ["a.b"]
    assert _outcome(lambda: decode_json_object(b'{"a": "\\ud83d\\ude00"}')) is None  # a paired surrogate
