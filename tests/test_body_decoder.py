"""The body decoder answers every body as the standard library's strict JSON decoder does: the same
value (types included: a 30-digit integer stays an int, -0.0 keeps its sign) or the same 400 with
the same line and column, whichever JSON library reads the body first."""
from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.errors import ProtocolError
from cds_hooks.schemas import MAX_JSON_DEPTH, decode_json_object


def _reject(name):
    raise ValueError(name)


def _finite(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError(text)
    return value


def reference(raw: bytes):
    """What the standard decoder makes of ``raw``: ("value", v) or ("error", line, column)."""
    try:
        return "value", json.loads(raw.decode("utf-8-sig"), parse_constant=_reject, parse_float=_finite)
    except json.JSONDecodeError as err:
        return "error", err.lineno, err.colno
    except (ValueError, RecursionError):
        return "error", None, None


def typed(value):
    """``value`` with every leaf tagged by its type (1 == 1.0 == True in Python, not in JSON)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}, list(value)
    if isinstance(value, list):
        return [typed(v) for v in value]
    return type(value).__name__, repr(value)


def depth(value) -> int:
    if isinstance(value, (dict, list)):
        return 1 + max((depth(v) for v in (value.values() if isinstance(value, dict) else value)), default=0)
    return 0


NUMBERS = st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [2**63, -2**63 - 1, 2**64, 10**30, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e16, 123456789012345678])
TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e) | st.sampled_from(
    "é€😀\\\"[]{}\n\t\x00\x1f"), max_size=10)
VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | TEXT,
                      lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
                      max_leaves=25)
# what a broken body is made of: structure, number parts, literals that JSON does not have
DAMAGE = st.sampled_from(['"', "\\", "{", "}", "[", "]", ",", ":", "0", "-", ".", "e", "E", "+", " ", "\t",
                          "\x00", "\x1f", "NaN", "Infinity", "1e999", "123456789012345678901234567890",
                          "\ufeff", "\\ud800", "01", "tru", "null"])


@st.composite
def bodies(draw) -> bytes:
    value = {"hook": "patient-view", "x": draw(VALUES)}
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1, "\t"])))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        cut = draw(st.integers(min_value=0, max_value=2))
        text = text[:at] + draw(DAMAGE) + text[at + cut:]
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return prefix + text.encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None)
@given(raw=bodies())
def test_the_decoder_agrees_with_the_standard_one(raw):
    expected = reference(raw)
    try:
        got = ("value", decode_json_object(raw))
    except ProtocolError as err:
        got = ("refused", err.status, err.issues[0].diagnostics)
    if expected[0] == "value" and isinstance(expected[1], dict) and depth(expected[1]) <= MAX_JSON_DEPTH:
        if got[0] == "refused":  # lone surrogates are refused after decoding, by a rule of our own
            assert "surrogate" in got[2] or "longer than" in got[2], got
        else:
            assert typed(got[1]) == typed(expected[1])
    elif expected[0] == "error":
        assert got[0] == "refused" and got[1] == 400, got
        if expected[1] is not None:
            assert got[2] == f"Body is not valid JSON (line {expected[1]}, column {expected[2]}).", got
        elif "UTF-8" not in got[2]:
            assert got[2] in ("Body is not valid JSON.", f"JSON nested deeper than {MAX_JSON_DEPTH} levels."), got
    else:
        assert got[0] == "refused" and got[1] == 400, got


def test_numbers_beyond_64_bits_keep_their_type():
    body = b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809, "small": 12, "f": 1e16}'
    value = decode_json_object(body)
    assert typed(value) == typed(json.loads(body))
    assert isinstance(value["big"], int) and value["big"] == 123456789012345678901234567890


def test_bodies_nested_past_the_limit_are_refused_whatever_the_strings_hold():
    inside = "[" * 10 + "{" * 10 + "\\\" \\\\"
    deep = '{"s": "%s", "a": %s1%s}' % (inside, "[" * MAX_JSON_DEPTH, "]" * MAX_JSON_DEPTH)
    try:
        decode_json_object(deep.encode())
    except ProtocolError as err:
        assert err.issues[0].diagnostics == f"JSON nested deeper than {MAX_JSON_DEPTH} levels."
    else:
        raise AssertionError("a body nested past the limit was accepted")
    shallow = '{"s": "%s", "a": %s1%s}' % (inside, "[" * (MAX_JSON_DEPTH - 1), "]" * (MAX_JSON_DEPTH - 1))
    assert decode_json_object(shallow.encode())["s"] == "[" * 10 + "{" * 10 + '" \\'
