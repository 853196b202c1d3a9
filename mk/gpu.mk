# GPU layer (roles gpu_operator, gpu_partitioning; playbooks gpu.yml, mig_reconfigure.yml).
#   make gpu                  run playbooks/gpu.yml on the embedded default (needs `make up`)
#   make gpu-check            the same in check mode: lists the nodes that would be reconfigured
#   make molecule-gpu         Molecule: gpu_operator, then gpu_partitioning (converge, idempotence,
#                             verify incl. check mode and fault cases) on the local testbed
#   make gpu-e2e              playbooks/gpu.yml twice on the testbed; the second run must change nothing
# The testbed is started by the scenarios' create step when it is not up, and stopped only if they
# started it (molecule/_testbed). TESTBED_KEEP=1 keeps it running.

GPU_SCENARIOS := gpu_operator gpu_partitioning

.PHONY: gpu gpu-check molecule-gpu gpu-e2e

gpu: venv
	$(BIN)/ansible-playbook playbooks/gpu.yml

gpu-check: venv
	$(BIN)/ansible-playbook playbooks/gpu.yml --check

molecule-gpu: venv testbed-build
	@set -e; for s in $(GPU_SCENARIOS); do \
	  echo "==> molecule test -s $$s"; \
	  t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s $$s; \
	  echo "==> molecule $$s: passed in $$((SECONDS - t0)) s"; \
	done

gpu-e2e: venv up
	@echo "==> playbooks/gpu.yml, first run"
	$(BIN)/ansible-playbook playbooks/gpu.yml
	@echo "==> playbooks/gpu.yml, second run: must report changed=0"
	$(BIN)/ansible-playbook playbooks/gpu.yml | tee .cache/gpu-e2e-second-run.log
	@grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' .cache/gpu-e2e-second-run.log || \
	  { echo "gpu-e2e: the second run reported changes" >&2; exit 1; }

TEST_STAGES += molecule-gpu
