#!/usr/bin/env bash
# Documentation lint (make docs-lint): the house rules (tests/docs/check_docs.py: every filter documented,
# none named like a module, literal role-spec defaults, module attributes), then
# `antsibull-docs lint-collection-docs --plugin-docs` (schema and markup of every module, filter and role doc,
# extra docs under docs/docsite, references to this collection and to the ones it depends on).
# Both always run, so one run lists every problem; each line names the file to fix.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/.venv/bin
COLL=$ROOT/.cache/collections/ansible_collections/cnai/platform   # the Makefile's symlink to the checkout
export ANSIBLE_COLLECTIONS_PATH=$ROOT/.cache/collections PYTHONPATH=$ROOT/.cache/collections PATH=$BIN:$PATH

t0=$SECONDS
rc=0
"$BIN/python" "$ROOT/tests/docs/check_docs.py" "$COLL" || rc=1
# --validate-collection-refs dependent: M()/P() references into kubernetes.core, community.general,
# ansible.posix and ansible.builtin are checked too (they come from the `ansible` package in .venv).
if out=$(cd "$COLL" && nice -n "${DOCS_NICE:-5}" "$BIN/antsibull-docs" lint-collection-docs --plugin-docs \
        --validate-collection-refs dependent --check-extra-docs-refs . 2>&1); then
    echo "docs-lint: antsibull-docs lint-collection-docs ok"
else
    rc=1
    printf '%s\n' "$out" | sed 's/^/docs-lint: antsibull-docs: /'
    cat <<'HINT'
docs-lint: how to fix the usual ones:
  "Did not return correct DOCUMENTATION" / "Missing documentation" for plugins/filter/<name>.py: write
      plugins/filter/<name>.yml (the filter's own name, not its .py's; see plugins/filter/embedding_models.yml)
  "Module name ...#filter is not a FQCN": a filter is referenced with P(cnai.platform.<name>#filter), not M()
  "there is no module cnai.platform.<role>": a role is referenced with P(cnai.platform.<role>#role)
  "RoleSchema ... Invalid value '{{ ... }}'": argument_specs defaults must be literal (see docs-lint lines above)
HINT
fi
echo "docs-lint: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
exit $rc
