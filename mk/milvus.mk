# RAG vector store (role milvus, module milvus_collection).
#   make milvus-integration   cnai.platform.milvus_collection against a real Milvus gRPC server (Milvus Lite from
#                             PyPI, in-process; no cluster): create, idempotence, differences, recreate, check mode
#   make molecule-milvus      Molecule scenario milvus on the local testbed: the real Milvus chart in dev's standalone
#                             mode, converge, idempotence, verify (objects, values, Secrets, PVCs, ServiceMonitor,
#                             NetworkPolicy selectors), bad inputs and a refused 2.4 -> 2.6 upgrade

.PHONY: milvus-integration molecule-milvus

milvus-integration: venv
	@echo "==> milvus: milvus_collection against Milvus Lite"
	@t0=$$SECONDS; $(BIN)/python -m pytest -q tests/integration/test_milvus_collection.py; \
	  echo "==> milvus-integration: passed in $$((SECONDS - t0)) s"

molecule-milvus: venv testbed-build
	@echo "==> molecule test -s milvus"
	@t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s milvus; \
	  echo "==> molecule milvus: passed in $$((SECONDS - t0)) s"

TEST_STAGES += milvus-integration molecule-milvus
