#!/usr/bin/env bash
# Install (or reuse) the pinned promtool; print its path on stdout. Cached outside git, keyed by version:
#   .cache/tools/promtool-debian-<version>/promtool   from Debian's prometheus package (versions.env says why)
# Usage: install.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${CNAI_TOOLS_CACHE:-$ROOT/.cache/tools}
# shellcheck source=/dev/null
source "$HERE/versions.env"
log() { printf '==> promtool: %s\n' "$*" >&2; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.promtool.lock"
flock 9
dest="$CACHE/promtool-debian-$PROMTOOL_DEBIAN_VERSION"
if [[ ! -x "$dest/promtool" ]]; then
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    echo "install.sh: 'apt-get' and 'dpkg-deb' are needed (Debian/Ubuntu: apt, dpkg)" >&2
    exit 1; }
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  t0=$SECONDS
  log "downloading $PROMTOOL_DEBIAN_PACKAGE=$PROMTOOL_DEBIAN_VERSION (the .deb only; nothing is installed)"
  fetch() { (cd "$tmp" && timeout 300 apt-get download -q "$PROMTOOL_DEBIAN_PACKAGE=$PROMTOOL_DEBIAN_VERSION" >&2); }
  # A fresh machine may have no package lists yet: refresh them once when we may (root), then retry.
  fetch || { [[ $(id -u) -eq 0 ]] && log "refreshing the package lists (apt-get update)" && \
             timeout 300 apt-get update -q >&2 && fetch; } || {
    echo "install.sh: apt-get download $PROMTOOL_DEBIAN_PACKAGE=$PROMTOOL_DEBIAN_VERSION failed; run" \
         "'apt-get update' or change PROMTOOL_DEBIAN_VERSION in tools/promtool/versions.env" >&2; exit 1; }
  timeout 120 dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  mkdir -p "$dest.tmp.$$"
  install -m 0755 "$tmp/x/usr/bin/promtool" "$dest.tmp.$$/promtool"
  rm -rf "$dest"; mv "$dest.tmp.$$" "$dest"
  log "extracted in $((SECONDS - t0)) s"
fi
"$dest/promtool" --version >&2
echo "$dest/promtool"
