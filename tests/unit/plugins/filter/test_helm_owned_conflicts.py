# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""helm_owned_conflicts: owned Helm values against the layers merged over them."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.cnai.platform.plugins.filter.helm_values import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils.helm_values import owned_conflicts

OWNED = {'driver': {'enabled': False}, 'mig': {'strategy': 'mixed'},
         'toolkit': {'env': [{'name': 'A', 'value': '1'}], 'enabled': True},
         'migManager': {'config': {'name': 'cfg', 'create': False}}}
KNOBS = {'driver.enabled': 'gpu_operator_driver_enabled', 'mig.strategy': 'gpu_operator_mig_strategy',
         'toolkit.env': 'gpu_operator_toolkit_env', 'migManager.config': 'gpu_operator_mig_config_name'}


def test_no_conflict_for_other_keys_and_equal_values():
    site = {'driver': {'version': '580', 'enabled': False}, 'dcgmExporter': {'x': 1}, 'mig': {'strategy': 'mixed'}}
    assert owned_conflicts(OWNED, {'site': site, 'group': {}}, KNOBS) == []
    assert owned_conflicts(OWNED, {'site': None}, KNOBS) == []


def test_an_overridden_leaf_names_layer_key_values_and_knob():
    assert owned_conflicts(OWNED, {'gpu_operator_values_site': {'mig': {'strategy': 'single'}}}, KNOBS) == [
        'gpu_operator_values_site sets mig.strategy to "single"; the role owns mig.strategy ("mixed"): set '
        'gpu_operator_mig_strategy instead, and remove it from gpu_operator_values_site']


def test_a_list_is_one_owned_value_and_a_parent_prefix_gives_the_knob():
    out = owned_conflicts(OWNED, [['g', {'toolkit': {'env': []}, 'migManager': {'config': {'create': True}}}]], KNOBS)
    assert out == [
        'g sets toolkit.env to []; the role owns toolkit.env ([{"name": "A", "value": "1"}]): set '
        'gpu_operator_toolkit_env instead, and remove it from g',
        'g sets migManager.config.create to true; the role owns migManager.config.create (false): set '
        'gpu_operator_mig_config_name instead, and remove it from g']


def test_a_parent_replaced_by_a_scalar_is_reported_once_and_unknown_knob_is_fixed_by_the_role():
    out = owned_conflicts(OWNED, {'site': {'toolkit': False}}, {})
    assert out == ['site sets toolkit to false, which replaces the owned key toolkit.env; the role owns toolkit.env '
                   '([{"name": "A", "value": "1"}]): the role fixes it, and remove it from site']


def test_a_layer_that_is_not_a_dict():
    assert owned_conflicts(OWNED, {'site': ['x']}) == ['site must be a dict of Helm values, not ["x"]']


def test_filter_is_registered():
    assert FilterModule().filters()['helm_owned_conflicts'](OWNED, {'s': {'driver': {'enabled': True}}})[0].startswith(
        's sets driver.enabled to true')
