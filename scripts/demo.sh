#!/usr/bin/env bash
# The cutover demo on a fresh Debian 12 machine: installs what it needs,
# builds, then runs scripts/demo.py (two PostgreSQL clusters, cutoverd, and
# two migrations of real sample data through the REST API).
#
# Usage: scripts/demo.sh [--keep] [--non-interactive] [--port N]
#        scripts/demo.sh cleanup
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "cleanup" ]; then
  scripts/setup-debian.sh >&2
fi
exec /usr/bin/python3 scripts/demo.py "$@"
