#!/usr/bin/env bash
# Builds the container image from the Dockerfile with Debian's podman and
# smoke-tests it, on a host where no container registry is reachable (as in CI).
#
#   1. base images: a `debootstrap --variant=minbase bookworm` root from the
#      Debian mirror the host's apt sources already use, imported with
#      `podman import` and tagged docker.io/library/debian:bookworm and
#      :bookworm-slim (cached for 7 days under $CUTOVER_IMAGE_CACHE,
#      default /var/cache/cutover, as are the .deb files the build downloads);
#   2. `podman --runtime runc build --pull=never --network host`; crun refuses
#      hosts with hybrid cgroups and raised rlimits, so a containers.conf with
#      default_ulimits = [] and cgroup_manager = "cgroupfs" is used;
#   3. runs the image with host networking, a mounted tokens file and
#      CUTOVER_LISTEN on a free loopback port; checks the numeric user, the
#      HEALTHCHECK (/readyz) and drives one small pg-logical migration between
#      two PostgreSQL clusters on the host through the API
#      (scripts/image_smoke.py); then stops it and expects a clean exit.
#
# Everything podman stores lives in a temporary directory removed at the end
# (--keep leaves it and prints how to use the image).
# Usage: scripts/image.sh [--keep]      (as root, or through sudo)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
[ "$(id -u)" -eq 0 ] || exec sudo -- "$0" "$@"
keep=false
[ "${1:-}" = "--keep" ] && keep=true
tag=localhost/cutover:smoke

scripts/apt-install.sh podman runc debootstrap curl ca-certificates python3 postgresql-15

t0=$SECONDS
stage() { echo "== image.sh: $* ($((SECONDS - t0)) s)"; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/cutover-image.XXXXXX")
cat > "$work/containers.conf" <<'CONF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"
pm() {
  podman --root "$work/storage" --runroot "$work/run" --storage-driver overlay \
    --runtime runc "$@"
}
cid=""
cleanup() {
  status=$?
  if [ -n "$cid" ]; then
    [ $status -eq 0 ] || { echo "-- container log:"; pm logs "$cid" 2>&1 | tail -40; }
    pm rm -f -t 10 "$cid" >/dev/null 2>&1 || true
  fi
  if $keep; then
    echo "kept: podman --root $work/storage --runroot $work/run --runtime runc images"
  else
    pm system reset -f >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  exit $status
}
trap cleanup EXIT

# -- 1. base images -----------------------------------------------------------
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' |
         awk '$2 == "bookworm" { print $1; exit }')
[ -n "$mirror" ] || { echo "image.sh: no bookworm mirror in the apt sources" >&2; exit 1; }
cache=${CUTOVER_IMAGE_CACHE:-/var/cache/cutover}
rootfs_tar="$cache/bookworm-minbase-$(printf '%s' "$mirror" | sha256sum | cut -c1-12).tar"
mkdir -p "$cache"
if [ -z "$(find "$rootfs_tar" -mtime -7 2>/dev/null)" ]; then
  stage "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; exit 1; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work/rootfs"
else
  stage "reusing $rootfs_tar"
fi
pm import --quiet --change 'CMD ["bash"]' "$rootfs_tar" docker.io/library/debian:bookworm >/dev/null
pm tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim

# -- 2. build -----------------------------------------------------------------
stage "podman build"
# The downloaded .deb files are kept on the host between builds (not in a layer).
mkdir -p "$cache/apt-archives/partial"
pm build --pull=never --network host --format docker -t "$tag" -f Dockerfile \
  -v "$cache/apt-archives:/var/cache/apt/archives" "$src" \
  > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
user=$(pm image inspect --format '{{.Config.User}}' "$tag")
health=$(pm image inspect --format '{{json .Config.Healthcheck}}' "$tag")
size=$(pm image inspect --format '{{.Size}}' "$tag")
echo "image $tag: user $user, $((size / 1000000)) MB, healthcheck $health"
[ "$user" = "10001:10001" ] || { echo "image.sh: USER is '$user', want 10001:10001" >&2; exit 1; }
case "$health" in *readyz*) ;; *) echo "image.sh: no /readyz HEALTHCHECK" >&2; exit 1 ;; esac

# -- 3. run and smoke-test ----------------------------------------------------
stage "run"
port=$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import pgcluster; print(pgcluster.free_port())')
token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
printf '%s admin image-smoke\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" > "$work/tokens"
chmod 0644 "$work/tokens"
cid=$(pm run -d --network host -v "$work/tokens:/etc/cutover/tokens:ro" \
        -e CUTOVER_LISTEN="127.0.0.1:$port" "$tag")
deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  [ "$(pm inspect --format '{{.State.Running}}' "$cid")" = true ] ||
    { echo "image.sh: the container exited" >&2; exit 1; }
  [ $SECONDS -lt $deadline ] || { echo "image.sh: /readyz not answering after 60 s" >&2; exit 1; }
  sleep 0.5
done
uid=$(pm exec "$cid" id -u)
echo "cutoverd runs as uid $uid"
[ "$uid" = 10001 ] || { echo "image.sh: container user is $uid, want 10001" >&2; exit 1; }
pm healthcheck run "$cid" && echo "healthcheck: healthy"
stage "pg-logical migration through the image"
CUTOVER_TOKEN="$token" python3 scripts/image_smoke.py --url "http://127.0.0.1:$port"
pm stop -t 30 "$cid" >/dev/null
code=$(pm inspect --format '{{.State.ExitCode}}' "$cid")
[ "$code" = 0 ] || { echo "image.sh: cutoverd exited with $code after SIGTERM" >&2; exit 1; }
stage "passed (cutoverd stopped cleanly)"
