# The collection as users get it (issue 13): the built tarball installed read-only into its own collections
# path and used by FQCN from a separate project directory; the cluster plays' preflight; the Execution
# Environment build context.
#   make artifact        tests/artifact: build + install (read-only) + plan.yml and the vLLM render by FQCN
#                        from a temp project (outputs there, collection unchanged: checksum + galaxy verify),
#                        the preflight messages (missing kubeconfig, wrong context, unreachable, old
#                        Kubernetes/helm, missing CRD), `ansible-builder create` of examples/execution-environment
#   make build           the tarball into .cache/dist/ (what `ansible-galaxy collection install` takes)

.PHONY: artifact build

build: venv
	mkdir -p .cache/dist
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/dist .

artifact: venv kustomize
	@echo "==> artifact: the built collection, installed read-only, used from a project directory"
	@t0=$$SECONDS; KUSTOMIZE_BINARY=$(KUSTOMIZE_BIN) nice -n 5 $(BIN)/python -m pytest -q -p no:cacheprovider tests/artifact; \
	  echo "==> artifact: passed in $$((SECONDS - t0)) s"

TEST_STAGES += artifact
