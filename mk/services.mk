# AI services layer (roles keda, vllm; playbooks services.yml, services_status.yml).
#   make services            run playbooks/services.yml on the embedded default (needs `make up` and the GPU layer)
#   make services-status     per vLLM Deployment: replicas, resource, nodes, GPU product, autoscaling bounds
#   make molecule-services   Molecule scenario vllm on the local testbed: prepare rolls the GPU layer out for
#                            cnai_models, converge (KEDA + vLLM), idempotence, verify (placement, capacity at
#                            peak, objects, bad input)
#   make bench-services      sizing + plan + render timings and GPUs needed (tests/bench/bench_services.py)

SERVICES_SCENARIOS := vllm

.PHONY: services services-status molecule-services bench-services

services: venv
	$(BIN)/ansible-playbook playbooks/services.yml

services-status: venv
	$(BIN)/ansible-playbook playbooks/services_status.yml

molecule-services: venv testbed-build
	@set -e; for s in $(SERVICES_SCENARIOS); do \
	  echo "==> molecule test -s $$s"; \
	  t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s $$s; \
	  echo "==> molecule $$s: passed in $$((SECONDS - t0)) s"; \
	done

bench-services: venv
	$(BIN)/python tests/bench/bench_services.py

TEST_STAGES += molecule-services
