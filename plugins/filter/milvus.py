# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the milvus role. The logic lives in plugins/module_utils/milvus_manifests.py and
milvus_upgrade.py (pure, unit-tested); these wrappers only turn their errors into filter errors."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import milvus_manifests as mm
from ansible_collections.cnai.platform.plugins.module_utils import milvus_upgrade as mu


def milvus_values(options):
    """The chart values the milvus role owns."""
    try:
        return mm.owned_values(options)
    except mm.MilvusValuesError as exc:
        raise AnsibleFilterError('milvus: %s' % exc)


def milvus_network_policies(options):
    """NetworkPolicies of the Milvus namespace: {resources, overlays}."""
    try:
        return mm.network_policies(options)
    except mm.MilvusValuesError as exc:
        raise AnsibleFilterError('milvus: %s' % exc)


def milvus_installed_versions(workloads):
    """Milvus image tags the Deployments/StatefulSets run."""
    return mm.installed_versions(workloads)


def milvus_upgrade_check(installed, target, release='milvus'):
    """Fails with the supported path unless every installed version may move to target in one step."""
    try:
        return mu.check(installed, target, release)
    except mu.MilvusUpgradeError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'milvus_values': milvus_values, 'milvus_network_policies': milvus_network_policies,
                'milvus_installed_versions': milvus_installed_versions, 'milvus_upgrade_check': milvus_upgrade_check}
