"""dms_server: the fake DMS's HTTP side.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  _Handler reads
one request per call and hands it to FakeDMS: /_fake/... to the control API
(ServerMixin._handle_control), anything else to the DMS API entry
(ServerMixin._handle_api: signature, operation, Content-Type, injected fault,
validation, then the operation).  Faults (throttle, 500, drop, reset, hang,
drop-after-commit) are picked and injected here.  Each connection runs in its
own thread of the ThreadingHTTPServer; state is guarded by FakeDMS._lock.
"""

import hmac
import http.server
import json
import socket
import struct
import sys
import time
import uuid
from urllib.parse import urlsplit

from dms_dialect import apply_dialect
from dms_model import CONTENT_TYPE, IMPLEMENTED, TARGET_PREFIX, DmsError, _encode_api, service_model

MAX_BODY = 1 << 20  # 1 MiB request body limit

FAULT_MODES = ("throttle", "500", "drop", "reset", "hang", "drop-after-commit")
DEFAULT_FAULT_MODES = ("throttle", "500", "drop")


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


class ServerMixin:
    """FakeDMS's control API, DMS API entry and fault injection."""

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
            ("POST", "/_fake/cdc-latency"): lambda: self.set_cdc_latency(
                args.get("task", "*"), float(args.get("seconds", 0)), int(args.get("pending", 0))),
            ("POST", "/_fake/validation-failure"): lambda: self.set_validation_failure(
                args["schema"], args["table"], args.get("keys", [])),
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
        with self._lock:
            if op == "DescribeReplicationTasks":
                self._write_control_tables(result)
            dialect = self.dialect
        result = apply_dialect(dialect, model.operation_model(op).output_shape, result)
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
