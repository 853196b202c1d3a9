#!/usr/bin/env bash
# galaxy-importer on the built artifact, offline: what Galaxy / Automation Hub run when the tarball is uploaded
# (ansible-doc on every plugin and role, ansible-lint, changelog, tags, file checks), with the configuration in
# tests/importer/galaxy-importer.cfg (why some checks are off is written there).
#
#   bash tests/importer/run.sh              build the tarball from the checkout, import it
#   bash tests/importer/run.sh <tarball>    import that tarball
#
#   IMPORTER_LINT=1 bash tests/importer/run.sh   also its ansible-lint step (off by default: see the .cfg)
#
# Fails when the importer fails or logs an ERROR. Its WARNING lines (lint findings) are printed and counted;
# IMPORTER_MAX_WARNINGS (default 0) is how many are accepted.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${IMPORTER_PYTHON:-python3.11}
REQS=$ROOT/tests/importer/requirements.txt
WORK=$ROOT/.cache/importer
VENV=$ROOT/.cache/venvs/galaxy-importer-$(sha256sum "$REQS" | cut -c1-12)
MAX_WARNINGS=${IMPORTER_MAX_WARNINGS:-0}

unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG PYTHONPATH

t0=$SECONDS
if [ ! -f "$VENV/.installed" ]; then
    echo "==> creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    touch "$VENV/.installed"
fi

rm -rf "$WORK"
mkdir -p "$WORK/dist" "$WORK/tmp"
if [ $# -ge 1 ]; then
    TARBALL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
    "$VENV/bin/ansible-galaxy" collection build --force --output-path "$WORK/dist" "$ROOT" > /dev/null
    TARBALL=$(ls "$WORK"/dist/cnai-platform-*.tar.gz)
fi
echo "==> galaxy-importer $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))') on $(basename "$TARBALL")"

rc=0
if [ "${IMPORTER_LINT:-0}" = 1 ]; then export GALAXY_IMPORTER_RUN_ANSIBLE_LINT=true; fi
(cd "$WORK/tmp" && PATH="$VENV/bin:$PATH" GALAXY_IMPORTER_CONFIG=$ROOT/tests/importer/galaxy-importer.cfg \
    GALAXY_IMPORTER_TMP_ROOT_DIR=$WORK/tmp ANSIBLE_LOCAL_TEMP=$WORK/tmp/ansible \
    "$VENV/bin/python" -m galaxy_importer.main "$TARBALL") > "$WORK/importer.log" 2>&1 || rc=$?

errors=$(grep -cE '^(ERROR|CRITICAL)' "$WORK/importer.log" || true)
warnings=$(grep -cE '^WARNING' "$WORK/importer.log" || true)
grep -E '^(ERROR|CRITICAL|WARNING)' "$WORK/importer.log" || true
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ] || ! grep -q 'Importer processing completed successfully' "$WORK/importer.log"; then
    tail -30 "$WORK/importer.log"
    echo "==> galaxy-importer FAILED (rc $rc, $errors errors; log: $WORK/importer.log) in $((SECONDS - t0)) s" >&2
    exit 1
fi
if [ "$warnings" -gt "$MAX_WARNINGS" ]; then
    echo "==> galaxy-importer: $warnings warnings (above IMPORTER_MAX_WARNINGS=$MAX_WARNINGS; log: $WORK/importer.log)" >&2
    exit 1
fi
echo "==> galaxy-importer passed ($warnings warnings) in $((SECONDS - t0)) s"
