# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG plan as an HTML page with an SVG per node. The logic is ``plugins/module_utils/plan_report.py``."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils.plan_report import ReportError, render


def plan_report_html(plan, nodes, sizing=None, title='MIG plan'):
    """A self-contained HTML document of ``plan`` (the mig_plan result) on ``nodes`` (its nodes input)."""
    try:
        return render(plan, nodes, sizing=sizing, title=title)
    except ReportError as exc:
        raise AnsibleFilterError('plan_report_html: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'plan_report_html': plan_report_html}
