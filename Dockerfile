# cutoverd: multi-stage build on Debian bookworm, non-root runtime.
# Base images are named in full so that a builder without a registry (see
# scripts/image.sh) finds locally imported ones.
FROM docker.io/library/debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential meson ninja-build pkg-config python3 python3-yaml \
      libmicrohttpd-dev libgnutls28-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev \
      libsqlite3-dev libpg-query-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Builds only the targets meson installs (cutoverd, and cutoverctl once the
# project defines it), then stages them with `meson install` for the copy below.
RUN meson setup /build -Dbuildtype=release -Dwerror=true \
    && ninja -C /build $(meson introspect /build --targets | python3 -c \
         'import json, os, sys; print(" ".join(os.path.relpath(f, "/build") for t in json.load(sys.stdin) if t["installed"] for f in t["filename"]))') \
    && meson install -C /build --no-rebuild --destdir /staging

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libpq5 libcurl4 libssl3 libsqlite3-0 libpg-query1504.0 \
      postgresql-client-15 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 cutover \
    && useradd --uid 10001 --gid 10001 --no-log-init --shell /usr/sbin/nologin \
         --home-dir /var/lib/cutover --create-home cutover
COPY --from=build /staging/usr/local/ /usr/local/
USER 10001:10001
VOLUME /var/lib/cutover
ENV CUTOVER_DB=/var/lib/cutover/cutover.db \
    CUTOVER_LISTEN=0.0.0.0:8080 \
    CUTOVER_TOKENS_FILE=/etc/cutover/tokens
EXPOSE 8080
# Ready, not just alive: /readyz also reads the store. Follows CUTOVER_LISTEN's port.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD curl -fsS "http://127.0.0.1:${CUTOVER_LISTEN##*:}/readyz" || exit 1
ENTRYPOINT ["/usr/local/bin/cutoverd"]
