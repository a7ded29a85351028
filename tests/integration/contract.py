"""Checks HTTP responses against the API contract, openapi/openapi.yaml.

    from contract import ContractSession, check

    s = ContractSession(daemon_url, token=None)
    r = s.get("/v1/projects")          # or s.get(daemon_url + "/v1/projects")
    # every response was validated; a mismatch raised AssertionError

    check("GET", "/v1/projects/prj_x", 200, body, "application/json", headers)

What a check asserts, for the operation whose path template matches the
concrete path (most literal segments win) and method:
  - the status code is documented for the operation, exactly or as a range
    like 4XX; `default` only stands for 5xx (the contract's convention: every
    2xx-4xx an operation can answer is listed), so an unlisted 4xx fails;
  - the response's media type is one the contract documents for that status,
    and a response the contract gives no content has no body;
  - a JSON body (application/json, application/problem+json, any +json)
    validates against the documented schema with a JSON Schema Draft 2020-12
    validator (OpenAPI 3.1 schemas), $refs into the document resolved,
    formats asserted (date-time, uri, uri-reference, json-pointer, ...);
    text/plain and text/event-stream bodies are not parsed;
  - a problem body's "status" equals the HTTP status;
  - when response headers are given: documented required headers are
    present and every documented header that is present matches its schema.
Requests the router answers before any operation (see the contract's
info.description) are checked too: a path no template matches must get a
404 problem; a known path with an undocumented method must get a 405
problem with an Allow header, or 204 for an OPTIONS (CORS preflight).

Every check is recorded: Contract.seen holds the (operationId, status)
pairs validated, so a test can assert that it covered every operation.
check() and ContractSession use a module-wide Contract (DEFAULT) unless
given their own.

Only Debian's python3 packages are used: PyYAML, jsonschema (4.x, with or
without the `referencing` package) and requests.
"""
import copy
import datetime
import json
import os
import re
import threading
from urllib.parse import urlsplit

import jsonschema
import requests
import yaml

ROOT = os.environ.get(
    "CUTOVER_SOURCE_ROOT",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC_PATH = os.environ.get("CUTOVER_OPENAPI", os.path.join(ROOT, "openapi", "openapi.yaml"))

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Media types whose bodies are not parsed (streams, Prometheus text).
UNPARSED = ("text/event-stream", "text/plain")
MAX_SHOWN = 600  # characters of a body quoted in an error message


def media_type(content_type):
    """'application/json; charset=utf-8' -> 'application/json'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(mt):
    return mt == "application/json" or mt.endswith("+json")


def _short(value):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "...(truncated)"


def _format_checker():
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def date_time(value):  # RFC 3339, upper-case T and Z or an offset
        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                            value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00")[:19])
        return True

    if "json-pointer" not in checker.checkers:
        @checker.checks("json-pointer")
        def json_pointer(value):
            return not isinstance(value, str) or value == "" or (
                value.startswith("/") and not re.search(r"~[^01]|~$", value))

    if "uri-reference" not in checker.checkers:
        @checker.checks("uri-reference")
        def uri_reference(value):
            return not isinstance(value, str) or not re.search(r"\s", value)

    if "uri" not in checker.checkers:
        @checker.checks("uri")
        def uri(value):
            return not isinstance(value, str) or bool(
                re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value))
    return checker


FORMAT_CHECKER = _format_checker()


class Contract:
    """The contract: operations by path template and method, with their
    responses' schemas (refs resolved), and a record of what was checked."""

    def __init__(self, path=SPEC_PATH):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.spec = yaml.safe_load(f)
        assert str(self.spec.get("openapi", "")).startswith("3.1"), \
            f"{path}: not an OpenAPI 3.1 document"
        self.seen = set()          # (operationId, status) checked
        self.unrouted = set()      # (status, method) of requests no operation serves
        self._lock = threading.Lock()
        self._validators = {}
        self.operations = []       # (METHOD, template, segments, operation)
        for template, item in self.spec.get("paths", {}).items():
            item = self.resolve(item)       # operations hold plain schemas
            # split as server/router.c does: "/ui/" is "ui" and ""
            segs = template[1:].split("/")
            for method in METHODS:
                if method in item:
                    self.operations.append((method.upper(), template, segs, item[method]))
        ids = [op["operationId"] for _, _, _, op in self.operations]
        dupes = {i for i in ids if ids.count(i) > 1}
        assert not dupes, f"{path}: duplicate operationIds {sorted(dupes)}"

    # ------------------------------------------------------------ refs
    def lookup(self, ref):
        """Returns the object a local $ref ('#/components/...') names."""
        assert ref.startswith("#/"), f"only local $refs are supported, got {ref!r}"
        node = self.spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref!r}"
            node = node[part]
        return node

    def resolve(self, node, _stack=()):
        """A deep copy of node with every $ref replaced by its target.
        Members next to a $ref (OpenAPI 3.1 allows them) are kept: the
        target becomes an allOf member. Refuses cyclic refs."""
        if isinstance(node, list):
            return [self.resolve(v, _stack) for v in node]
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            assert ref not in _stack, f"cyclic $ref {' -> '.join(_stack + (ref,))}"
            target = self.resolve(self.lookup(ref), _stack + (ref,))
            rest = {k: self.resolve(v, _stack) for k, v in node.items() if k != "$ref"}
            if not rest:
                return target
            if isinstance(target, dict) and not any(k in target for k in rest):
                # description/summary next to a $ref: plain merge is exact
                if all(k in ("description", "summary") for k in rest):
                    return {**target, **rest}
            return {"allOf": [target], **rest}
        return {k: self.resolve(v, _stack) for k, v in node.items()}

    # ------------------------------------------------------- operations
    def operation_ids(self):
        return {op["operationId"] for _, _, _, op in self.operations}

    def find(self, method, path):
        """(template, operation) for a concrete path ('/v1/projects/prj_x',
        query and scheme/host ignored) or a template; (None, None) when no
        path matches; (template, None) when the path matches but not the
        method."""
        path = urlsplit(path).path or "/"
        segs = path[1:].split("/")
        best = None
        for m, template, tsegs, op in self.operations:
            if len(tsegs) != len(segs):
                continue
            score = []
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if not s:
                        break
                    score.append(0)
                elif t == s:
                    score.append(1)
                else:
                    break
            else:
                key = (tuple(score), m == method.upper())
                if best is None or key > best[0]:
                    best = (key, template, op if m == method.upper() else None)
        if best is None:
            return None, None
        return best[1], best[2]

    def response_for(self, op, status):
        """The response object documented for status: exact code, then a
        range ('4XX'), then, for 5xx only, 'default'; None when not
        documented."""
        responses = op.get("responses", {})
        keys = [str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx"]
        if status >= 500:
            keys.append("default")
        for key in keys:
            if key in responses:
                return responses[key]
        return None

    def validator(self, schema_key, schema):
        v = self._validators.get(schema_key)
        if v is None:
            cls = jsonschema.Draft202012Validator
            cls.check_schema(schema)
            v = cls(schema, format_checker=FORMAT_CHECKER)
            self._validators[schema_key] = v
        return v

    def validate(self, schema, body, what, schema_key=None):
        """Validates body against an already resolved schema; AssertionError
        naming every violation (best match first)."""
        v = self.validator(schema_key or json.dumps(schema, sort_keys=True), schema)
        errors = sorted(v.iter_errors(body), key=lambda e: (len(e.path), str(e.path)))
        if not errors:
            return
        best = jsonschema.exceptions.best_match(errors)
        lines = []
        for e in [best] + [e for e in errors if e is not best][:7]:
            where = "/" + "/".join(str(p) for p in e.absolute_path)
            lines.append(f"  at {where}: {e.message[:300]}")
        raise AssertionError(f"{what}: body does not match the contract:\n"
                             + "\n".join(lines) + f"\n  body: {_short(body)}")

    # ------------------------------------------------------------ check
    def check(self, method, path, status, body, content_type, headers=None):
        """Asserts that a response conforms to the contract; returns the
        operationId (None for a request the router answered). body is the
        raw body (bytes or str, parsed as JSON when the media type is JSON)
        or an already decoded JSON value; None or b"" for no body."""
        method = method.upper()
        status = int(status)
        mt = media_type(content_type)
        template, op = self.find(method, path)
        raw_empty = body is None or body == b"" or body == ""
        where = f"{method} {urlsplit(path).path} -> {status}"
        if op is None:
            self._check_unrouted(method, template, status, body, mt, headers, where)
            return None
        op_id = op["operationId"]
        where = f"{where} ({op_id})"
        resp = self.response_for(op, status)
        if resp is None:
            documented = ", ".join(sorted(op.get("responses", {})))
            raise AssertionError(f"{where}: status {status} is not documented for "
                                 f"{op_id} (documented: {documented})")
        content = resp.get("content") or {}
        if headers is not None:
            self._check_headers(resp, headers, where)
        if not content:
            assert raw_empty, (f"{where}: the contract documents no body, got "
                               f"{mt or 'no content type'}: {_short(_text(body))}")
        elif method != "HEAD":
            assert not raw_empty or mt in UNPARSED, \
                f"{where}: empty body, the contract documents {sorted(content)}"
            documented = {media_type(k): k for k in content}
            assert mt in documented, (f"{where}: content type {content_type!r} is not "
                                      f"documented (documented: {sorted(content)})")
            if is_json(mt):
                value = _decode(body, where)
                schema = content[documented[mt]].get("schema")
                if schema is not None:
                    self.validate(schema, value, where,
                                  schema_key=(op_id, str(status), mt))
                if mt == "application/problem+json" and isinstance(value, dict):
                    assert value.get("status") == status, (
                        f"{where}: problem status {value.get('status')!r} differs "
                        f"from the HTTP status")
        with self._lock:
            self.seen.add((op_id, status))
        return op_id

    def _check_headers(self, resp, headers, where):
        lower = {k.lower(): v for k, v in headers.items()}
        for name, h in (resp.get("headers") or {}).items():
            value = lower.get(name.lower())
            if value is None:
                assert not h.get("required"), f"{where}: required header {name} missing"
                continue
            if "schema" in h:
                self.validate(h["schema"], value, f"{where}: header {name}")

    def _check_unrouted(self, method, template, status, body, mt, headers, where):
        if template is None:
            expected = 404      # no route: the router's not-found problem
        elif method == "OPTIONS":
            expected = 204      # CORS preflight on a known path
        else:
            expected = 405
        assert status == expected, (
            f"{where}: no operation in the contract for {method} "
            f"{'on ' + template if template else 'on this path'}; "
            f"the router should answer {expected}")
        if expected == 204:
            assert body is None or body in (b"", ""), f"{where}: a preflight has no body"
        else:
            assert mt == "application/problem+json", \
                f"{where}: expected application/problem+json, got {mt!r}"
            value = _decode(body, where)
            self.validate(self.resolve({"$ref": "#/components/schemas/Problem"}), value,
                          where, schema_key=("Problem",))
            assert value.get("status") == status, f"{where}: problem status differs"
            if expected == 405 and headers is not None:
                allow = {k.lower(): v for k, v in headers.items()}.get("allow")
                assert allow, f"{where}: 405 without an Allow header"
                documented = {m for m, t, _, _ in self.operations if t == template}
                if "GET" in documented:  # HEAD goes wherever GET does (RFC 9110 9.3.2)
                    documented.add("HEAD")
                assert set(allow.replace(" ", "").split(",")) == documented, (
                    f"{where}: Allow {allow!r} differs from the contract's methods "
                    f"{sorted(documented)}")
        with self._lock:
            self.unrouted.add((status, method))

    def missing_operations(self):
        """operationIds the record has no check of."""
        return self.operation_ids() - {op for op, _ in self.seen}


def _text(body):
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else json.dumps(body)


def _decode(body, where):
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return json.loads(body)
        except ValueError as e:
            raise AssertionError(f"{where}: body is not JSON ({e}): {_short(_text(body))}")
    return body


_default = None
_default_lock = threading.Lock()


def default_contract():
    """The module-wide Contract, loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Contract()
        return _default


def load(path=SPEC_PATH):
    """A new Contract with its own record."""
    return Contract(path)


def check(method, path, status, body, content_type, headers=None, contract=None):
    """Asserts a response conforms to the contract (see Contract.check)."""
    return (contract or default_contract()).check(method, path, status, body,
                                                  content_type, headers)


def validated():
    """The (operationId, status) pairs checked through the default contract."""
    return set(default_contract().seen)


class ContractSession(requests.Session):
    """A requests.Session bound to a daemon URL whose every response is
    checked against the contract. URLs may be absolute or relative to
    base_url; responses from other origins are not checked. token sets
    'Authorization: Bearer <token>'. Requests without a timeout get
    self.timeout (seconds; None for none). The body of a text/event-stream
    response is left unread, so stream=True works for SSE."""

    timeout = 60

    def __init__(self, base_url, token=None, contract=None):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.contract = contract or default_contract()
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        resp = super().request(method, url, *args, **kwargs)
        if url.startswith(self.base_url + "/"):
            self.check_response(resp)
        return resp

    def check_response(self, resp):
        req = resp.request
        mt = media_type(resp.headers.get("Content-Type"))
        if mt in UNPARSED:
            body = None     # never read a stream; Prometheus text is free-form
        else:
            body = resp.content
        return self.contract.check(req.method, req.path_url, resp.status_code, body,
                                   resp.headers.get("Content-Type"), resp.headers)
