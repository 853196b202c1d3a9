# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Artifact-first: the built tarball, installed read-only, run by FQCN from a separate project directory.

What runs: playbook cnai.platform.plan (sizing + MIG plan, no cluster), and the vLLM render through the
vllm role's configure tasks (kustomize_render + role deliver in gitops mode, kustomize given by bare name on
PATH). The vllm role's preflight reads the cluster (nodes, CRDs), so here the render input is computed by the
same filters/modules from the inventory instead; tests/artifact/test_cluster_preflight.py covers the cluster
plays' first role from the same installed artifact.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import tarfile

import yaml

from artifact_lib import BIN, kustomize_dir, tree_digest

INVENTORY = {
    'all': {
        'children': {
            'cluster': {'hosts': {'localhost': {
                'ansible_connection': 'local',
                'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}},
            'gpu_nodes': {
                'vars': {'cnai_simulated': True, 'ansible_connection': 'local'},
                'hosts': {
                    'gpu-h200-0': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 2},
                    'gpu-a100-0': {'cnai_gpu_product': 'NVIDIA A100-SXM4-80GB', 'cnai_gpu_count': 2},
                }},
        },
        'vars': {
            'cnai_models': [{
                'name': 'qwen-chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'served_name': 'qwen2.5-7b-instruct',
                'quantization': 'awq', 'dtype': 'float16', 'max_model_len': 8192, 'max_num_seqs': 8,
                'replicas': {'min': 1, 'max': 3}, 'task': 'generate'}],
            'cnai_kustomize_binary': 'kustomize',
            'cnai_environment': 'dev',
        },
    },
}

# The render the vllm role does after its cluster reads, from the inventory alone.
RENDER = """
- name: Render vLLM from the installed collection
  hosts: localhost
  gather_facts: false
  vars:
    cnai_delivery: gitops
  tasks:
    - name: Describe the GPU nodes from inventory
      ansible.builtin.set_fact:
        nodes: "{{ groups['gpu_nodes'] | cnai.platform.gpu_planner_nodes(hostvars, group='gpu_nodes') }}"
    - name: Size
      cnai.platform.model_sizing:
        models: "{{ cnai_models }}"
        gpu_products: "{{ nodes.products }}"
      register: sizing
    - name: Plan
      cnai.platform.mig_plan:
        nodes: "{{ nodes.nodes }}"
        workloads: "{{ sizing.workloads }}"
      register: plan
    - name: Manifests
      ansible.builtin.set_fact:
        vllm_rendered: >-
          {{ cnai_models | cnai.platform.vllm_manifests(sizing.models, plan.assignments,
             {'gpu-h200-0': 'NVIDIA-H200', 'gpu-a100-0': 'NVIDIA-A100-SXM4-80GB'},
             {'image': 'vllm/vllm-openai:v0.11.0', 'podmonitor': false}) }}
    - name: The vllm role's render and delivery (gitops - applies nothing)
      ansible.builtin.include_role:
        name: cnai.platform.vllm
        tasks_from: configure.yml
"""

SHIPPED = ['MANIFEST.json', 'FILES.json', 'README.md', 'bom.yml', 'meta/runtime.yml',
           'meta/execution-environment.yml', 'meta/ee-requirements.txt', 'meta/bindep.txt',
           'playbooks/plan.yml', 'playbooks/site.yml', 'roles/cluster_preflight/tasks/main.yml',
           'plugins/modules/cluster_preflight.py', 'inventories/example/hosts.yml']
NOT_SHIPPED = ['ansible.cfg', 'Makefile', 'mk/', 'molecule/', 'tests/', 'tools/', '.ci/', 'inventories/local/',
               'pytest.ini', 'requirements-test.txt', '.cache/', '.venv/', '.gitignore', '.ansible-lint']


def _write_project(project):
    (project / 'inventory.yml').write_text(yaml.safe_dump(INVENTORY, sort_keys=False))
    return str(project / 'inventory.yml')


def _assert_unchanged(artifact):
    digest, files = tree_digest(artifact.installed)
    before = set(artifact.digest[1])
    assert (digest, files) == artifact.digest, 'the installed collection was modified: added %s, removed %s' % (
        sorted(set(files) - before)[:20], sorted(before - set(files))[:20])
    proc = artifact.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'verify', '--offline',
                         '-p', artifact.collections, 'cnai.platform'], cwd=artifact.base)
    assert 'Successfully verified that checksums for \'cnai.platform' in proc.stdout, proc.stdout


def test_tarball_holds_what_users_need_and_nothing_of_the_checkout(artifact):
    with tarfile.open(artifact.tarball) as tar:
        names = tar.getnames()
        for want in SHIPPED:
            assert want in names, want
        for path in NOT_SHIPPED:
            bad = [n for n in names if n == path.rstrip('/') or n.startswith(path)]
            assert not bad, '%s ships: %s' % (path, bad[:5])
        # nothing shipped reads a file that does not ship (the testbed's versions.env, test charts): no lookup,
        # open() or path option names one (comments and messages that tell a contributor where to look may)
        reads = re.compile(r"lookup\(|open\(|path:|file=|_path\b|_binary:|_dir:")
        checkout = re.compile(r"versions\.env|tests/charts|tools/testbed|\.cache/")
        for m in tar.getmembers():
            if not (m.isfile() and m.name.endswith(('.yml', '.yaml', '.j2', '.py'))):
                continue
            for ln in tar.extractfile(m).read().decode('utf-8', 'replace').splitlines():
                if ln.lstrip().startswith('#'):
                    continue
                assert not (reads.search(ln) and checkout.search(ln)), \
                    '%s reads a file that does not ship: %s' % (m.name, ln.strip())
                # outputs go to cnai_output_dir (filter cnai.platform.output_dir), never next to the playbooks
                # of the installed collection (argument_specs defaults are documentation only)
                if not m.name.endswith('argument_specs.yml'):
                    assert not re.search(r"playbook_dir\s*~\s*'/\.\./\.cache", ln), \
                        '%s writes into the collection: %s' % (m.name, ln.strip())


def test_plan_by_fqcn_writes_into_the_project(artifact, project):
    inventory = _write_project(project)
    proc = artifact.run([os.path.join(BIN, 'ansible-playbook'), '-i', inventory, 'cnai.platform.plan'],
                        cwd=str(project))
    assert 'failed=0' in proc.stdout
    plan = project / 'cnai-output' / 'plan'
    for name in ('report.txt', 'plan.yaml', 'mig-config.yaml'):
        assert (plan / name).is_file(), name
    doc = yaml.safe_load((plan / 'plan.yaml').read_text())
    assert {a['workload'] for a in doc['assignments']} == {'qwen-chat'}, doc['assignments']
    assert 'qwen-chat' in (plan / 'report.txt').read_text()
    assert not os.path.exists(os.path.join(artifact.installed, '.cache'))
    _assert_unchanged(artifact)


def test_plan_output_dir_is_a_variable(artifact, project):
    inventory = _write_project(project)
    artifact.run([os.path.join(BIN, 'ansible-playbook'), '-i', inventory, 'cnai.platform.plan',
                  '-e', 'cnai_output_dir=site-out'], cwd=str(project))
    assert (project / 'site-out' / 'plan' / 'mig-config.yaml').is_file()
    assert not (project / 'cnai-output').exists()


def test_services_render_lands_in_the_project(artifact, project):
    kdir = kustomize_dir()
    assert kdir, 'no kustomize: make kustomize builds it (or set KUSTOMIZE_BINARY)'
    inventory = _write_project(project)
    (project / 'render.yml').write_text(RENDER)
    proc = artifact.run([os.path.join(BIN, 'ansible-playbook'), '-i', inventory, 'render.yml'],
                        cwd=str(project), extra_path=kdir)
    assert 'failed=0' in proc.stdout
    tree = project / 'cnai-output' / 'render' / 'vllm'
    assert (tree / 'base' / 'kustomization.yaml').is_file()
    for env in ('dev', 'staging', 'production'):
        assert (tree / 'overlays' / env / 'kustomization.yaml').is_file(), env
    assert 'nothing is applied from here' in proc.stdout
    # what the tree builds to, with the same kustomize
    built = subprocess.run([os.path.join(kdir, 'kustomize'), 'build', str(tree / 'overlays' / 'dev')],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    objs = [o for o in yaml.safe_load_all(built) if o]
    deploys = [o for o in objs if o['kind'] == 'Deployment']
    assert [d['metadata']['name'] for d in deploys] == ['qwen-chat']
    assert {d['metadata']['namespace'] for d in deploys} == {'ai-inference-dev'}
    _assert_unchanged(artifact)


def test_a_binary_not_on_path_is_named(artifact, project):
    inventory = _write_project(project)
    (project / 'render.yml').write_text(RENDER)
    proc = artifact.run([os.path.join(BIN, 'ansible-playbook'), '-i', inventory, 'render.yml',
                         '-e', 'cnai_kustomize_binary=kustomize-not-installed'], cwd=str(project), check=False)
    assert proc.returncode != 0
    assert "'kustomize-not-installed' is not an executable file (looked it up on PATH" in proc.stdout
    assert 'cnai_kustomize_binary' in proc.stdout


def test_every_shipped_playbook_resolves_by_fqcn(artifact, project):
    """--syntax-check of every playbook of the installed collection by FQCN: roles, modules, filters and
    imported playbooks all resolve from the artifact alone."""
    inventory = _write_project(project)
    names = sorted(n[:-4] for n in os.listdir(os.path.join(artifact.installed, 'playbooks')) if n.endswith('.yml'))
    assert {'site', 'plan', 'gpu', 'services', 'operations', 'host'} <= set(names)
    proc = artifact.run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', '-i', inventory]
                        + ['cnai.platform.%s' % n for n in names], cwd=str(project))
    assert proc.returncode == 0
