#!/usr/bin/env bash
# The docs site (make docs): antsibull-docs renders the collection's reference (every module, filter and role,
# and the user guide in docs/docsite/rst), Sphinx builds HTML with the Ansible theme; docs/runbooks.md (the
# pages the alerts' runbook_url point into) is added through MyST. Output: .cache/docs/html/index.html.
# Offline: no intersphinx inventories are fetched. Warnings are errors (-W), so broken references fail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/.venv/bin
OUT=$ROOT/.cache/docs
SRC=$OUT/src
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.cache/collections PYTHONPATH=$ROOT/.cache/collections
export PATH=$BIN:$PATH

t0=$SECONDS
rm -rf "$SRC" "$OUT/html" "$OUT/doctrees"
mkdir -p "$SRC/collection"
chmod 755 "$SRC" "$SRC/collection"   # antsibull-docs wants a directory only its owner can write
"$BIN/antsibull-docs" collection --use-current --squash-hierarchy --fail-on-error --dest-dir "$SRC/collection" \
    cnai.platform > "$OUT/antsibull-docs.log" 2>&1 || { cat "$OUT/antsibull-docs.log" >&2; exit 1; }
cp "$ROOT/docs/site/conf.py" "$ROOT/docs/site/index.rst" "$SRC/"
cp "$ROOT/docs/runbooks.md" "$SRC/runbooks.md"
echo "==> docs: rst in $((SECONDS - t0)) s"
nice -n "${DOCS_NICE:-5}" "$BIN/sphinx-build" -b html -q -W --keep-going -d "$OUT/doctrees" "$SRC" "$OUT/html"

# Every alert's runbook anchor exists on the site (the alert names come from the rule generator itself).
"$BIN/python" - "$OUT/html/runbooks.html" <<'PY'
import re
import sys

from ansible_collections.cnai.platform.plugins.module_utils import alert_rules

html = open(sys.argv[1]).read()
ids = set(re.findall(r'id="([^"]+)"', html))
missing = sorted(name for name in alert_rules.ALERT_NAMES if name.lower() not in ids)
if missing:
    sys.exit('docs: runbooks.html has no section for %s (add "## <Alert>" to docs/runbooks.md)' % ', '.join(missing))
print('==> docs: runbooks.html has a section for each of the %d alerts' % len(alert_rules.ALERT_NAMES))
PY
echo "==> docs: built $OUT/html/index.html in $((SECONDS - t0)) s"
