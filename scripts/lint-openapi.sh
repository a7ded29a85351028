#!/usr/bin/env bash
# Lints the API contract (openapi/openapi.yaml) with Redocly CLI 1.x, using
# the rules in redocly.yaml and the accepted exceptions in
# .redocly.lint-ignore.yaml. Exits non-zero on any error.
#
# Needs node >= 18 and the npm registry (first run only): the CLI is fetched
# by npx into a cache outside the repository ($CUTOVER_NPM_CACHE, default
# ~/.cache/cutover/npm), never into node_modules here.
#
# Usage: scripts/lint-openapi.sh [extra redocly lint options, e.g. --format=stylish]
#        scripts/lint-openapi.sh --fetch-only   # fetch the linter, lint nothing
# The version is pinned for reproducible results; REDOCLY_CLI_VERSION
# overrides it (1.x only). Plain `@redocly/cli@1` currently resolves to
# 1.34.21, which does not install: the registry has no
# @redocly/respect-core@1.34.21.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_cache="${CUTOVER_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cutover/npm}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
version="${REDOCLY_CLI_VERSION:-1.34.20}"
case "$version" in
  1|1.*) ;;
  *) echo "lint-openapi.sh: REDOCLY_CLI_VERSION must be a 1.x version, got $version" >&2; exit 2 ;;
esac
if [ "${1:-}" = "--fetch-only" ]; then
  # only make sure the linter can be fetched (CI tells an unreachable registry
  # apart from a contract error this way)
  exec npx --yes "@redocly/cli@$version" --version
fi
exec npx --yes "@redocly/cli@$version" lint --config redocly.yaml "$@" openapi/openapi.yaml
