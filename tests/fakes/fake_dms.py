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
"""

import argparse
import base64
import copy
import datetime
import decimal
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

TARGET_PREFIX = "AmazonDMSv20160101."
CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE = "dms"
MAX_BODY = 1 << 20  # 1 MiB request body limit

DEFAULT_ACCESS_KEY = "AKIDEXAMPLE"
DEFAULT_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

# Durations in virtual seconds; the virtual clock runs at `speed` times real
# time and can be moved forward with advance().
DEFAULT_TIMINGS = {
    "instance_create": 3.0,
    "instance_delete": 1.0,
    "endpoint_delete": 0.5,
    "connection_test": 1.0,
    "refresh_schemas": 1.0,
    "task_create": 1.0,
    "task_start": 1.0,
    "task_stop": 1.0,
    "task_modify": 0.5,
    "task_delete": 1.0,
    "cached_changes": 1.0,      # applying cached changes after the full load
    "rows_per_second": 2000.0,  # full-load speed of one table
    "min_table_load": 0.5,      # shortest load of one table
}

DEFAULT_CATALOG = [
    {"schema": "HR", "table": "COUNTRIES", "rows": 25},
    {"schema": "HR", "table": "DEPARTMENTS", "rows": 27},
    {"schema": "HR", "table": "EMPLOYEES", "rows": 107},
    {"schema": "HR", "table": "JOBS", "rows": 19},
    {"schema": "HR", "table": "JOB_HISTORY", "rows": 10},
    {"schema": "HR", "table": "LOCATIONS", "rows": 23},
    {"schema": "HR", "table": "REGIONS", "rows": 4},
]

FAULT_MODES = ("throttle", "500", "drop", "reset", "hang", "drop-after-commit")
DEFAULT_FAULT_MODES = ("throttle", "500", "drop")

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

CREATE_IDENTIFIERS = {
    "CreateReplicationInstance": "ReplicationInstanceIdentifier",
    "CreateEndpoint": "EndpointIdentifier",
    "CreateReplicationTask": "ReplicationTaskIdentifier",
}

# Enum shapes the service compares without regard to case (DMS answers
# EndpointType in upper case while the model lists lower case).
CASE_INSENSITIVE_ENUMS = {"ReplicationEndpointTypeValue"}

ENGINE_DISPLAY = {
    "oracle": "Oracle", "postgres": "PostgreSQL", "aurora-postgresql": "Amazon Aurora PostgreSQL",
    "mysql": "MySQL", "aurora": "Amazon Aurora MySQL", "mariadb": "MariaDB",
    "sqlserver": "Microsoft SQL Server", "sybase": "SAP Sybase ASE", "db2": "IBM Db2 for Linux, UNIX, and Windows",
    "s3": "Amazon S3", "redshift": "Amazon Redshift", "dynamodb": "Amazon DynamoDB",
}
# Engines whose endpoints need server/user/database when no secret is referenced.
DB_ENGINES = {"oracle", "postgres", "aurora-postgresql", "mysql", "aurora", "mariadb", "sqlserver", "sybase", "db2"}
ENGINE_SETTINGS_KEY = {
    "oracle": "OracleSettings", "postgres": "PostgreSQLSettings", "aurora-postgresql": "PostgreSQLSettings",
    "mysql": "MySQLSettings", "aurora": "MySQLSettings", "mariadb": "MySQLSettings",
    "sqlserver": "MicrosoftSQLServerSettings", "sybase": "SybaseSettings", "db2": "IBMDb2Settings",
}

DEFAULT_TASK_SETTINGS = {
    "TargetMetadata": {"TargetSchema": "", "SupportLobs": True, "FullLobMode": False,
                       "LobChunkSize": 64, "LimitedSizeLobMode": True, "LobMaxSize": 32},
    "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE", "CreatePkAfterFullLoad": False,
                         "StopTaskCachedChangesApplied": False, "StopTaskCachedChangesNotApplied": False,
                         "MaxFullLoadSubTasks": 8, "TransactionConsistencyTimeout": 600,
                         "CommitRate": 10000},
    "Logging": {"EnableLogging": False},
    "ControlTablesSettings": {"ControlSchema": "", "HistoryTimeslotInMinutes": 5,
                              "HistoryTableEnabled": False, "SuspendedTablesTableEnabled": False,
                              "StatusTableEnabled": False},
    "StreamBufferSettings": {"StreamBufferCount": 3, "StreamBufferSizeInMB": 8, "CtrlStreamBufferSizeInMB": 5},
    "ChangeProcessingTuning": {"BatchApplyPreserveTransaction": True, "BatchApplyTimeoutMin": 1,
                               "BatchApplyTimeoutMax": 30, "BatchApplyMemoryLimit": 500,
                               "BatchSplitSize": 0, "MinTransactionSize": 1000,
                               "CommitTimeout": 1, "MemoryLimitTotal": 1024,
                               "MemoryKeepTime": 60, "StatementCacheSize": 50},
    "ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableDropped": True,
                                          "HandleSourceTableTruncated": True,
                                          "HandleSourceTableAltered": True},
    "ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR", "DataTruncationErrorPolicy": "LOG_ERROR",
                      "DataErrorEscalationPolicy": "SUSPEND_TABLE", "DataErrorEscalationCount": 0,
                      "TableErrorPolicy": "SUSPEND_TABLE", "TableErrorEscalationPolicy": "STOP_TASK",
                      "TableErrorEscalationCount": 0, "RecoverableErrorCount": -1,
                      "RecoverableErrorInterval": 5, "RecoverableErrorThrottling": True,
                      "RecoverableErrorThrottlingMax": 1800, "ApplyErrorDeletePolicy": "IGNORE_RECORD",
                      "ApplyErrorInsertPolicy": "LOG_ERROR", "ApplyErrorUpdatePolicy": "LOG_ERROR",
                      "ApplyErrorEscalationPolicy": "LOG_ERROR", "ApplyErrorEscalationCount": 0,
                      "FullLoadIgnoreConflicts": True},
    "ValidationSettings": {"EnableValidation": False},
}

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


class _Verifier(SigV4Auth):
    """SigV4Auth that signs exactly the headers the client listed."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        header_map = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                header_map[name] = value
        return header_map


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


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _like(pattern, value):
    """DMS selection-rule match: '%' is the only wildcard."""
    rx = "".join(".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, value, re.DOTALL) is not None


_IDENT_RX = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")


def _check_identifier(kind, value, max_len):
    if not value or len(value) > max_len or not _IDENT_RX.match(value) or value.endswith("-"):
        raise DmsError(
            "InvalidParameterValueException",
            f"The parameter {kind} is not a valid identifier. Identifiers must begin with a letter; "
            f"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
            f"or contain two consecutive hyphens (1-{max_len} characters).")


# --------------------------------------------------------------------------
# resources

class Instance:
    def __init__(self, ident, arn, params, now, ready_at):
        self.ident = ident
        self.arn = arn
        self.cls = params["ReplicationInstanceClass"]
        self.storage = params.get("AllocatedStorage", 50)
        self.multi_az = params.get("MultiAZ", False)
        self.engine_version = params.get("EngineVersion", "3.5.3")
        self.auto_minor = params.get("AutoMinorVersionUpgrade", True)
        self.public = params.get("PubliclyAccessible", True)
        self.az = params.get("AvailabilityZone")
        self.window = params.get("PreferredMaintenanceWindow", "sun:06:00-sun:06:30")
        self.kms = params.get("KmsKeyId")
        self.subnet_group = params.get("ReplicationSubnetGroupIdentifier", "default")
        self.sgs = params.get("VpcSecurityGroupIds") or ["sg-0fa4ef5a7e1c0b1d2"]
        self.network_type = params.get("NetworkType", "IPV4")
        self.created_v = now
        self.status = "creating"
        self.until = ready_at
        self.next = "available"


class Endpoint:
    def __init__(self, ident, arn, params, now):
        self.ident = ident
        self.arn = arn
        self.params = dict(params)
        self.created_v = now
        self.status = "active"
        self.until = None


class Table:
    def __init__(self, schema, name, rows):
        self.schema = schema
        self.name = name
        self.rows = int(rows)
        self.state = "Before load"
        self.loaded = 0
        self.start_v = None   # load slot start (this attempt)
        self.end_v = None     # load slot end (this attempt)
        self.fl_start_v = None
        self.fl_end_v = None
        self.reloaded = False
        self.inserts = self.updates = self.deletes = self.ddls = 0
        self.last_update_v = None
        self.error = None


class Task:
    def __init__(self, ident, arn, params, settings, now, ready_at):
        self.ident = ident
        self.arn = arn
        self.source_arn = params["SourceEndpointArn"]
        self.target_arn = params["TargetEndpointArn"]
        self.instance_arn = params["ReplicationInstanceArn"]
        self.migration_type = params["MigrationType"]
        self.table_mappings = params["TableMappings"]
        self.settings = settings
        self.cdc_start_position = params.get("CdcStartPosition")
        self.cdc_start_time = params.get("CdcStartTime")
        self.cdc_stop_position = params.get("CdcStopPosition")
        self.task_data = params.get("TaskData")
        self.created_v = now
        self.status = "creating"
        self.until = ready_at
        self.next = ("status", "ready")
        self.prev_status = None
        self.stop_reason = None
        self.last_failure = None
        self.recovery_checkpoint = None
        self.ever_started = False
        self.task_start_v = None
        self.fresh_start_v = None
        self.start_v = None
        self.stop_v = None
        self.fl_start_v = None
        self.fl_finish_v = None
        self.elapsed_ms = 0
        self.run_started_v = None
        self.tables = []
        self.fl_active = False
        self.fl_sim = None
        self.pending = None   # what happens when "starting" turns "running"
        self.cdc_active = False


# --------------------------------------------------------------------------
# HTTP layer

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-dms/1.0"
    timeout = 120  # idle keep-alive connections are closed after this

    def log_message(self, fmt, *args):  # quiet unless verbose
        if self.server.fake.verbose:
            sys.stderr.write("fake_dms: %s - %s\n" % (self.address_string(), fmt % args))

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ValueError("truncated chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise OverflowError()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = int(length)
        if n < 0:
            raise ValueError("negative Content-Length")
        if n > MAX_BODY:
            raise OverflowError()
        return self.rfile.read(n)

    def setup(self):
        super().setup()
        try:  # answers go out in one write; no Nagle delay either way
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def send_json(self, status, obj, extra_headers=None, content_type=CONTENT_TYPE):
        if isinstance(obj, bytes):
            body = obj
        else:
            body = json.dumps(obj, separators=(",", ":")).encode() if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        data = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.wfile.write(data)

    def drop(self, reset=False):
        """Close the connection without any response."""
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def _dispatch(self):
        fake = self.server.fake
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except OverflowError:
            self.send_json(413, {"__type": "SerializationException", "message": "Request body too large"})
            self.close_connection = True
            return
        except ValueError:
            self.send_json(400, {"__type": "SerializationException", "message": "Malformed request body"})
            self.close_connection = True
            return
        if path.startswith("/_fake/") or path == "/_fake":
            fake._handle_control(self, path, body)
        else:
            fake._handle_api(self, path, body)

    def do_POST(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# --------------------------------------------------------------------------
# the fake

class FakeDMS:
    """A fake AWS DMS endpoint.  Thread-safe; all state under one lock."""

    def __init__(self, host="127.0.0.1", port=0, access_key=DEFAULT_ACCESS_KEY,
                 secret_key=DEFAULT_SECRET_KEY, session_token=None, credentials=None,
                 region="us-east-1", account_id="123456789012", speed=1.0, seed=0,
                 catalog=None, timings=None, control_api=True, control_token=None,
                 max_skew_seconds=900, strict=True, error_type_prefix="", timestamp_style="java",
                 verbose=False):
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
                     "max_skew_seconds", "strict", "error_type_prefix", "timestamp_style", "advance"}
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

    # ---------------------------------------------------------------- control (HTTP)

    def _handle_control(self, h, path, body):
        if not self.control_api:
            h.send_json(404, {"error": "control API disabled"}, content_type="application/json")
            return
        if self.control_token and not hmac.compare_digest(
                h.headers.get("X-Fake-Control-Token", ""), self.control_token):
            h.send_json(403, {"error": "bad control token"}, content_type="application/json")
            return
        try:
            args = json.loads(body) if body.strip() else {}
            if not isinstance(args, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as e:
            h.send_json(400, {"error": f"bad JSON: {e}"}, content_type="application/json")
            return
        method = h.command
        routes = {
            ("GET", "/_fake/health"): lambda: {"ok": True, "port": self.port},
            ("GET", "/_fake/stats"): self.stats,
            ("GET", "/_fake/state"): self.dump,
            ("GET", "/_fake/faults"): lambda: self.stats()["fault_config"],
            ("GET", "/_fake/requests"): lambda: {"requests": list(self.request_log)},
            ("POST", "/_fake/reset"): lambda: (self.reset(), {"ok": True})[1],
            ("POST", "/_fake/config"): lambda: (self.configure(args), {"ok": True})[1],
            ("POST", "/_fake/faults"): lambda: self._ctl_faults(args),
            ("POST", "/_fake/catalog"): lambda: (self.set_catalog(args["tables"], args.get("endpoint")),
                                                 {"ok": True})[1],
            ("POST", "/_fake/advance"): lambda: {"virtual_time": round(self.advance(float(args.get("seconds", 0))), 3)},
            ("POST", "/_fake/table-error"): lambda: self.set_table_error(
                args["task"], args["schema"], args["table"], args.get("message")),
            ("POST", "/_fake/cdc"): lambda: self.bump_cdc(
                args["task"], args["schema"], args["table"], args.get("inserts", 0),
                args.get("updates", 0), args.get("deletes", 0), args.get("ddls", 0)),
            ("POST", "/_fake/connection-failure"): lambda: (self.fail_connection_test(
                args["endpoint"], args.get("message", "Test connection failed (injected by fake_dms)")),
                {"ok": True})[1],
            ("POST", "/_fake/task-failure"): lambda: (self.fail_task(
                args["task"], args.get("message", "Task failed (injected by fake_dms)")), {"ok": True})[1],
        }
        fn = routes.get((method, path))
        if fn is None:
            known_paths = {p for (_, p) in routes}
            code = 405 if path in known_paths else 404
            h.send_json(code, {"error": f"no control route {method} {path}"}, content_type="application/json")
            return
        try:
            result = fn()
        except KeyError as e:
            h.send_json(404 if "no " in str(e) else 400, {"error": f"{e}"}, content_type="application/json")
            return
        except (ValueError, TypeError, RuntimeError) as e:
            h.send_json(409 if isinstance(e, RuntimeError) else 400, {"error": str(e)},
                        content_type="application/json")
            return
        h.send_json(200, result, content_type="application/json")

    def _ctl_faults(self, args):
        args = dict(args)
        script = args.pop("script", None)
        if args.pop("clear", False):
            self.clear_faults()
        if args:
            self.set_faults(**args)
        if script is not None:
            self.queue_faults(script)
        return self.stats()["fault_config"]

    # ---------------------------------------------------------------- API entry

    def _error_body(self, err):
        body = {"__type": self.error_type_prefix + err.type, "message": err.message}
        body.update(err.extra)
        return body

    def _send_error(self, h, err, op, request_id):
        with self._lock:
            c = self._op_counter(op or "-")
            c["errors"][err.type] = c["errors"].get(err.type, 0) + 1
            self._log(op, err.status, err.type)
        h.send_json(err.status, self._error_body(err),
                    {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": err.type})

    def _handle_api(self, h, path, body):
        request_id = str(uuid.uuid4())
        target = h.headers.get("X-Amz-Target", "")
        op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else None
        with self._lock:
            self.counters["requests_total"] += 1
            if op:
                self._op_counter(op)["requests"] += 1
        if h.command != "POST" or path != "/":
            with self._lock:
                self.counters["protocol_errors"] += 1
            self._send_error(h, DmsError("UnknownOperationException",
                                         f"{h.command} {path} is not a DMS API call", 404), op, request_id)
            return
        # 1. authentication
        try:
            self._verify_signature(h, body)
        except DmsError as err:
            with self._lock:
                self.counters["signature_failures"] += 1
                r = self.counters["signature_failures_by_reason"]
                r[err.type] = r.get(err.type, 0) + 1
            self._send_error(h, err, op, request_id)
            return
        # 2. protocol: target and content type
        model = service_model()
        if op is None or op not in model.operation_names:
            with self._lock:
                self.counters["unknown_operations"] += 1
            self._send_error(h, DmsError("UnknownOperationException",
                                         f"Unknown operation {target or '(no X-Amz-Target)'}"), op, request_id)
            return
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != CONTENT_TYPE:
            with self._lock:
                self.counters["protocol_errors"] += 1
            self._send_error(h, DmsError("SerializationException",
                                         f"Content-Type must be {CONTENT_TYPE}, not {ctype or '(none)'}"),
                             op, request_id)
            return
        if op not in IMPLEMENTED:
            with self._lock:
                self.counters["unimplemented_operations"] += 1
            self._send_error(h, DmsError("UnknownOperationException",
                                         f"fake_dms does not implement {op}"), op, request_id)
            return
        # 3. injected faults: no side effect at all
        fault = self._pick_fault(op)
        if fault and fault != "drop-after-commit":
            self._inject(h, fault, op, request_id)
            return
        # 4. input validation against the model
        try:
            params = self._validate(op, body)
        except DmsError as err:
            with self._lock:
                self.counters["validation_failures"] += 1
                v = self.counters["validation_failures_by_operation"]
                v[op] = v.get(op, 0) + 1
            self._send_error(h, err, op, request_id)
            return
        # 5. the operation
        try:
            with self._lock:
                now = self.now()
                self._tick(now)
                result = getattr(self, "_op_" + op)(params, now)
                self._check_output(model.operation_model(op).output_shape, result, op)
                c = self._op_counter(op)
                c["ok"] += 1
                self._log(op, 200, None)
        except DmsError as err:
            self._send_error(h, err, op, request_id)
            return
        except Exception as exc:  # a bug in the fake: say so loudly
            with self._lock:
                self.counters["fake_bugs"] += 1
            sys.stderr.write(f"fake_dms: internal error in {op}: {exc!r}\n")
            import traceback
            traceback.print_exc()
            self._send_error(h, DmsError("InternalFailure", f"fake_dms bug: {exc!r}", 500), op, request_id)
            return
        if fault == "drop-after-commit":
            with self._lock:
                self._count_fault(op, fault)
            h.drop()
            return
        h.send_json(200, _encode_api(result, self.timestamp_style), {"x-amzn-RequestId": request_id})

    # ---------------------------------------------------------------- faults

    def _pick_fault(self, op):
        with self._lock:
            for i, item in enumerate(self.fault_script):
                if item["operation"] in ("*", op):
                    del self.fault_script[i]
                    if item["fault"] != "drop-after-commit":
                        self._count_fault(op, item["fault"])
                    return item["fault"]
            f = self.faults
            if f["rate"] <= 0:
                return None
            if f["operations"] and op not in f["operations"]:
                return None
            if f["max_faults"] is not None and self.counters["faults"]["total"] >= f["max_faults"]:
                return None
            if self._fault_rng.random() >= f["rate"]:
                return None
            modes = f["modes"]
            if isinstance(modes, dict):
                names = [m for m, w in modes.items() if float(w) > 0]
                weights = [float(modes[m]) for m in names]
                if not names:
                    return None
                mode = self._fault_rng.choices(names, weights)[0]
            else:
                if not modes:
                    return None
                mode = modes[self._fault_rng.randrange(len(modes))]
            if mode != "drop-after-commit":
                self._count_fault(op, mode)
            return mode

    def _count_fault(self, op, mode):
        fc = self.counters["faults"]
        fc["total"] += 1
        fc["by_mode"][mode] = fc["by_mode"].get(mode, 0) + 1
        fc["by_operation"][op] = fc["by_operation"].get(op, 0) + 1
        oc = self._op_counter(op)["faults"]
        oc[mode] = oc.get(mode, 0) + 1
        self._log(op, 0, "fault:" + mode)

    def _inject(self, h, mode, op, request_id):
        if mode == "throttle":
            h.send_json(400, self._error_body(DmsError("ThrottlingException", "Rate exceeded")),
                        {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": "ThrottlingException"})
        elif mode == "500":
            h.send_json(500, self._error_body(DmsError("InternalFailure",
                                                       "The request processing has failed because of an "
                                                       "unknown error, exception or failure.")),
                        {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": "InternalFailure"})
        elif mode == "drop":
            h.drop()
        elif mode == "reset":
            h.drop(reset=True)
        elif mode == "hang":
            time.sleep(self.faults["hang_seconds"])
            h.drop()

    # ---------------------------------------------------------------- SigV4

    def _verify_signature(self, h, body):
        auth = h.headers.get("Authorization")
        if not auth:
            raise DmsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise DmsError("IncompleteSignatureException",
                           "Authorization header must use the AWS4-HMAC-SHA256 algorithm", 403)
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                fields[k.strip()] = v.strip()
        for need in ("Credential", "SignedHeaders", "Signature"):
            if not fields.get(need):
                raise DmsError("IncompleteSignatureException",
                               f"Authorization header requires '{need}' parameter. Authorization={auth}", 403)
        scope = fields["Credential"].split("/")
        if len(scope) != 5:
            raise DmsError("IncompleteSignatureException",
                           f"Credential must have exactly 5 slash-delimited elements, e.g. "
                           f"keyid/date/region/service/term, got '{fields['Credential']}'", 403)
        akid, sdate, sregion, sservice, sterm = scope
        if akid not in self._creds:
            raise DmsError("UnrecognizedClientException", "The security token included in the request is invalid.",
                           403)
        secret, token = self._creds[akid]
        amz_date = h.headers.get("X-Amz-Date")
        if not amz_date:
            raise DmsError("IncompleteSignatureException", "Authorization header requires existence of "
                           "either a 'X-Amz-Date' or a 'Date' header (fake_dms supports X-Amz-Date only).", 403)
        try:
            req_time = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise DmsError("IncompleteSignatureException", f"Invalid X-Amz-Date '{amz_date}'", 403)
        now = datetime.datetime.now(datetime.timezone.utc)
        skew = (req_time - now).total_seconds()
        fmt = "%Y%m%dT%H%M%SZ"
        if skew < -self.max_skew_seconds:
            raise DmsError("InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier than "
                           f"{(now - datetime.timedelta(seconds=self.max_skew_seconds)).strftime(fmt)} "
                           f"({now.strftime(fmt)} - {self.max_skew_seconds / 60:g} min.)", 403)
        if skew > self.max_skew_seconds:
            raise DmsError("InvalidSignatureException",
                           f"Signature not yet current: {amz_date} is still later than "
                           f"{(now + datetime.timedelta(seconds=self.max_skew_seconds)).strftime(fmt)} "
                           f"({now.strftime(fmt)} + {self.max_skew_seconds / 60:g} min.)", 403)
        if sdate != amz_date[:8]:
            raise DmsError("InvalidSignatureException",
                           f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                           f"from HTTP: '{sdate}' != '{amz_date[:8]}', from '{amz_date}'.", 403)
        if sregion != self.region:
            raise DmsError("InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{sregion}'.", 403)
        if sservice != SERVICE:
            raise DmsError("InvalidSignatureException",
                           f"Credential should be scoped to correct service: '{SERVICE}'.", 403)
        if sterm != "aws4_request":
            raise DmsError("InvalidSignatureException",
                           f"Credential should be scoped with a valid terminator: 'aws4_request', not '{sterm}'.",
                           403)
        sent_token = h.headers.get("X-Amz-Security-Token")
        if (token or sent_token) and not (token and sent_token and hmac.compare_digest(token, sent_token)):
            raise DmsError("UnrecognizedClientException",
                           "The security token included in the request is invalid.", 403)
        signed = [s.strip().lower() for s in fields["SignedHeaders"].split(";") if s.strip()]
        if signed != sorted(set(signed)):
            raise DmsError("InvalidSignatureException", "SignedHeaders must be sorted, lower case and unique.",
                           403)
        if "host" not in signed:
            raise DmsError("InvalidSignatureException",
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", 403)
        if "x-amz-date" not in signed:
            raise DmsError("InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS "
                           "Authorization (fake_dms requires it).", 403)
        if sent_token and "x-amz-security-token" not in signed:
            raise DmsError("InvalidSignatureException",
                           "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.", 403)
        for name in signed:
            if h.headers.get(name) is None:
                raise DmsError("InvalidSignatureException", f"Signed header '{name}' is missing from the request.",
                               403)
        content_sha = h.headers.get("X-Amz-Content-SHA256")
        if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
            raise DmsError("InvalidSignatureException",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.", 403)
        headers = HTTPHeaders()
        for name, value in h.headers.items():
            if name.lower() in signed:
                headers[name.lower()] = value
        req = AWSRequest(method=h.command, url="http://" + h.headers.get("Host", self.host) + h.path,
                         data=body, headers=headers)
        req.context["timestamp"] = amz_date
        verifier = _Verifier(Credentials(akid, secret, token), SERVICE, self.region, signed)
        canonical = verifier.canonical_request(req)
        expected = verifier.signature(verifier.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise DmsError("InvalidSignatureException",
                           "The request signature we calculated does not match the signature you provided. "
                           "Check your AWS Secret Access Key and signing method. Consult the service "
                           "documentation for details.\n\nThe Canonical String for this request should have been\n'"
                           + canonical + "'\n", 403)

    # ---------------------------------------------------------------- validation

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

    # ---------------------------------------------------------------- ids

    def _new_arn(self, kind):
        rid = "".join(self._id_rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(26))
        return f"arn:aws:dms:{self.region}:{self.account_id}:{kind}:{rid}"

    # ---------------------------------------------------------------- time-driven transitions

    def _tick(self, now):
        for arn, inst in list(self.instances.items()):
            if inst.until is not None and now >= inst.until:
                if inst.next == "gone":
                    del self.instances[arn]
                    for key in [k for k in self.connections if k[0] == arn]:
                        del self.connections[key]
                else:
                    inst.status, inst.until, inst.next = inst.next, None, None
        for arn, ep in list(self.endpoints.items()):
            if ep.until is not None and now >= ep.until:
                del self.endpoints[arn]
                for key in [k for k in self.connections if k[1] == arn]:
                    del self.connections[key]
                self.refreshes.pop(arn, None)
        for conn in self.connections.values():
            if conn["status"] == "testing" and now >= conn["until"]:
                conn["status"] = conn["result"]
                conn["until"] = None
        for ref in self.refreshes.values():
            if ref["status"] == "refreshing" and now >= ref["until"]:
                ref["status"] = "successful"
                ref["last_v"] = ref["until"]
        for arn, t in list(self.tasks.items()):
            if self._tick_task(t, now) == "gone":
                del self.tasks[arn]

    def _tick_task(self, t, now):
        for _ in range(10000):
            if t.until is not None and now >= t.until:
                at, (kind, arg) = t.until, t.next
                t.until, t.next = None, None
                if kind == "gone":
                    return "gone"
                if kind == "status":
                    t.status = arg
                elif kind == "running":
                    self._task_running(t, at)
                elif kind == "stopped":
                    self._task_stopped(t, at, arg)
                continue
            if t.status == "running" and t.fl_active:
                if self._fl_advance(t, now):
                    self._after_full_load(t, t.fl_sim)
                    continue
            break
        return None

    def _task_settings(self, t):
        return json.loads(t.settings)

    def _task_running(self, t, at):
        t.status = "running"
        t.run_started_v = at
        what = t.pending
        t.pending = None
        if what == "full-load":
            t.fl_active = True
            t.fl_sim = at
            if t.fl_start_v is None:
                t.fl_start_v = at
            for tb in t.tables:
                if tb.state not in ("Table completed", "Table error"):
                    tb.state = "Before load"
                    tb.loaded = 0
                    tb.start_v = tb.end_v = None
        elif what == "finish":  # a full-load-only task with nothing left to load
            self._task_stopped(t, at, "Stop Reason FULL_LOAD_ONLY_FINISHED")
        else:  # change data capture
            t.cdc_active = True
            for tb in t.tables:
                if tb.state in ("Before load", "Table cancelled"):
                    tb.state = "Table completed"
                    tb.last_update_v = at

    def _task_stopped(self, t, at, reason):
        if t.run_started_v is not None:
            t.elapsed_ms += int(round((at - t.run_started_v) * 1000))
            t.run_started_v = None
        t.status = "stopped"
        t.stop_reason = reason
        t.stop_v = at
        t.cdc_active = False
        t.fl_active = False
        t.recovery_checkpoint = f"checkpoint:V1#{int(at * 1000)}#fake#0#0#*#0#0"
        for tb in t.tables:
            if tb.state == "Full load":
                tb.state = "Table cancelled"
                tb.last_update_v = at

    def _task_fail(self, t, at, message):
        if t.run_started_v is not None:
            t.elapsed_ms += int(round((at - t.run_started_v) * 1000))
            t.run_started_v = None
        t.status = "failed"
        t.last_failure = message
        t.stop_reason = "Stop Reason FATAL_ERROR"
        t.stop_v = at
        t.until = t.next = None
        t.fl_active = False
        t.cdc_active = False
        for tb in t.tables:
            if tb.state == "Full load":
                tb.state = "Table cancelled"
                tb.last_update_v = at

    def _table_duration(self, tb):
        return max(self.timings["min_table_load"], tb.rows / self.timings["rows_per_second"])

    def _fl_advance(self, t, now):
        """Advance the full-load simulation to `now`; True when the load is over
        (t.fl_sim is then the moment it ended)."""
        settings = self._task_settings(t)
        slots = max(1, int(settings.get("FullLoadSettings", {}).get("MaxFullLoadSubTasks", 8)))
        while True:
            loading = [tb for tb in t.tables if tb.state == "Full load"]
            queued = [tb for tb in t.tables if tb.state == "Before load"]
            while len(loading) < slots and queued:
                tb = queued.pop(0)
                tb.state = "Full load"
                tb.loaded = 0
                tb.start_v = t.fl_sim
                tb.end_v = t.fl_sim + self._table_duration(tb)
                tb.fl_start_v = t.fl_sim
                tb.fl_end_v = None
                tb.last_update_v = t.fl_sim
                loading.append(tb)
            if not loading:
                return True
            nxt = min(tb.end_v for tb in loading)
            if nxt > now:
                t.fl_sim = max(t.fl_sim, now)
                for tb in loading:
                    span = tb.end_v - tb.start_v
                    frac = 1.0 if span <= 0 else min(1.0, max(0.0, (now - tb.start_v) / span))
                    tb.loaded = int(tb.rows * frac)
                return False
            t.fl_sim = max(t.fl_sim, nxt)
            for tb in loading:
                if tb.end_v <= nxt:
                    tb.state = "Table completed"
                    tb.loaded = tb.rows
                    tb.fl_end_v = tb.end_v
                    tb.last_update_v = tb.end_v

    def _after_full_load(self, t, at):
        t.fl_active = False
        t.fl_finish_v = at
        fls = self._task_settings(t).get("FullLoadSettings", {})
        if t.migration_type == "full-load":
            self._task_stopped(t, at, "Stop Reason FULL_LOAD_ONLY_FINISHED")
        elif fls.get("StopTaskCachedChangesNotApplied"):
            self._task_stopped(t, at, "Stop Reason STOPPED_AFTER_FULL_LOAD")
        elif fls.get("StopTaskCachedChangesApplied"):
            t.cdc_active = True
            t.until = at + self.timings["cached_changes"]
            t.next = ("stopped", "Stop Reason STOPPED_AFTER_CACHED_EVENTS")
        else:
            t.cdc_active = True

    # ---------------------------------------------------------------- JSON views

    def _instance_json(self, i):
        out = {
            "ReplicationInstanceIdentifier": i.ident,
            "ReplicationInstanceClass": i.cls,
            "ReplicationInstanceStatus": i.status,
            "AllocatedStorage": i.storage,
            "InstanceCreateTime": self._wall(i.created_v),
            "VpcSecurityGroups": [{"VpcSecurityGroupId": sg, "Status": "active"} for sg in i.sgs],
            "ReplicationSubnetGroup": {
                "ReplicationSubnetGroupIdentifier": i.subnet_group,
                "ReplicationSubnetGroupDescription": i.subnet_group,
                "VpcId": "vpc-0a1b2c3d4e5f60718",
                "SubnetGroupStatus": "Complete",
                "Subnets": [
                    {"SubnetIdentifier": "subnet-0aa11bb22cc33dd44",
                     "SubnetAvailabilityZone": {"Name": f"{self.region}a"}, "SubnetStatus": "Active"},
                    {"SubnetIdentifier": "subnet-0ee55ff66aa77bb88",
                     "SubnetAvailabilityZone": {"Name": f"{self.region}b"}, "SubnetStatus": "Active"},
                ],
                "SupportedNetworkTypes": ["IPV4"],
            },
            "PreferredMaintenanceWindow": i.window,
            "PendingModifiedValues": {},
            "MultiAZ": i.multi_az,
            "EngineVersion": i.engine_version,
            "AutoMinorVersionUpgrade": i.auto_minor,
            "KmsKeyId": i.kms or f"arn:aws:kms:{self.region}:{self.account_id}:key/00000000-fake-0000-0000-000000000000",
            "ReplicationInstanceArn": i.arn,
            "PubliclyAccessible": i.public,
            "DnsNameServers": "",
            "NetworkType": i.network_type,
        }
        if i.status != "creating":
            out["AvailabilityZone"] = i.az or f"{self.region}a"
            out["ReplicationInstancePrivateIpAddress"] = "10.0.0.10"
            out["ReplicationInstancePrivateIpAddresses"] = ["10.0.0.10"]
            if i.public:
                out["ReplicationInstancePublicIpAddress"] = "192.0.2.10"
                out["ReplicationInstancePublicIpAddresses"] = ["192.0.2.10"]
        if i.multi_az and i.status != "creating":
            out["SecondaryAvailabilityZone"] = f"{self.region}b"
        return out

    def _endpoint_json(self, e):
        p = e.params
        engine = p["EngineName"]
        out = {
            "EndpointIdentifier": e.ident,
            "EndpointType": p["EndpointType"].upper(),
            "EngineName": engine,
            "EngineDisplayName": ENGINE_DISPLAY.get(engine, engine),
            "Status": e.status,
            "KmsKeyId": p.get("KmsKeyId") or
            f"arn:aws:kms:{self.region}:{self.account_id}:key/00000000-fake-0000-0000-000000000000",
            "EndpointArn": e.arn,
            "SslMode": p.get("SslMode", "none"),
        }
        for k in ("Username", "ServerName", "Port", "DatabaseName", "ExtraConnectionAttributes",
                  "CertificateArn", "ServiceAccessRoleArn", "ExternalTableDefinition"):
            if p.get(k) is not None:
                out[k] = p[k]
        if out.get("ExtraConnectionAttributes") is None:
            out["ExtraConnectionAttributes"] = ""
        settings_shapes = service_model().shape_for("Endpoint").members
        for key, shape in settings_shapes.items():
            if key.endswith("Settings") and isinstance(p.get(key), dict):
                out[key] = {k: v for k, v in p[key].items()
                            if k in shape.members and shape.members[k].name != "SecretString"}
        skey = ENGINE_SETTINGS_KEY.get(engine)
        if skey:
            s = out.setdefault(skey, {})
            for k in ("DatabaseName", "Port", "ServerName", "Username"):
                if p.get(k) is not None:
                    s.setdefault(k, p[k])
        return out

    def _connection_json(self, key, c):
        inst = self.instances.get(key[0])
        ep = self.endpoints.get(key[1])
        out = {"ReplicationInstanceArn": key[0], "EndpointArn": key[1], "Status": c["status"]}
        if ep:
            out["EndpointIdentifier"] = ep.ident
        if inst:
            out["ReplicationInstanceIdentifier"] = inst.ident
        if c["status"] == "failed" and c.get("message"):
            out["LastFailureMessage"] = c["message"]
        return out

    def _task_stats(self, t, now):
        tables = t.tables
        total_rows = sum(tb.rows for tb in tables)
        done_rows = sum(tb.rows if tb.state == "Table completed" else tb.loaded for tb in tables
                        if tb.state != "Table error")
        if not t.ever_started:
            pct = 0
        elif t.fl_finish_v is not None and not t.fl_active:
            pct = 100
        elif total_rows == 0:
            pct = 100 if tables and all(tb.state in ("Table completed", "Table error") for tb in tables) else 0
        else:
            pct = min(100, int(100 * done_rows / total_rows))
        elapsed = t.elapsed_ms
        if t.run_started_v is not None:
            elapsed += int(round((now - t.run_started_v) * 1000))
        st = {
            "FullLoadProgressPercent": pct,
            "ElapsedTimeMillis": elapsed,
            "TablesLoaded": sum(1 for tb in tables if tb.state == "Table completed"),
            "TablesLoading": sum(1 for tb in tables if tb.state == "Full load"),
            "TablesQueued": sum(1 for tb in tables if tb.state in ("Before load", "Table cancelled")),
            "TablesErrored": sum(1 for tb in tables if tb.state == "Table error"),
        }
        for key, v in (("FreshStartDate", t.fresh_start_v), ("StartDate", t.start_v), ("StopDate", t.stop_v),
                       ("FullLoadStartDate", t.fl_start_v), ("FullLoadFinishDate", t.fl_finish_v)):
            if v is not None:
                st[key] = self._wall(v)
        return st

    def _task_json(self, t, without_settings=False):
        now = self.now()
        out = {
            "ReplicationTaskIdentifier": t.ident,
            "SourceEndpointArn": t.source_arn,
            "TargetEndpointArn": t.target_arn,
            "ReplicationInstanceArn": t.instance_arn,
            "MigrationType": t.migration_type,
            "Status": t.status,
            "ReplicationTaskCreationDate": self._wall(t.created_v),
            "ReplicationTaskArn": t.arn,
            "ReplicationTaskStats": self._task_stats(t, now),
        }
        if not without_settings:
            out["TableMappings"] = t.table_mappings
            out["ReplicationTaskSettings"] = t.settings
            if t.task_data is not None:
                out["TaskData"] = t.task_data
        if t.last_failure:
            out["LastFailureMessage"] = t.last_failure
        if t.stop_reason and t.status in ("stopped", "failed", "ready"):
            out["StopReason"] = t.stop_reason
        if t.task_start_v is not None:
            out["ReplicationTaskStartDate"] = self._wall(t.task_start_v)
        if t.cdc_start_position:
            out["CdcStartPosition"] = t.cdc_start_position
        if t.cdc_stop_position:
            out["CdcStopPosition"] = t.cdc_stop_position
        if t.recovery_checkpoint:
            out["RecoveryCheckpoint"] = t.recovery_checkpoint
        return out

    def _table_json(self, tb):
        out = {
            "SchemaName": tb.schema,
            "TableName": tb.name,
            "Inserts": tb.inserts,
            "Deletes": tb.deletes,
            "Updates": tb.updates,
            "Ddls": tb.ddls,
            "AppliedInserts": tb.inserts,
            "AppliedDeletes": tb.deletes,
            "AppliedUpdates": tb.updates,
            "AppliedDdls": tb.ddls,
            "FullLoadRows": tb.rows if tb.state == "Table completed" else tb.loaded,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": tb.reloaded,
            "TableState": tb.state,
            "ValidationPendingRecords": 0,
            "ValidationFailedRecords": 0,
            "ValidationSuspendedRecords": 0,
            "ValidationState": "Not enabled",
        }
        if tb.fl_start_v is not None:
            out["FullLoadStartTime"] = self._wall(tb.fl_start_v)
        if tb.fl_end_v is not None:
            out["FullLoadEndTime"] = self._wall(tb.fl_end_v)
        if tb.last_update_v is not None:
            out["LastUpdateTime"] = self._wall(tb.last_update_v)
        if tb.state == "Table error":
            out["ValidationState"] = "Table error"
        return out

    # ---------------------------------------------------------------- helpers for operations

    def _page(self, op, items, params, lo=20, hi=100, default=100):
        maxr = params.get("MaxRecords", default)
        if not lo <= maxr <= hi:
            raise DmsError("InvalidParameterValueException",
                           f"The value of MaxRecords must be between {lo} and {hi}, not {maxr}.")
        start = 0
        marker = params.get("Marker")
        if marker:
            try:
                doc = json.loads(base64.urlsafe_b64decode(marker.encode()).decode())
                if doc["op"] != op:
                    raise ValueError("marker of another operation")
                start = int(doc["o"])
                if start < 0:
                    raise ValueError("negative offset")
            except (ValueError, KeyError, TypeError):
                raise DmsError("InvalidParameterValueException", f"Invalid Marker: {marker}")
        page = items[start:start + maxr]
        nxt = None
        if start + maxr < len(items):
            nxt = base64.urlsafe_b64encode(json.dumps({"op": op, "o": start + maxr}).encode()).decode()
        return page, nxt

    @staticmethod
    def _filters(params, allowed):
        out = []
        for f in params.get("Filters") or []:
            name = f["Name"]
            if name not in allowed:
                raise DmsError("InvalidParameterValueException",
                               f"Invalid filter name '{name}'. Valid names: {', '.join(sorted(allowed))}")
            out.append((allowed[name], f["Values"]))
        return out

    @staticmethod
    def _match(obj, filters):
        for getter, values in filters:
            got = getter(obj)
            got = got if isinstance(got, tuple) else (got,)
            if not any(g in values for g in got):
                return False
        return True

    def _instance(self, arn):
        i = self.instances.get(arn)
        if i is None:
            raise DmsError("ResourceNotFoundFault", f"Replication instance {arn} not found")
        return i

    def _endpoint(self, arn):
        e = self.endpoints.get(arn)
        if e is None:
            raise DmsError("ResourceNotFoundFault", f"Endpoint {arn} not found")
        return e

    def _task(self, arn):
        t = self.tasks.get(arn)
        if t is None:
            raise DmsError("ResourceNotFoundFault", f"Replication Task {arn} not found")
        return t

    def _count_create_attempt(self, op, ident):
        key = CREATE_IDENTIFIERS[op]
        d = self.counters["create_attempts"][key]
        d[ident] = d.get(ident, 0) + 1

    def _count_create(self, op, ident):
        key = CREATE_IDENTIFIERS[op]
        d = self.counters["creates"][key]
        d[ident] = d.get(ident, 0) + 1

    def _parse_mappings(self, text):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise DmsError("InvalidParameterValueException", f"Invalid table mappings: not JSON ({e})")
        rules = doc.get("rules") if isinstance(doc, dict) else None
        if not isinstance(rules, list):
            raise DmsError("InvalidParameterValueException", "Invalid table mappings: a 'rules' array is required")
        selection = []
        for r in rules:
            if not isinstance(r, dict) or "rule-type" not in r:
                raise DmsError("InvalidParameterValueException", "Invalid table mappings: rule without rule-type")
            if r["rule-type"] != "selection":
                continue
            loc = r.get("object-locator")
            action = r.get("rule-action")
            if not isinstance(loc, dict) or "schema-name" not in loc:
                raise DmsError("InvalidParameterValueException",
                               f"Error in mapping rules. Rule with ruleId = {r.get('rule-id')} failed "
                               f"validation. The object-locator needs a schema-name.")
            if action not in ("include", "exclude", "explicit"):
                raise DmsError("InvalidParameterValueException",
                               f"Error in mapping rules. Rule with ruleId = {r.get('rule-id')} failed "
                               f"validation. Invalid rule-action '{action}'.")
            selection.append(r)
        if not any(r["rule-action"] in ("include", "explicit") for r in selection):
            raise DmsError("InvalidParameterValueException",
                           "Error in mapping rules. The mapping must have at least one include selection rule.")
        return selection

    def _resolve_tables(self, t):
        src = self.endpoints.get(t.source_arn)
        catalog = self.catalogs.get(src.ident, self.catalog) if src else self.catalog
        rules = self._parse_mappings(t.table_mappings)
        chosen = []
        for entry in catalog:
            included = False
            for r in rules:
                loc = r["object-locator"]
                ttype = loc.get("table-type", "table")
                if ttype != "all" and ttype != entry["type"]:
                    continue
                sname, tname = loc["schema-name"], loc.get("table-name", "%")
                if r["rule-action"] == "explicit":
                    hit = sname == entry["schema"] and tname == entry["table"]
                else:
                    hit = _like(sname, entry["schema"]) and _like(tname, entry["table"])
                if not hit:
                    continue
                if r["rule-action"] == "exclude":
                    included = False
                    break
                included = True
            if included:
                chosen.append(entry)
        chosen.sort(key=lambda e: (e["schema"], e["table"]))
        return [Table(e["schema"], e["table"], e["rows"]) for e in chosen]

    def _check_settings(self, text):
        if text is None:
            return json.dumps(DEFAULT_TASK_SETTINGS)
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise DmsError("InvalidParameterValueException", f"Invalid task settings JSON: {e}")
        if not isinstance(doc, dict):
            raise DmsError("InvalidParameterValueException", "Invalid task settings JSON: an object is required")
        fls = doc.get("FullLoadSettings", {})
        if fls.get("StopTaskCachedChangesApplied") and fls.get("StopTaskCachedChangesNotApplied"):
            raise DmsError("InvalidParameterCombinationException",
                           "StopTaskCachedChangesApplied and StopTaskCachedChangesNotApplied cannot both be true")
        # tolerate the flags at top level too (merged into FullLoadSettings)
        for k in ("StopTaskCachedChangesApplied", "StopTaskCachedChangesNotApplied"):
            if k in doc:
                doc.setdefault("FullLoadSettings", {})[k] = doc.pop(k)
        return json.dumps(_merge(DEFAULT_TASK_SETTINGS, doc))

    # ---------------------------------------------------------------- operations

    def _op_DescribeAccountAttributes(self, p, now):
        storage = sum(i.storage for i in self.instances.values())
        return {
            "AccountQuotas": [
                {"AccountQuotaName": "ReplicationInstances", "Used": len(self.instances), "Max": 60},
                {"AccountQuotaName": "AllocatedStorage", "Used": storage, "Max": 30000},
                {"AccountQuotaName": "Endpoints", "Used": len(self.endpoints), "Max": 1000},
                {"AccountQuotaName": "ReplicationSubnetGroups", "Used": 1, "Max": 60},
                {"AccountQuotaName": "SubnetsPerReplicationSubnetGroup", "Used": 2, "Max": 60},
                {"AccountQuotaName": "EventSubscriptions", "Used": 0, "Max": 60},
                {"AccountQuotaName": "ReplicationTasks", "Used": len(self.tasks), "Max": 600},
                {"AccountQuotaName": "Certificates", "Used": 0, "Max": 100},
            ],
            "UniqueAccountIdentifier": f"fake{self.account_id}",
        }

    # replication instances

    def _op_CreateReplicationInstance(self, p, now):
        ident = p["ReplicationInstanceIdentifier"].lower()
        self._count_create_attempt("CreateReplicationInstance", ident)
        _check_identifier("ReplicationInstanceIdentifier", ident, 63)
        if not p["ReplicationInstanceClass"].startswith("dms."):
            raise DmsError("InvalidParameterValueException",
                           f"Invalid replication instance class {p['ReplicationInstanceClass']}")
        storage = p.get("AllocatedStorage", 50)
        if not 5 <= storage <= 6144:
            raise DmsError("InvalidParameterValueException", "AllocatedStorage must be between 5 and 6144 GB")
        for i in self.instances.values():
            if i.ident == ident:
                raise DmsError("ResourceAlreadyExistsFault",
                               f"Replication instance with identifier {ident} already exists",
                               resourceArn=i.arn)
        inst = Instance(ident, self._new_arn("rep"), p, now, now + self.timings["instance_create"])
        self.instances[inst.arn] = inst
        self._count_create("CreateReplicationInstance", ident)
        return {"ReplicationInstance": self._instance_json(inst)}

    def _op_DescribeReplicationInstances(self, p, now):
        filters = self._filters(p, {
            "replication-instance-arn": lambda i: i.arn,
            "replication-instance-id": lambda i: i.ident,
            "replication-instance-class": lambda i: i.cls,
            "engine-version": lambda i: i.engine_version,
        })
        items = [i for i in self.instances.values() if self._match(i, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No replication instance found matching provided filters")
        page, nxt = self._page("DescribeReplicationInstances", items, p)
        out = {"ReplicationInstances": [self._instance_json(i) for i in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_DeleteReplicationInstance(self, p, now):
        inst = self._instance(p["ReplicationInstanceArn"])
        if inst.status != "available" and inst.status != "failed":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}; it must be available to delete")
        users = [t.ident for t in self.tasks.values() if t.instance_arn == inst.arn]
        if users:
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} still has replication tasks: {', '.join(users)}")
        inst.status = "deleting"
        inst.until = now + self.timings["instance_delete"]
        inst.next = "gone"
        return {"ReplicationInstance": self._instance_json(inst)}

    # endpoints

    def _check_endpoint_params(self, p):
        engine = p["EngineName"]
        if engine not in ENGINE_DISPLAY:
            raise DmsError("InvalidParameterValueException", f"Invalid engine name {engine}")
        if engine in DB_ENGINES:
            settings = p.get(ENGINE_SETTINGS_KEY[engine]) or {}
            uses_secret = bool(settings.get("SecretsManagerSecretId"))
            if not uses_secret:
                for key, label in (("ServerName", "serverName"), ("Username", "username"),
                                   ("DatabaseName", "databaseName")):
                    if engine in ("mysql", "aurora", "mariadb") and key == "DatabaseName":
                        continue
                    value = p.get(key) or settings.get(key)
                    if not value or not str(value).strip():
                        raise DmsError("InvalidParameterValueException",
                                       f"The parameter {label} must be provided and must not be blank.")
        port = p.get("Port")
        if port is not None and not 1 <= port <= 65535:
            raise DmsError("InvalidParameterValueException", f"Invalid port {port}")

    def _op_CreateEndpoint(self, p, now):
        ident = p["EndpointIdentifier"]
        self._count_create_attempt("CreateEndpoint", ident)
        _check_identifier("EndpointIdentifier", ident, 255)
        self._check_endpoint_params(p)
        for e in self.endpoints.values():
            if e.ident == ident:
                raise DmsError("ResourceAlreadyExistsFault", f"Endpoint with identifier {ident} already exists",
                               resourceArn=e.arn)
        params = {k: v for k, v in p.items() if k not in ("Tags", "ResourceIdentifier")}
        params["EndpointType"] = p["EndpointType"].lower()
        ep = Endpoint(ident, self._new_arn("endpoint"), params, now)
        self.endpoints[ep.arn] = ep
        self._count_create("CreateEndpoint", ident)
        return {"Endpoint": self._endpoint_json(ep)}

    def _op_DescribeEndpoints(self, p, now):
        filters = self._filters(p, {
            "endpoint-arn": lambda e: e.arn,
            "endpoint-type": lambda e: e.params["EndpointType"],
            "endpoint-id": lambda e: e.ident,
            "engine-name": lambda e: e.params["EngineName"],
        })
        # endpoint-type compares without regard to case (SOURCE / source)
        types = [f["Name"] == "endpoint-type" for f in p.get("Filters") or []]
        filters = [(g, [v.lower() for v in vals]) if is_type else (g, vals)
                   for (g, vals), is_type in zip(filters, types)]
        items = [e for e in self.endpoints.values() if self._match(e, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No Endpoints found matching provided filters")
        page, nxt = self._page("DescribeEndpoints", items, p)
        out = {"Endpoints": [self._endpoint_json(e) for e in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_DeleteEndpoint(self, p, now):
        ep = self._endpoint(p["EndpointArn"])
        if ep.status == "deleting":
            raise DmsError("InvalidResourceStateFault", f"Endpoint {ep.ident} is already being deleted")
        users = [t.ident for t in self.tasks.values() if ep.arn in (t.source_arn, t.target_arn)]
        if users:
            raise DmsError("InvalidResourceStateFault",
                           f"Endpoint {ep.ident} is used by replication tasks: {', '.join(users)}")
        ep.status = "deleting"
        ep.until = now + self.timings["endpoint_delete"]
        return {"Endpoint": self._endpoint_json(ep)}

    def _op_ModifyEndpoint(self, p, now):
        ep = self._endpoint(p["EndpointArn"])
        if ep.status != "active":
            raise DmsError("InvalidResourceStateFault", f"Endpoint {ep.ident} is {ep.status}")
        new = dict(ep.params)
        for k, v in p.items():
            if k in ("EndpointArn", "ExactSettings"):
                continue
            if k.endswith("Settings") and isinstance(v, dict) and not p.get("ExactSettings"):
                new[k] = _merge(new.get(k) or {}, v)
            else:
                new[k] = v
        new["EndpointType"] = new["EndpointType"].lower()
        if "EndpointIdentifier" in p and p["EndpointIdentifier"] != ep.ident:
            _check_identifier("EndpointIdentifier", p["EndpointIdentifier"], 255)
            for other in self.endpoints.values():
                if other.ident == p["EndpointIdentifier"]:
                    raise DmsError("ResourceAlreadyExistsFault",
                                   f"Endpoint with identifier {other.ident} already exists", resourceArn=other.arn)
        self._check_endpoint_params(new)
        if new["EngineName"] != ep.params["EngineName"] and any(
                ep.arn in (t.source_arn, t.target_arn) for t in self.tasks.values()):
            raise DmsError("InvalidResourceStateFault", "Cannot change the engine of an endpoint used by a task")
        ep.params = new
        ep.ident = new["EndpointIdentifier"]
        return {"Endpoint": self._endpoint_json(ep)}

    # connections

    def _op_TestConnection(self, p, now):
        inst = self._instance(p["ReplicationInstanceArn"])
        ep = self._endpoint(p["EndpointArn"])
        if inst.status != "available":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}, not available")
        if ep.status != "active":
            raise DmsError("InvalidResourceStateFault", f"Endpoint {ep.ident} is {ep.status}")
        key = (inst.arn, ep.arn)
        c = self.connections.get(key)
        if c and c["status"] == "testing":
            raise DmsError("InvalidResourceStateFault",
                           f"Connection between endpoint {ep.ident} and replication instance {inst.ident} "
                           f"is already being tested")
        msg = self.connection_failures.get(ep.ident)
        self.connections[key] = {"status": "testing", "until": now + self.timings["connection_test"],
                                 "result": "failed" if msg else "successful", "message": msg}
        return {"Connection": self._connection_json(key, self.connections[key])}

    def _op_DescribeConnections(self, p, now):
        filters = self._filters(p, {
            "endpoint-arn": lambda kc: kc[0][1],
            "replication-instance-arn": lambda kc: kc[0][0],
        })
        items = [kc for kc in self.connections.items() if self._match(kc, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No connections found matching provided filters")
        page, nxt = self._page("DescribeConnections", items, p)
        out = {"Connections": [self._connection_json(k, c) for k, c in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_RefreshSchemas(self, p, now):
        inst = self._instance(p["ReplicationInstanceArn"])
        ep = self._endpoint(p["EndpointArn"])
        if inst.status != "available":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}, not available")
        cur = self.refreshes.get(ep.arn)
        if cur and cur["status"] == "refreshing":
            raise DmsError("InvalidResourceStateFault", f"Schemas of endpoint {ep.ident} are already refreshing")
        self.refreshes[ep.arn] = {"status": "refreshing", "until": now + self.timings["refresh_schemas"],
                                  "instance": inst.arn, "last_v": cur["last_v"] if cur else None}
        return {"RefreshSchemasStatus": self._refresh_json(ep.arn)}

    def _refresh_json(self, ep_arn):
        r = self.refreshes[ep_arn]
        out = {"EndpointArn": ep_arn, "ReplicationInstanceArn": r["instance"], "Status": r["status"]}
        if r["last_v"] is not None:
            out["LastRefreshDate"] = self._wall(r["last_v"])
        return out

    def _op_DescribeRefreshSchemasStatus(self, p, now):
        ep = self._endpoint(p["EndpointArn"])
        if ep.arn not in self.refreshes:
            raise DmsError("ResourceNotFoundFault", f"No schema refresh found for endpoint {ep.ident}")
        return {"RefreshSchemasStatus": self._refresh_json(ep.arn)}

    # replication tasks

    def _op_CreateReplicationTask(self, p, now):
        ident = p["ReplicationTaskIdentifier"]
        self._count_create_attempt("CreateReplicationTask", ident)
        _check_identifier("ReplicationTaskIdentifier", ident, 255)
        for t in self.tasks.values():
            if t.ident == ident:
                raise DmsError("ResourceAlreadyExistsFault",
                               f"Replication Task with identifier {ident} already exists", resourceArn=t.arn)
        src = self._endpoint(p["SourceEndpointArn"])
        dst = self._endpoint(p["TargetEndpointArn"])
        if src.params["EndpointType"] != "source":
            raise DmsError("InvalidParameterValueException", f"Endpoint {src.ident} is not a source endpoint")
        if dst.params["EndpointType"] != "target":
            raise DmsError("InvalidParameterValueException", f"Endpoint {dst.ident} is not a target endpoint")
        inst = self._instance(p["ReplicationInstanceArn"])
        if inst.status != "available":
            raise DmsError("InvalidResourceStateFault",
                           f"Replication instance {inst.ident} is {inst.status}, not available")
        if p.get("CdcStartTime") is not None and p.get("CdcStartPosition"):
            raise DmsError("InvalidParameterCombinationException",
                           "CdcStartTime and CdcStartPosition cannot both be specified")
        self._parse_mappings(p["TableMappings"])
        settings = self._check_settings(p.get("ReplicationTaskSettings"))
        t = Task(ident, self._new_arn("task"), p, settings, now, now + self.timings["task_create"])
        self.tasks[t.arn] = t
        self._count_create("CreateReplicationTask", ident)
        return {"ReplicationTask": self._task_json(t)}

    def _op_DescribeReplicationTasks(self, p, now):
        filters = self._filters(p, {
            "replication-task-arn": lambda t: t.arn,
            "replication-task-id": lambda t: t.ident,
            "migration-type": lambda t: t.migration_type,
            "endpoint-arn": lambda t: (t.source_arn, t.target_arn),
            "replication-instance-arn": lambda t: t.instance_arn,
        })
        items = [t for t in self.tasks.values() if self._match(t, filters)]
        if not items:
            raise DmsError("ResourceNotFoundFault", "No Tasks found matching provided filters")
        page, nxt = self._page("DescribeReplicationTasks", items, p)
        out = {"ReplicationTasks": [self._task_json(t, bool(p.get("WithoutSettings"))) for t in page]}
        if nxt:
            out["Marker"] = nxt
        return out

    def _op_StartReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        kind = p["StartReplicationTaskType"]
        if p.get("CdcStartTime") is not None and p.get("CdcStartPosition"):
            raise DmsError("InvalidParameterCombinationException",
                           "CdcStartTime and CdcStartPosition cannot both be specified")
        inst = self.instances.get(t.instance_arn)
        if inst is None or inst.status != "available":
            raise DmsError("InvalidResourceStateFault", "The task's replication instance is not available")
        has_fl = t.migration_type in ("full-load", "full-load-and-cdc")
        if kind == "start-replication":
            if t.status != "ready" or t.ever_started:
                raise DmsError("InvalidResourceStateFault",
                               "Start Type : START_REPLICATION, valid only for tasks running for the first time")
            t.tables = self._resolve_tables(t)
            t.fresh_start_v = now
            t.pending = "full-load" if has_fl else "cdc"
        elif kind == "resume-processing":
            if t.status not in ("stopped", "failed") or not t.ever_started:
                raise DmsError("InvalidResourceStateFault",
                               f"Task {t.ident} is {t.status}; resume-processing needs a stopped task "
                               f"that ran before")
            if not t.tables:  # it failed for want of tables: look again
                t.tables = self._resolve_tables(t)
            incomplete = any(tb.state in ("Before load", "Full load", "Table cancelled") for tb in t.tables)
            if has_fl and incomplete:
                t.pending = "full-load"
            elif t.migration_type == "full-load":
                t.pending = "finish"
            else:
                t.pending = "cdc"
        else:  # reload-target
            if t.status not in ("stopped", "failed") or not t.ever_started:
                raise DmsError("InvalidResourceStateFault",
                               f"Task {t.ident} is {t.status}; reload-target needs a stopped task that ran before")
            if not has_fl:
                raise DmsError("InvalidParameterCombinationException",
                               "reload-target needs a task with a full load (full-load or full-load-and-cdc)")
            old = {(tb.schema, tb.name) for tb in t.tables if tb.fl_start_v is not None}
            t.tables = self._resolve_tables(t)
            for tb in t.tables:
                tb.reloaded = (tb.schema, tb.name) in old
            t.fresh_start_v = now
            t.fl_start_v = None
            t.fl_finish_v = None
            t.elapsed_ms = 0
            t.pending = "full-load"
        if not t.tables:
            # DMS fails a task that selects no table
            t.ever_started = True
            t.task_start_v = t.start_v = now
            self._task_fail(t, now, "No tables were found at task initialization. Either the selected "
                                    "table(s) or schemas(s) no longer exist or no explicit table(s) or "
                                    "schema(s) were provided")
            t.stop_reason = "Stop Reason FATAL_ERROR"
            return {"ReplicationTask": self._task_json(t)}
        if p.get("CdcStartPosition"):
            t.cdc_start_position = p["CdcStartPosition"]
        if p.get("CdcStopPosition"):
            t.cdc_stop_position = p["CdcStopPosition"]
        t.ever_started = True
        t.status = "starting"
        t.stop_reason = None
        t.last_failure = None
        t.task_start_v = now
        t.start_v = now
        t.stop_v = None
        t.until = now + self.timings["task_start"]
        t.next = ("running", None)
        return {"ReplicationTask": self._task_json(t)}

    def _op_StopReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        if t.status not in ("running", "starting"):
            raise DmsError("InvalidResourceStateFault",
                           f"Task {t.ident} is {t.status}; only a running task can be stopped")
        if t.status == "running" and t.fl_active:
            for tb in t.tables:
                if tb.state == "Full load":
                    tb.state = "Table cancelled"
                    tb.last_update_v = now
            t.fl_active = False
        t.pending = None
        t.status = "stopping"
        t.until = now + self.timings["task_stop"]
        t.next = ("stopped", "Stop Reason NORMAL")
        return {"ReplicationTask": self._task_json(t)}

    def _op_ModifyReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        if t.status not in ("ready", "stopped", "failed"):
            raise DmsError("InvalidResourceStateFault",
                           f"Task {t.ident} is {t.status}; it must be stopped or ready to be modified")
        if p.get("CdcStartTime") is not None and p.get("CdcStartPosition"):
            raise DmsError("InvalidParameterCombinationException",
                           "CdcStartTime and CdcStartPosition cannot both be specified")
        ident = p.get("ReplicationTaskIdentifier")
        if ident and ident != t.ident:
            _check_identifier("ReplicationTaskIdentifier", ident, 255)
            for other in self.tasks.values():
                if other.ident == ident:
                    raise DmsError("ResourceAlreadyExistsFault",
                                   f"Replication Task with identifier {ident} already exists",
                                   resourceArn=other.arn)
        if "TableMappings" in p:
            self._parse_mappings(p["TableMappings"])
        settings = None
        if "ReplicationTaskSettings" in p:
            self._check_settings(p["ReplicationTaskSettings"])
            doc = json.loads(p["ReplicationTaskSettings"])
            for k in ("StopTaskCachedChangesApplied", "StopTaskCachedChangesNotApplied"):
                if k in doc:
                    doc.setdefault("FullLoadSettings", {})[k] = doc.pop(k)
            merged = _merge(json.loads(t.settings), doc)
            fls = merged.get("FullLoadSettings", {})
            if fls.get("StopTaskCachedChangesApplied") and fls.get("StopTaskCachedChangesNotApplied"):
                raise DmsError("InvalidParameterCombinationException",
                               "StopTaskCachedChangesApplied and StopTaskCachedChangesNotApplied cannot both "
                               "be true")
            settings = json.dumps(merged)
        if ident:
            t.ident = ident
        if "MigrationType" in p:
            t.migration_type = p["MigrationType"]
        if "TableMappings" in p:
            t.table_mappings = p["TableMappings"]
        if settings is not None:
            t.settings = settings
        for k, attr in (("CdcStartPosition", "cdc_start_position"), ("CdcStopPosition", "cdc_stop_position"),
                        ("CdcStartTime", "cdc_start_time"), ("TaskData", "task_data")):
            if k in p:
                setattr(t, attr, p[k])
        prev = t.status
        t.status = "modifying"
        t.until = now + self.timings["task_modify"]
        t.next = ("status", prev)
        return {"ReplicationTask": self._task_json(t)}

    def _op_DeleteReplicationTask(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        if t.status not in ("ready", "stopped", "failed"):
            raise DmsError("InvalidResourceStateFault",
                           f"Task {t.ident} is {t.status}; stop it before deleting it")
        t.status = "deleting"
        t.until = now + self.timings["task_delete"]
        t.next = ("gone", None)
        return {"ReplicationTask": self._task_json(t)}

    def _op_DescribeTableStatistics(self, p, now):
        t = self._task(p["ReplicationTaskArn"])
        filters = self._filters(p, {
            "schema-name": lambda tb: tb.schema,
            "table-name": lambda tb: tb.name,
            "table-state": lambda tb: tb.state,
        })
        items = [tb for tb in t.tables if self._match(tb, filters)]
        page, nxt = self._page("DescribeTableStatistics", items, p, lo=20, hi=500, default=100)
        out = {"ReplicationTaskArn": t.arn, "TableStatistics": [self._table_json(tb) for tb in page]}
        if nxt:
            out["Marker"] = nxt
        return out


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
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)

    fake = FakeDMS(host=args.host, port=args.port, access_key=args.access_key, secret_key=args.secret_key,
                   session_token=args.session_token, region=args.region, account_id=args.account_id,
                   speed=args.speed, seed=args.seed, catalog=_load_json_arg(args.catalog),
                   control_api=not args.no_control_api, control_token=args.control_token,
                   max_skew_seconds=args.max_skew, strict=not args.lenient,
                   error_type_prefix=args.error_type_prefix, timestamp_style=args.timestamp_style,
                   verbose=args.verbose)
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
