# The embedded default: a local, real Kubernetes control plane with simulated GPU nodes (tools/testbed).
#   make up       build what is missing (cached in .cache/testbed/bin/<component>-<version>), start the
#                 cluster, create the nodes of inventories/local; a second `make up` changes nothing
#   make down     stop every testbed process, delete the cluster data
#   make status   kubeconfig path, processes, nodes
#   make testbed-build    only build/refresh the binaries (versions: tools/testbed/versions.env)
#   make testbed-test     integration tests against the testbed (the simulator's unit tests run in
#                         `make unit`: tests/unit/tools)
#   make testbed-molecule Molecule scenario testbed_smoke (proves molecule/_testbed)
#   make demo-up          hook for `make demo` (= up)
# KUBECONFIG for everything else: .cache/testbed/kubeconfig (TESTBED_KUBECONFIG below).

TESTBED          := $(BIN)/python tools/testbed/testbed.py
TESTBED_KUBECONFIG := $(CURDIR)/.cache/testbed/kubeconfig
TESTBED_BIN_HELM  = $(CURDIR)/.cache/testbed/bin/helm-$(shell sed -n 's/^HELM_VERSION=//p' tools/testbed/versions.env)

.PHONY: up down status testbed-build testbed-test testbed-unit testbed-integration demo-up testbed-molecule

testbed-build:
	@nice -n 10 bash tools/testbed/build.sh

up: venv
	@$(TESTBED) up

down: venv
	@$(TESTBED) down

status: venv
	@$(TESTBED) status

demo-up: up

testbed-unit: venv
	@echo "==> testbed: simulator unit tests"
	$(BIN)/python -m pytest -q tests/unit/tools

# Uses a running testbed or starts one (and stops only what it started): see tests/integration/conftest.py
testbed-integration: venv testbed-build
	@echo "==> testbed: integration tests (real control plane, simulated GPUs)"
	PATH="$(dir $(TESTBED_BIN_HELM)/helm):$$PATH" $(BIN)/python -m pytest -q -m testbed tests/integration

# The Molecule base for cluster roles (molecule/_testbed), proven by a small scenario
testbed-molecule: venv testbed-build
	@echo "==> testbed: molecule test -s testbed_smoke (molecule/_testbed create/destroy)"
	nice -n 5 $(BIN)/molecule test -s testbed_smoke

testbed-test: testbed-integration testbed-molecule

TEST_STAGES += testbed-test
