#!/usr/bin/env bash
# Build (or reuse) otelcol-cnai from manifest.yaml with the pinned OpenTelemetry builder; print its path.
# Cached outside git, keyed by the versions and the manifest:
#   .cache/tools/otelcol-<OTELCOL_VERSION>-<manifest hash>/otelcol-cnai
#   .cache/tools/ocb-<OTELCOL_BUILDER_VERSION>/builder
# GOCACHE/GOMODCACHE are Go's defaults; keep them between CI runs (a cold build takes many minutes).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${CNAI_TOOLS_CACHE:-$ROOT/.cache/tools}
# shellcheck source=/dev/null
source "$HERE/versions.env"
log() { printf '==> otelcol: %s\n' "$*" >&2; }
command -v go >/dev/null || { echo "build.sh: building the collector needs Go on PATH" >&2; exit 1; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.otelcol.lock"
flock 9
export CGO_ENABLED=0 GOFLAGS=

ocb="$CACHE/ocb-$OTELCOL_BUILDER_VERSION/builder"
if [[ ! -x "$ocb" ]]; then
  t0=$SECONDS
  log "installing go.opentelemetry.io/collector/cmd/builder@$OTELCOL_BUILDER_VERSION"
  GOBIN="$CACHE/ocb-$OTELCOL_BUILDER_VERSION" timeout 1200 go install -trimpath \
    "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_BUILDER_VERSION"
  log "builder installed in $((SECONDS - t0)) s"
fi
hash=$(cat "$HERE/manifest.yaml" "$HERE/versions.env" | sha256sum | cut -c1-12)
dest="$CACHE/otelcol-$OTELCOL_VERSION-$hash"
if [[ ! -x "$dest/otelcol-cnai" ]]; then
  t0=$SECONDS
  log "building otelcol-cnai $OTELCOL_VERSION (cold: many minutes)"
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  sed "s#^dist:#dist:\n  output_path: $dest.tmp/src#" "$HERE/manifest.yaml" > "$dest.tmp/manifest.yaml"
  # ocb generates the sources; the module is resolved here rather than by ocb's own `go mod tidy`, which
  # fails on test-only dependencies of contrib modules (pkg/semconvtest) that the Go module proxy refuses;
  # `tidy -e` skips those, the build does not need them
  timeout 600 "$ocb" --config "$dest.tmp/manifest.yaml" --skip-get-modules --skip-compilation >&2
  mods=$(sed -n 's/^ *- gomod: *\([^ ]*\) \([^ ]*\).*/\1@\2/p' "$HERE/manifest.yaml")
  (cd "$dest.tmp/src" && go mod init cnai.local/otelcol-cnai >&2 && \
     timeout 1200 go get $mods $OTELCOL_EXTRA_REQUIRES >&2 && timeout 1200 go mod tidy -e >&2 && \
     timeout 3000 go build -trimpath -ldflags '-s -w' -o otelcol-cnai . >&2)
  mv "$dest.tmp/src/otelcol-cnai" "$dest.tmp/otelcol-cnai"
  rm -rf "$dest.tmp/src" "$dest"; mv "$dest.tmp" "$dest"
  log "built in $((SECONDS - t0)) s"
fi
"$dest/otelcol-cnai" --version >&2
echo "$dest/otelcol-cnai"
