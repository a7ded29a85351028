#!/usr/bin/env bash
# api-read.sh - GET /v1/tasks/{id} throughput and p99 latency of a release
# cutoverd, measured with wrk next to nginx serving the very same JSON bytes
# as a static file (the "how fast can this machine answer this response at
# all" baseline).
#
# Usage: bench/api-read.sh [--http-threads N] [--duration SECS]
#                          [--connections N] [--rounds N] [--wait-quiet SECS]
#                          [--build-dir DIR]
#
#   --http-threads N  cutoverd --http-threads (default: number of cores)
#   --duration SECS   wrk -d per target (default 10)
#   --connections N   wrk -c (default 64)
#   --rounds N        measure cutoverd then nginx N times, alternating which
#                     goes first, and report medians (default 1)
#   --wait-quiet SECS before each measured run, wait up to SECS for the
#                     machine to be < 10 % busy (default 30; 0: don't wait)
#   --build-dir DIR   release build dir (default <repo>/build-release; it
#                     is set up with meson -Dbuildtype=release if absent)
#
# Installs wrk and nginx-light with apt-get if they are missing. Everything
# listens on 127.0.0.1 only, on free ports, in a temp dir that is removed
# on exit. Each wrk run is bounded by its duration (and a hard timeout).
#
# Exits non-zero only if the set-up fails; missing a target is reported
# (targets: ratio cutoverd/nginx >= 0.5, cutoverd p99 < 5 ms) but exit 0.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-release}"
CORES="$(nproc)"
HTTP_THREADS="$CORES"
DURATION=10
CONNECTIONS=64
WRK_THREADS=2
ROUNDS=1
QUIET_WAIT=30

die() { echo "api-read: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --http-threads) HTTP_THREADS="${2:?--http-threads needs a value}"; shift 2 ;;
        --duration) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --connections) CONNECTIONS="${2:?--connections needs a value}"; shift 2 ;;
        --wait-quiet) QUIET_WAIT="${2:?--wait-quiet needs a value}"; shift 2 ;;
        --rounds) ROUNDS="${2:?--rounds needs a value}"; shift 2 ;;
        --build-dir) BUILD_DIR="${2:?--build-dir needs a value}"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
case "$HTTP_THREADS$DURATION$CONNECTIONS$ROUNDS$QUIET_WAIT" in *[!0-9]*) die "numeric options only" ;; esac
[ "$HTTP_THREADS" -ge 1 ] && [ "$HTTP_THREADS" -le 64 ] || die "--http-threads must be 1..64"
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] || die "--rounds must be 1..10"
[ "$QUIET_WAIT" -le 600 ] || die "--wait-quiet must be 0..600"
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "--duration must be 1..120"
[ "$CONNECTIONS" -ge 2 ] && [ "$CONNECTIONS" -le 1000 ] || die "--connections must be 2..1000"

# ------------------------------------------------------------ prerequisites
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx-light)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
command -v pgrep >/dev/null 2>&1 || need_pkgs+=(procps)
command -v meson >/dev/null 2>&1 || need_pkgs+=(meson)
command -v ninja >/dev/null 2>&1 || need_pkgs+=(ninja-build)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "api-read: installing ${need_pkgs[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${need_pkgs[@]}" >&2 || die "apt-get install ${need_pkgs[*]} failed"
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# -------------------------------------------------------------------- build
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" "$ROOT" -Dbuildtype=release >&2 || die "meson setup failed"
fi
ninja -C "$BUILD_DIR" cutoverd >&2 || die "build failed"
BIN="$BUILD_DIR/cutoverd"

# ------------------------------------------------------------------ helpers
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cutover-api-read.XXXXXX")"
DAEMON_PID=""
NGINX_PID=""
cleanup() {
    local rc=$?
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS: polls until URL answers 200 (bounded count + time).
wait_http() {
    local url="$1" secs="$2" _
    for _ in $(seq $((secs * 20))); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" = 200 ]; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# api METHOD PATH BODY: prints the response body, fails unless 2xx.
api() {
    local out code
    out="$TMP/api.out"
    code="$(curl -sS --max-time 10 -o "$out" -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
        "http://127.0.0.1:$DPORT$2")" || die "$1 $2: curl failed"
    case "$code" in 2??) cat "$out" ;; *) die "$1 $2 -> HTTP $code: $(cat "$out")" ;; esac
}

json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# ------------------------------------------------------------------ cutoverd
DPORT="$(free_port)"
"$BIN" --listen "127.0.0.1:$DPORT" --db "$TMP/cutover.db" --log-level warn \
    --http-threads "$HTTP_THREADS" >"$TMP/cutoverd.log" 2>&1 &
DAEMON_PID=$!
wait_http "http://127.0.0.1:$DPORT/readyz" 15 ||
    die "cutoverd did not become ready: $(tail -5 "$TMP/cutoverd.log")"

PASSWORD='s3cr3t-Pa55word-bench'
PROJECT_ID="$(api POST /v1/projects '{"name":"bench"}' | json_id)"
endpoint() {
    printf '{"name":"%s","role":"%s","engine":"postgres","host":"127.0.0.1","database":"db1","username":"migrator","password":"%s"}' \
        "$1" "$2" "$PASSWORD"
}
SRC_ID="$(api POST "/v1/projects/$PROJECT_ID/endpoints" "$(endpoint src source)" | json_id)"
TGT_ID="$(api POST "/v1/projects/$PROJECT_ID/endpoints" "$(endpoint tgt target)" | json_id)"
MAPPINGS='{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"1","object-locator":{"schema-name":"public","table-name":"%"},"rule-action":"include"}]}'
TASK_ID="$(api POST "/v1/projects/$PROJECT_ID/tasks" \
    "{\"name\":\"t1\",\"source_endpoint_id\":\"$SRC_ID\",\"target_endpoint_id\":\"$TGT_ID\",\"table_mappings\":$MAPPINGS}" |
    json_id)"
TASK_PATH="/v1/tasks/$TASK_ID"

mkdir -p "$TMP/www"
api GET "$TASK_PATH" >"$TMP/www/task.json"
BODY_BYTES="$(wc -c <"$TMP/www/task.json")"
[ "$BODY_BYTES" -gt 0 ] || die "empty task JSON"

# --------------------------------------------------------------------- nginx
# Its own prefix and config; workers as many as cores; no access log;
# keepalive_requests raised so that, like cutoverd, it never closes wrk's
# keep-alive connections mid-run (nginx's default closes after 1000).
NPORT="$(free_port)"
[ "$NPORT" != "$DPORT" ] || NPORT="$(free_port)"
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
# Workers may run as an unprivileged user when started as root: let them read.
chmod 755 "$TMP" "$TMP/www"
chmod 644 "$TMP/www/task.json"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $CORES;
daemon off;
master_process on;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    types { }
    default_type application/json;
    server {
        listen 127.0.0.1:$NPORT;
        root $TMP/www;
        location = /task.json { }
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" \
    >"$TMP/nginx/logs/stdout.log" 2>&1 &
NGINX_PID=$!
wait_http "http://127.0.0.1:$NPORT/task.json" 10 ||
    die "nginx did not start: $(cat "$TMP/nginx/logs/"*.log 2>/dev/null | tail -5)"
cmp -s "$TMP/www/task.json" <(curl -s "http://127.0.0.1:$NPORT/task.json") ||
    die "nginx does not serve the same bytes"
ctype="$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$NPORT/task.json")"
[ "$ctype" = application/json ] || die "nginx Content-Type is '$ctype'"

# ----------------------------------------------------------------------- wrk
# The machine may be shared: before each run, wait (at most QUIET_WAIT s)
# for other processes to go quiet, and account for the CPU that was not
# ours (server + wrk) during the run, so that noisy figures are visible.
cat >"$TMP/measure.py" <<'PY'
import os, subprocess, sys, time

out, pids, quiet_wait, cmd = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
tck = os.sysconf("SC_CLK_TCK")


def busy_total():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)       # not idle/iowait, all


def proc_cpu(pid_list):
    t = 0
    for pid in pid_list:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])      # utime + stime (all threads)
        except OSError:
            pass
    return t


# Wait for a quiet machine: 1 s samples, < 10 % busy, bounded by quiet_wait.
deadline, before_pct = time.monotonic() + quiet_wait, None
while True:
    b0, a0 = busy_total()
    time.sleep(1.0)
    b1, a1 = busy_total()
    before_pct = 100.0 * (b1 - b0) / max(1, a1 - a0)
    if before_pct < 10.0 or time.monotonic() >= deadline:
        break
if before_pct >= 10.0:
    print(f"api-read: machine still {before_pct:.0f}% busy after {quiet_wait:.0f} s;"
          " measuring anyway", file=sys.stderr)

pid_list = [p for p in pids.split(",") if p]
b0, a0 = busy_total()
s0 = proc_cpu(pid_list)
with open(out, "w") as f:
    proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    _, status, ru = os.wait4(proc.pid, 0)
b1, a1 = busy_total()
s1 = proc_cpu(pid_list)
wrk_ticks = (ru.ru_utime + ru.ru_stime) * tck
other = max(0.0, (b1 - b0) - (s1 - s0) - wrk_ticks)
with open(out, "a") as f:
    f.write(f"# cpu: busy_before={before_pct:.1f}% server={100.0 * (s1 - s0) / max(1, a1 - a0):.1f}%"
            f" wrk={100.0 * wrk_ticks / max(1, a1 - a0):.1f}% other={100.0 * other / max(1, a1 - a0):.1f}%"
            f" server_cpu_s={(s1 - s0) / tck:.2f}\n")
sys.exit(os.waitstatus_to_exitcode(status))
PY

# server_pids NAME: comma-separated pids of the server under test.
server_pids() {
    if [ "$1" = cutoverd ]; then
        echo "$DAEMON_PID"
    else
        echo "$NGINX_PID,$(pgrep -P "$NGINX_PID" | paste -sd, -)"
    fi
}

# run_wrk NAME URL OUT: a 1 s warm-up, then the measured run into OUT.
run_wrk() {
    timeout 30 wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d1s "$2" >/dev/null 2>&1 || true
    python3 "$TMP/measure.py" "$3" "$(server_pids "$1")" "$QUIET_WAIT" \
        timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" \
        --latency "$2" || die "wrk against $1 failed: $(cat "$3")"
}

echo "machine: $CORES cores, $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
echo "cutoverd: $BIN --http-threads $HTTP_THREADS --log-level warn (port $DPORT)"
echo "nginx:    $("$NGINX" -v 2>&1 | sed 's/.*: //') worker_processes $CORES (port $NPORT)"
echo "body:     $BODY_BYTES bytes of $TASK_PATH"
echo "load:     wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS round(s)" \
    "(1 s warm-up before each run)"
echo

D_URL="http://127.0.0.1:$DPORT$TASK_PATH"
N_URL="http://127.0.0.1:$NPORT/task.json"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then
        run_wrk cutoverd "$D_URL" "$TMP/wrk-cutoverd-$r.txt"
        run_wrk nginx "$N_URL" "$TMP/wrk-nginx-$r.txt"
    else
        run_wrk nginx "$N_URL" "$TMP/wrk-nginx-$r.txt"
        run_wrk cutoverd "$D_URL" "$TMP/wrk-cutoverd-$r.txt"
    fi
    if [ -n "${API_READ_VERBOSE:-}" ]; then
        echo "--- round $r: wrk cutoverd"; cat "$TMP/wrk-cutoverd-$r.txt"
        echo "--- round $r: wrk nginx"; cat "$TMP/wrk-nginx-$r.txt"; echo
    fi
done

python3 - "$TMP" "$ROUNDS" <<'PY' || die "cannot parse wrk output"
import re, statistics, sys

tmp, rounds = sys.argv[1], int(sys.argv[2])


def parse(path):
    text = open(path).read()
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    p99 = re.search(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
    if not rps or not p99:
        sys.exit("cannot parse wrk output:\n" + text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     text)
    other = re.search(r"other=([\d.]+)%", text)
    cpu = re.search(r"server_cpu_s=([\d.]+)", text)
    nreq = re.search(r"(\d+) requests in", text)
    us_per_req = (float(cpu.group(1)) * 1e6 / int(nreq.group(1))
                  if cpu and nreq and int(nreq.group(1)) else 0.0)
    return (float(rps.group(1)), float(p99.group(1)) * scale,
            int(non2xx.group(1)) if non2xx else 0,
            sum(int(x) for x in sock.groups()) if sock else 0,
            float(other.group(1)) if other else 0.0, us_per_req)


d = [parse(f"{tmp}/wrk-cutoverd-{r}.txt") for r in range(1, rounds + 1)]
n = [parse(f"{tmp}/wrk-nginx-{r}.txt") for r in range(1, rounds + 1)]
print(f"{'':16} {'req/s':>10} {'p99 ms':>9} {'CPU us/req':>10} {'non-2xx':>8} {'sock err':>8}"
      f" {'other CPU':>9}")
if rounds > 1:
    for r in range(rounds):
        for name, v in (("cutoverd", d[r]), ("nginx", n[r])):
            print(f"{name + ' #' + str(r + 1):16} {v[0]:10.0f} {v[1]:9.2f} {v[5]:10.1f} {v[2]:8}"
                  f" {v[3]:8} {v[4]:8.1f}%")
med = lambda xs, i: statistics.median(x[i] for x in xs)
label = "median " if rounds > 1 else ""
d_rps, d_p99, n_rps, n_p99 = med(d, 0), med(d, 1), med(n, 0), med(n, 1)
print(f"{label + 'cutoverd':16} {d_rps:10.0f} {d_p99:9.2f} {med(d, 5):10.1f} "
      f"{sum(x[2] for x in d):8} {sum(x[3] for x in d):8} {max(x[4] for x in d):8.1f}%")
print(f"{label + 'nginx':16} {n_rps:10.0f} {n_p99:9.2f} {med(n, 5):10.1f} "
      f"{sum(x[2] for x in n):8} {sum(x[3] for x in n):8} {max(x[4] for x in n):8.1f}%")
ratio = d_rps / n_rps if n_rps else 0.0
print(f"ratio cutoverd/nginx: {ratio:.3f}"
      + (f" (per round: {', '.join(f'{a[0] / b[0]:.3f}' for a, b in zip(d, n))})"
         if rounds > 1 else ""))
ok = lambda b: "met" if b else "MISSED"
print(f"target ratio >= 0.5: {ok(ratio >= 0.5)}")
print(f"target cutoverd p99 < 5 ms: {ok(d_p99 < 5.0)}")
print(f"CPU per request cutoverd/nginx: {med(d, 5) / med(n, 5):.1f}x" if med(n, 5) else "")
print("(CPU us/req: the server's own utime+stime per request served, all threads;\n"
      " other CPU: share of the machine's CPU used by processes other than the server\n"
      " under test and wrk during a run, the median lines show the highest; above a\n"
      " few % the figures are disturbed by other work on the machine)")
if any(x[2] or x[3] for x in d):
    print("warning: cutoverd had non-2xx responses or socket errors")
PY
