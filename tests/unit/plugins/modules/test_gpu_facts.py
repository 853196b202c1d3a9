# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform.gpu_facts, run for real against a fake ``nvidia-smi`` placed on PATH.

The fake (tests/unit/fixtures/nvidia-smi/fake_nvidia_smi.py) prints a fixture for the exact arguments it
gets, so these tests go through AnsibleModule argument parsing, get_bin_path, run_command and a real
subprocess. The last tests run the module through ``ansible localhost -m cnai.platform.gpu_facts``.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
from unittest import mock

import pytest

from ansible.module_utils import _internal as _mu_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils.nvidia_smi import GPU_KEYS, PROFILE_KEYS
from ansible_collections.cnai.platform.plugins.modules import gpu_facts

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, '..', '..', 'fixtures', 'nvidia-smi'))
REPO = os.path.normpath(os.path.join(HERE, '..', '..', '..', '..'))
FAKE = os.path.join(FIXTURES, 'fake_nvidia_smi.py')


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """Put a fake nvidia-smi for a scenario first on PATH; returns (set_scenario, calls)."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    script = bindir / 'nvidia-smi'
    script.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, FAKE))
    script.chmod(0o755)
    log = tmp_path / 'calls.log'
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ.get('PATH', '/usr/bin:/bin')))
    monkeypatch.setenv('FAKE_NVIDIA_SMI_LOG', str(log))

    def use(name):
        monkeypatch.setenv('FAKE_NVIDIA_SMI_SCENARIO', os.path.join(FIXTURES, name))
        return str(script)

    def calls():
        if not log.exists():
            return []
        return [json.loads(ln) for ln in log.read_text().splitlines()]
    return use, calls


def run_module(capsys, args=None, check_mode=False):
    module_args = dict(args or {})
    if check_mode:
        module_args['_ansible_check_mode'] = True
    # Once any test has imported controller code (filter plugins, ...), module_utils believe they run on the
    # controller and send warnings to the display instead of the result; a module runs on the target.
    with patch_module_args(module_args), mock.patch.object(_mu_internal, 'is_controller', False):
        with pytest.raises(SystemExit) as exc:
            gpu_facts.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    result['_rc'] = exc.value.code
    return result


def test_h200_real_output(fake_smi, capsys):
    use, calls = fake_smi
    use('h200-141gb')
    result = run_module(capsys)
    assert result['_rc'] == 0 and not result.get('failed')
    assert result['changed'] is False
    assert result['gpu_count'] == 1 and result['driver_version'] == '580.159.04' and result['cuda_version'] == '13.0'
    gpu = result['gpus'][0]
    assert sorted(gpu) == sorted(GPU_KEYS)
    assert result['ansible_facts']['cnai_gpus'] == result['gpus']
    assert (gpu['name'], gpu['pci_device_id'], gpu['memory_total_mib'], gpu['compute_capability']) == \
        ('NVIDIA H200', '0x233510DE', 143771, '9.0')
    assert gpu['catalog_model'] == 'H200-141GB' and gpu['mig_capable'] is True
    assert [sorted(p) for p in gpu['mig_profiles']] == [sorted(PROFILE_KEYS)] * 7
    # what came back over JSON still drives the planner's catalog code
    model = mig_catalog.model_from_facts(gpu)
    assert mig_catalog.placement(model, {'3g.71gb': 1, '2g.35gb': 2}) == [(0, '2g.35gb'), (2, '2g.35gb'), (4, '3g.71gb')]
    assert [c[:1] for c in calls()] == [[c[0]] for c in calls()]  # the fake really ran
    assert [' '.join(c) for c in calls()][2:] == ['mig -lgip', 'mig -lgipp']


def test_h200_x8_check_mode_same_result(fake_smi, capsys):
    use, calls = fake_smi
    use('h200-141gb-x8')
    normal = run_module(capsys)
    checked = run_module(capsys, check_mode=True)
    for r in (normal, checked):
        r.pop('invocation', None)
    assert normal == checked
    assert normal['gpu_count'] == 8 and normal['changed'] is False
    assert [g['pci_bus_id'] for g in normal['gpus']] == ['00000000:00:%02X.0' % i for i in range(6, 14)]
    assert len(calls()) == 8


def test_a100_mig_enabled(fake_smi, capsys):
    use = fake_smi[0]
    use('a100-sxm4-40gb-mig')
    gpu = run_module(capsys)['gpus'][0]
    assert gpu['mig_mode_current'] == 'enabled'
    assert [(p['name'], p['instances_free']) for p in gpu['mig_profiles']][:3] == [
        ('1g.5gb', 1), ('1g.5gb+me', 1), ('1g.10gb', 0)]


def test_a30_pending_mode(fake_smi, capsys):
    use = fake_smi[0]
    use('a30-x2')
    result = run_module(capsys)
    assert [(g['mig_mode_current'], g['mig_mode_pending']) for g in result['gpus']] == [
        ('enabled', 'enabled'), ('disabled', 'enabled')]


def test_l40s_without_mig_does_not_fail(fake_smi, capsys):
    use, calls = fake_smi
    use('l40s')
    result = run_module(capsys)
    assert result['_rc'] == 0 and not result.get('failed') and not result.get('warnings')
    gpu = result['gpus'][0]
    assert gpu['mig_capable'] is False and gpu['mig_profiles'] == [] and gpu['catalog_model'] is None
    assert result['cuda_version'] == '12.4'
    assert ['mig', '-lgip'] not in calls()


def test_old_driver_warns(fake_smi, capsys):
    use = fake_smi[0]
    use('a100-sxm4-40gb-r470')
    result = run_module(capsys)
    assert result['gpus'][0]['compute_capability'] is None
    assert 'compute_cap' in json.dumps(result['warnings'])  # 2.19 sends warnings as structured events


def test_include_mig_profiles_false(fake_smi, capsys):
    use, calls = fake_smi
    use('h200-141gb')
    result = run_module(capsys, dict(include_mig_profiles=False))
    assert result['gpus'][0]['mig_profiles'] == []
    assert all(c[:1] != ['mig'] for c in calls())


def test_explicit_nvidia_smi_path(fake_smi, capsys, monkeypatch):
    use = fake_smi[0]
    path = use('h200-141gb')
    monkeypatch.setenv('PATH', '/nonexistent')
    result = run_module(capsys, dict(nvidia_smi_path=path))
    assert result['gpu_count'] == 1


def test_explicit_path_missing(capsys, tmp_path):
    result = run_module(capsys, dict(nvidia_smi_path=str(tmp_path / 'nvidia-smi')))
    assert result['failed'] is True and 'not executable' in result['msg']


@pytest.mark.parametrize('name,match', [
    ('driver-not-loaded', "NVIDIA driver is not loaded"),
    ('no-devices', 'no NVIDIA GPU was found'),
    ('version-mismatch', 'Driver/library version mismatch'),
])
def test_failures(fake_smi, capsys, name, match):
    use = fake_smi[0]
    use(name)
    result = run_module(capsys)
    assert result['_rc'] == 1 and result['failed'] is True
    assert match in result['msg']
    assert 'gpus' not in result


def test_hung_nvidia_smi_times_out_with_a_wedged_gpu_message(fake_smi, capsys):
    """The fake nvidia-smi sleeps 600 s; the module kills it after `timeout` and says why."""
    import time
    use = fake_smi[0]
    use('hung')
    start = time.monotonic()
    result = run_module(capsys, dict(timeout=1))
    assert time.monotonic() - start < 20
    assert result['_rc'] == 1 and result['failed'] is True and 'gpus' not in result
    assert result['msg'].startswith('nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,pci.device_id,memory.total,'
                                    'driver_version,compute_cap,mig.mode.current,mig.mode.pending '
                                    '--format=csv,noheader,nounits did not finish within 1 s (option timeout) and '
                                    'was killed: the GPU or the NVIDIA driver may be wedged.')


def test_hung_lgip_times_out_after_the_query_worked(fake_smi, capsys):
    use, calls = fake_smi
    use('hung-lgip')
    result = run_module(capsys, dict(timeout=2))
    assert result['failed'] is True
    assert result['msg'].startswith('nvidia-smi mig -lgip did not finish within 2 s')
    assert 'may be wedged' in result['msg'] and 'dmesg' in result['msg']
    assert [' '.join(c) for c in calls()][-1] == 'mig -lgip'


def test_timeout_below_one_is_refused(capsys):
    result = run_module(capsys, dict(timeout=0))
    assert result['failed'] is True
    assert result['msg'] == 'timeout must be a whole number of seconds, at least 1 (got 0)'


@pytest.mark.parametrize('name,match', [
    ('lgip-extra-column', "nvidia-smi mig -lgip: the table has column(s) Spare that this module does not know"),
    ('duplicate-index', 'nvidia-smi --query-gpu printed GPU index 0 twice'),
    ('unknown-mig-mode', "nvidia-smi reported GPU 0 pending MIG mode 'Degraded', which this module does not know"),
    ('placement-off-grid', 'GPU 0 (NVIDIA H200) profile 3g.71gb (ID 9): nvidia-smi mig -lgipp places it at '
                           '{0,4,6}:4, which runs past the 8-slot placement grid of H200-141GB'),
])
def test_malformed_output_fails_with_the_reason(fake_smi, capsys, name, match):
    use = fake_smi[0]
    use(name)
    result = run_module(capsys)
    assert result['_rc'] == 1 and result['failed'] is True and 'gpus' not in result
    assert match in result['msg']


def test_missing_binary(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setattr(gpu_facts, 'EXTRA_DIRS', [str(tmp_path)])
    monkeypatch.setattr('ansible.module_utils.common.process.os.path.exists',
                        lambda p, _real=os.path.exists: _real(p) and not p.endswith('/nvidia-smi'))
    result = run_module(capsys)
    assert result['failed'] is True
    assert 'nvidia-smi was not found' in result['msg'] and 'nvidia_smi_path' in result['msg']


# --- through ansible itself --------------------------------------------------------------------------------------

def _ansible(tmp_path, scenario, extra_env=None):
    collections = os.path.join(REPO, '.cache', 'collections')
    if not os.path.isdir(os.path.join(collections, 'ansible_collections', 'cnai', 'platform')):
        pytest.skip('collection link .cache/collections missing (make venv creates it)')
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    script = bindir / 'nvidia-smi'
    script.write_text('#!/bin/sh\nexec "%s" "%s" "$@"\n' % (sys.executable, FAKE))
    script.chmod(0o755)
    env = dict(os.environ)
    env.update(PATH='%s:%s:%s' % (bindir, os.path.dirname(sys.executable), env.get('PATH', '/usr/bin:/bin')),
               FAKE_NVIDIA_SMI_SCENARIO=os.path.join(FIXTURES, scenario),
               ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_NOCOLOR='1', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'))
    env.pop('PYTHONPATH', None)
    env.update(extra_env or {})
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    proc = subprocess.run(
        [ansible, 'localhost', '-i', 'localhost,', '-c', 'local', '-m', 'cnai.platform.gpu_facts',
         '-e', 'ansible_python_interpreter=%s' % sys.executable],
        env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        check=False, timeout=300)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('ansible printed no JSON (rc %d): %s %s' % (proc.returncode, proc.stdout, proc.stderr))
    task = doc['plays'][0]['tasks'][0]['hosts']['localhost']
    return proc.returncode, task


def test_ansible_adhoc_x8(tmp_path):
    rc, task = _ansible(tmp_path, 'h200-141gb-x8')
    assert rc == 0, task
    assert task['gpu_count'] == 8 and task['changed'] is False
    assert task['ansible_facts']['cnai_gpus'][7]['mig_profiles'][4]['placements'] == [0, 4]


def test_ansible_adhoc_driver_not_loaded(tmp_path):
    rc, task = _ansible(tmp_path, 'driver-not-loaded')
    assert rc != 0 and task['failed'] is True
    assert 'NVIDIA driver is not loaded' in task['msg']
