#!/usr/bin/env bash
# Install (or reuse) the pinned promtool; print its path on stdout. Cached outside git, keyed by version:
#   .cache/tools/promtool-debian-<version>/promtool   from Debian's prometheus package (default)
#   .cache/tools/promtool-go-<version>/promtool       built from the Go module proxy
# Usage: install.sh [debian|go]   (default: $PROMTOOL_SOURCE, else PROMTOOL_SOURCE_DEFAULT in versions.env)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${CNAI_TOOLS_CACHE:-$ROOT/.cache/tools}
# shellcheck source=/dev/null
source "$HERE/versions.env"
SOURCE=${1:-${PROMTOOL_SOURCE:-$PROMTOOL_SOURCE_DEFAULT}}
log() { printf '==> promtool: %s\n' "$*" >&2; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.promtool.lock"
flock 9

case "$SOURCE" in
  debian)
    dest="$CACHE/promtool-debian-$PROMTOOL_DEBIAN_VERSION"
    if [[ ! -x "$dest/promtool" ]]; then
      command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
        echo "install.sh: 'apt-get' and 'dpkg-deb' are needed for PROMTOOL_SOURCE=debian; use 'go' instead" >&2
        exit 1; }
      tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
      t0=$SECONDS
      log "downloading $PROMTOOL_DEBIAN_PACKAGE=$PROMTOOL_DEBIAN_VERSION (the .deb only; nothing is installed)"
      (cd "$tmp" && timeout 300 apt-get download -q "$PROMTOOL_DEBIAN_PACKAGE=$PROMTOOL_DEBIAN_VERSION" >&2) || {
        echo "install.sh: apt-get download $PROMTOOL_DEBIAN_PACKAGE=$PROMTOOL_DEBIAN_VERSION failed; run" \
             "'apt-get update' or change PROMTOOL_DEBIAN_VERSION in tools/promtool/versions.env" >&2; exit 1; }
      timeout 120 dpkg-deb -x "$tmp"/*.deb "$tmp/x"
      mkdir -p "$dest.tmp.$$"
      install -m 0755 "$tmp/x/usr/bin/promtool" "$dest.tmp.$$/promtool"
      rm -rf "$dest"; mv "$dest.tmp.$$" "$dest"
      log "extracted in $((SECONDS - t0)) s"
    fi
    ;;
  go)
    dest="$CACHE/promtool-go-$PROMTOOL_GO_VERSION"
    if [[ ! -x "$dest/promtool" ]]; then
      command -v go >/dev/null || { echo "install.sh: PROMTOOL_SOURCE=go needs Go on PATH" >&2; exit 1; }
      grep -q "github.com/prometheus/prometheus $PROMTOOL_GO_VERSION\$" "$HERE/go.mod" || {
        echo "install.sh: tools/promtool/go.mod does not pin $PROMTOOL_GO_VERSION; run" \
             "'go get -tool github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_GO_VERSION' in tools/promtool" >&2
        exit 1; }
      t0=$SECONDS
      log "building github.com/prometheus/prometheus/cmd/promtool $PROMTOOL_GO_VERSION (cold: minutes)"
      mkdir -p "$dest.tmp.$$"
      (cd "$HERE" && CGO_ENABLED=0 GOFLAGS= timeout 2400 go build -mod=readonly -trimpath -ldflags '-s -w' \
         -o "$dest.tmp.$$/promtool" github.com/prometheus/prometheus/cmd/promtool)
      rm -rf "$dest"; mv "$dest.tmp.$$" "$dest"
      log "built in $((SECONDS - t0)) s"
    fi
    ;;
  *) echo "install.sh: unknown source '$SOURCE' (debian or go)" >&2; exit 1 ;;
esac
"$dest/promtool" --version >&2
echo "$dest/promtool"
