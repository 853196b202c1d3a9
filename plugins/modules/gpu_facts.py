#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gpu_facts
short_description: Gather NVIDIA GPU facts, including MIG profiles and placements, from nvidia-smi
version_added: 0.1.0
description:
  - Runs on a GPU node and reads C(nvidia-smi) (read-only) to report every GPU's index, name, UUID, PCI bus
    and device id, total memory, driver and CUDA version, compute capability, MIG mode (current and pending)
    and the MIG GPU-instance profiles the node supports with their placements, as the node reports them
    (C(nvidia-smi mig -lgip) and C(nvidia-smi mig -lgipp)).
  - The same list is returned in RV(gpus) and set as the fact C(cnai_gpus).
  - Each GPU is matched against the collection's MIG catalog by PCI device id, then exact name
    (RV(gpus[].catalog_model)); C(cnai.platform.mig_plan) uses the node's own profiles and placements first.
  - Never changes anything on the node (no MIG mode change, no reset); C(changed) is always false.
  - Fails with a message that says what to fix when C(nvidia-smi) is missing, when the NVIDIA driver is not
    loaded or does not match the kernel module, when no GPU is found, or when an C(nvidia-smi) call does not
    finish within O(timeout).
  - Reads strictly, and fails quoting the line rather than guessing, when a table has columns the module does
    not know, a value has the wrong shape, a MIG mode is unknown, a GPU index is negative or listed twice, or a
    reported placement does not fit the GPU's placement grid. Placements that fit the grid but differ from the
    collection's catalog are kept (the node wins) with a warning. GPUs without MIG support (for example
    L40S) are reported with RV(gpus[].mig_capable=false) and no profiles.
author:
  - cnai.platform contributors (!UNKNOWN)
options:
  nvidia_smi_path:
    description:
      - Path of the C(nvidia-smi) binary.
      - By default it is looked up on E(PATH) (and the sbin directories), then in C(/usr/bin), C(/usr/local/bin)
        and C(/usr/local/nvidia/bin).
    type: path
  include_mig_profiles:
    description:
      - Also read the MIG GPU-instance profiles and their placements (C(nvidia-smi mig -lgip) and C(-lgipp)).
      - Only asked for when at least one GPU supports MIG. With V(false), RV(gpus[].mig_profiles) is empty.
    type: bool
    default: true
  timeout:
    description:
      - Seconds each C(nvidia-smi) call may take before it is killed and the module fails, saying that the GPU or
        the driver may be wedged (a hung C(nvidia-smi) is the usual sign of a broken GPU).
      - Must be at least 1. Raise it only for slow nodes (many GPUs without persistence mode).
    type: int
    default: 30
extends_documentation_fragment:
  - cnai.platform.attributes
  - cnai.platform.attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
notes:
  - MIG placements are in the units C(nvidia-smi mig -lgipp) prints (C({starts}:size), memory slices); an
    instance starting at slot C(start) occupies slots C(start) to C(start + size - 1).
  - C(memory_gib) of a profile is the usable GiB the node reports, not the GB in the profile name.
  - Drivers older than R510 do not know the C(compute_cap) query field; RV(gpus[].compute_capability) is then
    null and a warning says so.
seealso:
  - name: NVIDIA Multi-Instance GPU User Guide
    description: MIG profiles, placements and the nvidia-smi mig commands.
    link: https://docs.nvidia.com/datacenter/tesla/mig-user-guide/
'''

EXAMPLES = r'''
- name: Read the GPUs of every GPU node
  cnai.platform.gpu_facts:

- name: Only the inventory, without MIG profiles, with nvidia-smi from the driver container
  cnai.platform.gpu_facts:
    nvidia_smi_path: /usr/local/nvidia/bin/nvidia-smi
    include_mig_profiles: false

- name: Give a slow node more time per nvidia-smi call
  cnai.platform.gpu_facts:
    timeout: 120

- name: Use the facts
  ansible.builtin.debug:
    msg: >-
      {{ inventory_hostname }}: {{ cnai_gpus | length }} x {{ cnai_gpus[0].name }},
      MIG {{ cnai_gpus | map(attribute='mig_mode_current') | unique | join('/') }}

- name: Register the result for the MIG planner
  cnai.platform.gpu_facts:
  register: gpu

- name: Profiles the first GPU can hold
  ansible.builtin.debug:
    msg: "{{ gpu.gpus[0].mig_profiles | map(attribute='name') | list }}"
'''

RETURN = r'''
driver_version:
  description: NVIDIA driver version.
  returned: success
  type: str
  sample: 580.159.04
cuda_version:
  description: Highest CUDA version the driver supports (from C(nvidia-smi -q) or the banner); null if not reported.
  returned: success
  type: str
  sample: '13.0'
gpu_count:
  description: Number of GPUs found.
  returned: success
  type: int
  sample: 8
gpus:
  description: One entry per GPU, ordered by index. Also set as the fact C(cnai_gpus).
  returned: success
  type: list
  elements: dict
  contains:
    index:
      description: GPU index as nvidia-smi numbers it.
      type: int
      sample: 0
    name:
      description: Product name as nvidia-smi prints it (older drivers omit the C(NVIDIA) prefix).
      type: str
      sample: NVIDIA H200
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-00000000-0000-0000-0000-000000000000
    pci_bus_id:
      description: PCI bus id.
      type: str
      sample: 00000000:00:06.0
    pci_device_id:
      description: PCI device id, device then vendor (the form mig-parted device filters use).
      type: str
      sample: '0x233510DE'
    memory_total_mib:
      description: Total framebuffer memory in MiB.
      type: int
      sample: 143771
    driver_version:
      description: Driver version.
      type: str
      sample: 580.159.04
    cuda_version:
      description: CUDA version of the driver; null if not reported.
      type: str
      sample: '13.0'
    compute_capability:
      description: CUDA compute capability; null on drivers older than R510.
      type: str
      sample: '9.0'
    mig_mode_current:
      description: Current MIG mode.
      type: str
      choices: [enabled, disabled, n/a]
      sample: disabled
    mig_mode_pending:
      description: MIG mode after the next GPU reset (differs from the current one until then).
      type: str
      choices: [enabled, disabled, n/a]
      sample: disabled
    mig_capable:
      description: Whether the GPU supports MIG.
      type: bool
      sample: true
    catalog_model:
      description: Key of the collection's MIG catalog entry for this GPU; null when the catalog does not know it.
      type: str
      sample: H200-141GB
    mig_profiles:
      description:
        - MIG GPU-instance profiles the GPU supports, in the order nvidia-smi lists them; empty when the GPU
          has no MIG or O(include_mig_profiles=false).
      type: list
      elements: dict
      contains:
        name:
          description: Profile name without the C(MIG) prefix.
          type: str
          sample: 1g.18gb
        id:
          description: GPU-instance profile id (as C(nvidia-smi mig -cgi) takes it).
          type: int
          sample: 19
        instances_free:
          description: Instances of this profile that could still be created now.
          type: int
          sample: 7
        instances_total:
          description: Maximum instances of this profile on one GPU.
          type: int
          sample: 7
        memory_gib:
          description: Usable memory of one instance, in GiB, as reported.
          type: float
          sample: 16.0
        sm_count:
          description: Streaming multiprocessors of one instance.
          type: int
          sample: 16
        placements:
          description: Possible start slots (C(nvidia-smi mig -lgipp)); null when the node did not report them.
          type: list
          elements: int
          sample: [0, 1, 2, 3, 4, 5, 6]
        placement_size:
          description: Slots one instance occupies; null when the node did not report it.
          type: int
          sample: 1
ansible_facts:
  description: Facts set by the module.
  returned: success
  type: dict
  contains:
    cnai_gpus:
      description: The same list as RV(gpus).
      type: list
      elements: dict
      sample: []
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnai.platform.plugins.module_utils.nvidia_smi import (
    NvidiaSmiError,
    gather,
    run_with_timeout,
)

EXTRA_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/local/nvidia/bin']


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvidia_smi_path=dict(type='path'),
            include_mig_profiles=dict(type='bool', default=True),
            timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    timeout = module.params['timeout']
    if timeout < 1:
        module.fail_json(msg='timeout must be a whole number of seconds, at least 1 (got %d)' % timeout)
    smi = module.params['nvidia_smi_path']
    if smi:
        if not (os.path.isfile(smi) and os.access(smi, os.X_OK)):
            module.fail_json(msg='nvidia_smi_path %s does not exist or is not executable' % smi)
    else:
        # PATH first (so a PATH entry can override), then where driver packages and containers put it.
        smi = module.get_bin_path('nvidia-smi') or module.get_bin_path('nvidia-smi', opt_dirs=EXTRA_DIRS)
        if not smi:
            module.fail_json(msg='nvidia-smi was not found on this host (PATH and %s). Install the NVIDIA driver '
                                 '(role cnai.platform.nvidia_driver) or set nvidia_smi_path.' % ', '.join(EXTRA_DIRS))

    def run(args):
        return run_with_timeout([smi] + list(args), timeout, environ_update=dict(LC_ALL='C', LANG='C'))

    try:
        facts = gather(run, include_mig_profiles=module.params['include_mig_profiles'])
    except NvidiaSmiError as e:
        module.fail_json(msg=str(e), nvidia_smi=smi)

    for w in facts['warnings']:
        module.warn(w)
    module.exit_json(
        changed=False,
        gpus=facts['gpus'],
        driver_version=facts['driver_version'],
        cuda_version=facts['cuda_version'],
        gpu_count=facts['gpu_count'],
        ansible_facts=dict(cnai_gpus=facts['gpus']),
    )


if __name__ == '__main__':
    main()
