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

.PHONY: help venv demo test unit sanity lint bench plan clean

help:
	@echo "make demo    set up .venv, run the main job on the embedded default, print where to look"
	@echo "make test    unit + sanity + lint + integration + molecule + end to end (what CI runs)"
	@echo "make unit | sanity | lint | bench | plan"

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

demo: venv
	@echo "==> computing the MIG plan for inventories/local"
	$(BIN)/ansible-playbook playbooks/plan.yml
	@echo "==> done: the plan is under .cache/plan/ (mig-config.yaml, report.txt)"

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

# Each layer adds its own targets and test stages in mk/<layer>.mk (TEST_STAGES += ...).
TEST_STAGES :=
-include $(sort $(wildcard mk/*.mk))

test: unit sanity lint $(TEST_STAGES)
	@echo "==> make test: all stages passed"

clean:
	rm -rf .cache/plan tests/output
