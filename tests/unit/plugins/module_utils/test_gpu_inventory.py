# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One planning path: planner nodes from host vars, facts and live nodes; bad inventories refused by name."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.gpu_inventory import FilterModule, gpu_planner_nodes
from ansible_collections.cnai.platform.plugins.module_utils.gpu_inventory import InventoryError, planner_nodes
from ansible_collections.cnai.platform.plugins.module_utils.mig_planner import plan

H200_GPU = {'index': 0, 'name': 'NVIDIA H200', 'pci_device_id': '0x233510DE', 'mig_profiles': []}


def node(name, config=None):
    labels = {'nvidia.com/mig.config': config} if config else {}
    return {'metadata': {'name': name, 'labels': labels}}


HV = {
    'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8},
    'gpu-b': {'cnai_gpu_pci_device_id': '0x20B210DE', 'cnai_gpu_count': '4', 'cnai_k8s_node_name': 'b.k8s.example'},
}


def test_inventory_hosts_become_planner_nodes_sorted_with_k8s_names():
    out = planner_nodes(['gpu-b', 'gpu-a'], HV)
    assert out['nodes'] == [
        {'name': 'b.k8s.example', 'gpu_count': 4, 'pci_device_id': '0x20B210DE'},
        {'name': 'gpu-a', 'gpu_count': 8, 'gpu_product': 'NVIDIA H200'},
    ]
    assert [(r['host'], r['name'], r['source']) for r in out['records']] == [
        ('gpu-b', 'b.k8s.example', 'inventory'), ('gpu-a', 'gpu-a', 'inventory')]
    assert out['warnings'] == []
    # the fleet's GPU models, once each, for cnai.platform.model_sizing (name where known, else the PCI id)
    assert out['products'] == ['0x20B210DE', 'NVIDIA H200']


def test_products_are_listed_once_and_facts_name_them():
    hv = dict(HV, **{'gpu-c': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8},
                     'gpu-d': {'cnai_gpus': [H200_GPU, dict(H200_GPU, index=1)]}})
    out = planner_nodes(['gpu-a', 'gpu-b', 'gpu-c', 'gpu-d'], hv)
    assert out['products'] == ['0x20B210DE', 'NVIDIA H200']


def test_facts_win_over_inventory_and_disagreement_is_reported():
    gpus = [dict(H200_GPU, index=i) for i in range(7)]
    hv = {'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8, 'cnai_gpus': gpus}}
    out = planner_nodes(['gpu-a'], hv)
    assert out['nodes'][0]['gpus'][6]['index'] == 6 and out['nodes'][0]['gpu_count'] == 7
    assert out['records'][0]['source'] == 'facts' and out['records'][0]['pci_device_id'] == '0x233510DE'
    assert out['warnings'] == ['host gpu-a: inventory says cnai_gpu_count=8, nvidia-smi reports 7 GPUs; the facts are used']


def test_live_nodes_give_current_config_and_unknown_nodes_fail_naming_the_variable():
    out = planner_nodes(['gpu-a'], HV, live_nodes=[node('gpu-a', 'cfg-1'), node('cpu-0')])
    assert out['nodes'][0]['current_config'] == 'cfg-1' and out['records'][0]['node']['metadata']['name'] == 'gpu-a'
    with pytest.raises(InventoryError, match=r'not registered nodes of the cluster: b\.k8s\.example \(set cnai_k8s_node_name'):
        planner_nodes(['gpu-a', 'gpu-b'], HV, live_nodes=[node('gpu-a')])


def test_without_live_nodes_the_inventory_current_config_is_used():
    hv = {'gpu-a': dict(HV['gpu-a'], cnai_current_mig_config='all-disabled')}
    assert planner_nodes(['gpu-a'], hv)['nodes'][0]['current_config'] == 'all-disabled'


@pytest.mark.parametrize('old,new', [('gpu_product', 'cnai_gpu_product'), ('gpu_count', 'cnai_gpu_count'),
                                     ('gpu_pci_device_id', 'cnai_gpu_pci_device_id'),
                                     ('k8s_node_name', 'cnai_k8s_node_name'), ('cnai_node_name', 'cnai_k8s_node_name')])
def test_old_names_are_refused_naming_the_new_ones(old, new):
    hv = {'gpu-a': dict(HV['gpu-a'], **{old: 'x'})}
    with pytest.raises(InventoryError, match=r'no longer read; rename them: %s -> %s \(hosts: gpu-a\)' % (old, new)):
        planner_nodes(['gpu-a'], hv)


@pytest.mark.parametrize('hv,match', [
    ({'gpu-a': {'cnai_gpu_count': 8}}, r'gpu-a of group gpu_nodes say nothing about their GPUs: set cnai_gpu_product'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200'}}, r'cnai_gpu_count must be an integer from 1 to 64, got None'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': True}}, r'cnai_gpu_count .* got True'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 0}}, r'cnai_gpu_count .* got 0'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 65}}, r'cnai_gpu_count .* got 65'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 10 ** 12}}, r'cnai_gpu_count .* got 1000000000000'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 'eight'}}, r"cnai_gpu_count .* got 'eight'"),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 2.5}}, r'cnai_gpu_count .* got 2.5'),
    ({'gpu-a': {'cnai_gpu_product': ['NVIDIA H200'], 'cnai_gpu_count': 8}}, r'cnai_gpu_product must be a string'),
    ({'gpu-a': {'cnai_gpu_pci_device_id': 'H200', 'cnai_gpu_count': 8}}, r'cnai_gpu_pci_device_id .* not a PCI device id'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8, 'cnai_k8s_node_name': 'Bad_Name'}},
     r"node name 'Bad_Name' is not a valid node name .* set cnai_k8s_node_name"),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8, 'cnai_k8s_node_name': 7}},
     r'node name 7 is not a valid node name'),
    ({'gpu-a': {'cnai_gpus': 'NVIDIA H200'}}, r'cnai_gpus must be the list cnai.platform.gpu_facts sets'),
    ({'gpu-a': {'cnai_gpus': [H200_GPU, dict(H200_GPU, pci_device_id='0x20B210DE')]}}, r'GPUs of different models'),
    ({'gpu-a': {'cnai_gpus': [H200_GPU] * 65}}, r'lists 65 GPUs, more than 64'),
    ({'gpu-a': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8, 'cnai_current_mig_config': 'a b'}},
     r"current MIG config 'a b' is not a valid label value"),
])
def test_bad_host_vars_fail_naming_the_host_and_variable(hv, match):
    with pytest.raises(InventoryError, match=match):
        planner_nodes(list(hv), hv)


def test_two_hosts_naming_the_same_node_fail():
    hv = {'a': dict(HV['gpu-a'], cnai_k8s_node_name='n1'), 'b': dict(HV['gpu-a'], cnai_k8s_node_name='n1')}
    with pytest.raises(InventoryError, match='hosts a and b both name Kubernetes node n1'):
        planner_nodes(['a', 'b'], hv)


def test_empty_group_names_the_group_and_the_variable():
    with pytest.raises(InventoryError, match=r'inventory group gpus has no hosts: .*set gpu_partitioning_node_group'):
        planner_nodes([], {}, group='gpus', group_hint='gpu_partitioning_node_group')


def test_the_filter_wraps_errors_and_the_output_feeds_the_planner():
    assert 'gpu_planner_nodes' in FilterModule().filters()
    with pytest.raises(AnsibleFilterError, match='gpu_planner_nodes: inventory group gpu_nodes has no hosts'):
        gpu_planner_nodes([], {})
    out = gpu_planner_nodes(['gpu-a', 'gpu-b'], HV)
    result = plan(out['nodes'], [{'name': 'w', 'instances': 3, 'memory_gib': 16}])
    assert set(result['node_configs']) == {'gpu-a', 'b.k8s.example'}
