# Documentation and the shipped artifact's checks (issue 13, items 4 and 6).
#   make docs-lint   house rules + antsibull-docs lint-collection-docs (every module, filter, role, extra doc)
#   make importer    galaxy-importer (offline configuration) on the built tarball: what Galaxy runs on upload
#   make docs        the docs site: antsibull-docs + Sphinx into .cache/docs/html (user guide, plugin and role
#                    reference, runbooks); in make test (about 40 s: the site must build with -W)
#   make sanity      (Makefile) ansible-test sanity on the built tarball, once per core in tests/sanity/cores.txt;
#                    SANITY_CORES="2.19" make sanity for one
.PHONY: docs docs-lint importer

docs-lint: venv
	@echo "==> docs-lint"
	bash tests/docs/lint.sh

importer: venv
	@echo "==> galaxy-importer on the built collection"
	bash tests/importer/run.sh

docs: venv
	@echo "==> docs site (.cache/docs/html)"
	bash docs/site/build.sh

TEST_STAGES_EARLY += docs-lint importer docs
