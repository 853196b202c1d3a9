# RAG store Elasticsearch (role elasticsearch on ECK; role k8s_secret).
#   make molecule-elasticsearch   Molecule scenario elasticsearch on the local testbed: the real ECK operator
#                                 chart (CRDs real), the Elasticsearch resource rendered into three overlays and
#                                 dev delivered; converge, idempotence, verify (values, NetworkPolicy peers,
#                                 generate-once Secrets, bad inputs). ECK's own objects are simulated (KWOK).
#   make unit-elasticsearch       the unit tests of module_utils/elasticsearch.py and generated_secrets.py

.PHONY: molecule-elasticsearch unit-elasticsearch

molecule-elasticsearch: venv testbed-build
	@t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s elasticsearch; \
	  echo "==> molecule elasticsearch: passed in $$((SECONDS - t0)) s"

unit-elasticsearch: venv
	$(BIN)/python -m pytest -q tests/unit/plugins/module_utils/test_elasticsearch.py \
	  tests/unit/plugins/module_utils/test_generated_secrets.py

TEST_STAGES += molecule-elasticsearch
