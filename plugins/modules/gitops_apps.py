#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gitops_apps
short_description: Write the Argo CD Applications, AppProjects and app-of-apps of a rendered tree
version_added: 0.1.0
description:
  - Reads the render tree O(path) (the GitOps repository's content) - every component with
    C(<component>/overlays/<environment>) (written by C(cnai.platform.kustomize_render)) and every release record
    C(helm/<name>.yaml) (written by role C(cnai.platform.helm_release) with C(cnai_delivery=gitops)).
  - Builds each overlay with C(kustomize build) and templates each chart with C(helm template --include-crds), to
    know the objects each Application will sync.
  - Writes one Argo CD C(Application) per component and environment to C(apps/<environment>/<component>-<environment>.yaml)
    (Kustomize source C(<component>/overlays/<environment>)) and one per release
    (C(apps/<environment>/<release>-<environment>.yaml), Helm source - the pinned repository, or with
    O(chart_source=git) the packaged chart unpacked into C(charts/<chart>-<version>/) of this repository).
  - Writes C(bootstrap/<environment>/) - the platform C(AppProject) (O(project)) scoped to the repository, the chart
    repositories, the namespaces O(namespaces) and a cluster-resource allow-list computed from the cluster-scoped
    kinds the objects really have; the root project (Applications in O(argocd_namespace) only); and the
    app-of-apps C(Application) of C(apps/<environment>).
  - Every Application - automated sync with prune and self-heal, C(ServerSideApply=true),
    C(RespectIgnoreDifferences=true), retry with backoff; C(ignoreDifferences) on C(/spec/replicas) of every
    workload a KEDA ScaledObject or an HPA of the same Application scales.
  - Fails, writing nothing, when an object or a destination uses a namespace no pattern of O(namespaces) allows.
  - Owns C(apps/<environment>/), C(bootstrap/<environment>/) (and C(charts/) with O(chart_source=git)) - files there
    it does not want are removed.
options:
  path:
    description: The render tree (absolute), for example C(cnai_render_dir).
    type: path
    required: true
  environment:
    description: The environment (overlay name) the Applications deliver.
    type: str
    required: true
  repo_url:
    description: The URL Argo CD reads the GitOps repository from.
    type: str
    required: true
  revision:
    description: The branch (or tag) Argo CD follows.
    type: str
    default: main
  argocd_namespace:
    description: The namespace of Argo CD (Applications and AppProjects live there).
    type: str
    default: argocd
  project:
    description: The platform's AppProject.
    type: str
    default: cnai-platform
  root_project:
    description: The AppProject of the app-of-apps.
    type: str
    default: cnai-platform-root
  namespaces:
    description: Destination namespace patterns (globs) the platform's AppProject allows.
    type: list
    elements: str
    required: true
  destination_server:
    description:
      - The API server URL every Application and AppProject destination names. The default is the cluster Argo CD
        runs in; another URL needs a cluster Secret in Argo CD (a management cluster, or Argo CD run outside the
        cluster as the opt-in test does).
    type: str
    default: https://kubernetes.default.svc
  chart_source:
    description: C(repo) - Helm Applications pull the chart from its pinned repository; C(git) - from this repository.
    type: str
    choices: [repo, git]
    default: repo
  chart_dir:
    description: Directory of packaged charts (C(<chart>-<version>.tgz)); templated from there when present.
    type: path
  kustomize_binary:
    description: The kustomize executable.
    type: str
    default: kustomize
  helm_binary:
    description: The helm executable.
    type: str
    default: helm
  retry_limit:
    description: Sync retries of every Application.
    type: int
    default: 5
  timeout:
    description: Seconds each kustomize build or helm template may take.
    type: int
    default: 120
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: cnai.platform.git_commit
  - module: cnai.platform.kustomize_render
requirements:
  - PyYAML
  - kustomize and helm executables
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Write the Argo CD objects of the rendered tree
  cnai.platform.gitops_apps:
    path: "{{ cnai_render_dir }}"
    environment: production
    repo_url: https://git.example/platform/gitops.git
    namespaces: [ai-inference, ai-inference-*, monitoring, keda]
    kustomize_binary: "{{ cnai_kustomize_binary }}"
    helm_binary: "{{ cnai_helm_binary }}"
    chart_dir: "{{ cnai_chart_dir }}"
  register: gitops_tree
'''

RETURN = r'''
applications:
  description: The Applications written to C(apps/<environment>/).
  returned: success
  type: list
  elements: dict
projects:
  description: The root project and the platform project (written to C(bootstrap/<environment>/)).
  returned: success
  type: list
  elements: dict
root:
  description: The app-of-apps Application (written to C(bootstrap/<environment>/)).
  returned: success
  type: dict
allowlists:
  description: C(cluster) - the cluster-scoped kinds (C({group, kind})) of the tree; C(namespaced) - the namespaced ones.
  returned: success
  type: dict
components:
  description: The components with an overlay for O(environment).
  returned: success
  type: list
  elements: str
releases:
  description: The chart releases recorded in C(helm/).
  returned: success
  type: list
  elements: str
namespaces:
  description: Every namespace the Applications use.
  returned: success
  type: list
  elements: str
objects:
  description: Per Application, the objects it syncs (C({apiVersion, kind, namespace, name})).
  returned: success
  type: dict
files:
  description: C(changed) and C(removed) files, relative to O(path).
  returned: success
  type: dict
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils import gitops

try:
    import yaml  # noqa: F401 pylint: disable=unused-import
    YAML_IMPORT_ERROR = None
except ImportError:
    YAML_IMPORT_ERROR = traceback.format_exc()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            environment=dict(type='str', required=True),
            repo_url=dict(type='str', required=True),
            revision=dict(type='str', default='main'),
            argocd_namespace=dict(type='str', default='argocd'),
            project=dict(type='str', default='cnai-platform'),
            root_project=dict(type='str', default='cnai-platform-root'),
            namespaces=dict(type='list', elements='str', required=True),
            destination_server=dict(type='str', default=gitops.IN_CLUSTER),
            chart_source=dict(type='str', choices=['repo', 'git'], default='repo'),
            chart_dir=dict(type='path'),
            kustomize_binary=dict(type='str', default='kustomize'),
            helm_binary=dict(type='str', default='helm'),
            retry_limit=dict(type='int', default=5),
            timeout=dict(type='int', default=120),
        ),
        supports_check_mode=True,
    )
    if YAML_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=YAML_IMPORT_ERROR)
    p = module.params
    try:
        result = gitops.build_tree(
            p['path'], p['environment'], p['repo_url'], p['revision'], p['argocd_namespace'], p['project'],
            p['root_project'], p['namespaces'], module.get_bin_path(p['kustomize_binary'], required=True),
            module.get_bin_path(p['helm_binary'], required=True), p['chart_dir'], p['chart_source'],
            gitops.sync_policy(retry_limit=p['retry_limit']), True, max(1, p['timeout']), module.check_mode,
            server=p['destination_server'])
    except gitops.GitOpsError as exc:
        module.fail_json(msg='gitops_apps: %s' % exc)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
