# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.cnai.platform.plugins.module_utils.helm_values import ValuesError, compose, drift, merge

OWNED = {'crds': {'install': True}, 'watchNamespace': '', 'webhooks': {'enabled': True, 'failurePolicy': 'Ignore'}}


def test_merge_is_recursive_and_replaces_lists():
    assert merge({'a': {'b': 1, 'c': [1, 2]}, 'd': 1}, {'a': {'c': [3]}, 'e': 2}) == \
        {'a': {'b': 1, 'c': [3]}, 'd': 1, 'e': 2}
    base = {'a': {'b': 1}}
    merge(base, {'a': {'b': 2}})
    assert base == {'a': {'b': 1}}            # inputs are not modified


def test_layers_in_order_owned_on_top():
    site = {'operator': {'replicaCount': 2}, 'resources': {'operator': {'limits': {'cpu': '1'}}}}
    group = {'operator': {'replicaCount': 3}, 'webhooks': {'replicaCount': 2}}
    out = compose(OWNED, [{'name': 'keda_values_site', 'values': site}, {'name': 'keda_values_group', 'values': group}])
    assert out['conflicts'] == []
    assert out['values'] == {
        'crds': {'install': True}, 'watchNamespace': '',
        'webhooks': {'enabled': True, 'failurePolicy': 'Ignore', 'replicaCount': 2},
        'operator': {'replicaCount': 3}, 'resources': {'operator': {'limits': {'cpu': '1'}}}}


def test_conflicts_name_the_layer_and_owned_wins():
    out = compose(OWNED, [{'name': 'keda_values_site', 'values': {'webhooks': {'failurePolicy': 'Fail'}}},
                          {'name': 'keda_values_group', 'values': {'crds': False, 'watchNamespace': ''}}])
    assert out['conflicts'] == [
        'keda_values_site sets webhooks.failurePolicy = "Fail", but that value is owned by the role ("Ignore")',
        'keda_values_group sets crds = false, but that value is owned by the role ({"install": true})']
    assert out['values']['webhooks']['failurePolicy'] == 'Ignore'
    assert out['values']['crds'] == {'install': True}


def test_same_value_in_a_layer_is_no_conflict_and_bare_layers_are_named():
    assert compose(OWNED, [{'watchNamespace': ''}, None])['conflicts'] == []
    assert compose(OWNED, [{'watchNamespace': 'x'}])['conflicts'][0].startswith('layers[0] sets watchNamespace')


def test_bad_layers():
    with pytest.raises(ValuesError, match='keda_values_site must be a mapping'):
        compose(OWNED, [{'name': 'keda_values_site', 'values': ['x']}])
    with pytest.raises(ValuesError, match='owned values must be a mapping'):
        compose(None)


def test_drift():
    assert drift(OWNED, compose(OWNED)['values']) == []
    actual = {'crds': {'install': False}, 'webhooks': {'enabled': True}}
    assert drift(OWNED, actual) == ['crds.install: want true, got false', 'watchNamespace: want "", got nothing',
                                    'webhooks.failurePolicy: want "Ignore", got nothing']
