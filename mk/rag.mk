# RAG layer (roles milvus, elasticsearch, ai_gateway).
#   make molecule-rag   Molecule scenario rag on the local testbed: prepare (GPU layer + vLLM for two models,
#                       Gateway API and monitor CRDs, the OpenTelemetry Collector chart, simulated ECK objects),
#                       converge (milvus, elasticsearch when present, ai_gateway), idempotence, verify (objects
#                       and values, credentials, wiring check passing and one broken wiring failing, bad inputs)

RAG_SCENARIOS := rag

.PHONY: molecule-rag

molecule-rag: venv testbed-build
	@set -e; for s in $(RAG_SCENARIOS); do \
	  echo "==> molecule test -s $$s"; \
	  t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s $$s; \
	  echo "==> molecule $$s: passed in $$((SECONDS - t0)) s"; \
	done

TEST_STAGES += molecule-rag
