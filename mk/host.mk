# Host layer (roles nvidia_driver, container_toolkit): Molecule on real Debian 12 containers.
#   make host-image        build or load the debootstrap image (cached under .cache/host-image, keyed by script hash)
#   make molecule-host     both scenarios: molecule/nvidia_driver, molecule/container_toolkit
#   make host-verify-selftest  tests/hardware/verify_driver.yml against a fake nvidia-smi
# podman runs with runc and explicit ulimits (research/control-plane.md §8) via CONTAINERS_CONF.
.PHONY: host-image molecule-host molecule-nvidia-driver molecule-container-toolkit host-verify-selftest host-lint

HOST_IMAGE_CACHE := $(CURDIR)/.cache/host-image
HOST_SCENARIOS   := nvidia_driver container_toolkit

host-image:
	@echo "==> host image (debootstrap + podman import)"
	nice bash tools/host-image/build.sh > $(HOST_IMAGE_CACHE).ref
	@cat $(HOST_IMAGE_CACHE).ref

molecule-nvidia-driver molecule-container-toolkit: molecule-%: venv host-image
	@s=$$(echo $* | tr - _); echo "==> molecule test -s $$s"; \
	export CNAI_HOST_IMAGE=$$(tail -1 $(HOST_IMAGE_CACHE).ref) CONTAINERS_CONF=$(HOST_IMAGE_CACHE)/containers.conf; \
	start=$$(date +%s); nice $(BIN)/molecule test -s $$s; \
	echo "==> molecule $$s: $$(( $$(date +%s) - start )) s"

molecule-host: molecule-nvidia-driver molecule-container-toolkit

host-verify-selftest: venv
	@echo "==> tests/hardware/verify_driver.yml self-test (fake nvidia-smi)"
	bash tests/hardware/selftest.sh

host-lint: venv
	$(BIN)/ansible-lint --offline roles/nvidia_driver roles/container_toolkit playbooks/host.yml

# No testbed needed: they run early, while the background Go build of the testbed finishes (Makefile).
TEST_STAGES_EARLY += host-verify-selftest molecule-host
