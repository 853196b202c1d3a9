# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report of playbooks/validate.yml. The logic is ``plugins/module_utils/validate_report.py``."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import validate_report as vr


def validate_report(inputs):
    """``{healthy, problems, summary, layers}`` from k8s_info results (see module_utils)."""
    try:
        return vr.report(inputs)
    except vr.ValidateError as exc:
        raise AnsibleFilterError('validate_report: %s' % exc)


def validate_plan_nodes(planner_nodes, live_nodes):
    """The planner's nodes with the live nvidia.com/mig.config of the Nodes that exist."""
    return vr.plan_nodes(planner_nodes, live_nodes)


class FilterModule(object):
    def filters(self):
        return {'validate_report': validate_report, 'validate_plan_nodes': validate_plan_nodes}
