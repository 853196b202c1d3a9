#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kustomize_render
short_description: Write Kubernetes manifests given as data as a Kustomize tree (base + overlays), validated by kustomize
version_added: 0.1.0
description:
  - Writes O(path)C(/base) (a C(kustomization.yaml) and one file per object, named C(<kind>-<name>.yaml), in
    deterministic YAML) and O(path)C(/overlays/<env>/kustomization.yaml) for every entry of O(overlays).
  - Overlays use the current Kustomize fields only - C(labels) with C(includeSelectors=false) (never
    C(commonLabels)), C(patches) (never C(patchesStrategicMerge)/C(patchesJson6902)), C(replicas), C(images).
  - Idempotent - only files whose content differs are written, and the result lists them. Files this module
    wrote before and no longer wants are removed; it keeps the list of the files it owns in
    O(path)C(/.cnai-render-owned.json) and never overwrites or removes a file it did not write (it fails instead).
  - Before anything is written, every overlay is built with a real C(kustomize build) (O(kustomize_binary),
    O(timeout)); when kustomize rejects one, the module fails with kustomize's message and changes nothing.
  - Runs where the task runs (normally the controller, where the rendered tree lives).
options:
  path:
    description: Component directory (absolute). The module owns C(base/) and C(overlays/) in it.
    type: path
    required: true
  resources:
    description:
      - The base objects, as Kubernetes manifests (mappings with C(apiVersion), C(kind), C(metadata.name)).
      - Each C(kind)/C(name) pair must be unique; objects keep the order given.
    type: list
    elements: dict
    required: true
  namespace:
    description: Namespace of the base (the base C(kustomization.yaml) C(namespace)); overlays may change it.
    type: str
  labels:
    description: Labels put on every object and pod template (C(labels) with C(includeSelectors=false)).
    type: dict
    default: {}
  overlays:
    description:
      - Environment name (a DNS label, such as C(dev), C(staging), C(production)) to what differs there.
      - C(namespace) (str), C(labels) (dict), C(annotations) (dict, C(commonAnnotations)),
        C(patches) (list of C({target, patch}); C(target) has C(kind), C(name) and optionally C(group),
        C(version), C(namespace), C(labelSelector), C(annotationSelector); C(patch) is a mapping (strategic
        merge; C(apiVersion)/C(kind)/C(metadata.name) are filled in from the target) or a list (JSON 6902
        operations)), C(replicas) (list of C({name, count})), C(images) (list of C({name, newName, newTag,
        digest})), C(resources) (objects only this environment has).
      - A patch target or C(replicas) name that names no object of the component is an error (kustomize would
        ignore it silently).
    type: dict
    default: {}
  kustomize_binary:
    description: The kustomize executable (a path, or a name looked up on PATH).
    type: str
    default: kustomize
  validate:
    description: Build every overlay with O(kustomize_binary) before writing. Turn off only where no kustomize exists.
    type: bool
    default: true
  timeout:
    description: Seconds each C(kustomize build) may take.
    type: int
    default: 60
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Check mode renders and validates as a normal run does and reports what would change, writing nothing.
seealso:
  - module: cnai.platform.kustomize_build
  - name: Kustomize fields (labels, patches, replicas)
    description: The kustomization file reference.
    link: https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/
requirements:
  - PyYAML
  - the kustomize executable (O(kustomize_binary))
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Render the component's objects with dev/staging/production overlays
  cnai.platform.kustomize_render:
    path: "{{ cnai_render_dir }}/echo"
    namespace: ai-inference
    labels:
      app.kubernetes.io/part-of: cnai-platform
    resources:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: {name: echo}
        spec:
          selector: {matchLabels: {app: echo}}
          template:
            metadata: {labels: {app: echo}}
            spec:
              containers: [{name: echo, image: "registry.example/echo:1.0"}]
    overlays:
      dev:
        namespace: ai-inference-dev
        replicas: [{name: echo, count: 1}]
      production:
        labels: {cnai.platform/environment: production}
        replicas: [{name: echo, count: 3}]
        patches:
          - target: {kind: Deployment, name: echo}
            patch:
              spec:
                template:
                  spec:
                    containers: [{name: echo, resources: {limits: {memory: 1Gi}}}]
    kustomize_binary: "{{ cnai_kustomize_binary }}"
  register: render

- name: Show where the dev overlay is
  ansible.builtin.debug:
    msg: "{{ render.overlays.dev }}"
'''

RETURN = r'''
path:
  description: The component directory.
  returned: always
  type: str
files:
  description: The files of the tree, relative to O(path).
  returned: success
  type: dict
  contains:
    written:
      description: Every file of the tree as rendered (sorted).
      type: list
      elements: str
    changed:
      description: Files created or rewritten by this run (would be, in check mode).
      type: list
      elements: str
    removed:
      description: Files this module wrote before that are no longer wanted, removed by this run.
      type: list
      elements: str
  sample:
    written: [base/deployment-echo.yaml, base/kustomization.yaml, overlays/dev/kustomization.yaml]
    changed: [overlays/dev/kustomization.yaml]
    removed: []
overlays:
  description: Environment to absolute overlay directory (what C(kustomize build) and delivery take).
  returned: success
  type: dict
  sample: {dev: /srv/render/echo/overlays/dev}
validated:
  description: Whether every overlay was built with kustomize.
  returned: success
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils.kustomize_render import YAML_IMPORT_ERROR, RenderError, render


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            resources=dict(type='list', elements='dict', required=True),
            namespace=dict(type='str'),
            labels=dict(type='dict', default={}),
            overlays=dict(type='dict', default={}),
            kustomize_binary=dict(type='str', default='kustomize'),
            validate=dict(type='bool', default=True),
            timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    if YAML_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=YAML_IMPORT_ERROR)
    p = module.params
    if p['timeout'] < 1:
        module.fail_json(msg='timeout must be at least 1 second, got %d' % p['timeout'])
    try:
        result = render(p['path'], p['resources'], namespace=p['namespace'], overlays=p['overlays'],
                        labels=p['labels'], binary=p['kustomize_binary'], validate=p['validate'],
                        timeout=p['timeout'], check_mode=module.check_mode)
    except RenderError as exc:
        module.fail_json(msg='kustomize_render: %s' % exc)
    diff = result.pop('diff')
    if module._diff:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
