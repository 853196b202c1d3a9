# Render-and-deliver path (design §3b): cnai.platform.kustomize_render / kustomize_build, roles deliver,
# helm_release, keda.
#   make kustomize            build (or reuse) the pinned kustomize: .cache/testbed/bin/kustomize-<version>/
#                             (KUSTOMIZE_VERSION in tools/testbed/versions.env)
#   make render-integration   kustomize_render against the real kustomize (no cluster)
#   make molecule-render      Molecule keda_deliver on the local testbed: KEDA from its upstream chart
#                             (cnai_chart_dir), a component rendered into three overlays, dev delivered,
#                             idempotence, bad-input cases
KUSTOMIZE_VERSION := $(shell sed -n 's/^KUSTOMIZE_VERSION=//p' tools/testbed/versions.env)
KUSTOMIZE_BIN     := $(CURDIR)/.cache/testbed/bin/kustomize-$(KUSTOMIZE_VERSION)/kustomize

.PHONY: kustomize render-integration molecule-render

kustomize:
	@nice -n 10 bash tools/testbed/build.sh kustomize

render-integration: venv kustomize
	@echo "==> kustomize_render against kustomize $(KUSTOMIZE_VERSION)"
	KUSTOMIZE_BINARY=$(KUSTOMIZE_BIN) $(BIN)/python -m pytest -q tests/integration/test_kustomize_render.py

molecule-render: venv testbed-build render-integration
	@test -n "$(CNAI_CHART_DIR)" || { echo "molecule-render: CNAI_CHART_DIR is empty; the scenario installs the real KEDA chart from a directory of packaged charts (../shared/charts)" >&2; exit 1; }
	@echo "==> molecule test -s keda_deliver"
	@t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s keda_deliver; echo "==> molecule keda_deliver: passed in $$((SECONDS - t0)) s"

TEST_STAGES += molecule-render
