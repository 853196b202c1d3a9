# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the ai_gateway role: the gateway's objects and configuration, the credentials copied from the
stores' Secrets, and the wiring check.

The logic lives in ``plugins/module_utils/ai_gateway.py`` and ``plugins/module_utils/wiring.py`` (pure,
unit-tested); these wrappers only turn their errors into filter errors.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import ai_gateway as ag
from ansible_collections.cnai.platform.plugins.module_utils import wiring


def ai_gateway_manifests(models, options=None):
    """``render()`` of module_utils/ai_gateway.py: resources, overlays, config, credentials, routes."""
    try:
        return ag.render(models, options)
    except ag.AiGatewayError as exc:
        raise AnsibleFilterError('ai_gateway: %s' % exc)


def ai_gateway_credentials(copies, secrets):
    """``{data, missing}``: the data of the credentials Secret (base64 values as read) and what is missing."""
    return ag.credentials_data(copies, secrets)


def ai_gateway_wiring(config, deployment, services, secrets, routes=None):
    """``check()`` of module_utils/wiring.py: ``{ok, problems, checked, external}``."""
    try:
        return wiring.check(config, deployment, services, secrets, routes)
    except wiring.WiringError as exc:
        raise AnsibleFilterError('ai_gateway wiring: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'ai_gateway_manifests': ai_gateway_manifests,
            'ai_gateway_credentials': ai_gateway_credentials,
            'ai_gateway_wiring': ai_gateway_wiring,
            'ai_gateway_route_line': ag.route_line,
            'ai_gateway_status_lines': ag.status_lines,
        }
