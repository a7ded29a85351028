#!/usr/bin/env bash
# The cutover demo: sets everything up on a fresh Debian 12 machine (packages,
# build), starts cutoverd with its SQLite file under ./demo, and drives it
# through the REST API as a pipeline would.
#
# Usage: scripts/demo.sh [--keep]     run the demo (--keep leaves cutoverd running)
#        scripts/demo.sh cleanup      stop everything and remove ./demo
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo="$root/demo"
port=${CUTOVER_DEMO_PORT:-8080}
url="http://127.0.0.1:$port"

stop_all() {
  if [ -f "$demo/cutoverd.pid" ]; then
    kill "$(cat "$demo/cutoverd.pid")" 2>/dev/null || true
    rm -f "$demo/cutoverd.pid"
  fi
}

if [ "${1:-}" = "cleanup" ]; then
  stop_all
  rm -rf "$demo"
  echo "demo removed"
  exit 0
fi
keep=0
[ "${1:-}" = "--keep" ] && keep=1

scripts/setup-debian.sh
stop_all
rm -rf "$demo"
mkdir -p "$demo"

build/cutoverd --listen "127.0.0.1:$port" --db "$demo/cutover.db" 2>"$demo/cutoverd.log" &
echo $! >"$demo/cutoverd.pid"
[ $keep -eq 1 ] || trap stop_all EXIT

for _ in $(seq 1 100); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$url/readyz" >/dev/null || { echo "cutoverd did not start; see $demo/cutoverd.log"; exit 1; }

api() { curl -fsS -H 'Content-Type: application/json' "$@"; }
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "== create a project"
project=$(api -X POST "$url/v1/projects" -d '{"name":"demo","description":"pagila to PostgreSQL"}')
echo "$project"
pid=$(echo "$project" | json "['id']")
echo "== create the source and target endpoints (passwords are write-only)"
api -X POST "$url/v1/projects/$pid/endpoints" -d '{"name":"legacy","role":"source",
  "engine":"postgres","host":"127.0.0.1","port":5433,"database":"pagila",
  "username":"migrator","password":"demo-password"}'
echo
api -X POST "$url/v1/projects/$pid/endpoints" -d '{"name":"target","role":"target",
  "engine":"postgres","host":"127.0.0.1","port":5434,"database":"db1",
  "username":"migrator","password":"demo-password"}'
echo
echo "== endpoints of the project"
api "$url/v1/projects/$pid/endpoints" | /usr/bin/python3 -m json.tool
echo "== plans"
api "$url/v1/plans" | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    print(p["id"] + ":", ", ".join(s["id"] for s in p["steps"]))'
if [ $keep -eq 1 ]; then
  echo "cutoverd keeps running at $url (scripts/demo.sh cleanup stops it)"
fi
