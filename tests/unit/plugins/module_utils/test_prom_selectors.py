# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Labels our monitors need, derived from the installed Prometheus, and which objects it would miss."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import prom_selectors as ps

# what kube-prometheus-stack 88.5.3 renders for release "kps" (the *SelectorNilUsesHelmValues defaults)
KPS = {'metadata': {'name': 'kps-prometheus', 'namespace': 'monitoring'}, 'spec': {
    'serviceMonitorSelector': {'matchLabels': {'release': 'kps'}}, 'serviceMonitorNamespaceSelector': {},
    'podMonitorSelector': {'matchLabels': {'release': 'kps'}}, 'podMonitorNamespaceSelector': {},
    'ruleSelector': {'matchLabels': {'release': 'kps'}}, 'ruleNamespaceSelector': {},
}}


def _obj(kind, ns, labels):
    return {'kind': kind, 'metadata': {'name': 'x', 'namespace': ns, 'labels': labels}}


def test_release_label_is_derived():
    assert ps.required_labels(KPS) == {'ServiceMonitor': {'release': 'kps'}, 'PodMonitor': {'release': 'kps'},
                                       'PrometheusRule': {'release': 'kps'}}


def test_match_expressions_in():
    prom = {'spec': {'serviceMonitorSelector': {'matchExpressions': [
        {'key': 'team', 'operator': 'In', 'values': ['ml', 'ai']}, {'key': 'x', 'operator': 'DoesNotExist'}]},
        'podMonitorSelector': {}, 'ruleSelector': {}}}
    assert ps.required_labels(prom)['ServiceMonitor'] == {'team': 'ai'}
    assert ps.required_labels(prom)['PodMonitor'] == {}


@pytest.mark.parametrize('spec, message', [
    ({'podMonitorSelector': {}, 'ruleSelector': {}}, 'spec.serviceMonitorSelector is not set, so it selects no'),
    ({'serviceMonitorSelector': {'matchExpressions': [{'key': 'a', 'operator': 'Exists'}]},
      'podMonitorSelector': {}, 'ruleSelector': {}}, "requires label 'a' to exist but names no value"),
])
def test_underivable_selectors(spec, message):
    with pytest.raises(ps.SelectorError) as err:
        ps.required_labels({'spec': spec})
    assert message in str(err.value)


def test_unselected_objects_are_named():
    objs = [_obj('PodMonitor', 'ai', {'release': 'kps'}), _obj('ServiceMonitor', 'ai', {'release': 'other'}),
            _obj('PrometheusRule', 'monitoring', {})]
    out = ps.unselected(KPS, objs, {})
    assert len(out) == 2
    assert out[0].startswith("ServiceMonitor ai/x: labels {'release': 'other'} do not match spec.serviceMonitorSelector")
    assert out[1].startswith('PrometheusRule monitoring/x: labels {} do not match')


def test_namespace_selectors():
    prom = {'metadata': {'namespace': 'monitoring'}, 'spec': dict(KPS['spec'], podMonitorNamespaceSelector=None,
                                                                  ruleNamespaceSelector={'matchLabels': {'obs': 'on'}})}
    objs = [_obj('PodMonitor', 'ai', {'release': 'kps'}), _obj('PodMonitor', 'monitoring', {'release': 'kps'}),
            _obj('PrometheusRule', 'ai', {'release': 'kps'}), _obj('PrometheusRule', 'ml', {'release': 'kps'})]
    out = ps.unselected(prom, objs, {'ai': {'obs': 'on'}, 'ml': {}})
    assert out == ['PodMonitor ai/x: namespace ai is outside spec.podMonitorNamespaceSelector None',
                   "PrometheusRule ml/x: namespace ml is outside spec.ruleNamespaceSelector {'matchLabels': {'obs': 'on'}}"]


def test_matches():
    assert ps.matches({}, {})
    assert not ps.matches(None, {'a': 'b'})
    assert ps.matches({'matchExpressions': [{'key': 'a', 'operator': 'NotIn', 'values': ['x']}]}, {'a': 'y'})
    assert not ps.matches({'matchExpressions': [{'key': 'a', 'operator': 'NotIn', 'values': ['x']}]}, {'a': 'x'})
