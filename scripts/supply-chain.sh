#!/usr/bin/env bash
# Supply-chain checks of the dependency tree against deny.toml: licenses, bans and sources.
# They run offline; advisories are left out because they need the RustSec database from the
# network.
#
#   scripts/supply-chain.sh         the checks, as the test suite runs them
#   scripts/supply-chain.sh sbom    the checks, then a CycloneDX SBOM of the binary per Linux
#                                   target into target/sbom/ (no build needed)
#
# The image's binary carries its own dependency list (cargo auditable, see the Dockerfile).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-check}
if [[ "$mode" != check && "$mode" != sbom ]]; then
  echo "usage: $0 [sbom]" >&2
  exit 2
fi

# Pinned: deny.toml is written for this version's configuration and lints, and a newer
# cargo-deny can bring a lint that fails a tree in which nothing changed.
deny_version=0.20.2
cyclonedx_version=0.5.9

# Installs `cargo-$1` at version $2 unless that version is already there.
ensure_tool() {
  local tool=$1 version=$2
  if [[ "$(cargo "$tool" --version 2>/dev/null)" != *" $version" ]]; then
    echo "installing cargo-$tool $version (a few minutes, once per machine)"
    cargo install "cargo-$tool" --version "$version" --locked --quiet
  fi
}

ensure_tool deny "$deny_version"

# cargo-deny reads every crate's manifest and license files from the local registry cache;
# a fresh machine has not downloaded them yet. Nothing is downloaded when they are there.
cargo fetch --locked --quiet

echo "== cargo deny check licenses bans sources"
cargo deny --offline --locked check licenses bans sources

[[ "$mode" == sbom ]] || exit 0

ensure_tool cyclonedx "$cyclonedx_version"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
out=target/sbom
mkdir -p "$out"
# The same date for the same commit, so that the SBOM of a release can be made again.
if epoch=$(git log -1 --format=%ct 2>/dev/null); then
  export SOURCE_DATE_EPOCH=$epoch
fi
# cargo-cyclonedx writes beside Cargo.toml and has no output directory option: move its file
# out of the source tree, and do not leave it behind on failure.
trap 'rm -f sidecar-exporter_bin_*.cdx.json' EXIT
# The targets deny.toml checks, the ones the .deb and the image are built for.
for target in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
  # --no-build-deps: build scripts' dependencies (cc…) do not end up in the binary.
  CARGO_NET_OFFLINE=true cargo cyclonedx --quiet --format json --spec-version 1.5 \
    --describe binaries --no-build-deps --target "$target" --target-in-filename
  sbom="$out/sidecar-exporter-$version-$target.cdx.json"
  mv "sidecar-exporter_bin_$target.cdx.json" "$sbom"
  count=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["components"]))' "$sbom")
  echo "wrote $sbom ($count components)"
done
