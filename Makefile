# cnai.platform — developer and CI entry points.
#   make demo   set everything up and run the main job on the embedded default (local cluster)
#   make test   every check CI runs: unit, sanity, lint, testbed, molecule, end to end
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-test.txt | sha256sum | cut -c1-12)
COLL   := .cache/collections/ansible_collections/cnai/platform
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export PYTHONPATH := $(CURDIR)/.cache/collections
# Packaged upstream charts (<chart>-<version>.tgz) for offline installs: the inventories read CNAI_CHART_DIR
# (cnai_chart_dir). Empty: charts come from the repositories pinned in bom.yml.
CNAI_CHART_DIR ?= $(if $(wildcard ../shared/charts),$(abspath ../shared/charts),)
export CNAI_CHART_DIR

.PHONY: help venv demo test unit sanity lint bench plan e2e clean

help:
	@echo "make demo    set up .venv, run the main job on the embedded default, print where to look"
	@echo "make test    unit + sanity + lint + integration + molecule + end to end (what CI runs)"
	@echo "make up | down | status   the embedded default (local control plane, simulated GPU nodes)"
	@echo "make unit | sanity | lint | bench | plan | e2e"

$(STAMP): requirements.txt requirements-test.txt
	@echo "==> creating $(VENV) and installing pinned requirements"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-test.txt
	rm -f $(VENV)/.installed-*
	touch $@

$(COLL):
	mkdir -p $(dir $(COLL))
	ln -sfn ../../../.. $(COLL)

venv: $(STAMP) $(COLL)

plan: venv
	$(BIN)/ansible-playbook playbooks/plan.yml

demo: venv up
	@echo "==> 1. the models of inventories/local sized, and the MIG plan for them (written to .cache/plan/)"
	$(BIN)/ansible-playbook playbooks/plan.yml | sed -n '/Show the report/,/PLAY RECAP/p'
	@echo "==> 2. the main job on the embedded default: playbooks/site.yml"
	$(BIN)/ansible-playbook playbooks/site.yml
	@echo "==> 3. the cluster now: MIG config and state per node, allocatable GPU resources"
	@$(TESTBED) status | sed -n '/^NODE/,$$p'
	@echo "==> 4. the served models (replicas, GPU resource, nodes and GPU product, autoscaling bounds), the RAG stores"
	@echo "       and the AI gateway's routes, generated from cnai_models and the stores (no container runs here: the"
	@echo "       testbed's simulators play the GPU Operator and ECK; Milvus and vLLM pods are scheduled, not started)"
	@$(BIN)/ansible-playbook playbooks/services_status.yml -e services_status_file=$(CURDIR)/.cache/services-status.txt > .cache/services-status.log
	@cat .cache/services-status.txt
	@echo
	@echo "Where to look:"
	@echo "  .cache/plan/report.html (open it), report.txt, mig-config.yaml, plan.yaml   the plan (what runs where, per GPU)"
	@echo "  .cache/validate/report.json                          what is deployed and healthy, per layer"
	@echo "  .cache/render/<component>/{base,overlays/<env>}       vllm, milvus, elasticsearch, ai_gateway (kustomize build)"
	@echo "  KUBECONFIG=$(CURDIR)/.cache/testbed/kubeconfig        the local cluster (make status)"
	@echo "  make down                                             stop it"

unit: venv
	@echo "==> unit tests"
	$(BIN)/python -m pytest -q tests/unit

sanity: venv
	@echo "==> ansible-test sanity"
	bash tests/sanity/run.sh

lint: venv
	@echo "==> ansible-lint (production profile)"
	$(BIN)/ansible-lint --offline

bench: venv
	$(BIN)/python tests/bench/bench_mig_plan.py

# Each layer adds its own targets and test stages in mk/<layer>.mk: TEST_STAGES_EARLY += ... for stages that need
# no testbed binaries (they run first, while .ci/run's background Go build of the testbed goes on), TEST_STAGES += ...
# for the rest.
TEST_STAGES_EARLY :=
TEST_STAGES :=
-include $(sort $(wildcard mk/*.mk))

# The stages run one after another, each timed; the table (also in .cache/test-times.txt) shows where CI time goes.
# report-validate-e2e reads the cluster e2e leaves (see mk/report.mk).
TEST_ALL = unit sanity lint $(TEST_STAGES_EARLY) $(TEST_STAGES) e2e report-validate-e2e

test: venv
	@mkdir -p .cache; : > .cache/test-times.txt; t_all=$$SECONDS; \
	for s in $(TEST_ALL); do \
	  t0=$$SECONDS; \
	  if ! $(MAKE) --no-print-directory $$s; then \
	    printf '%-24s FAILED after %d s\n' $$s $$((SECONDS - t0)) >> .cache/test-times.txt; \
	    echo "==> make test: stage $$s failed; stage times:"; cat .cache/test-times.txt; exit 1; \
	  fi; \
	  printf '%-24s %5d s\n' $$s $$((SECONDS - t0)) >> .cache/test-times.txt; \
	done; \
	printf '%-24s %5d s\n' total $$((SECONDS - t_all)) >> .cache/test-times.txt; \
	echo "==> make test: all stages passed; stage times:"; cat .cache/test-times.txt

# End to end: site.yml twice on the embedded default; the second run must change nothing.
# Each run ends with its 25 slowest tasks (ansible.posix.profile_tasks): where the e2e time goes.
E2E_PROFILE := ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=25
e2e: venv up
	@echo "==> e2e: playbooks/site.yml, first run"
	$(E2E_PROFILE) $(BIN)/ansible-playbook playbooks/site.yml
	@echo "==> e2e: playbooks/site.yml, second run (must report changed=0 everywhere)"
	$(E2E_PROFILE) $(BIN)/ansible-playbook playbooks/site.yml | tee .cache/e2e-second-run.log | tail -40
	@if grep -E ' changed=[1-9]' .cache/e2e-second-run.log; then echo "e2e: the second run changed something" >&2; exit 1; fi
	@echo "==> e2e: second run changed nothing"

clean:
	rm -rf .cache/plan tests/output
