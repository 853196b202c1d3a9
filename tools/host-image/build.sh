#!/usr/bin/env bash
# Build (or load from cache) the Debian 12 image the host-layer Molecule scenarios run on.
#
#   tools/host-image/build.sh            -> prints the image reference on the last line
#
# Nothing is pulled from a registry: the root file system is made with debootstrap from the Debian
# mirror this machine's apt already uses (read from /etc/apt/sources.list*; override with
# CNAI_DEBIAN_MIRROR / CNAI_DEBIAN_SECURITY_MIRROR) and imported with `podman import`.
# The image tag and the cached tarball are keyed by a hash of this script, so editing it rebuilds.
# Needs root (debootstrap, podman storage). Installs podman, runc and debootstrap when missing.
set -euo pipefail
# debootstrap (and apt-get) live in sbin, which a non-login or minimal PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${CNAI_IMAGE_CACHE:-$ROOT/.cache/host-image}
HASH=$(sha256sum "$HERE/build.sh" | cut -c1-12)
NAME=cnai-debian12
IMAGE="localhost/$NAME:$HASH"
TARBALL="$CACHE/$NAME-$HASH.tar"
SUITE=bookworm
COMPONENTS=main,contrib,non-free,non-free-firmware
mkdir -p "$CACHE"
log() { echo "==> [host-image] $*" >&2; }
t0=$(date +%s)

# 1. Tools. podman's default crun cannot run in sandboxes without CAP_SYS_RESOURCE or on a hybrid
#    cgroup mount; runc with explicit ulimits works (research/control-plane.md §8).
need=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if ((${#need[@]})); then
  log "installing ${need[*]} (+ podman's helpers) with apt-get"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    podman runc debootstrap uidmap slirp4netns fuse-overlayfs netavark aardvark-dns conmon \
    golang-github-containers-common >&2
fi

# 2. A containers.conf for every podman call of the scenarios (mk/host.mk exports CONTAINERS_CONF).
CONF="$CACHE/containers.conf"
cat > "$CONF.tmp" <<'CONF'
# Written by tools/host-image/build.sh. runc + explicit ulimits: see research/control-plane.md §8.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv "$CONF.tmp" "$CONF"
export CONTAINERS_CONF="$CONF"

if podman image exists "$IMAGE"; then
  log "image $IMAGE present"
  echo "$IMAGE"; exit 0
fi
if [ -s "$TARBALL" ]; then
  log "loading cached $TARBALL"
  podman load -q -i "$TARBALL" >&2
  echo "$IMAGE"; exit 0
fi

# 3. The mirror: whatever this machine's apt uses for the suite (never a hard-coded public host).
read -r MIRROR SECURITY < <(python3 - "$SUITE" <<'PY'
import glob, os, re, sys
suite = sys.argv[1]
main = sec = None
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
      + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
entries = []  # (uri, [suites])
for path in files:
    if not os.path.exists(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith(".sources"):
        for block in re.split(r"\n\s*\n", text):
            fields = {}
            for line in block.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.split()
            if "deb" not in fields.get("types", ["deb"]) or fields.get("enabled", ["yes"])[0] == "no":
                continue
            for uri in fields.get("uris", []):
                entries.append((uri, fields.get("suites", [])))
    else:
        for line in text.splitlines():
            line = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                entries.append((line[1], [line[2]]))
for uri, suites in entries:
    if main is None and suite in suites:
        main = uri.rstrip("/")
    if sec is None and f"{suite}-security" in suites:
        sec = uri.rstrip("/")
print(os.environ.get("CNAI_DEBIAN_MIRROR") or main or "-",
      os.environ.get("CNAI_DEBIAN_SECURITY_MIRROR") or sec or "-")
PY
)
if [ "$MIRROR" = "-" ]; then
  echo "no apt source for '$SUITE' in /etc/apt/sources.list*: set CNAI_DEBIAN_MIRROR to a Debian mirror URL" >&2
  exit 2
fi
log "mirror $MIRROR (security: $SECURITY)"

# 4. debootstrap a minimal systemd system with what Ansible needs (python3, python3-apt).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cnai-rootfs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log "debootstrap $SUITE ($COMPONENTS) into $WORK"
debootstrap --variant=minbase --components="$COMPONENTS" \
  --include=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,kmod,procps,pciutils,gnupg \
  "$SUITE" "$WORK/rootfs" "$MIRROR" >&2

R="$WORK/rootfs"
{
  echo "Types: deb"
  echo "URIs: $MIRROR"
  echo "Suites: $SUITE $SUITE-updates"
  echo "Components: ${COMPONENTS//,/ }"
  echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  if [ "$SECURITY" != "-" ]; then
    echo
    echo "Types: deb"
    echo "URIs: $SECURITY"
    echo "Suites: $SUITE-security"
    echo "Components: ${COMPONENTS//,/ }"
    echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  fi
} > "$R/etc/apt/sources.list.d/debian.sources"
rm -f "$R/etc/apt/sources.list"
# A container boots systemd as PID 1: no getty, no udev triggers, no units that need hardware.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-modules-load.service sys-kernel-config.mount; do
  ln -sfn /dev/null "$R/etc/systemd/system/$unit"
done
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$R/etc/apt/apt.conf.d/90cnai-norecommends"
echo "$NAME" > "$R/etc/hostname"
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin

log "podman import -> $IMAGE"
tar -C "$R" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
  --change 'STOPSIGNAL SIGRTMIN+3' - "$IMAGE" >&2
podman save -q -o "$TARBALL.tmp" "$IMAGE" >&2 && mv "$TARBALL.tmp" "$TARBALL"
find "$CACHE" -name "$NAME-*.tar" ! -name "$(basename "$TARBALL")" -delete
log "built in $(( $(date +%s) - t0 )) s, cached as $TARBALL"
echo "$IMAGE"
