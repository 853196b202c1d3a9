#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_preflight
short_description: Check that the cluster is reachable, with supported Kubernetes and helm, and the CRDs a play needs
version_added: 0.3.0
description:
  - Runs before the first task of a cluster play (role C(cnai.platform.cluster_preflight) at the start of
    C(gpu.yml), C(services.yml), C(operations.yml)) and fails with a message that names the inventory variable
    to set (C(cnai_kubeconfig), C(cnai_kube_context), C(cnai_helm_binary)).
  - Checks, in order - the kubeconfig file exists (O(kubeconfig); empty - C($KUBECONFIG), C(~/.kube/config),
    or the in-cluster service account in a pod); the context is in it (O(context); empty - its
    current-context); the API server answers within O(timeout) seconds with a Kubernetes version in
    O(kubernetes_versions); helm runs with a version in O(helm_versions) (when O(helm) is true); the
    CustomResourceDefinitions of O(crds) exist.
  - The supported ranges are kept in one place, C(plugins/module_utils/cluster_preflight.py).
  - Reads only; never reports a change.
options:
  kubeconfig:
    description: Kubeconfig file (C(cnai_kubeconfig)). Empty - C($KUBECONFIG), then C(~/.kube/config), then in-cluster.
    type: str
    default: ''
  context:
    description: Context (C(cnai_kube_context)). Empty - the kubeconfig's current-context.
    type: str
    default: ''
  timeout:
    description: Seconds each request to the API server may take.
    type: int
    default: 10
  kubernetes_versions:
    description: Accepted Kubernetes versions, comparisons separated by commas. Empty - the collection's supported range.
    type: str
    default: ''
  helm:
    description: Check helm (the plays that install charts).
    type: bool
    default: true
  helm_binary:
    description: helm (C(cnai_helm_binary)) - a name looked up on PATH or a path. Empty - C(helm) on PATH.
    type: str
    default: ''
  helm_versions:
    description: Accepted helm versions. Empty - the collection's supported range.
    type: str
    default: ''
  crds:
    description:
      - CustomResourceDefinitions the play needs, by name (C(servicemonitors.monitoring.coreos.com)), or as
        C({name, hint}) where C(hint) says what installs it or which variable to set.
    type: list
    elements: raw
    default: []
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - kubernetes (the Python client kubernetes.core uses)
  - PyYAML
  - helm, when O(helm) is true
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Check the cluster before the first change
  cnai.platform.cluster_preflight:
    kubeconfig: "{{ cnai_kubeconfig | default('') }}"
    context: "{{ cnai_kube_context | default('') }}"
    helm_binary: "{{ cnai_helm_binary | default('') }}"
    crds:
      - name: servicemonitors.monitoring.coreos.com
        hint: installed by kube-prometheus-stack (observability_install)
  register: preflight
'''

RETURN = r'''
kubeconfig:
  description: The kubeconfig file used (null in-cluster).
  returned: success
  type: str
context:
  description: The context used (null in-cluster).
  returned: success
  type: str
server:
  description: The API server URL of that context.
  returned: success
  type: str
kubernetes_version:
  description: The API server's git version.
  returned: success
  type: str
  sample: v1.35.4
helm_binary:
  description: The absolute path of helm (when O(helm) is true).
  returned: success
  type: str
helm_version:
  description: C(helm version --short) (when O(helm) is true).
  returned: success
  type: str
  sample: v3.22.0+g1a2b3c4
crds:
  description: The CRDs checked (all exist).
  returned: success
  type: list
  elements: str
'''

import json
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils import cluster_preflight as cp

try:
    import yaml
except ImportError:
    yaml = None
    YAML_ERROR = traceback.format_exc()
else:
    YAML_ERROR = None

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
except ImportError:
    k8s_client = None
    K8S_ERROR = traceback.format_exc()
else:
    K8S_ERROR = None


class _Client(object):
    """The two API calls the preflight makes, through the kubernetes client."""

    def __init__(self, kubeconfig, context):
        if kubeconfig is None:
            k8s_config.load_incluster_config()
            self.api = k8s_client.ApiClient()
        else:
            self.api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)

    def version(self, timeout):
        # raw JSON: independent of the client's model classes (and their validation) across client versions
        resp = k8s_client.VersionApi(self.api).get_code(_request_timeout=timeout, _preload_content=False)
        return json.loads(resp.data).get('gitVersion', '')

    def crd_exists(self, name, timeout):
        try:
            k8s_client.ApiextensionsV1Api(self.api).read_custom_resource_definition(
                name, _request_timeout=timeout, _preload_content=False)
        except k8s_client.exceptions.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True


def run(p):
    kubeconfig, source = cp.find_kubeconfig(p['kubeconfig'])
    context = server = None
    if kubeconfig is not None:
        try:
            with open(kubeconfig) as f:
                doc = yaml.safe_load(f)
        except (OSError, IOError, yaml.YAMLError) as exc:
            raise cp.PreflightError('%s: %s cannot be read as YAML (%s). Set %s to a kubeconfig file'
                                    % (cp.VAR_KUBECONFIG, kubeconfig, cp._short(exc), cp.VAR_KUBECONFIG))
        context, server = cp.pick_context(doc, kubeconfig, p['context'])
        where = 'context %s (%s) in %s' % (context, server or 'no server', kubeconfig)
    else:
        where = 'the in-cluster service account'
    try:
        client = _Client(kubeconfig, context)
    except Exception as exc:
        raise cp.PreflightError('cannot load %s (%s). Check %s and %s'
                                % (where, cp._short(exc), cp.VAR_KUBECONFIG, cp.VAR_CONTEXT))
    result = {'kubeconfig': kubeconfig, 'context': context, 'server': server,
              'kubernetes_version': cp.check_api(client, where, p['timeout'],
                                                 p['kubernetes_versions'] or cp.SUPPORTED['kubernetes'])}
    if p['helm']:
        result['helm_binary'], result['helm_version'] = cp.check_helm(
            p['helm_binary'], p['helm_versions'] or cp.SUPPORTED['helm'])
    crds = cp.normalize_crds(p['crds'])
    try:
        missing = cp.missing_crds(client, crds, p['timeout'])
    except Exception as exc:
        raise cp.PreflightError('cannot read the CustomResourceDefinitions through %s (%s)' % (where, cp._short(exc)))
    if missing:
        raise cp.PreflightError(cp.crd_message(missing))
    result['crds'] = [c['name'] for c in crds]
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type='str', default=''),
            context=dict(type='str', default=''),
            timeout=dict(type='int', default=10),
            kubernetes_versions=dict(type='str', default=''),
            helm=dict(type='bool', default=True),
            helm_binary=dict(type='str', default=''),
            helm_versions=dict(type='str', default=''),
            crds=dict(type='list', elements='raw', default=[]),
        ),
        supports_check_mode=True,
    )
    if YAML_ERROR:
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=YAML_ERROR)
    if K8S_ERROR:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=K8S_ERROR)
    try:
        result = run(module.params)
    except cp.PreflightError as exc:
        module.fail_json(msg='cluster preflight: %s' % exc)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
