# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Short readable references of Kubernetes objects, for loop labels and messages: ``Kind namespace/name``
(``Kind name`` for cluster-scoped objects). Accepts full manifests or the ``refs`` of
cnai.platform.kustomize_build (``{apiVersion, kind, namespace, name}``)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def k8s_ref(obj):
    """``Kind namespace/name`` of one object or reference."""
    if not isinstance(obj, dict):
        raise AnsibleFilterError('k8s_ref: expected a Kubernetes object or reference, got %r' % (obj,))
    meta = obj.get('metadata') if isinstance(obj.get('metadata'), dict) else obj
    name, namespace = meta.get('name'), meta.get('namespace')
    return '%s %s%s' % (obj.get('kind'), (namespace + '/') if namespace else '', name)


def k8s_refs(objects, namespaces=None):
    """``k8s_ref`` of each object; with ``namespaces``, only the objects in one of those namespaces."""
    if objects is None:
        return []
    if not isinstance(objects, (list, tuple)):
        raise AnsibleFilterError('k8s_refs: expected a list of Kubernetes objects, got %r' % (objects,))
    out = []
    for obj in objects:
        ref = k8s_ref(obj)
        meta = obj.get('metadata') if isinstance(obj.get('metadata'), dict) else obj
        if namespaces is None or meta.get('namespace') in namespaces:
            out.append(ref)
    return out


class FilterModule(object):
    def filters(self):
        return {'k8s_ref': k8s_ref, 'k8s_refs': k8s_refs}
