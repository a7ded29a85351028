#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12 (bookworm),
# then configures and builds cutover in ./build. Idempotent.
# Usage: scripts/setup-debian.sh [extra meson setup options]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential meson ninja-build pkg-config
  libmicrohttpd-dev libgnutls28-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libsqlite3-dev libpg-query-dev
  postgresql-15 postgresql-contrib postgresql-client-15
  python3 python3-pytest python3-requests python3-psycopg2 python3-botocore
  python3-jsonschema python3-yaml
  chromium python3-websocket
  curl pgcopydb
  clang libclang-rt-14-dev
)
scripts/apt-install.sh "${packages[@]}"

if [ ! -f build/build.ninja ]; then
  meson setup build -Dwerror=true "$@"
fi
ninja -C build
