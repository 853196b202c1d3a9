# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm values composition for chart-installing roles (``plugins/module_utils/helm_values.py``)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils.helm_values import ValuesError, compose, drift


def helm_values_compose(owned, layers=None):
    try:
        return compose(owned, layers)
    except ValuesError as exc:
        raise AnsibleFilterError('helm_values_compose: %s' % exc)


def helm_values_drift(owned, actual):
    if not isinstance(owned, dict):
        raise AnsibleFilterError('helm_values_drift: owned values must be a mapping')
    return drift(owned, actual)


class FilterModule(object):
    def filters(self):
        return {'helm_values_compose': helm_values_compose, 'helm_values_drift': helm_values_drift}
