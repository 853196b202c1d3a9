#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_prune
short_description: Delete the objects a direct delivery applied before and no longer renders
version_added: 0.3.0
description:
  - Lists the objects of O(kinds) (and of every kind in O(keep)) in O(namespaces) that carry the labels of
    O(label_selector) and that the field manager O(field_manager) server-side applied, and deletes those that
    are not in O(keep) (the current build of the overlay). What Argo CD's prune does in GitOps mode.
  - Never touches objects created by hand, by Helm, by an operator or by another field manager, objects owned
    by another object (C(ownerReferences)), Namespaces, Secrets, or anything outside O(namespaces).
  - "Objects of O(protect_kinds), and objects that opt out the way Argo CD reads it (annotation
    C(argocd.argoproj.io/sync-options) with C(Prune=false)), are reported in RV(left), not deleted."
  - Kinds whose API the cluster does not serve (a CRD not installed) are skipped.
  - The rules are in C(module_utils/k8s_prune.py), unit-tested; the role P(cnai.platform.deliver#role) calls this
    after its apply.
options:
  field_manager:
    description: The field manager the delivery applies with (C(cnai.platform/<component>)).
    type: str
    required: true
  namespaces:
    description: The namespaces the overlay uses (RV(cnai.platform.kustomize_build#module:namespaces)).
    type: list
    elements: str
    required: true
  keep:
    description: >-
      The references of the current build (RV(cnai.platform.kustomize_build#module:refs)): C(apiVersion), C(kind),
      C(namespace), C(name). Matched by API group, kind, namespace and name (a version bump is the same object).
    type: list
    elements: dict
    required: true
  kinds:
    description: Kinds to scan besides those in O(keep), as C({apiVersion, kind}).
    type: list
    elements: dict
    default: []
  protect_kinds:
    description: Kinds never deleted (storage); what would be pruned of them is reported in RV(left).
    type: list
    elements: str
    default: [PersistentVolumeClaim]
  label_selector:
    description: Labels every pruned object must carry.
    type: dict
    default: {app.kubernetes.io/part-of: cnai-platform}
  timeout:
    description: Seconds each API request may take.
    type: int
    default: 30
  kubeconfig:
    description: Kubeconfig file (empty - C(K8S_AUTH_KUBECONFIG), C(KUBECONFIG), C(~/.kube/config), in-cluster).
    type: path
  context:
    description: Kubeconfig context (empty - the current one).
    type: str
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: cnai.platform.kustomize_build
requirements:
  - kubernetes (the Python client kubernetes.core uses)
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Build the overlay
  cnai.platform.kustomize_build:
    path: "{{ cnai_render_dir }}/vllm/overlays/dev"
  register: built

- name: Delete what vLLM's delivery applied before and no longer renders
  cnai.platform.k8s_prune:
    field_manager: cnai.platform/vllm
    namespaces: "{{ built.namespaces }}"
    keep: "{{ built.refs }}"
    kinds:
      - {apiVersion: apps/v1, kind: Deployment}
      - {apiVersion: keda.sh/v1alpha1, kind: ScaledObject}
'''

RETURN = r'''
pruned:
  description: The objects deleted (in check mode - that would be deleted), as C({apiVersion, kind, namespace, name}).
  returned: success
  type: list
  elements: dict
  sample: [{apiVersion: apps/v1, kind: Deployment, namespace: ai-inference-dev, name: old-model}]
left:
  description: Objects no longer rendered but kept (O(protect_kinds), or annotated C(Prune=false)).
  returned: success
  type: list
  elements: dict
scanned:
  description: The kinds listed (C(apiVersion/kind)); kinds the cluster does not serve are in RV(skipped_kinds).
  returned: success
  type: list
  elements: str
skipped_kinds:
  description: The kinds the cluster does not serve (their CRD is not installed).
  returned: success
  type: list
  elements: str
'''

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils import cluster_preflight as cp
from ansible_collections.cnai.platform.plugins.module_utils import k8s_prune as kp

try:
    from kubernetes import config as k8s_config
    from kubernetes.client import ApiClient
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
except ImportError:
    K8S_ERROR = traceback.format_exc()
else:
    K8S_ERROR = None


def _client(kubeconfig, context):
    # the same search as cnai.platform.cluster_preflight: the option, K8S_AUTH_KUBECONFIG, $KUBECONFIG,
    # ~/.kube/config, then the in-cluster service account
    path, dummy = cp.find_kubeconfig(kubeconfig or os.environ.get('K8S_AUTH_KUBECONFIG') or '')
    if path is None:
        k8s_config.load_incluster_config()
        return DynamicClient(ApiClient())
    return DynamicClient(k8s_config.new_client_from_config(config_file=path, context=context or None))


def run(module):
    p = module.params
    kinds = kp.scan_kinds(p['kinds'], p['keep'])
    dyn = _client(p['kubeconfig'], p['context'])
    # The client caches discovery per API server address in the temp dir; a CRD deleted since (or another
    # cluster at the same address) would make a cached kind answer 404. Discover afresh.
    dyn.resources.invalidate_cache()
    selector = ','.join('%s=%s' % kv for kv in sorted((p['label_selector'] or {}).items())) or None
    live, scanned, skipped, served = [], [], [], {}
    for k in kinds:
        name = '%s/%s' % (k['apiVersion'], k['kind'])
        try:
            resource = dyn.resources.get(api_version=k['apiVersion'], kind=k['kind'])
        except ResourceNotFoundError:
            skipped.append(name)
            continue
        scanned.append(name)
        served[(k['apiVersion'], k['kind'])] = resource
        for ns in sorted(set(p['namespaces'])):
            items = resource.get(namespace=ns, label_selector=selector, _request_timeout=p['timeout'])
            live.extend(item.to_dict() for item in items.items)
    pruned, left = kp.prune_list(live, p['keep'], p['field_manager'], p['namespaces'], p['label_selector'],
                                 p['protect_kinds'])
    if not module.check_mode:
        for ref in pruned:
            # listed through that resource above, so the object reads back with its apiVersion
            resource = served[(ref['apiVersion'], ref['kind'])]
            try:
                resource.delete(name=ref['name'], namespace=ref['namespace'], _request_timeout=p['timeout'],
                                body={'propagationPolicy': 'Background'})
            except NotFoundError:
                pass    # gone meanwhile: what we wanted
    return dict(changed=bool(pruned), pruned=pruned, left=left, scanned=scanned, skipped_kinds=skipped)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            field_manager=dict(type='str', required=True),
            namespaces=dict(type='list', elements='str', required=True),
            keep=dict(type='list', elements='dict', required=True),
            kinds=dict(type='list', elements='dict', default=[]),
            protect_kinds=dict(type='list', elements='str', default=['PersistentVolumeClaim']),
            label_selector=dict(type='dict', default={'app.kubernetes.io/part-of': 'cnai-platform'}),
            timeout=dict(type='int', default=30),
            kubeconfig=dict(type='path'),
            context=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    if K8S_ERROR:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=K8S_ERROR)
    try:
        module.exit_json(**run(module))
    except (kp.PruneError, cp.PreflightError) as exc:
        module.fail_json(msg='k8s_prune: %s' % exc)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='k8s_prune: %s: %s' % (type(exc).__name__, exc), exception=traceback.format_exc())


if __name__ == '__main__':
    main()
