#!/usr/bin/env bash
# Build (or reuse) the testbed binaries pinned in versions.env. Cached outside git, keyed by version:
#   .cache/testbed/bin/k8s-<K8S_VERSION>/   kube (multicall) + kube-apiserver, kube-controller-manager,
#                                           kube-scheduler symlinks, etcd
#   .cache/testbed/bin/kwok-<KWOK_VERSION>/kwok
#   .cache/testbed/bin/helm-<HELM_VERSION>/helm
#   .cache/testbed/bin/kustomize-<KUSTOMIZE_VERSION>/kustomize
# A directory is rebuilt only when its stamp (versions + the wrapper module's inputs) changes.
# GOCACHE/GOMODCACHE are Go's defaults; keep them between CI runs to make a cold build warm.
# Usage: build.sh [all|k8s|kwok|helm|kustomize]...   (default: all)   Env: TESTBED_CACHE (default <repo>/.cache/testbed)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${TESTBED_CACHE:-$ROOT/.cache/testbed}
# shellcheck source=/dev/null
source "$HERE/versions.env"
: "${K8S_VERSION:?}" "${ETCD_VERSION:?}" "${KWOK_VERSION:?}" "${HELM_VERSION:?}" "${KUSTOMIZE_VERSION:?}"

mkdir -p "$CACHE/bin"
# one build at a time (make up from two shells, CI retries)
exec 9>"$CACHE/bin/.lock"
flock 9

if command -v go >/dev/null; then
  GOVER=$(go env GOVERSION)
else
  GOVER=""   # binaries already built are used as they are; building needs Go
fi
export CGO_ENABLED=0 GOFLAGS=
log() { printf '==> testbed build: %s\n' "$*" >&2; }
sha() { cat "$@" | sha256sum | cut -c1-16; }

# install_dir NAME STAMP BUILD_FN: run BUILD_FN into a temp dir, then move it into place atomically
install_dir() {
  local dest=$1 stamp=$2 fn=$3
  if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$stamp" ]]; then return 0; fi
  if [[ -z "$GOVER" ]]; then
    if [[ -f "$dest/.stamp" ]]; then log "'go' not found on PATH: using $(basename "$dest") as built before"; return 0; fi
    echo "build.sh: $(basename "$dest") must be built, but 'go' is not on PATH: the testbed needs Go >= 1.26" \
         "and the Go module proxy (GOPROXY) once; the binaries are cached in $CACHE/bin afterwards" >&2
    exit 1
  fi
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local t0=$SECONDS
  "$fn" "$tmp"
  echo "$stamp" > "$tmp/.stamp"
  rm -rf "$dest"; mv "$tmp" "$dest"
  log "$(basename "$dest") built in $((SECONDS - t0)) s"
}

build_k8s() {
  local out=$1 minor ldf="-s -w" p date
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  grep -q "^	k8s.io/kubernetes ${K8S_VERSION}\$" "$HERE/go.mod" || {
    echo "build.sh: tools/testbed/go.mod does not pin k8s.io/kubernetes ${K8S_VERSION}; run tools/testbed/gen-gomod.sh" >&2; exit 1; }
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor}"
    ldf+=" -X $p.gitTreeState=clean -X $p.gitCommit=${K8S_VERSION} -X $p.buildDate=${date}"
  done
  log "kube-apiserver/controller-manager/scheduler ${K8S_VERSION} (one multicall binary)"
  (cd "$HERE" && go build -mod=readonly -trimpath -ldflags "$ldf" -o "$out/kube" ./cmd/kube)
  for c in kube-apiserver kube-controller-manager kube-scheduler; do ln -s kube "$out/$c"; done
  log "etcd ${ETCD_VERSION}"
  (cd "$HERE" && go build -mod=readonly -trimpath \
     -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}" -o "$out/etcd" ./cmd/etcd)
  "$out/kube-apiserver" --version | grep -qx "Kubernetes ${K8S_VERSION}" || {
    echo "build.sh: version stamping failed: $("$out/kube-apiserver" --version)" >&2; exit 1; }
}

build_kwok() {
  local out=$1 src
  log "kwok ${KWOK_VERSION}"
  GOBIN=$out go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  # standalone kwok (>= v0.8.0) has no default stages: ship the upstream ones next to the binary
  src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@${KWOK_VERSION}/kustomize/stage"
  mkdir -p "$out/stages"
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
           pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete \
           volume/fast/pvc-provision volume/fast/pv-bind volume/fast/pv-delete volume/fast/pvc-delete; do
    install -m 0644 "$src/$f.yaml" "$out/stages/"
  done
}

build_helm() {
  local out=$1 gomod kv maj min
  gomod=$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  # as helm's Makefile: the Kubernetes version helm assumes offline is the one of its client-go (v0.X.Y -> 1.X)
  kv=$(awk '$1=="k8s.io/client-go"{print $2; exit}' "$gomod"); kv=${kv#v0.}; min=${kv%%.*}; maj=1
  local ldf="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ldf+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$maj -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$min"
  ldf+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$maj -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$min"
  log "helm ${HELM_VERSION}"
  GOBIN=$out go install -trimpath -ldflags "$ldf" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
}

build_kustomize() {
  local out=$1
  log "kustomize ${KUSTOMIZE_VERSION}"
  # its own go.mod pins its dependencies; the version is stamped as kustomize's release build does
  GOBIN=$out go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=${KUSTOMIZE_VERSION}" \
    "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
  "$out/kustomize" version | grep -qF "${KUSTOMIZE_VERSION}" || {
    echo "build.sh: kustomize version stamping failed: $("$out/kustomize" version)" >&2; exit 1; }
}

# The Kubernetes stamp keys on versions.env without the kustomize block: bumping kustomize (built by its
# own target) must not rebuild the control plane.
k8s_pins() { sed '/^# kustomize CLI/,/^KUSTOMIZE_VERSION=/d' "$HERE/versions.env"; }

targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=(all)
for t in "${targets[@]}"; do
  case $t in
    all) set -- k8s kwok helm kustomize ;;
    k8s|kwok|helm|kustomize) set -- "$t" ;;
    *) echo "build.sh: unknown target '$t' (all|k8s|kwok|helm|kustomize)" >&2; exit 2 ;;
  esac
  for x in "$@"; do
    case $x in
      k8s)  install_dir "$CACHE/bin/k8s-${K8S_VERSION}" \
              "$(sha <(k8s_pins) "$HERE/go.mod" "$HERE/go.sum" "$HERE"/cmd/*/main.go)-$GOVER" build_k8s ;;
      kwok) install_dir "$CACHE/bin/kwok-${KWOK_VERSION}" "${KWOK_VERSION}-$GOVER-stages.v1" build_kwok ;;
      helm) install_dir "$CACHE/bin/helm-${HELM_VERSION}" "${HELM_VERSION}-$GOVER" build_helm ;;
      kustomize) install_dir "$CACHE/bin/kustomize-${KUSTOMIZE_VERSION}" "${KUSTOMIZE_VERSION}-$GOVER" build_kustomize ;;
    esac
  done
done
