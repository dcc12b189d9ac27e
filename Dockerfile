# One image holding the four binaries: `vault`, `api-server`, `gateway` (each service its own
# container, see docker-compose.yml) and `sealpost` (administration: producers, key rotation).
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --workspace --bins \
 && mkdir /out \
 && cp target/release/sealpost target/release/vault target/release/api-server \
       target/release/gateway /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --no-create-home sealpost \
 && mkdir -m 0700 /data && chown sealpost /data
COPY --from=build /out/ /usr/local/bin/
USER sealpost
WORKDIR /data
# Key files (instance key, vault keyring) live here, mode 0600: one volume per service.
ENV SEALPOST__DATA_DIR=/data \
    SEALPOST__TELEMETRY__FORMAT=json
VOLUME ["/data"]
