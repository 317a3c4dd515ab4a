# sidecar-exporter container image.
#
#   docker build -t sidecar-exporter:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Base images are pinned by tag and digest; refresh both together (e.g. `crane digest rust:1.95-bookworm`).

# --- build ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS builder
WORKDIR /build

# cargo-auditable puts the list of crates the binary is built from into the binary (a ~3 KB
# section that strip keeps), so that image scanners (trivy, grype, syft, docker scout) see
# the Rust dependencies of an image that has no Cargo.lock. Before the manifests are copied,
# so that this layer is rebuilt only when the version changes.
RUN cargo install cargo-auditable --version 0.7.7 --locked

# Dependencies first, against placeholder sources, so that this layer is rebuilt only when
# Cargo.toml or Cargo.lock change. Plain `cargo build` is enough here: cargo auditable only
# changes how this crate itself is compiled, and reuses the dependencies built here.
COPY Cargo.toml Cargo.lock ./
# The [[bench]] targets named in Cargo.toml must exist for cargo to read the manifest.
COPY benches ./benches
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin sidecar-exporter \
    && rm -rf src

# The project itself. touch: the placeholders' build must not count as up to date.
COPY build.rs ./
COPY src ./src
COPY collectors ./collectors
ARG REVISION=unknown
RUN touch src/main.rs src/lib.rs \
    && SIDECAR_EXPORTER_REVISION="${REVISION}" cargo auditable build --release --locked --bin sidecar-exporter \
    && strip target/release/sidecar-exporter \
    && ./target/release/sidecar-exporter --version

# --- run -----------------------------------------------------------------------------------
# distroless "cc": glibc and libgcc for the glibc-linked binary, CA certificates, no shell.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sidecar-exporter" \
      org.opencontainers.image.description="One small Prometheus exporter that runs beside an application and exports its status endpoints, process stats and probes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/sidecar-exporter/sidecar-exporter"

COPY --from=builder /build/target/release/sidecar-exporter /sidecar-exporter

USER 65532:65532
EXPOSE 9820
ENTRYPOINT ["/sidecar-exporter"]
# Zero config: run as it is, beside an app, it finds the app. Arguments given to the container
# (`--config.file …`) replace these, and discovery is then off unless asked for.
CMD ["serve", "--discover"]
