# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the vLLM role: the manifests from models + sizing + plan, and what runs where.

The logic lives in ``plugins/module_utils/vllm_manifests.py`` (pure, unit-tested); these wrappers only
turn its errors into filter errors.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import vllm_manifests as vm


def vllm_manifests(models, sizing, assignments, node_products, options=None):
    """``render()`` of module_utils/vllm_manifests.py: resources, overlays, deployments, namespaces."""
    try:
        return vm.render(models, sizing, assignments, node_products, options)
    except vm.VllmManifestError as exc:
        raise AnsibleFilterError('vllm: %s' % exc)


def vllm_models(models):
    """``cnai_models`` checked, with defaults filled in."""
    try:
        return vm.normalize_models(models)
    except vm.VllmManifestError as exc:
        raise AnsibleFilterError('vllm: %s' % exc)


def vllm_status_table(deployments, pods, nodes, autoscalers=None):
    """Per Deployment: ready/replicas, resource, nodes, GPU product, autoscaler bounds."""
    return vm.status_table(deployments, pods, nodes, autoscalers)


class FilterModule(object):
    def filters(self):
        return {
            'vllm_manifests': vllm_manifests,
            'vllm_models': vllm_models,
            'vllm_status_table': vllm_status_table,
            'vllm_node_products': vm.node_products,
            'vllm_nodes_not_at_plan': vm.nodes_not_at_plan,
            'vllm_group_line': vm.group_line,
            'vllm_unavailable': vm.unavailable,
            'vllm_misplaced_pods': vm.misplaced_pods,
        }
