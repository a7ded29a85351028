# cutoverd: multi-stage build on Debian bookworm, non-root runtime.
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential meson ninja-build pkg-config python3 python3-yaml \
      libmicrohttpd-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev \
      libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN meson setup /build -Dbuildtype=release -Dwerror=true && ninja -C /build cutoverd

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libpq5 libcurl4 libssl3 libsqlite3-0 \
      postgresql-client-15 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/cutover --create-home --uid 10001 cutover
COPY --from=build /build/cutoverd /usr/local/bin/cutoverd
USER cutover
VOLUME /var/lib/cutover
ENV CUTOVER_DB=/var/lib/cutover/cutover.db \
    CUTOVER_LISTEN=0.0.0.0:8080 \
    CUTOVER_TOKENS_FILE=/etc/cutover/tokens
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/cutoverd"]
