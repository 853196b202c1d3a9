# Operations layer: role observability, playbooks/operations.yml.
#   make obs-rules        promtool (pinned: tools/promtool/versions.env; installed on first use into
#                         .cache/tools) checks the generated alert rules and runs their unit tests
#                         (a firing and a quiet series set per alert), incl. tests that must fail
#   make obs-dashboards   dashboard tests: every JSON loads, every query parses, every metric is exposed
#   make molecule-observability   Molecule scenario observability on the local testbed (real chart)
#   make obs-otelcol      builds otelcol (OpenTelemetry builder, cached by version) and validates the
#                         collector configuration the chart renders from the role's values. Opt-in, not in
#                         `make test`: the cold build took ~24 min on this 2-core machine (under load), over
#                         the ~8 min a CI stage may take; warm (Go caches kept) it is seconds
#   make operations       playbooks/operations.yml on the embedded default

.PHONY: obs-rules obs-dashboards molecule-observability obs-otelcol operations

obs-rules: venv
	@echo "==> promtool: check and unit-test the generated alert rules"
	@promtool=$$(bash tools/promtool/install.sh) && \
	  PROMTOOL=$$promtool $(BIN)/python -m pytest -q tests/promtool

obs-dashboards: venv
	@echo "==> dashboards: load, parse every query, check every metric name"
	$(BIN)/python -m pytest -q tests/unit/plugins/module_utils/test_dashboards.py

molecule-observability: venv testbed-build kustomize
	@test -n "$(CNAI_CHART_DIR)" || { echo "molecule-observability: CNAI_CHART_DIR is empty; the scenario installs the real kube-prometheus-stack, Loki, Tempo and collector charts from a directory of packaged charts (../shared/charts)" >&2; exit 1; }
	@echo "==> molecule test -s observability"
	@t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s observability; echo "==> molecule observability: passed in $$((SECONDS - t0)) s"

obs-otelcol: venv testbed-build
	@echo "==> otelcol: build (cached) and validate the collector configuration"
	@otelcol=$$(nice -n 10 bash tools/otelcol/build.sh) && \
	  OTELCOL=$$otelcol HELM=$(TESTBED_BIN_HELM) $(BIN)/python -m pytest -q tests/otelcol

operations: venv
	$(BIN)/ansible-playbook playbooks/operations.yml

TEST_STAGES_EARLY += obs-rules obs-dashboards
TEST_STAGES += molecule-observability
