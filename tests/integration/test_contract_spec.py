"""The API contract (openapi/openapi.yaml) against the code, without a daemon:
- the spec lists exactly the routes of server/routes.c (method, path,
  operationId, least role);
- the examples in the spec are valid against their own schemas;
- contract.py catches what it should (wrong shapes, undocumented statuses
  and media types, a password in a response).
tests/integration/test_contract.py checks the running daemon against it.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_contract_spec.py
"""
import json
import os
import re
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contract  # noqa: E402

ROOT = contract.ROOT
PASSWORD = "contract-Pa55word-never-returned"
MISSING = {"project": "prj_" + "a" * 26}


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(ROOT, "openapi", "openapi.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)

# ------------------------------------------------------------ static checks

ROLE_MACROS = {"V": "viewer", "O": "operator", "A": "admin", "N": "none",
               "CO_ROLE_VIEWER": "viewer", "CO_ROLE_OPERATOR": "operator",
               "CO_ROLE_ADMIN": "admin", "CO_ROLE_NONE": "none"}


def routes_table():
    with open(os.path.join(ROOT, "server", "routes.c"), encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    rows = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*(\w+)\s*,'
                      r'\s*"(\w+)"\s*\}', text)
    assert rows, "no routes found in server/routes.c: has its format changed?"
    return {(m, p): (name, ROLE_MACROS.get(role, role)) for m, p, _, role, name in rows}


def spec_operations(spec):
    out = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in contract.METHODS:
                out[(method.upper(), path)] = (op["operationId"], op.get("x-required-role"))
    return out


def test_spec_describes_exactly_the_routes_table(spec):
    routes, ops = routes_table(), spec_operations(spec)
    assert sorted(set(routes) - set(ops)) == [], "routes missing from openapi.yaml"
    assert sorted(set(ops) - set(routes)) == [], "openapi.yaml describes routes that do not exist"
    for key, (name, role) in routes.items():
        assert ops[key] == (name, role), f"{key}: routes.c says {(name, role)}, spec says {ops[key]}"
    for (method, path), (name, role) in ops.items():
        op = spec["paths"][path][method.lower()]
        if role == "none":
            assert op.get("security") == [], f"{name} needs no token: security must be []"
        else:
            assert "security" not in op, f"{name} must use the global bearer security"
            assert f"Role {role}." in op["description"], f"{name}: description names no role"
            assert "401" in op["responses"], f"{name}: 401 undocumented"
            # every token has at least viewer: only higher roles can be refused,
            # and changes authenticated by a session cookie without CSRF header
            assert ("403" in op["responses"]) == (role != "viewer" or method != "GET"), \
                f"{name}: 403 must be documented exactly when the role is above " \
                "viewer or the operation changes something"


def test_spec_examples_are_valid(spec):
    c = contract.load()
    count = 0

    def walk(node, where):
        nonlocal count
        if isinstance(node, dict):
            if isinstance(node.get("examples"), list):
                schema = c.resolve(node)
                for i, ex in enumerate(node["examples"]):
                    c.validate(schema, ex, f"{where}/examples/{i}")
                    count += 1
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")
    walk(spec["components"], "#/components")
    walk(spec["paths"], "#/paths")
    assert count >= 10


def _project_body(**kw):
    body = {"id": "prj_" + "b" * 26, "name": "p", "description": "",
            "default_engine": "pg-logical", "region": "us-east-1",
            "created_at": "2025-01-31T12:00:00.000Z",
            "updated_at": "2025-01-31T12:00:00.000Z"}
    body.update(kw)
    return body


def test_checker_catches_contract_violations():
    c = contract.load()
    p = "/v1/projects/" + MISSING["project"]
    assert c.find("GET", "/v1/projects/x/endpoints")[0] == "/v1/projects/{id}/endpoints"
    assert c.find("GET", "/v1/projects?limit=1")[0] == "/v1/projects"
    assert c.check("GET", p, 200, json.dumps(_project_body()), "application/json",
                   {"ETag": '"3"'}) == "getProject"
    assert ("getProject", 200) in c.seen

    def fails(match, *args):
        with pytest.raises(AssertionError, match=match):
            c.check(*args)
    fails(r"at /id", "GET", p, 200, _project_body(id=5), "application/json")
    fails(r"at /created_at", "GET", p, 200, _project_body(created_at="yesterday"),
          "application/json")
    fails(r"unevaluated|Additional properties", "GET", p, 200, _project_body(extra=1),
          "application/json")
    fails(r"required header ETag", "GET", p, 200, _project_body(), "application/json", {})
    fails(r"header ETag", "GET", p, 200, _project_body(), "application/json", {"ETag": "3"})
    fails(r"status 418 is not documented", "GET", p, 418, b"", None)
    fails(r"content type 'text/html'", "GET", "/healthz", 200, b'{"status":"ok"}',
          "text/html")
    fails(r"no body", "DELETE", p, 204, b"{}", "application/json")
    fails(r"not JSON", "GET", "/healthz", 200, b"ok", "application/json")
    problem = {"type": "urn:cutover:problem:not-found", "title": "Not Found",
               "status": 404, "detail": "x"}
    assert c.check("GET", p, 404, problem, "application/problem+json") == "getProject"
    fails(r"problem status", "GET", p, 404, dict(problem, status=400),
          "application/problem+json")
    fails(r"at /errors/0", "GET", p, 404,
          dict(problem, errors=[{"pointer": "/a", "parameter": "b", "detail": "c"}]),
          "application/problem+json")
    endpoint = {"id": "ept_" + "c" * 26, "project_id": "prj_" + "b" * 26, "name": "e",
                "role": "source", "engine": "postgres", "host": "h", "port": 5432,
                "database": "d", "username": "u", "sslmode": "prefer",
                "extra_connection_attributes": "", "password_set": True,
                "created_at": "2025-01-31T12:00:00.000Z",
                "updated_at": "2025-01-31T12:00:00.000Z"}
    ep = "/v1/endpoints/" + endpoint["id"]
    c.check("GET", ep, 200, endpoint, "application/json")
    fails(r"password", "GET", ep, 200, dict(endpoint, password=PASSWORD), "application/json")
    # what the router answers: unknown path 404, unknown method 405 + Allow
    assert c.check("GET", "/v1/nothing", 404, problem, "application/problem+json") is None
    fails(r"router should answer 404", "GET", "/v1/nothing", 200, {}, "application/json")
    not_allowed = dict(problem, status=405, type="urn:cutover:problem:method-not-allowed")
    c.check("PUT", "/v1/projects", 405, not_allowed, "application/problem+json",
            {"Allow": "POST, GET, HEAD"})
    fails(r"Allow", "PUT", "/v1/projects", 405, not_allowed, "application/problem+json",
          {"Allow": "GET"})


# ------------------------------------------------------------ the daemon
