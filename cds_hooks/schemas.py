"""Request validation: JSON decoding and marshmallow schemas per hook, plus feedback.

Every rejection becomes a 400 OperationOutcome whose issues name the offending field
("context.patientId", "feedback[0].outcome"), so a client developer can fix the request without
reading our code.
"""
from __future__ import annotations

import functools
import json
import re
from datetime import timezone
from typing import Any

import orjson
from marshmallow import (EXCLUDE, INCLUDE, Schema, ValidationError, fields, validate,
                         validates_schema)

from .errors import Issue, ProtocolError
from .fhir_client import InvalidFhirServer, check_fhir_server

# Deepest JSON nesting accepted. FHIR resources inside a Bundle inside prefetch stay far below it;
# anything deeper is hostile and would only exhaust the recursion of whoever walks it next.
MAX_JSON_DEPTH = 64
# Longest string accepted anywhere in a body. The longest legitimate ones (a narrative div, a
# userComment) stay far below; the body limit alone would let one string fill 5 MB of memory per copy.
MAX_STRING_CHARS = 1_000_000
# The token is sent on as an HTTP header value, where anything outside Latin-1 cannot even be encoded
# and spaces or control characters would change the header. RFC 6750's b64token is stricter still;
# visible ASCII keeps every real EHR token (JWTs, opaque base64) while refusing what cannot travel.
BEARER_TOKEN = r"^[\x21-\x7e]+$"

FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"
# "Practitioner/123", "ServiceRequest/abc": a relative reference (type/id)
FHIR_REFERENCE = r"^[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-\.]{1,64}$"
_id = dict(validate=validate.Regexp(FHIR_ID, error="Not a valid FHIR id."))
_ref = dict(validate=validate.Regexp(FHIR_REFERENCE, error="Not a FHIR reference of the form Type/id."))


# --------------------------------------------------------------------------- JSON decoding

def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Bytes -> a JSON object, or ProtocolError(400) saying what is wrong with the body."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ProtocolError.single(400, f"Body is not valid UTF-8 (byte {err.start}).", "structure")
    value = _fast_decode(raw, text)
    if not (isinstance(value, dict) and _depth_within(raw)):
        # The standard decoder is the reference: it decides every body orjson refuses or reads
        # differently, and its recursion limit answers some bodies nested too deep. The full walk
        # finds the offending path for the OperationOutcome.
        value = _decode_or_400(text)
        if not isinstance(value, dict):
            raise ProtocolError.single(400, "Body must be a JSON object.", "structure")
        _check_shape(value)
    elif len(text) > QUICK_CHECK_MAX_CHARS or _may_hold_surrogate(text):
        _check_shape(value)
    return value


# orjson decodes a hook body in about half the time of the standard library's decoder, but it is
# not the reference: whenever it refuses a body, or the body holds an integer it would read as a
# float, the standard decoder decides, so the value and every OperationOutcome stay the standard
# decoder's.
_UNDECIDED = object()
# orjson reads integers beyond 64 bits as floats; digit runs shorter than 19 are always within them
# (a run inside a string only costs the slower decoder)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_DIGIT_RUN = b"0" * 19


def _fast_decode(raw: bytes, text: str) -> Any:
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS_AS_ZERO):
        return _UNDECIDED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _UNDECIDED


def _decode_or_400(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise ProtocolError.single(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels.", "structure")
    except ValueError as err:  # JSONDecodeError, NaN/Infinity, over-long integers
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise ProtocolError.single(400, f"Body is not valid JSON{where}.", "structure")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} overflows a double")  # 1e999: valid JSON, not a number we can use
    return value


# made once: json.loads with these hooks would build a decoder and its scanner on every call
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)

# Bodies longer than this always get the full walk of _check_shape: only the full walk looks at each
# string, so any limit on one string's length must not be below this.
QUICK_CHECK_MAX_CHARS = 1_000_000
# A lone surrogate can only come from a \uXXXX escape (raw surrogates are not valid UTF-8).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _may_hold_surrogate(text: str) -> bool:
    return "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None


# built once: the depth scan keeps quotes and brackets, objects and arrays alike as "[" and "]"
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def _depth_within(raw: bytes) -> bool:
    """True when no object or array of a body the decoder accepted lies deeper than MAX_JSON_DEPTH
    (the quick check of every call), read from the bytes with C-speed bytes operations instead of a
    walk of the decoded value.

    Escaped backslashes and quotes go first; then only quotes and brackets are kept (UTF-8 never
    puts an ASCII byte inside a multi-byte character). Two adjacent quotes are an empty string or
    the end of one string and the start of the next, so removing them keeps every bracket inside
    or outside a string as it was; usually no quote is left, else the strings' brackets are cut
    out. Each pass then removes the innermost "[]" pairs: a body nested ``n`` deep is empty after
    ``n`` passes."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in raw else raw
    structure = unescaped.translate(_AS_SQUARE, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])
    for _ in range(MAX_JSON_DEPTH):
        if not structure:
            return True
        structure = structure.replace(b"[]", b"")
    return not structure


def _check_shape(root: Any) -> None:
    """Reject nesting deeper than MAX_JSON_DEPTH and strings holding lone surrogates.

    Iterative, so that the check itself cannot overflow the stack. Lone surrogates ("\\ud800") are
    legal JSON escapes but not Unicode text; they would fail later when stored or re-encoded.
    """
    stack: list[tuple[Any, int, str]] = [(root, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            items = ((f".{k}", v, k) for k, v in value.items())
        elif isinstance(value, list):
            items = ((f"[{i}]", v, "") for i, v in enumerate(value))
        elif isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                raise ProtocolError.single(400, f"String longer than {MAX_STRING_CHARS} characters.",
                                           "too-long", path.lstrip(".") or None)
            if _has_surrogate(value):
                raise ProtocolError.single(400, "String holds an unpaired UTF-16 surrogate.", "structure",
                                           path.lstrip(".") or None)
            continue
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise ProtocolError.single(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels.",
                                       "structure", path.lstrip(".") or None)
        for label, child, key in items:
            if len(key) > MAX_STRING_CHARS:
                raise ProtocolError.single(400, f"Object key longer than {MAX_STRING_CHARS} characters.",
                                           "too-long", path.lstrip(".") or None)
            if _has_surrogate(key):
                raise ProtocolError.single(400, "Object key holds an unpaired UTF-16 surrogate.", "structure")
            stack.append((child, depth + 1, path + label))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --------------------------------------------------------------------------- error reporting

def issues_from_validation(messages: Any, prefix: str = "") -> list[Issue]:
    """Flatten marshmallow's nested messages into one Issue per field path."""
    issues: list[Issue] = []
    if isinstance(messages, dict):
        for key, sub in messages.items():
            if key == "_schema":
                path = prefix
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(sub, dict) and sub and set(sub) <= {"key", "value"}:
                # fields.Dict reports {"<key>": {"key"|"value": [...]}}: the key name is the field
                sub = [m for part in sub.values() for m in (part if isinstance(part, list) else [part])]
            issues.extend(issues_from_validation(sub, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            code = "required" if message.startswith("Missing data") else "invalid"
            issues.append(Issue(f"{prefix or 'body'}: {message}", code, prefix or None))
    elif isinstance(messages, list):
        for sub in messages:
            issues.extend(issues_from_validation(sub, prefix))
    else:
        issues.append(Issue(f"{prefix or 'body'}: {messages}", "invalid", prefix or None))
    return issues


def load_or_400(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as err:
        raise ProtocolError(400, issues_from_validation(err.messages)) from None


# --------------------------------------------------------------------------- hook requests

class _FhirObject(fields.Field):
    """A JSON object (a FHIR resource); its content is read leniently by the fetch/domain layers."""

    default_error_messages = {"invalid": "Not a JSON object."}

    def __init__(self, resource_type: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.resource_type = resource_type

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        if self.resource_type and value.get("resourceType") != self.resource_type:
            raise ValidationError(f"Must be a FHIR {self.resource_type}.")
        return value


class _DraftOrders(_FhirObject):
    """draftOrders: a Bundle whose entries hold resources."""

    def __init__(self, **kwargs):
        super().__init__(resource_type="Bundle", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        bundle = super()._deserialize(value, attr, data, **kwargs)
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise ValidationError("Bundle.entry must be an array.")
        errors = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                errors[i] = ["Bundle entry must be an object with a resource object."]
        if errors:
            raise ValidationError({"entry": errors})
        return bundle


_PREFETCH_KEY_LENGTH = validate.Length(min=1, max=256)


def _prefetch_keys(prefetch: dict[str, Any]) -> None:
    """Every prefetch key a string of 1 to 256 characters, reported per key as fields.Dict reports its
    keys ({"<key>": {"key": [...]}}); checked in one loop instead of one field per key.

    The values are any JSON. Contract §2: null means "no data"; a value of the wrong shape (not an
    object, another resourceType, a Bundle of a non-search type) is not a bad request but "absent":
    the chart reader fetches it from fhirServer, else reports the key unreadable (cds_hooks.prefetch).
    """
    errors: dict[Any, dict[str, list[str]]] = {}
    for key in prefetch:
        if not isinstance(key, str):
            errors[key] = {"key": ["Not a valid string."]}
        elif not 1 <= len(key) <= 256:
            try:
                _PREFETCH_KEY_LENGTH(key)
            except ValidationError as err:
                errors[key] = {"key": err.messages}
    if errors:
        raise ValidationError(errors)


class FhirAuthorizationSchema(Schema):
    class Meta:
        unknown = INCLUDE  # e.g. "patient", extensions

    access_token = fields.String(required=True, validate=[
        validate.Length(min=1, max=16384),
        validate.Regexp(BEARER_TOKEN, error="Not a bearer token: only visible ASCII characters "
                                           "(no spaces, no characters outside ASCII) are allowed.")])
    token_type = fields.String(required=True, validate=validate.Regexp(
        r"^[Bb][Ee][Aa][Rr][Ee][Rr]$", error="Must be 'Bearer'."))
    expires_in = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    scope = fields.String(required=True, validate=validate.Length(max=8192))
    subject = fields.String(required=True, validate=validate.Length(max=1024))
    patient = fields.String(validate=validate.Regexp(FHIR_ID, error="Not a valid FHIR id."))


class _ContextBase(Schema):
    class Meta:
        unknown = INCLUDE  # hook extensions and newer context fields are passed through

    userId = fields.String(required=True, **_ref)
    patientId = fields.String(required=True, **_id)
    encounterId = fields.String(allow_none=True, **_id)


class PatientViewContext(_ContextBase):
    pass


class EncounterStartContext(_ContextBase):
    encounterId = fields.String(required=True, **_id)


class OrderSelectContext(_ContextBase):
    selections = fields.List(fields.String(**_ref), required=True, validate=validate.Length(max=1000))
    draftOrders = _DraftOrders(required=True)


class OrderSignContext(_ContextBase):
    draftOrders = _DraftOrders(required=True)


CONTEXT_SCHEMAS: dict[str, type[Schema]] = {
    "patient-view": PatientViewContext,
    "encounter-start": EncounterStartContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


def _fhir_server_base(value: str) -> None:
    # the fetch layer's rule, applied here so that the 400 names the field before any work
    try:
        check_fhir_server(value)
    except InvalidFhirServer as err:
        raise ValidationError(str(err)) from None


class _HookRequestBase(Schema):
    class Meta:
        unknown = EXCLUDE  # top-level extension fields are ignored

    hook = fields.String(required=True, validate=validate.Length(min=1, max=256))
    hookInstance = fields.String(required=True, validate=validate.Length(min=1, max=256))
    fhirServer = fields.String(allow_none=True, validate=[validate.Length(max=2048), _fhir_server_base])
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema, allow_none=True)
    prefetch = fields.Dict(allow_none=True, validate=_prefetch_keys)

    @validates_schema
    def _authorization_needs_server(self, data, **kwargs):
        # CDS Hooks 2.0: fhirServer is required when fhirAuthorization is given
        if data.get("fhirAuthorization") and not data.get("fhirServer"):
            raise ValidationError("Required when fhirAuthorization is present.", field_name="fhirServer")


@functools.lru_cache(maxsize=64)
def request_schema(hook: str) -> Schema:
    """The request schema of ``hook`` (a generic patient context for hooks we do not know)."""
    context = CONTEXT_SCHEMAS.get(hook, _ContextBase)
    cls = type(f"HookRequest[{hook}]", (_HookRequestBase,),
               {"context": fields.Nested(context, required=True)})
    return cls()


def validate_hook_request(body: dict[str, Any], expected_hook: str) -> dict[str, Any]:
    hook = body.get("hook")
    if isinstance(hook, str) and hook != expected_hook:
        raise ProtocolError.single(
            400, f"hook {hook!r} does not match this service's hook {expected_hook!r}.", "invalid", "hook")
    data = load_or_400(request_schema(expected_hook), body)
    return data


# --------------------------------------------------------------------------- feedback

class CodingSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    system = fields.String(validate=validate.Length(max=1024))
    code = fields.String(required=True, validate=validate.Length(min=1, max=256))
    display = fields.String(validate=validate.Length(max=1024))


class OverrideReasonSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.Nested(CodingSchema)
    userComment = fields.String(validate=validate.Length(max=10000))


class AcceptedSuggestionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=256))


class FeedbackItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    card = fields.String(required=True, validate=validate.Length(min=1, max=256))
    outcome = fields.String(required=True, validate=validate.OneOf(["accepted", "overridden"]))
    acceptedSuggestions = fields.List(fields.Nested(AcceptedSuggestionSchema),
                                      validate=validate.Length(max=1000))
    overrideReason = fields.Nested(OverrideReasonSchema)
    outcomeTimestamp = fields.AwareDateTime(required=True, default_timezone=timezone.utc)

    @validates_schema(skip_on_field_errors=True)
    def _outcome_consistency(self, data, **kwargs):
        # CDS Hooks 2.0: acceptedSuggestions belong to "accepted", overrideReason to "overridden"
        if data["outcome"] == "accepted":
            if not data.get("acceptedSuggestions"):
                raise ValidationError("Required (one or more) when outcome is accepted.",
                                      field_name="acceptedSuggestions")
            if "overrideReason" in data:
                raise ValidationError("Only allowed when outcome is overridden.", field_name="overrideReason")
        elif data.get("acceptedSuggestions"):
            raise ValidationError("Only allowed when outcome is accepted.", field_name="acceptedSuggestions")


class FeedbackRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    feedback = fields.List(fields.Nested(FeedbackItemSchema), required=True,
                           validate=validate.Length(min=1, max=1000))


FEEDBACK_SCHEMA = FeedbackRequestSchema()


def validate_feedback(body: dict[str, Any]) -> list[dict[str, Any]]:
    return load_or_400(FEEDBACK_SCHEMA, body)["feedback"]
