# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad knobs of nvidia_driver, container_toolkit and gpu_operator fail before any change, naming the variable.

One ``ansible-playbook`` run (one play per case, each running bad_input_case.yml) includes each role with one
bad value given as a play variable; every case must fail in
the role's argument validation or its first preflight task (which reads nothing from a host or a cluster),
and the message must name the variable and say what to set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
PREFLIGHT = "Check the role's knobs (ranges and shapes the argument spec cannot express)"
OWNED = 'Check that no values layer overrides a value this role owns (before anything reaches the cluster)'
SPEC = 'Validating arguments against arg spec'

# (role, bad knob, failing task, message that must appear)
CASES = [
    (
        'nvidia_driver',
        {'nvidia_driver_reboot_timeout': 0},
        PREFLIGHT,
        'nvidia_driver: nvidia_driver_reboot_timeout is 0: set it to a whole number of seconds greater than 0',
    ),
    ('nvidia_driver', {'nvidia_driver_reboot_timeout': 'forever'}, SPEC, "nvidia_driver_reboot_timeout"),
    (
        'nvidia_driver',
        {'nvidia_driver_branch': '58'},
        PREFLIGHT,
        'nvidia_driver: nvidia_driver_branch is "58": set it to a driver branch of three digits',
    ),
    (
        'nvidia_driver',
        {'nvidia_driver_version': 'latest'},
        PREFLIGHT,
        'nvidia_driver: nvidia_driver_version is "latest": set it to an upstream driver version',
    ),
    (
        'nvidia_driver',
        {'nvidia_driver_secure_boot': 'maybe'},
        PREFLIGHT,
        'nvidia_driver: nvidia_driver_secure_boot is "maybe": set it to auto, true or false',
    ),
    (
        'nvidia_driver',
        {'nvidia_driver_in_container': 'sometimes'},
        PREFLIGHT,
        'nvidia_driver: nvidia_driver_in_container is "sometimes": set it to auto, true or false',
    ),
    ('nvidia_driver', {'nvidia_driver_blacklist_nouveau': 'perhaps'}, SPEC, 'nvidia_driver_blacklist_nouveau'),
    (
        'container_toolkit',
        {'container_toolkit_containerd_config_version': 4},
        PREFLIGHT,
        'container_toolkit: container_toolkit_containerd_config_version is 4: set it to '
        'auto, 2 (containerd 1.x) or 3 (containerd 2.x)',
    ),
    (
        'container_toolkit',
        {'container_toolkit_containerd_config': 'etc/containerd/config.toml'},
        PREFLIGHT,
        'container_toolkit_containerd_config is "etc/containerd/config.toml": set it to an absolute path',
    ),
    (
        'container_toolkit',
        {'container_toolkit_containerd_dropin_dir': 'conf.d'},
        PREFLIGHT,
        'container_toolkit_containerd_dropin_dir is "conf.d": set it to an absolute directory',
    ),
    (
        'container_toolkit',
        {'container_toolkit_containerd_dropin_file': '99-nvidia.conf'},
        PREFLIGHT,
        'container_toolkit_containerd_dropin_file is "99-nvidia.conf": set it to a file name ending in .toml',
    ),
    (
        'container_toolkit',
        {'container_toolkit_runtime_name': 'NVIDIA runtime'},
        PREFLIGHT,
        'container_toolkit_runtime_name is "NVIDIA runtime": set it to a DNS label',
    ),
    (
        'container_toolkit',
        {'container_toolkit_runtime_binary': 'nvidia-container-runtime'},
        PREFLIGHT,
        'container_toolkit_runtime_binary is "nvidia-container-runtime": set it to the absolute path',
    ),
    (
        'container_toolkit',
        {'container_toolkit_tomlkit_package': ''},
        PREFLIGHT,
        'container_toolkit_tomlkit_package is "": set it to the package',
    ),
    ('container_toolkit', {'container_toolkit_runtime': 'docker'}, SPEC, 'container_toolkit_runtime'),
    ('container_toolkit', {'container_toolkit_hold_packages': 'sure'}, SPEC, 'container_toolkit_hold_packages'),
    (
        'gpu_operator',
        {'gpu_operator_helm_timeout': 'forever'},
        PREFLIGHT,
        'gpu_operator: gpu_operator_helm_timeout is "forever": set it to a Helm duration '
        'greater than zero, such as 10m0s, 600s or 1h',
    ),
    (
        'gpu_operator',
        {'gpu_operator_helm_timeout': '0s'},
        PREFLIGHT,
        'gpu_operator: gpu_operator_helm_timeout is "0s": set it to a Helm duration',
    ),
    (
        'gpu_operator',
        {'gpu_operator_ready_timeout': 0},
        PREFLIGHT,
        'gpu_operator: gpu_operator_ready_timeout is 0: set it to a whole number of seconds greater than 0',
    ),
    ('gpu_operator', {'gpu_operator_ready_timeout': 'forever'}, SPEC, 'gpu_operator_ready_timeout'),
    (
        'gpu_operator',
        {'gpu_operator_ready_delay': 900},
        PREFLIGHT,
        'gpu_operator: gpu_operator_ready_delay is 900: set it to a whole number of seconds '
        'greater than 0 and at most gpu_operator_ready_timeout',
    ),
    (
        'gpu_operator',
        {'gpu_operator_namespace': 'GPU_Operator'},
        PREFLIGHT,
        'gpu_operator: gpu_operator_namespace is "GPU_Operator": set it to a Kubernetes namespace name',
    ),
    (
        'gpu_operator',
        {'gpu_operator_release_name': 'gpu operator'},
        PREFLIGHT,
        'gpu_operator: gpu_operator_release_name is "gpu operator": set it to a Helm release name',
    ),
    ('gpu_operator', {'gpu_operator_values_site': ['mig']}, SPEC, 'gpu_operator_values_site'),
    ('gpu_operator', {'gpu_operator_mig_strategy': 'both'}, SPEC, 'gpu_operator_mig_strategy'),
    ('gpu_operator', {'gpu_operator_helm_wait': 'often'}, SPEC, 'gpu_operator_helm_wait'),
    (
        'gpu_operator',
        {'gpu_operator_values_group': {'driver': {'enabled': True}}},
        OWNED,
        'gpu_operator: gpu_operator_values_group sets driver.enabled to true; the role owns '
        'driver.enabled (false): set gpu_operator_driver_enabled instead, and remove it from '
        'gpu_operator_values_group',
    ),
    (
        'gpu_operator',
        {'gpu_operator_values_site': {'migManager': False}},
        OWNED,
        'gpu_operator_values_site sets migManager to false, which replaces the owned key migManager.enabled',
    ),
]


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    collections = os.path.join(REPO, '.cache', 'collections')
    if not os.path.isdir(os.path.join(collections, 'ansible_collections', 'cnai', 'platform')):
        pytest.skip('collection link .cache/collections missing (make venv creates it)')
    tmp = tmp_path_factory.mktemp('bad-input')
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_LOCAL_TEMP=str(tmp / 'tmp'),
        ANSIBLE_STDOUT_CALLBACK='ansible.builtin.default',
        ANSIBLE_DISPLAY_ARGS_TO_STDOUT='0',
    )
    env.pop('PYTHONPATH', None)
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    plays = [
        dict(
            name='case %d: %s %s' % (i, role, json.dumps(knob)),
            hosts='localhost',
            gather_facts=False,
            vars=dict(knob, case_index=i, case_role=role),
            tasks=[
                dict(name='Run the case', **{'ansible.builtin.include_tasks': os.path.join(HERE, 'bad_input_case.yml')})
            ],
        )
        for i, (role, knob, _task, _msg) in enumerate(CASES)
    ]
    book = tmp / 'bad_input.yml'
    book.write_text(json.dumps(plays))  # JSON is YAML
    proc = subprocess.run(
        [
            playbook,
            '-i',
            'localhost,',
            '-c',
            'local',
            '-e',
            'ansible_python_interpreter=%s' % sys.executable,
            '-e',
            'cnai_root=%s' % REPO,
            str(book),
        ],
        env=env,
        cwd=str(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        check=False,
        timeout=600,
    )
    found = {}
    for m in re.finditer(r'"msg": ("BAD-INPUT-RESULT .*")\s*$', proc.stdout, re.M):
        doc = json.loads(json.loads(m.group(1))[len('BAD-INPUT-RESULT ') :])
        found[doc['case']] = doc
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert len(found) == len(CASES), proc.stdout[-4000:]
    return found


@pytest.mark.parametrize('index', range(len(CASES)), ids=['%s-%s' % (c[0], sorted(c[1])[0]) for c in CASES])
def test_bad_knob_fails_before_any_change_naming_the_variable(results, index):
    _role, _knob, task, message = CASES[index]
    got = results[index]
    assert got['accepted'] is False, got
    assert got['task'].startswith(task), got
    assert any(message in m for m in got['msgs']), got
