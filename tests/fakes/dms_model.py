"""dms_model: the botocore DMS service model and what the fake builds on it.

Part of the fake DMS; tests/fakes/fake_dms.py is the entry point and puts this
directory on sys.path, so the dms_* modules import each other by plain name.
Import FakeDMS (and anything below) from fake_dms, not from here.

Holds the wire constants, DmsError (an error answered in DMS's JSON 1.1 error
shape), the response encoder (timestamps written the way AWS's Java services
write them) and ValidationMixin: requests checked against the model's input
shapes, responses against its output shapes.
"""

import base64
import decimal
import json
import re
import threading
import uuid

from botocore.loaders import Loader
from botocore.model import ServiceModel

TARGET_PREFIX = "AmazonDMSv20160101."
CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE = "dms"

# Operations the fake implements.
IMPLEMENTED = (
    "DescribeAccountAttributes",
    "CreateReplicationInstance", "DescribeReplicationInstances", "DeleteReplicationInstance",
    "CreateEndpoint", "DescribeEndpoints", "DeleteEndpoint", "ModifyEndpoint",
    "TestConnection", "DescribeConnections", "RefreshSchemas", "DescribeRefreshSchemasStatus",
    "CreateReplicationTask", "DescribeReplicationTasks", "StartReplicationTask",
    "StopReplicationTask", "ModifyReplicationTask", "DeleteReplicationTask",
    "DescribeTableStatistics",
)

# Enum shapes the service compares without regard to case (DMS answers
# EndpointType in upper case while the model lists lower case).
CASE_INSENSITIVE_ENUMS = {"ReplicationEndpointTypeValue"}

_MODEL = None
_MODEL_LOCK = threading.Lock()


def service_model():
    """The botocore DMS service model (loaded once)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = ServiceModel(Loader().load_service_model("dms", "service-2"), "dms")
        return _MODEL


class DmsError(Exception):
    """An error answered in DMS's JSON 1.1 error shape."""

    def __init__(self, type_, message, status=400, **extra):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status
        self.extra = extra


class _Ts(float):
    """An epoch-seconds timestamp in a response (encoded per timestamp_style)."""


def java_double(v):
    """Java's Double.toString, which AWS's Java services use for JSON 1.1
    timestamps: 1.690000000123E9 (plain notation only within [1e-3, 1e7))."""
    v = float(v)
    if v == 0:
        return "0.0"
    if 1e-3 <= abs(v) < 1e7:
        return repr(v)
    sign, digits, exp = decimal.Decimal(repr(v)).normalize().as_tuple()
    digits = "".join(map(str, digits))
    e10 = len(digits) - 1 + exp
    return ("-" if sign else "") + digits[0] + "." + (digits[1:] or "0") + "E" + str(e10)


_TS_NONCE = uuid.uuid4().hex


def _encode_api(obj, style):
    if style == "plain":
        return json.dumps(obj, separators=(",", ":")).encode()

    def conv(o):
        if isinstance(o, _Ts):
            return "\x00TS" + _TS_NONCE + java_double(o) + "\x00"
        if isinstance(o, dict):
            return {k: conv(v) for k, v in o.items()}
        if isinstance(o, list):
            return [conv(v) for v in o]
        return o
    text = json.dumps(conv(obj), separators=(",", ":"))
    return re.sub(r'"\\u0000TS' + _TS_NONCE + r'([^"\\]*)\\u0000"', r"\1", text).encode()


class ValidationMixin:
    """FakeDMS's checks against the model: request bodies (JSON types, required
    members, enums, ranges; needs self._validator and self.strict) and answers
    (only members of the output shape)."""

    def _validate(self, op, body):
        try:
            params = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as e:
            raise DmsError("SerializationException", f"Request body is not valid JSON: {e}")
        if not isinstance(params, dict):
            raise DmsError("SerializationException", "Request body must be a JSON object")
        shape = service_model().operation_model(op).input_shape
        errors = []
        self._walk_types(shape, params, "", errors)
        if errors:
            raise DmsError("SerializationException", "; ".join(errors[:5]))
        report = self._validator.validate(params, shape)
        problems = []
        for kind, name, details in getattr(report, "_errors", []):
            where = name.lstrip(".")
            if kind == "missing required field":
                full = (where + "." if where else "") + details["required_name"]
                problems.append(f"The parameter {full} must be provided and must not be blank.")
            elif kind == "unknown field":
                if self.strict:
                    full = (where + "." if where else "") + details["unknown_param"]
                    problems.append(f"Unknown parameter {full}; must be one of: "
                                    + ", ".join(details["valid_names"]))
            elif kind in ("invalid range", "invalid length"):
                problems.append(f"Value for {where} is out of range: {details}")
            else:
                problems.append(f"Invalid value for {where}: {kind}")
        if problems:
            raise DmsError("InvalidParameterValueException", " ".join(problems[:5]))
        # required strings must not be blank either
        for req in shape.required_members:
            v = params.get(req)
            if isinstance(v, str) and not v.strip():
                raise DmsError("InvalidParameterValueException",
                               f"The parameter {req} must be provided and must not be blank.")
        enum_errors = []
        self._walk_enums(shape, params, "", enum_errors)
        if enum_errors:
            raise DmsError("InvalidParameterValueException", "; ".join(enum_errors[:5]))
        return params

    def _walk_types(self, shape, value, path, errors):
        t = shape.type_name
        where = path or "(input)"

        def bad(expected):
            errors.append(f"Value at '{where}' must be {expected}, got {type(value).__name__} {json.dumps(value)[:40]}")

        if t == "structure":
            if not isinstance(value, dict):
                return bad("a JSON object")
            for k, v in value.items():
                if k in shape.members and v is not None:
                    self._walk_types(shape.members[k], v, f"{path}.{k}" if path else k, errors)
        elif t == "list":
            if not isinstance(value, list):
                return bad("a JSON array")
            for i, v in enumerate(value):
                self._walk_types(shape.member, v, f"{path}[{i}]", errors)
        elif t == "map":
            if not isinstance(value, dict):
                return bad("a JSON object")
            for k, v in value.items():
                self._walk_types(shape.value, v, f"{path}.{k}", errors)
        elif t == "string":
            if not isinstance(value, str):
                return bad("a string")
        elif t in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return bad("an integer")
            lim = 2 ** 31 if t == "integer" else 2 ** 63
            if not -lim <= value < lim:
                return bad(f"a {t} within range")
        elif t in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return bad("a number")
        elif t == "boolean":
            if not isinstance(value, bool):
                return bad("a boolean")
        elif t == "timestamp":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return bad("an epoch-seconds number (JSON 1.1 timestamp)")
        elif t == "blob":
            if not isinstance(value, str):
                return bad("a base64 string")
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                return bad("valid base64")

    def _walk_enums(self, shape, value, path, errors):
        t = shape.type_name
        if t == "structure" and isinstance(value, dict):
            for k, v in value.items():
                if k in shape.members and v is not None:
                    self._walk_enums(shape.members[k], v, f"{path}.{k}" if path else k, errors)
        elif t == "list" and isinstance(value, list):
            for i, v in enumerate(value):
                self._walk_enums(shape.member, v, f"{path}[{i}]", errors)
        elif t == "string" and shape.enum:
            if shape.name in CASE_INSENSITIVE_ENUMS:
                ok = value.lower() in [e.lower() for e in shape.enum]
            else:
                ok = value in shape.enum
            if not ok:
                errors.append(f"Invalid value '{value}' for {path}; valid values: {', '.join(shape.enum)}")

    def _check_output(self, shape, value, path):
        """Refuse to answer anything the model's output shape does not have."""
        t = shape.type_name
        if t == "structure":
            assert isinstance(value, dict), f"{path}: structure expected"
            for k, v in value.items():
                assert k in shape.members, f"{path}: member {k} is not in {shape.name}"
                assert v is not None, f"{path}.{k}: null"
                self._check_output(shape.members[k], v, f"{path}.{k}")
        elif t == "list":
            assert isinstance(value, list), f"{path}: list expected"
            for i, v in enumerate(value):
                self._check_output(shape.member, v, f"{path}[{i}]")
        elif t == "string":
            assert isinstance(value, str), f"{path}: string expected"
        elif t in ("integer", "long"):
            assert isinstance(value, int) and not isinstance(value, bool), f"{path}: integer expected"
        elif t == "boolean":
            assert isinstance(value, bool), f"{path}: boolean expected"
        elif t == "timestamp":
            assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: epoch expected"
        elif t in ("float", "double"):
            assert isinstance(value, (int, float)), f"{path}: number expected"
