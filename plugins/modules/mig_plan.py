#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mig_plan
short_description: Compute MIG layouts that serve the given workloads on the fewest GPUs
version_added: 0.1.0
description:
  - Pure computation on the controller; nothing on the nodes changes. Check mode is the same as a run.
  - Every instance of a workload needs one MIG device (a named O(workloads[].profile), or the smallest profile
    whose usable GiB fits O(workloads[].memory_gib)) or N whole GPUs on one node (O(workloads[].gpus)).
  - The planner finds the true minimum number of GPUs (an integer program over the exact placement
    grid of each GPU model, solved by HiGHS through C(highspy)), then prefers the plan that changes the fewest
    nodes against their O(nodes[].current_config). Output is deterministic.
  - When O(time_limit) runs out before optimality is proven, the best plan found is returned with
    RV(optimal=false) and its proven RV(gap); the module fails only when no plan was found at all.
  - Bad input fails with a message naming the field, before anything is computed. Refused are names that are not
    Kubernetes names, booleans where numbers are expected, counts beyond sane upper bounds, node facts that claim
    more than the GPU model can hold, and a O(current_mig_config) that mig-parted would refuse or that does not
    define a node's O(nodes[].current_config).
  - Every per-GPU multiset it emits is proven placeable on that GPU's placement grid; sums of slices
    are never trusted. A node's own C(nvidia-smi mig -lgipp) placements (from M(cnai.platform.gpu_facts))
    win over the built-in table.
  - Fails, computing nothing, on bad input or demand that cannot fit, and says why.
requirements:
  - highspy (the HiGHS solver, on the controller; pinned in the collection's requirements.txt)
options:
  nodes:
    description: Every GPU node, as facts or inventory describe it.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Kubernetes node name (a DNS-1123 subdomain).
        type: str
        required: true
      gpu_product:
        description:
          - The GPU model, as the exact C(nvidia-smi) name (C(NVIDIA H200)), the GPU Feature Discovery
            label form (C(NVIDIA-H200)) or the PCI device id (C(0x233510DE)). Matching is exact, never by substring.
        type: str
      pci_device_id:
        description: PCI device id; wins over O(nodes[].gpu_product) when both are given.
        type: str
      pci_subsystem_id:
        description:
          - PCI subsystem id (C(0x18BF10DE)), needed only to interpret subsystem-qualified C(device-filter)s
            (C(0x233510DE:0x18BF10DE)) in O(current_mig_config).
        type: str
      gpu_count:
        description:
          - Number of GPUs on the node (1 to 64). Defaults to the length of O(nodes[].gpus) when that is given,
            and must equal it when both are.
        type: int
      gpus:
        description: The node's C(gpus) as returned by M(cnai.platform.gpu_facts); its reported profiles and placements win over the table.
        type: list
        elements: dict
      current_config:
        description: The node's C(nvidia.com/mig.config) label today; used to keep nodes that already match.
        type: str
  workloads:
    description: What must be served.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique workload name (a DNS-1123 label).
        type: str
        required: true
      instances:
        description: Number of instances (replicas, 1 to 100000); each needs its own MIG device or GPUs.
        type: int
        default: 1
      profile:
        description: MIG profile name as the GPU model names it (C(1g.18gb)); resolved per model.
        type: str
      memory_gib:
        description:
          - Usable GiB an instance needs (a positive number); the smallest profile with at least that much is used.
          - Taken as given and checked by the planner, so that a boolean is refused rather than read as 1.
        type: raw
      gpus:
        description: Whole GPUs per instance (1 to 64), all on one node, MIG disabled.
        type: int
      gpu_product:
        description: Restrict the workload to one GPU model.
        type: str
  strategy:
    description:
      - C(mixed) exposes one resource per profile (C(nvidia.com/mig-1g.18gb)); GPUs of a node may differ
        and whole-GPU workloads get C(mig-enabled=false) GPUs.
      - C(single) follows the device plugin's rule for the single strategy, one profile type per node
        with every GPU in MIG mode; whole-GPU workloads get MIG-disabled nodes.
    type: str
    choices: [mixed, single]
    default: mixed
  current_mig_config:
    description:
      - The mig-parted document the cluster uses today (the C(config.yaml) of the ConfigMap), so that
        nodes labelled with a name from it can be recognised as already matching.
      - It is validated as mig-parted would (version, fields, device filters, profile names, counts), and every
        layout a node's O(nodes[].current_config) selects must fit that node's GPU model. A O(nodes[].current_config)
        it does not define is an error unless it is one of NVIDIA's predefined names (C(all-disabled), C(all-1g.18gb)...).
      - An empty mapping means no document.
    type: dict
  time_limit:
    description:
      - Seconds the solver may search (more than 0, at most 86400). When it runs out with a plan in hand, that
        plan is returned with RV(optimal=false) and its RV(gap); the report says so.
    type: float
    default: 30
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Profile tables whose values NVIDIA has not confirmed are used as documented and listed in RV(unconfirmed).
seealso:
  - module: cnai.platform.gpu_facts
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Plan MIG layouts for the models to serve
  cnai.platform.mig_plan:
    strategy: mixed
    nodes:
      - {name: gpu-a100-0, gpu_product: "NVIDIA A100-SXM4-80GB", gpu_count: 8, current_config: all-disabled}
      - {name: gpu-h200-0, gpu_product: "0x233510DE", gpu_count: 8}
    workloads:
      - {name: qwen7b, instances: 9, profile: 1g.10gb}
      - {name: qwen14b, instances: 4, memory_gib: 30}
      - {name: llama70b, instances: 1, gpus: 2}
      - {name: only-h200, instances: 2, memory_gib: 60, gpu_product: "NVIDIA H200"}
  register: plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ plan.report }}"
'''

RETURN = r'''
mig_config:
  description: The mig-parted document (C(version v1)); C(all-disabled) is always defined and every GPU of a configured node is covered.
  returned: success
  type: dict
node_configs:
  description: Config name per node; valid label values, shared by nodes with the same layout.
  returned: success
  type: dict
  sample: {gpu-h200-0: cnai-h200-141gb-8ab88344, gpu-h200-1: all-disabled}
assignments:
  description: One entry per instance.
  returned: success
  type: list
  elements: dict
  contains:
    workload:
      description: Workload name.
      type: str
    instance:
      description: Instance index, from 0.
      type: int
    node:
      description: Node name.
      type: str
    gpu:
      description: GPU index, or the list of GPU indices for whole-GPU workloads.
      type: raw
    profile:
      description: MIG profile, or null for whole GPUs.
      type: str
    start:
      description: Placement slot of the MIG device, or null.
      type: int
    resource:
      description: Extended resource the pod requests.
      type: str
gpus_used:
  description: GPUs that host at least one instance.
  returned: success
  type: int
gpus_total:
  description: GPUs in the fleet.
  returned: success
  type: int
lower_bound:
  description:
    - A proven lower bound on the GPUs any plan needs (the solver's dual bound, rounded up). Equal to RV(gpus_used)
      when RV(optimal) is true.
  returned: success
  type: int
optimal:
  description: Whether the solver proved RV(gpus_used) minimal within O(time_limit).
  returned: success
  type: bool
gap:
  description: Relative gap between RV(gpus_used) and RV(lower_bound), (used - bound) / used; 0.0 when optimal.
  returned: success
  type: float
time_limit:
  description: The time limit the solver ran under, in seconds.
  returned: success
  type: float
nodes_changed:
  description: Nodes whose config differs from O(nodes[].current_config).
  returned: success
  type: list
  elements: str
unconfirmed:
  description: Table values for the GPU models in play that NVIDIA has not confirmed.
  returned: success
  type: list
  elements: str
report:
  description: A readable table of the plan.
  returned: success
  type: str
strategy:
  description: The strategy used.
  returned: success
  type: str
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils import milp
from ansible_collections.cnai.platform.plugins.module_utils.mig_planner import PlanError, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                gpu_product=dict(type='str'),
                pci_device_id=dict(type='str'),
                pci_subsystem_id=dict(type='str'),
                gpu_count=dict(type='int'),
                gpus=dict(type='list', elements='dict'),
                current_config=dict(type='str'),
            )),
            workloads=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                instances=dict(type='int', default=1),
                profile=dict(type='str'),
                memory_gib=dict(type='raw'),
                gpus=dict(type='int'),
                gpu_product=dict(type='str'),
            ), mutually_exclusive=[('profile', 'memory_gib', 'gpus')],
                required_one_of=[('profile', 'memory_gib', 'gpus')]),
            strategy=dict(type='str', default='mixed', choices=['mixed', 'single']),
            current_mig_config=dict(type='dict'),
            time_limit=dict(type='float', default=30.0),
        ),
        supports_check_mode=True,
    )
    if not milp.HAS_HIGHSPY:
        module.fail_json(msg=missing_required_lib('highspy', reason='to solve the MIG layout program (pip install highspy)'),
                         exception=str(milp.HIGHSPY_IMPORT_ERROR))
    try:
        result = plan(module.params['nodes'], module.params['workloads'], module.params['strategy'],
                      module.params['current_mig_config'], module.params['time_limit'])
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
