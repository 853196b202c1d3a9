# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tools/testbed/eck_sim.py: the objects and status the ECK simulator writes for an Elasticsearch resource."""
from __future__ import annotations

import base64
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tools', 'testbed'))

import eck_sim  # noqa: E402  pylint: disable=wrong-import-position

ES = {'metadata': {'name': 'rag', 'namespace': 'ai-rag-dev', 'uid': 'u-1', 'generation': 3},
      'spec': {'version': '9.5.0', 'nodeSets': [{'name': 'default', 'count': 2}, {'name': 'hot', 'count': 1}]}}


def test_objects_are_what_eck_names_and_owned_by_the_resource():
    svc, user, ca = eck_sim.desired_objects(ES, b'PEM')
    assert [o['metadata']['name'] for o in (svc, user, ca)] == ['rag-es-http', 'rag-es-elastic-user',
                                                                 'rag-es-http-certs-public']
    assert svc['spec']['ports'] == [{'name': 'https', 'port': 9200, 'targetPort': 9200, 'protocol': 'TCP'}]
    assert svc['spec']['selector'] == {'common.k8s.elastic.co/type': 'elasticsearch',
                                       'elasticsearch.k8s.elastic.co/cluster-name': 'rag'}
    for obj in (svc, user, ca):
        assert obj['metadata']['namespace'] == 'ai-rag-dev'
        assert obj['metadata']['labels']['cnai.platform/simulated'] == 'eck'
        assert obj['metadata']['ownerReferences'][0]['uid'] == 'u-1'
    assert len(base64.b64decode(user['data']['elastic'])) >= 24
    assert base64.b64decode(ca['data']['ca.crt']) == b'PEM'


def test_passwords_differ_between_calls():
    assert eck_sim.desired_objects(ES, b'x')[1]['data'] != eck_sim.desired_objects(ES, b'x')[1]['data']


def test_status_counts_every_node_set_and_reports_reconciled():
    want = eck_sim.desired_status(ES)
    assert {k: v for k, v in want.items() if k != 'conditions'} == {
        'phase': 'Ready', 'health': 'green', 'availableNodes': 3, 'version': '9.5.0', 'observedGeneration': 3}
    assert {'type': 'ReconciliationComplete', 'status': 'True'}.items() <= want['conditions'][0].items()
    assert not eck_sim.status_differs(dict(want), want)
    stale = dict(want, conditions=[dict(c, lastTransitionTime='2026-01-01T00:00:00Z') for c in want['conditions']])
    assert not eck_sim.status_differs(stale, want)
    assert eck_sim.status_differs(dict(want, availableNodes=1), want)
    assert eck_sim.status_differs({k: v for k, v in want.items() if k != 'conditions'}, want)


def test_self_signed_pem_is_a_certificate():
    pem = eck_sim.self_signed_pem()
    assert pem.startswith(b'-----BEGIN CERTIFICATE-----')
