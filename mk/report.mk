# Reports people and machines read (issue 13 items 7 and 8).
#   make chromium         install Debian's chromium when absent (time-limited); says so and goes on when apt is
#                         unavailable (the rendering test then skips with that message)
#   make report-plan      plan_report unit tests + plan.yml on inventories/local -> report.html rendered by headless
#                         Chromium, GPUs/instances counted against plan.yaml; screenshot in .cache/test-artifacts/
#   make report-validate  playbooks/validate.yml on the local testbed: the run report's content, and an unhealthy
#                         model giving a non-zero exit that names it (tests/report/test_validate_playbook.py)
#   make report-validate-e2e  the same on the testbed `make e2e` left, deploying nothing (make test runs this one)

CHROMIUM_INSTALL_TIMEOUT ?= 900

.PHONY: chromium report-plan report-validate report-validate-e2e

REPORT_VALIDATE_PYTEST = PATH="$(dir $(TESTBED_BIN_HELM)/helm):$$PATH" $(BIN)/python -m pytest -q tests/unit/plugins/module_utils/test_validate_report.py tests/report/test_validate_playbook.py

chromium:
	@if command -v chromium >/dev/null 2>&1; then echo "==> chromium: $$(chromium --version 2>/dev/null | head -1)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "==> chromium: not installed and apt-get is unavailable: the rendering test will be skipped"; \
	else \
	  echo "==> chromium: installing Debian's package (limit $(CHROMIUM_INSTALL_TIMEOUT) s)"; t0=$$SECONDS; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  DEBIAN_FRONTEND=noninteractive timeout $(CHROMIUM_INSTALL_TIMEOUT) $$SUDO apt-get install -y -q chromium >/dev/null \
	    || { DEBIAN_FRONTEND=noninteractive timeout $(CHROMIUM_INSTALL_TIMEOUT) $$SUDO apt-get update -q >/dev/null && \
	         DEBIAN_FRONTEND=noninteractive timeout $(CHROMIUM_INSTALL_TIMEOUT) $$SUDO apt-get install -y -q chromium >/dev/null; }; \
	  echo "==> chromium: installed in $$((SECONDS - t0)) s"; \
	fi

report-plan: venv chromium
	@echo "==> report: plan_report unit tests, then plan.yml -> report.html in headless Chromium"
	@t0=$$SECONDS; $(BIN)/python -m pytest -q tests/unit/plugins/module_utils/test_plan_report.py tests/report/test_plan_report_browser.py; \
	  echo "==> report-plan: passed in $$((SECONDS - t0)) s (screenshot: .cache/test-artifacts/plan-report.png)"

# Uses a running testbed, or starts one and stops it afterwards (TESTBED_KEEP=1 keeps it): what it deploys
# must not stay behind for the next stage (molecule vllm counts GPU capacity on the same nodes).
report-validate: venv testbed-build
	@echo "==> report: validate.yml on the local testbed (run report content, unhealthy model -> non-zero exit)"
	@t0=$$SECONDS; started=0; \
	if ! $(TESTBED) status >/dev/null 2>&1; then $(TESTBED) up && started=1 || exit 1; fi; \
	rc=0; $(REPORT_VALIDATE_PYTEST) || rc=$$?; \
	if [ $$started = 1 ] && [ "$${TESTBED_KEEP:-0}" != 1 ]; then $(TESTBED) down >/dev/null; echo "==> report: stopped the testbed it started"; fi; \
	[ $$rc = 0 ] && echo "==> report-validate: passed in $$((SECONDS - t0)) s"; exit $$rc

# report-validate-e2e: the same tests on the testbed `make e2e` left running, without deploying again (how
# `make test` runs them: after e2e, which saves a rollout of the GPU and services layers).
report-validate-e2e: venv
	@echo "==> report: validate.yml on the testbed e2e deployed (run report content, unhealthy model -> non-zero exit)"
	@$(TESTBED) status >/dev/null 2>&1 || { echo "report-validate-e2e: the testbed is not up; run make e2e first (or make report-validate)" >&2; exit 1; }
	@t0=$$SECONDS; REPORT_VALIDATE_AFTER_E2E=1 $(REPORT_VALIDATE_PYTEST); \
	  echo "==> report-validate-e2e: passed in $$((SECONDS - t0)) s"

TEST_STAGES_EARLY += report-plan
