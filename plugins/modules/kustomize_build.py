#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kustomize_build
short_description: Run C(kustomize build) on a directory and return the objects
version_added: 0.1.0
description:
  - Runs O(kustomize_binary) C(build) O(path) with a time limit and returns the objects it prints, plus a
    summary (references, namespaces used, Deployments/StatefulSets) that delivery uses.
  - Reads only; never reports a change. Fails with kustomize's own message when the build fails.
  - The overlay directories come from M(cnai.platform.kustomize_render) (RV(cnai.platform.kustomize_render#module:overlays)).
options:
  path:
    description: Directory with a C(kustomization.yaml) (an overlay or a base).
    type: path
    required: true
  kustomize_binary:
    description: The kustomize executable (a path, or a name looked up on PATH).
    type: str
    default: kustomize
  timeout:
    description: Seconds the build may take.
    type: int
    default: 60
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: cnai.platform.kustomize_render
requirements:
  - PyYAML
  - the kustomize executable (O(kustomize_binary))
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Build the dev overlay
  cnai.platform.kustomize_build:
    path: "{{ cnai_render_dir }}/echo/overlays/dev"
    kustomize_binary: "{{ cnai_kustomize_binary }}"
  register: built

- name: Apply what it built
  kubernetes.core.k8s:
    definition: "{{ item }}"
    apply: true
    server_side_apply:
      field_manager: cnai.platform/echo
  loop: "{{ built.objects }}"
'''

RETURN = r'''
objects:
  description: The objects, in kustomize's output order.
  returned: success
  type: list
  elements: dict
refs:
  description: C(apiVersion), C(kind), C(namespace) (null for cluster-scoped objects), C(name) of each object, in order.
  returned: success
  type: list
  elements: dict
  sample: [{apiVersion: apps/v1, kind: Deployment, namespace: ai-inference-dev, name: echo}]
namespaces:
  description: Every namespace the objects use, and every Namespace object, sorted.
  returned: success
  type: list
  elements: str
workloads:
  description: The references of the Deployments and StatefulSets.
  returned: success
  type: list
  elements: dict
namespace_objects:
  description:
    - What to apply first - the Namespace objects of the build, then a C(v1/Namespace) labelled
      C(app.kubernetes.io/managed-by=cnai.platform) for every other namespace an object uses.
  returned: success
  type: list
  elements: dict
resource_objects:
  description: Every object that is not a Namespace, in build order.
  returned: success
  type: list
  elements: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils.kustomize_render import (
    YAML_IMPORT_ERROR, RenderError, kustomize_build, resolve_binary, summarize)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            kustomize_binary=dict(type='str', default='kustomize'),
            timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    if YAML_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=YAML_IMPORT_ERROR)
    p = module.params
    if not os.path.isfile(os.path.join(p['path'], 'kustomization.yaml')):
        module.fail_json(msg='kustomize_build: %s has no kustomization.yaml (render it first with '
                             'cnai.platform.kustomize_render)' % p['path'])
    try:
        objects = kustomize_build(resolve_binary(p['kustomize_binary']), p['path'], max(1, p['timeout']))
    except RenderError as exc:
        module.fail_json(msg='kustomize_build: %s' % exc)
    result = summarize(objects)
    module.exit_json(changed=False, objects=objects, **result)


if __name__ == '__main__':
    main()
