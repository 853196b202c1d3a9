# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter helm_owned_conflicts: a thin wrapper over module_utils/helm_values.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.cnai.platform.plugins.module_utils.helm_values import owned_conflicts


def helm_owned_conflicts(owned, layers, knobs=None):
    return owned_conflicts(owned, layers, knobs)


class FilterModule(object):
    def filters(self):
        return {"helm_owned_conflicts": helm_owned_conflicts}
