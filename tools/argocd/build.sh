#!/usr/bin/env bash
# Build (or reuse) the Argo CD application controller + repo server pinned in versions.env (opt-in stage
# `make gitops-argocd`). Cached outside git, keyed by version, like tools/testbed/build.sh:
#   .cache/testbed/bin/argocd-<ARGOCD_VERSION>/argocd  (+ argocd-application-controller, argocd-repo-server symlinks,
#   and upstream's hack/git-verify-wrapper.sh, gpg-wrapper.sh, git-ask-pass.sh the repo server runs from PATH)
# Rebuilt only when its stamp (version, toolchain, the wrapper module's inputs) changes. GOCACHE/GOMODCACHE are
# Go's defaults; the first build downloads the Go toolchain ARGOCD_GO_TOOLCHAIN as a module (golang.org/toolchain).
# Env: TESTBED_CACHE (default <repo>/.cache/testbed). Prints the build time (cold build: see README).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${TESTBED_CACHE:-$ROOT/.cache/testbed}
# shellcheck source=/dev/null
source "$HERE/versions.env"
: "${ARGOCD_VERSION:?}" "${ARGOCD_GO_TOOLCHAIN:?}"
export CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=$ARGOCD_GO_TOOLCHAIN
dest=$CACHE/bin/argocd-$ARGOCD_VERSION
mkdir -p "$CACHE/bin"
exec 9>"$CACHE/bin/.lock-argocd"
flock 9
stamp="$(cat "$HERE/versions.env" "$HERE/go.mod" "$HERE/go.sum" "$HERE/cmd/argocd/main.go" | sha256sum | cut -c1-16)"
# The repo server runs helper scripts its image ships on PATH (git-verify-wrapper.sh is run for every manifest
# generation, signed or not): install upstream's, from the same module version, next to the binary.
install_scripts() {
  local src f
  src="$(GOFLAGS=-mod=mod go mod download -json "github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/hack"
  for f in git-verify-wrapper.sh gpg-wrapper.sh git-ask-pass.sh; do install -m 0755 "$src/$f" "$1/$f"; done
}
if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$stamp" ]]; then
  [[ -x "$dest/git-verify-wrapper.sh" ]] || install_scripts "$dest"
  exit 0
fi
command -v go >/dev/null || { echo "build.sh: the Argo CD build needs Go (any version that can fetch $ARGOCD_GO_TOOLCHAIN)" >&2; exit 1; }
grep -q "^	github.com/argoproj/argo-cd/v3 ${ARGOCD_VERSION}\$" "$HERE/go.mod" || {
  echo "build.sh: tools/argocd/go.mod does not pin argo-cd ${ARGOCD_VERSION}; run tools/argocd/gen-gomod.sh" >&2; exit 1; }
tmp="$dest.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
t0=$SECONDS
echo "==> argocd build: application controller + repo server ${ARGOCD_VERSION} (${ARGOCD_GO_TOOLCHAIN})" >&2
# as upstream's Makefile: the version is stamped into common
ldf="-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v} -X github.com/argoproj/argo-cd/v3/common.gitTreeState=clean"
(cd "$HERE" && nice -n 10 go build -mod=readonly -trimpath -ldflags "$ldf" -o "$tmp/argocd" ./cmd/argocd)
for c in argocd-application-controller argocd-repo-server; do ln -s argocd "$tmp/$c"; done
install_scripts "$tmp"
echo "$stamp" > "$tmp/.stamp"
rm -rf "$dest"; mv "$tmp" "$dest"
echo "==> argocd build: argocd-${ARGOCD_VERSION} built in $((SECONDS - t0)) s" >&2
