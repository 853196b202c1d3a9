#!/usr/bin/env python3
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opt-in: Argo CD really syncs the rendered tree on the local testbed (make gitops-argocd, issue 11).

1. tests/gitops/argocd_setup.yml: GPU layer, vLLM rendered, KEDA recorded, role gitops (Argo CD chart, tree
   committed to a local bare repository, AppProjects + root app applied).
2. Debian's redis-server, and the Argo CD application controller and repo server built by tools/argocd/build.sh,
   as local processes against the testbed's API server (the chart's in-cluster pods are KWOK's: they run nothing).
3. Checks, each timed: the root app and every child Synced and Healthy; a commit that changes a model's
   autoscaling bounds in the dev overlay is applied; self-heal restores a Deployment edited by hand; the same
   render applied directly (server-side apply, as role deliver does) into another namespace gives the same live
   objects as Argo CD's, minus what differs by nature (module_utils/gitops.comparable).
Prints one line per check; exit 1 on the first failure (with the controller's last log lines).
"""
from __future__ import print_function

import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, '.cache', 'collections'))
from ansible_collections.cnai.platform.plugins.module_utils import gitops  # noqa: E402

import yaml  # noqa: E402
from kubernetes import client, config, dynamic  # noqa: E402


def versions(path):
    out = {}
    for line in open(path):
        if '=' in line and not line.startswith('#'):
            k, v = line.strip().split('=', 1)
            out[k] = v
    return out


TB = versions(os.path.join(ROOT, 'tools', 'testbed', 'versions.env'))
AV = versions(os.path.join(ROOT, 'tools', 'argocd', 'versions.env'))
BIN = os.path.join(ROOT, '.cache', 'testbed', 'bin')
ARGOCD = os.path.join(BIN, 'argocd-%s' % AV['ARGOCD_VERSION'], 'argocd')
KUBECONFIG = os.environ.get('K8S_AUTH_KUBECONFIG') or os.path.join(ROOT, '.cache', 'testbed', 'kubeconfig')
TEST_DIR = os.environ.get('GITOPS_TEST_DIR') or os.path.join(ROOT, '.cache', 'gitops-argocd')
RENDER = os.path.join(TEST_DIR, 'render')
REMOTE = os.path.join(TEST_DIR, 'remote.git')
LOGS = os.path.join(TEST_DIR, 'logs')
# ports: per helper/CI slot, offset like the testbed's (TESTBED_APISERVER_PORT - 16443)
OFF = int(os.environ.get('TESTBED_APISERVER_PORT', '16443')) - 16443
REDIS_PORT, REPO_PORT, REPO_METRICS, CTRL_METRICS = 16379 + OFF, 18081 + OFF, 18084 + OFF, 18082 + OFF
NS = 'argocd'
ENV = 'dev'
DIRECT_NS = 'ai-inference-staging'      # where the same render is applied directly, for the comparison

procs = []
T0 = time.time()


def log(msg):
    print('[%5.0f s] %s' % (time.time() - T0, msg), flush=True)


def fail(msg):
    log('FAIL: ' + msg)
    for name in ('application-controller', 'repo-server'):
        p = os.path.join(LOGS, name + '.log')
        if os.path.exists(p):
            print('--- last lines of %s' % p)
            print(''.join(open(p, errors='replace').readlines()[-30:]))
    sys.exit(1)


def start(name, argv, env=None):
    out = open(os.path.join(LOGS, name + '.log'), 'w')
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})),
                         preexec_fn=os.setsid)
    procs.append(p)
    return p


def stop_all(*_):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def on_term(*dummy):
    stop_all()
    sys.exit(1)


def run(argv, **kw):
    return subprocess.run(argv, check=True, universal_newlines=True, stdout=subprocess.PIPE, **kw).stdout


def wait_for(what, pred, timeout):
    t = time.time()
    last = None
    while time.time() - t < timeout:
        ok, last = pred()
        if ok:
            log('%s: ok after %.0f s' % (what, time.time() - t))
            return last
        time.sleep(3)
    fail('%s: not within %d s; last state: %s' % (what, timeout, json.dumps(last, default=str)[:3000]))


def main():
    # GITOPS_REUSE=1: keep the cluster and repository of the previous run's setup (iterating on the checks)
    reuse = os.environ.get('GITOPS_REUSE') == '1' and os.path.isdir(os.path.join(RENDER, 'apps'))
    if not reuse and os.path.exists(TEST_DIR):
        shutil.rmtree(TEST_DIR)
    if not os.path.isdir(LOGS):
        os.makedirs(LOGS)
    signal.signal(signal.SIGTERM, on_term)
    if not shutil.which('redis-server'):
        fail('redis-server not found: apt-get install -y redis-server (Debian)')
    if not os.access(ARGOCD, os.X_OK):
        fail('%s missing: run tools/argocd/build.sh (make argocd-build)' % ARGOCD)

    # the local testbed (a no-op when it is up)
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'testbed', 'testbed.py'), 'up'], check=True,
                   stdout=open(os.path.join(LOGS, 'testbed.log'), 'w'), stderr=subprocess.STDOUT)
    if not reuse:
        log('setup playbook (GPU layer, render, record, role gitops)')
        env = dict(os.environ, GITOPS_TEST_DIR=TEST_DIR, CNAI_ROOT=ROOT)
        subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', 'inventories/local',
                        'tests/gitops/argocd_setup.yml'], cwd=ROOT, env=env, check=True,
                       stdout=open(os.path.join(LOGS, 'setup.log'), 'w'), stderr=subprocess.STDOUT)
    log('setup done; starting redis-server, repo server, application controller (Argo CD %s)'
        % AV['ARGOCD_VERSION'])

    path = os.pathsep.join([os.path.dirname(ARGOCD), os.path.join(BIN, 'helm-%s' % TB['HELM_VERSION']),
                            os.path.join(BIN, 'kustomize-%s' % TB['KUSTOMIZE_VERSION']), os.environ['PATH']])
    start('redis', ['redis-server', '--port', str(REDIS_PORT), '--bind', '127.0.0.1', '--save', '',
                    '--appendonly', 'no'])
    # the paths a pod would mount under /app/config, here under the test directory; no GnuPG verification
    app = os.path.join(TEST_DIR, 'app')
    common = {'PATH': path, 'ARGOCD_GPG_ENABLED': 'false', 'KUBECONFIG': KUBECONFIG,
              'TMPDIR': os.path.join(TEST_DIR, 'tmp'), 'ARGOCD_APP_CONF_PATH': app,
              'ARGOCD_SSH_DATA_PATH': os.path.join(app, 'ssh'), 'ARGOCD_TLS_DATA_PATH': os.path.join(app, 'tls'),
              'ARGOCD_GNUPGHOME': os.path.join(app, 'gpg'), 'ARGOCD_PLUGINSOCKFILEPATH': os.path.join(app, 'plugins')}
    for d in ('TMPDIR', 'ARGOCD_SSH_DATA_PATH', 'ARGOCD_TLS_DATA_PATH', 'ARGOCD_GNUPGHOME', 'ARGOCD_PLUGINSOCKFILEPATH'):
        if not os.path.isdir(common[d]):
            os.makedirs(common[d])
    start('repo-server', [ARGOCD + '-repo-server', '--port', str(REPO_PORT), '--metrics-port', str(REPO_METRICS),
                          '--disable-tls', '--client-ca-path=', '--revision-cache-expiration', '10s',
                          '--redis', '127.0.0.1:%d' % REDIS_PORT, '--loglevel', 'info'],
          common)
    start('application-controller', [
        ARGOCD + '-application-controller', '--kubeconfig', KUBECONFIG, '--namespace', NS,
        '--repo-server', '127.0.0.1:%d' % REPO_PORT, '--repo-server-plaintext', '--redis',
        '127.0.0.1:%d' % REDIS_PORT, '--metrics-port', str(CTRL_METRICS), '--app-resync', '10',
        '--self-heal-timeout-seconds', '2', '--status-processors', '4', '--operation-processors', '4',
        '--loglevel', 'info'], common)

    config.load_kube_config(KUBECONFIG)
    dyn = dynamic.DynamicClient(client.ApiClient())
    apps_api = dyn.resources.get(api_version='argoproj.io/v1alpha1', kind='Application')
    deps_api = dyn.resources.get(api_version='apps/v1', kind='Deployment')

    app_names = sorted(f[:-5] for f in os.listdir(os.path.join(RENDER, 'apps', ENV)) if f.endswith('.yaml'))
    names = ['cnai-platform-%s' % ENV] + app_names

    # KWOK runs no KEDA operator: nothing would ever set a ScaledObject's Ready condition, and Argo CD's health
    # check for keda.sh/ScaledObject reports Progressing until it is set. The test plays that part of KEDA
    # (status only, as the operator would after creating its HPA) and says so.
    custom = client.CustomObjectsApi()
    simulated = set()

    def simulate_keda_ready():
        try:
            items = custom.list_cluster_custom_object('keda.sh', 'v1alpha1', 'scaledobjects')['items']
        except client.exceptions.ApiException:
            return
        for so in items:
            conds = (so.get('status') or {}).get('conditions') or []
            if any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in conds):
                continue
            md = so['metadata']
            custom.patch_namespaced_custom_object_status(
                'keda.sh', 'v1alpha1', md['namespace'], 'scaledobjects', md['name'],
                {'status': {'conditions': [
                    {'type': 'Ready', 'status': 'True', 'reason': 'ScaledObjectReady',
                     'message': 'simulated by tests/gitops/argocd_sync.py (no KEDA operator on KWOK)'},
                    {'type': 'Active', 'status': 'False', 'reason': 'ScalerNotActive', 'message': 'simulated'}]}})
            if (md['namespace'], md['name']) not in simulated:
                simulated.add((md['namespace'], md['name']))
                log('simulated KEDA: ScaledObject %s/%s Ready=True (status only)' % (md['namespace'], md['name']))

    head = run(['git', '--git-dir', REMOTE, 'rev-parse', 'main']).strip()

    def all_synced():
        simulate_keda_ready()
        state = {}
        for n in names:
            try:
                a = apps_api.get(name=n, namespace=NS).to_dict()
            except Exception as exc:  # not created yet by the root app
                state[n] = 'missing (%s)' % exc.__class__.__name__
                continue
            st = a.get('status') or {}
            rev = (st.get('sync') or {}).get('revision') or ''
            state[n] = '%s/%s@%s %s' % ((st.get('sync') or {}).get('status'), (st.get('health') or {}).get('status'),
                                        rev[:7], ((st.get('operationState') or {}).get('message') or '')[:300])
        # Synced to the head of the repository this run made (not a status left by an earlier run)
        ok = all(v.startswith('Synced/Healthy@%s' % head[:7]) for v in state.values())
        return ok, state
    t = time.time()
    state = wait_for('root app + %d children Synced and Healthy (%s)' % (len(app_names), ', '.join(names)),
                     all_synced, 900)
    log('first sync: %.0f s after the controller started; %s' % (time.time() - t, state))

    # ---- a commit that changes a model's autoscaling bounds (its replicas) in the dev overlay only
    kustomize = os.path.join(BIN, 'kustomize-%s' % TB['KUSTOMIZE_VERSION'], 'kustomize')
    built = [o for o in yaml.safe_load_all(run([kustomize, 'build', os.path.join(RENDER, 'vllm', 'overlays', ENV)]))
             if o]
    so = [o for o in built if o['kind'] == 'ScaledObject'][0]
    so_name, lo, hi = so['metadata']['name'], so['spec']['minReplicaCount'], so['spec']['maxReplicaCount']
    field, value = ('minReplicaCount', lo + 1) if lo < hi else ('maxReplicaCount', hi + 1)
    kz_path = os.path.join(RENDER, 'vllm', 'overlays', ENV, 'kustomization.yaml')
    kz = yaml.safe_load(open(kz_path))
    kz.setdefault('patches', []).append({'target': {'kind': 'ScaledObject', 'name': so_name},
                                         'patch': yaml.safe_dump([{'op': 'replace', 'path': '/spec/' + field,
                                                                   'value': value}])})
    with open(kz_path, 'w') as f:
        f.write(yaml.safe_dump(kz, sort_keys=False))
    run(['git', '-C', RENDER, 'add', '-A'])
    run(['git', '-C', RENDER, '-c', 'user.name=test', '-c', 'user.email=t@x', 'commit', '-q', '-m',
         'vllm (overlays/%s): %s %s %d' % (ENV, so_name, field, value)])
    run(['git', '-C', RENDER, 'push', '-q', 'origin', 'HEAD:refs/heads/main'])
    so_api = dyn.resources.get(api_version='keda.sh/v1alpha1', kind='ScaledObject')
    vllm_ns = 'ai-inference-%s' % ENV

    def so_applied():
        live = so_api.get(name=so_name, namespace=vllm_ns).to_dict()
        return live['spec'].get(field) == value, live['spec'].get(field)
    wait_for('commit (ScaledObject %s %s %s -> %d) applied by Argo CD' % (so_name, field, so['spec'][field], value),
             so_applied, 300)

    # ---- self-heal: a hand edit of a Deployment is reverted
    dep = deps_api.get(namespace=vllm_ns).to_dict()['items'][0]
    dname = dep['metadata']['name']
    image = dep['spec']['template']['spec']['containers'][0]['image']
    deps_api.patch(name=dname, namespace=vllm_ns, content_type='application/strategic-merge-patch+json',
                   body={'spec': {'template': {'spec': {'containers': [
                       {'name': dep['spec']['template']['spec']['containers'][0]['name'],
                        'image': 'hand-edited/vllm:bad'}]}}}})
    log('edited Deployment %s/%s by hand (image hand-edited/vllm:bad)' % (vllm_ns, dname))

    def healed():
        d = deps_api.get(name=dname, namespace=vllm_ns).to_dict()
        img = d['spec']['template']['spec']['containers'][0]['image']
        return img == image, img
    wait_for('self-heal restored %s image %s' % (dname, image), healed, 180)

    # ---- direct vs GitOps: the same render, applied directly into another namespace
    out = run([kustomize, 'build', os.path.join(RENDER, 'vllm', 'overlays', ENV)])
    objs = [o for o in yaml.safe_load_all(out) if o]
    core = client.CoreV1Api()
    try:
        core.create_namespace({'metadata': {'name': DIRECT_NS}})
    except client.exceptions.ApiException as exc:
        if exc.status != 409:
            raise
    for o in objs:
        o = json.loads(json.dumps(o))
        if o['metadata'].get('namespace'):
            o['metadata']['namespace'] = DIRECT_NS
        api = dyn.resources.get(api_version=o['apiVersion'], kind=o['kind'])
        api.server_side_apply(body=o, name=o['metadata']['name'], namespace=o['metadata'].get('namespace'),
                              field_manager='cnai.platform/vllm', force_conflicts=True)
    time.sleep(3)
    diffs = []
    for o in objs:
        api = dyn.resources.get(api_version=o['apiVersion'], kind=o['kind'])
        ns = o['metadata'].get('namespace')
        a = gitops.comparable(api.get(name=o['metadata']['name'], namespace=ns).to_dict())
        b = gitops.comparable(api.get(name=o['metadata']['name'], namespace=DIRECT_NS if ns else None).to_dict())
        if a != b:
            diffs.append('%s/%s' % (o['kind'], o['metadata']['name']))
            with open(os.path.join(LOGS, 'diff-%s-%s.json' % (o['kind'], o['metadata']['name'])), 'w') as f:
                json.dump({'gitops': a, 'direct': b}, f, indent=1, sort_keys=True)
    if diffs:
        fail('direct and GitOps live objects differ: %s (see %s/diff-*.json)' % (', '.join(diffs), LOGS))
    log('direct (%s) and GitOps (%s) give the same %d live objects' % (DIRECT_NS, vllm_ns, len(objs)))
    log('PASSED')


if __name__ == '__main__':
    try:
        main()
    finally:
        stop_all()
