# GitOps hand-off (role gitops, playbooks/gitops.yml, issue 11).
#   make gitops            run playbooks/gitops.yml (needs cnai_delivery=gitops and a rendered tree)
#   make molecule-gitops   Molecule scenario gitops on the local testbed: the real Argo CD chart (CRDs), the tree
#                          committed to a local bare repository, server-side dry-run of every overlay object and
#                          Application, project/allow-list/sync policy asserted (in make test)
#   make gitops-argocd     opt-in: builds the Argo CD application controller + repo server (tools/argocd, cached by
#                          version; cold build: see roles/gitops/README.md), runs them against the local testbed with
#                          redis-server, and checks that Argo CD really syncs the tree (tests/gitops/argocd_sync.py)

.PHONY: gitops molecule-gitops gitops-argocd argocd-build

gitops: venv
	$(BIN)/ansible-playbook playbooks/gitops.yml

molecule-gitops: venv testbed-build
	@t0=$$SECONDS; nice -n 5 $(BIN)/molecule test -s gitops; echo "==> molecule gitops: passed in $$((SECONDS - t0)) s"

argocd-build:
	tools/argocd/build.sh

gitops-argocd: venv testbed-build argocd-build
	@t0=$$SECONDS; $(BIN)/python tests/gitops/argocd_sync.py; echo "==> gitops-argocd: passed in $$((SECONDS - t0)) s"

TEST_STAGES += molecule-gitops
