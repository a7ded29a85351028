#!/usr/bin/python3
"""fake_dms: a loopback fake of the AWS DMS JSON 1.1 API for the test suite.

Standard library plus Debian's python3-botocore (service model, parameter
validation, SigV4 reference implementation).  Run it with /usr/bin/python3.

Library use::

    from fake_dms import FakeDMS
    with FakeDMS(port=0) as fake:          # starts on 127.0.0.1:<free port>
        url = fake.url                      # http://127.0.0.1:NNNNN
        fake.set_faults(rate=0.3, modes=["throttle", "500", "drop"], seed=7)
        fake.advance(5)                     # move the virtual clock forward
        fake.stats()["creates"]["ReplicationTaskIdentifier"]

CLI use (a separate process for a harness)::

    /usr/bin/python3 tests/fakes/fake_dms.py --port 0 --port-file /tmp/p \\
        --control '{"speed": 10, "catalog": [{"schema": "HR", "table": "EMP", "rows": 100}]}'

Everything here is a test double: it talks only on loopback, never to AWS.
See tests/fakes/README.md for the control API.

This file is the entry point (CLI and library); the fake is split by concern
into sibling modules, which it imports by plain name after putting this
directory on sys.path (so it works run by path, loaded by path, or imported
as tests.fakes.fake_dms / fakes.fake_dms):

    dms_model     service model, DmsError, response encoding, validation
    dms_sigv4     SigV4 signature verification
    dms_state     resources, their state machines on the virtual clock, JSON views
    dms_ops       operations: account, instances, endpoints, connections
    dms_task_ops  operations: replication tasks (mappings, settings)
    dms_server    HTTP handler, control API, API entry, fault injection

FakeDMS below holds the configuration, the clock, the state and the library
control calls, and mixes in the rest.  FakeDMS, java_double, DmsError, the
DEFAULT_* settings and the other names the single-file fake defined are
re-exported here, so importers need not know about the split.
"""

import argparse
import copy
import ipaddress
import json
import os
import random
import signal
import socket
import sys
import threading
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # sibling modules, however this file was loaded
    sys.path.insert(0, _HERE)

from botocore.validate import ParamValidator  # noqa: E402

# Re-exported: the single-file fake defined all of these here.
from dms_control_tables import ControlTablesMixin  # noqa: E402
from dms_dialect import DIALECTS, apply_dialect, parse_dialect  # noqa: E402,F401
from dms_pg_copy import PgCopyMixin  # noqa: E402
from dms_model import (  # noqa: E402,F401
    CASE_INSENSITIVE_ENUMS, CONTENT_TYPE, IMPLEMENTED, SERVICE, TARGET_PREFIX, DmsError,
    ValidationMixin, _Ts, _encode_api, java_double, service_model)
from dms_ops import CREATE_IDENTIFIERS, DB_ENGINES, OpsMixin, _check_identifier, _merge  # noqa: E402,F401
from dms_server import (  # noqa: E402,F401
    DEFAULT_FAULT_MODES, FAULT_MODES, MAX_BODY, ServerMixin, _Handler, _Server)
from dms_sigv4 import SigV4Mixin, _Verifier  # noqa: E402,F401
from dms_state import (  # noqa: E402,F401
    DEFAULT_CATALOG, DEFAULT_TIMINGS, ENGINE_DISPLAY, ENGINE_SETTINGS_KEY, Endpoint, Instance,
    StateMixin, Table, Task)
from dms_task_ops import DEFAULT_TASK_SETTINGS, TaskOpsMixin, _like  # noqa: E402,F401

DEFAULT_ACCESS_KEY = "AKIDEXAMPLE"
DEFAULT_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


# --------------------------------------------------------------------------
# the fake

class FakeDMS(ServerMixin, SigV4Mixin, ValidationMixin, StateMixin, OpsMixin, TaskOpsMixin,
              ControlTablesMixin, PgCopyMixin):
    """A fake AWS DMS endpoint.  Thread-safe; all state under one lock."""

    def __init__(self, host="127.0.0.1", port=0, access_key=DEFAULT_ACCESS_KEY,
                 secret_key=DEFAULT_SECRET_KEY, session_token=None, credentials=None,
                 region="us-east-1", account_id="123456789012", speed=1.0, seed=0,
                 catalog=None, timings=None, control_api=True, control_token=None,
                 max_skew_seconds=900, strict=True, error_type_prefix="", timestamp_style="java",
                 verbose=False, dialect=None):
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError("fake_dms only listens on loopback addresses")
        self.host = host
        self.requested_port = port
        self.region = region
        self.account_id = account_id
        self.control_api = control_api
        self.control_token = control_token
        self.max_skew_seconds = max_skew_seconds
        self.strict = strict
        self.error_type_prefix = error_type_prefix
        if timestamp_style not in ("java", "plain"):
            raise ValueError("timestamp_style is java or plain")
        self.timestamp_style = timestamp_style
        self.dialect = parse_dialect(dialect)
        self.verbose = verbose
        self.seed = seed
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self._validator = ParamValidator()
        # credentials: access key -> (secret, session token or None)
        self._creds = {}
        if credentials:
            for c in credentials:
                self._creds[c["access_key"]] = (c["secret_key"], c.get("session_token"))
        else:
            self._creds[access_key] = (secret_key, session_token)
        self._base_timings = dict(DEFAULT_TIMINGS)
        if timings:
            self._set_timings(timings)
        self._base_catalog = self._norm_catalog(catalog if catalog is not None else DEFAULT_CATALOG)
        self._speed = float(speed)
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._wall0 = time.time()
        self._reset_state()

    # ---------------------------------------------------------------- lifecycle

    def start(self):
        """Bind and serve in a background thread; returns self."""
        self._server = _Server((self.host, self.requested_port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-dms",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    # ---------------------------------------------------------------- clock

    def now(self):
        """Virtual seconds since the fake was made."""
        with self._lock:
            return (time.monotonic() - self._t0) * self._speed + self._offset

    def advance(self, seconds):
        """Move the virtual clock forward (never backward)."""
        if seconds < 0:
            raise ValueError("cannot move the clock backward")
        with self._lock:
            self._offset += float(seconds)
            return self.now()

    def set_speed(self, speed):
        with self._lock:
            now = self.now()
            self._t0 = time.monotonic()
            self._offset = now
            self._speed = float(speed)

    def _wall(self, v):
        return None if v is None else _Ts(round(self._wall0 + v, 3))

    # ---------------------------------------------------------------- state

    def _reset_state(self):
        with self._lock:
            self.timings = dict(self._base_timings)
            self.catalog = list(self._base_catalog)
            self.catalogs = {}
            self.instances = {}     # arn -> Instance
            self.endpoints = {}     # arn -> Endpoint
            self.tasks = {}         # arn -> Task
            self.connections = {}   # (instance arn, endpoint arn) -> dict
            self.refreshes = {}     # endpoint arn -> dict
            self.connection_failures = {}  # endpoint identifier -> message
            self._id_rng = random.Random(self.seed)
            self._fault_rng = random.Random(self.seed)
            self.faults = {"rate": 0.0, "modes": list(DEFAULT_FAULT_MODES), "operations": None,
                           "max_faults": None, "hang_seconds": 5.0, "seed": self.seed}
            self.fault_script = []
            self.ignore_starts = False
            self.cdc_latency = {"*": (0.0, 0)}  # task ident or "*" -> (seconds, pending changes)
            self.validation_failures = {}  # (schema, table) -> [keys failing validation]
            self._close_control_conns()
            self.counters = self._new_counters()
            self.request_log = []

    @staticmethod
    def _new_counters():
        return {
            "requests_total": 0,
            "operations": {},
            "creates": {v: {} for v in CREATE_IDENTIFIERS.values()},
            "create_attempts": {v: {} for v in CREATE_IDENTIFIERS.values()},
            "validation_failures": 0,
            "validation_failures_by_operation": {},
            "signature_failures": 0,
            "signature_failures_by_reason": {},
            "faults": {"total": 0, "by_mode": {}, "by_operation": {}},
            "unknown_operations": 0,
            "unimplemented_operations": 0,
            "protocol_errors": 0,
            "fake_bugs": 0,
        }

    def reset(self):
        """Forget all resources, counters and faults (keeps credentials, speed, base config)."""
        self._reset_state()

    @staticmethod
    def _norm_catalog(tables):
        out = []
        for t in tables:
            if not isinstance(t, dict) or "schema" not in t or "table" not in t:
                raise ValueError("catalog entries need schema and table")
            rows = int(t.get("rows", 0))
            if rows < 0:
                raise ValueError("rows must be >= 0")
            kind = t.get("type", "table")
            if kind not in ("table", "view"):
                raise ValueError("type must be table or view")
            out.append({"schema": str(t["schema"]), "table": str(t["table"]), "rows": rows, "type": kind})
        return out

    def _set_timings(self, timings):
        for k, v in timings.items():
            if k not in DEFAULT_TIMINGS:
                raise ValueError(f"unknown timing {k}")
            v = float(v)
            if v < 0 or (k == "rows_per_second" and v <= 0):
                raise ValueError(f"bad value for timing {k}")
            self._base_timings[k] = v
            if hasattr(self, "timings"):
                self.timings[k] = v

    # ---------------------------------------------------------------- control (library)

    def configure(self, cfg):
        """Apply a config document (the same JSON as POST /_fake/config)."""
        with self._lock:
            known = {"speed", "timings", "catalog", "catalogs", "faults", "fault_script", "credentials",
                     "max_skew_seconds", "strict", "error_type_prefix", "timestamp_style", "advance",
                     "dialect", "ignore_starts"}
            unknown = set(cfg) - known
            if unknown:
                raise ValueError(f"unknown config keys: {sorted(unknown)}")
            if "speed" in cfg:
                self.set_speed(cfg["speed"])
            if "timings" in cfg:
                self._set_timings(cfg["timings"])
            if "catalog" in cfg:
                self.set_catalog(cfg["catalog"])
            for ep, tables in (cfg.get("catalogs") or {}).items():
                self.set_catalog(tables, endpoint=ep)
            if "faults" in cfg:
                self.set_faults(**cfg["faults"])
            if "fault_script" in cfg:
                self.queue_faults(cfg["fault_script"])
            if "credentials" in cfg:
                self.set_credentials(cfg["credentials"])
            if "max_skew_seconds" in cfg:
                self.max_skew_seconds = float(cfg["max_skew_seconds"])
            if "strict" in cfg:
                self.strict = bool(cfg["strict"])
            if "error_type_prefix" in cfg:
                self.error_type_prefix = str(cfg["error_type_prefix"])
            if "timestamp_style" in cfg:
                if cfg["timestamp_style"] not in ("java", "plain"):
                    raise ValueError("timestamp_style is java or plain")
                self.timestamp_style = cfg["timestamp_style"]
            if "dialect" in cfg:
                self.dialect = parse_dialect(cfg["dialect"])
            if "ignore_starts" in cfg:
                self.ignore_starts = bool(cfg["ignore_starts"])
            if "advance" in cfg:
                self.advance(float(cfg["advance"]))

    def set_credentials(self, creds):
        with self._lock:
            new = {}
            for c in creds:
                new[c["access_key"]] = (c["secret_key"], c.get("session_token"))
            if not new:
                raise ValueError("at least one credential is needed")
            self._creds = new

    def set_catalog(self, tables, endpoint=None):
        """Set the source catalog: [{schema, table, rows, type?}], globally or for one
        source endpoint (identifier or ARN)."""
        with self._lock:
            norm = self._norm_catalog(tables)
            if endpoint is None:
                self.catalog = norm
                self._base_catalog = list(norm)
            else:
                self.catalogs[self._endpoint_key(endpoint)] = norm

    def _endpoint_key(self, ref):
        for ep in self.endpoints.values():
            if ref in (ep.arn, ep.ident):
                return ep.ident
        return ref

    def set_faults(self, rate=None, modes=None, seed=None, operations=None, max_faults=None,
                   hang_seconds=None, **unknown):
        """Random faults: each API request (after authentication) is faulted with
        probability `rate`, the mode chosen uniformly from `modes` (or by weight when a
        dict), with an RNG seeded by `seed`.  `operations` limits faults to those
        operation names; `max_faults` caps how many are injected."""
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        with self._lock:
            if rate is not None:
                rate = float(rate)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError("rate must be within [0, 1]")
                self.faults["rate"] = rate
            if modes is not None:
                items = modes.items() if isinstance(modes, dict) else [(m, 1.0) for m in modes]
                for m, w in items:
                    if m not in FAULT_MODES:
                        raise ValueError(f"unknown fault mode {m}; known: {FAULT_MODES}")
                    if float(w) < 0:
                        raise ValueError("weights must be >= 0")
                self.faults["modes"] = dict(modes) if isinstance(modes, dict) else list(modes)
            if seed is not None:
                self.faults["seed"] = seed
                self._fault_rng = random.Random(seed)
            if operations is not None:
                # an empty list means every operation again
                self.faults["operations"] = list(operations) or None
            if max_faults is not None:
                self.faults["max_faults"] = None if max_faults < 0 else int(max_faults)
            if hang_seconds is not None:
                hs = float(hang_seconds)
                if not 0 <= hs <= 60:
                    raise ValueError("hang_seconds must be within [0, 60]")
                self.faults["hang_seconds"] = hs

    def queue_faults(self, script):
        """Deterministic faults consumed in order: [{"fault": mode, "operation": name or "*"}]
        or plain mode strings (any operation)."""
        with self._lock:
            for item in script:
                if isinstance(item, str):
                    item = {"fault": item}
                mode = item.get("fault")
                if mode not in FAULT_MODES:
                    raise ValueError(f"unknown fault mode {mode}")
                self.fault_script.append({"fault": mode, "operation": item.get("operation", "*")})

    def clear_faults(self):
        with self._lock:
            self.faults["rate"] = 0.0
            self.faults["operations"] = None
            self.faults["max_faults"] = None
            self.fault_script = []

    def stats(self):
        with self._lock:
            out = copy.deepcopy(self.counters)
            out["fault_config"] = copy.deepcopy(self.faults)
            out["fault_script_pending"] = len(self.fault_script)
            out["virtual_time"] = round(self.now(), 3)
            return out

    def creates(self, identifier_param, identifier):
        """How many times a resource with this identifier was really created."""
        with self._lock:
            return self.counters["creates"][identifier_param].get(identifier, 0)

    def _find_task(self, ref):
        for t in self.tasks.values():
            if ref in (t.arn, t.ident):
                return t
        raise KeyError(f"no task {ref}")

    def _find_table(self, task, schema, table):
        for tb in task.tables:
            if tb.schema == schema and tb.name == table:
                return tb
        raise KeyError(f"task {task.ident} has no table {schema}.{table}")

    def set_table_error(self, task, schema, table, message=None):
        """Put one table of a task into "Table error" now."""
        with self._lock:
            now = self.now()
            self._tick(now)
            t = self._find_task(task)
            tb = self._find_table(t, schema, table)
            tb.state = "Table error"
            tb.error = message or f"Table {schema}.{table} failed (injected by fake_dms)"
            tb.last_update_v = now
            if tb.end_v is not None and tb.end_v > now:
                tb.end_v = now
            settings = json.loads(t.settings)
            if settings.get("ErrorBehavior", {}).get("TableErrorPolicy") == "STOP_TASK" and \
                    t.status in ("running", "starting"):
                self._task_fail(t, now, tb.error)
            return self._table_json(tb)

    def bump_cdc(self, task, schema, table, inserts=0, updates=0, deletes=0, ddls=0):
        """Count change events applied by a running task to one table."""
        with self._lock:
            now = self.now()
            self._tick(now)
            t = self._find_task(task)
            if t.status != "running":
                raise RuntimeError(f"task {t.ident} is {t.status}, not running")
            tb = self._find_table(t, schema, table)
            for name, n in (("inserts", inserts), ("updates", updates), ("deletes", deletes), ("ddls", ddls)):
                n = int(n)
                if n < 0:
                    raise ValueError("counts must be >= 0")
                setattr(tb, name, getattr(tb, name) + n)
            tb.last_update_v = now
            return self._table_json(tb)

    def fail_connection_test(self, endpoint, message="Test connection failed (injected by fake_dms)"):
        """Make TestConnection of this endpoint (identifier or ARN) end in "failed";
        message None clears it."""
        with self._lock:
            key = self._endpoint_key(endpoint)
            if message is None:
                self.connection_failures.pop(key, None)
            else:
                self.connection_failures[key] = message

    def set_cdc_latency(self, task, seconds, pending=0):
        """CDC latency (seconds) and pending changes that the awsdms_status control
        table reports for a task (identifier or ARN), or for every task ("*")."""
        with self._lock:
            if seconds < 0 or pending < 0:
                raise ValueError("seconds and pending must be >= 0")
            key = task if task == "*" else self._find_task(task).ident
            self.cdc_latency[key] = (float(seconds), int(pending))
            return {"ok": True}

    def set_validation_failure(self, schema, table, keys):
        """Keys of source table schema.table whose rows fail DMS data validation
        (every task with validation enabled); an empty list clears them."""
        with self._lock:
            self.validation_failures[(str(schema), str(table))] = [str(k) for k in keys]
            if not keys:
                del self.validation_failures[(str(schema), str(table))]
            return {"ok": True}

    def fail_task(self, task, message="Task failed (injected by fake_dms)"):
        with self._lock:
            now = self.now()
            self._tick(now)
            t = self._find_task(task)
            self._task_fail(t, now, message)

    def dump(self):
        """All resources as the API would describe them."""
        with self._lock:
            now = self.now()
            self._tick(now)
            return {
                "virtual_time": round(now, 3),
                "replication_instances": [self._instance_json(i) for i in self.instances.values()],
                "endpoints": [self._endpoint_json(e) for e in self.endpoints.values()],
                "connections": [self._connection_json(k, c) for k, c in self.connections.items()],
                "replication_tasks": [self._task_json(t) for t in self.tasks.values()],
                "table_statistics": {t.ident: [self._table_json(tb) for tb in t.tables]
                                     for t in self.tasks.values()},
            }

    # ---------------------------------------------------------------- counters

    def _op_counter(self, op):
        return self.counters["operations"].setdefault(op, {"requests": 0, "ok": 0, "errors": {}, "faults": {}})

    def _log(self, op, status, err):
        self.request_log.append({"t": round(self.now(), 3), "operation": op, "status": status, "error": err})
        if len(self.request_log) > 500:
            del self.request_log[:100]


# --------------------------------------------------------------------------
# CLI

def _load_json_arg(value):
    if value is None:
        return None
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            return json.load(f)
    return json.loads(value)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake AWS DMS (JSON 1.1) on loopback, for tests.")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port, 0 picks a free one (default 0)")
    ap.add_argument("--port-file", help="write the chosen port to this file (atomically) once listening")
    ap.add_argument("--access-key", default=DEFAULT_ACCESS_KEY)
    ap.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    ap.add_argument("--session-token", default=None, help="require this X-Amz-Security-Token")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--account-id", default="123456789012")
    ap.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second")
    ap.add_argument("--seed", type=int, default=0, help="seed of resource ids and fault RNG")
    ap.add_argument("--catalog", help="JSON list of {schema, table, rows[, type]} or @file")
    ap.add_argument("--control", "--config", dest="control",
                    help="initial control settings: JSON object or @file (same as POST /_fake/config)")
    ap.add_argument("--control-token", help="require X-Fake-Control-Token on /_fake/ requests")
    ap.add_argument("--no-control-api", action="store_true", help="disable the /_fake/ control API")
    ap.add_argument("--max-skew", type=float, default=900.0, help="allowed X-Amz-Date skew in seconds")
    ap.add_argument("--lenient", action="store_true", help="ignore unknown input members (DMS does)")
    ap.add_argument("--error-type-prefix", default="",
                    help="prefix __type values, e.g. 'com.amazonaws.dms.v20160101#'")
    ap.add_argument("--timestamp-style", choices=("java", "plain"), default="java",
                    help="response timestamps as 1.690000000123E9 (java, like AWS) or 1690000000.123")
    ap.add_argument("--dialect", default="aws",
                    help="answer dialect: aws, or a comma list of " + ", ".join(DIALECTS))
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)

    fake = FakeDMS(host=args.host, port=args.port, access_key=args.access_key, secret_key=args.secret_key,
                   session_token=args.session_token, region=args.region, account_id=args.account_id,
                   speed=args.speed, seed=args.seed, catalog=_load_json_arg(args.catalog),
                   control_api=not args.no_control_api, control_token=args.control_token,
                   max_skew_seconds=args.max_skew, strict=not args.lenient,
                   error_type_prefix=args.error_type_prefix, timestamp_style=args.timestamp_style,
                   verbose=args.verbose, dialect=args.dialect)
    control = _load_json_arg(args.control)
    if control:
        fake.configure(control)
    fake.start()
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{fake.port}\n")
        os.replace(tmp, args.port_file)
    print(f"fake_dms listening on {fake.url}", flush=True)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.5):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
