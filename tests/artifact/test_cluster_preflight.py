# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plays' preflight (role cnai.platform.cluster_preflight), run by ansible-playbook from the
installed artifact: each failure names the variable to set.

The API server here is a small HTTP stand-in that answers the two requests the preflight makes
(``/version`` and one CustomResourceDefinition by name), so that old versions and missing CRDs can be shown
without a cluster; the same role runs against the real testbed API server first in every cluster play of
``make e2e`` (site.yml).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import socket
import threading

import pytest
import yaml

from http import server as BaseHTTPServer

from artifact_lib import BIN

CRD = {
    'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition',
    'metadata': {'name': 'servicemonitors.monitoring.coreos.com'},
    'spec': {'group': 'monitoring.coreos.com', 'scope': 'Namespaced',
             'names': {'kind': 'ServiceMonitor', 'plural': 'servicemonitors'},
             'versions': [{'name': 'v1', 'served': True, 'storage': True}]},
}


class FakeApi(object):
    """/version -> ``version``; /apis/apiextensions.k8s.io/v1/customresourcedefinitions/<name> -> 200 for ``crds``."""

    def __init__(self, version, crds=()):
        self.version, self.crds = version, set(crds)
        api = self

        class Handler(BaseHTTPServer.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                prefix = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/'
                if self.path.startswith('/version'):
                    self._send(200, {'major': '1', 'minor': '0', 'gitVersion': api.version})
                elif self.path.startswith(prefix) and self.path[len(prefix):].split('?')[0] in api.crds:
                    body = dict(CRD, metadata={'name': self.path[len(prefix):].split('?')[0]})
                    self._send(200, body)
                else:
                    self._send(404, {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'reason': 'NotFound',
                                     'code': 404, 'message': 'not found'})

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = BaseHTTPServer.HTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.daemon = True
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def kubeconfig(path, servers):
    """A kubeconfig with one context per (name, server)."""
    doc = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': servers[0][0],
           'clusters': [{'name': n, 'cluster': {'server': s}} for n, s in servers],
           'contexts': [{'name': n, 'context': {'cluster': n, 'user': 'u'}} for n, s in servers],
           'users': [{'name': 'u', 'user': {'token': 'not-a-secret'}}]}
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture()
def apis():
    started = [FakeApi('v1.35.4', crds=['servicemonitors.monitoring.coreos.com']), FakeApi('v1.27.3')]
    yield started
    for a in started:
        a.close()


def test_each_failure_names_the_variable(artifact, project, apis):
    good, old = apis
    kc = kubeconfig(project / 'kubeconfig', [('good', good.url), ('old', old.url),
                                             ('down', 'http://127.0.0.1:%d' % closed_port())])
    helm = project / 'bin' / 'helm'
    helm.parent.mkdir()
    helm.write_text('#!/bin/sh\necho v3.22.0+g1234567\n')
    helm.chmod(0o755)
    old_helm = project / 'old-helm'
    old_helm.write_text('#!/bin/sh\necho v2.17.0+gabcdef0\n')
    old_helm.chmod(0o755)
    hint = 'installed by kube-prometheus-stack'
    cases = {
        'ok': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'good', 'cnai_helm_binary': 'helm',
               'cluster_preflight_crds': [{'name': 'servicemonitors.monitoring.coreos.com', 'hint': hint}]},
        'missing_kubeconfig': {'cnai_kubeconfig': str(project / 'no-such-kubeconfig')},
        'wrong_context': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'staging'},
        'unreachable': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'down', 'cluster_preflight_timeout': 3},
        'old_kubernetes': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'old'},
        'missing_crd': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'good', 'cnai_helm_binary': 'helm',
                        'cluster_preflight_crds': [{'name': 'prometheusrules.monitoring.coreos.com', 'hint': hint}]},
        'no_helm': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'good', 'cnai_helm_binary': 'helm-not-there'},
        'old_helm': {'cnai_kubeconfig': kc, 'cnai_kube_context': 'good', 'cnai_helm_binary': str(old_helm)},
    }
    tasks = []
    for name, case in cases.items():
        tasks.append({'name': 'Case %s' % name, 'block': [
            {'name': 'Preflight', 'ansible.builtin.include_role': {'name': 'cnai.platform.cluster_preflight'},
             'vars': case},
            {'name': 'Passed', 'ansible.builtin.set_fact': {'results': '{{ results | combine({%r: "passed"}) }}' % name}},
        ], 'rescue': [
            {'name': 'Failed', 'ansible.builtin.set_fact': {
                'results': '{{ results | combine({%r: ansible_failed_result.msg}) }}' % name}},
        ]})
    tasks.append({'name': 'Write the results', 'ansible.builtin.copy': {
        'content': '{{ results | to_nice_json }}', 'dest': str(project / 'results.json'), 'mode': '0644'}})
    play = [{'name': 'Preflight cases', 'hosts': 'localhost', 'gather_facts': False,
             'vars': {'results': {}, 'ansible_python_interpreter': '{{ ansible_playbook_python }}'},
             'tasks': tasks}]
    (project / 'cases.yml').write_text(yaml.safe_dump(play, sort_keys=False))
    artifact.run([os.path.join(BIN, 'ansible-playbook'), 'cases.yml'], cwd=str(project),
                 extra_path=str(helm.parent))
    got = json.loads((project / 'results.json').read_text())

    assert got['ok'] == 'passed'
    assert got['missing_kubeconfig'].startswith(
        'cluster preflight: cnai_kubeconfig: the kubeconfig %s' % (project / 'no-such-kubeconfig'))
    assert 'does not exist or cannot be read. Set cnai_kubeconfig' in got['missing_kubeconfig']
    assert "Could not find or access" not in got['missing_kubeconfig']
    assert got['wrong_context'] == (
        "cluster preflight: cnai_kube_context: context 'staging' is not in %s (contexts there: down, good, old). "
        "Set cnai_kube_context to one of them" % kc)
    assert got['unreachable'].startswith('cluster preflight: cannot reach the API server of context down')
    assert got['unreachable'].endswith('Check cnai_kubeconfig and cnai_kube_context, and that the cluster is up '
                                       'and reachable from the controller')
    assert 'runs Kubernetes v1.27.3; cnai.platform supports >=1.30,<1.37. Point cnai_kubeconfig / cnai_kube_context' \
        in got['old_kubernetes']
    assert got['missing_crd'] == ('cluster preflight: the cluster lacks the CustomResourceDefinitions this play '
                                  'needs: prometheusrules.monitoring.coreos.com (%s)' % hint)
    assert "cnai_helm_binary: 'helm-not-there' is not an executable file (looked it up on PATH" in got['no_helm']
    assert 'is helm v2.17.0+gabcdef0; cnai.platform supports >=3.14,<4.0. Set cnai_helm_binary' in got['old_helm']


def test_a_cluster_play_without_kubeconfig_stops_at_the_preflight(artifact, project):
    """services.yml by FQCN with a kubeconfig that does not exist: the first task says what to set."""
    inventory = {'all': {'children': {
        'cluster': {'hosts': {'localhost': {'ansible_connection': 'local',
                                            'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}},
        'gpu_nodes': {'hosts': {'gpu-0': {'cnai_simulated': True, 'cnai_gpu_product': 'NVIDIA H200',
                                          'cnai_gpu_count': 1}}}},
        'vars': {'cnai_kubeconfig': '~/.kube/cnai-test-no-such-config', 'cnai_models': []}}}
    (project / 'inventory.yml').write_text(yaml.safe_dump(inventory))
    proc = artifact.run([os.path.join(BIN, 'ansible-playbook'), '-i', 'inventory.yml', 'cnai.platform.services'],
                        cwd=str(project), check=False)
    assert proc.returncode != 0
    assert 'cluster preflight: cnai_kubeconfig: the kubeconfig ~/.kube/cnai-test-no-such-config' in proc.stdout
    assert 'Could not find or access' not in proc.stdout
    assert 'TASK [cnai.platform.keda' not in proc.stdout
