# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform.milvus_collection against a REAL Milvus gRPC server: Milvus Lite (PyPI milvus-lite, pinned in
requirements-test.txt), started as `python -m milvus_lite server` on a free port; the module reaches it over
http://127.0.0.1:<port> as it would reach a Milvus Service. The module itself runs (Ansible's module runner:
the module file executed with its ANSIBLE_MODULE_ARGS, check and diff flags as ansible-playbook passes them),
plus one ansible-playbook run of the FQCN.

What Milvus Lite does not do, so these tests cannot show it:
- authentication: Lite accepts any token (the user/password path is exercised, not verified);
- HNSW build parameters are not reported back by describe_index (M, efConstruction): the module lists them
  as `unverified` instead of comparing them (against Milvus 2.6 they are compared; see the unit tests);
- HNSW and IVF_FLAT are built with faiss-cpu; FLAT is served by a brute-force index; AUTOINDEX becomes HNSW.
  The INVERTED scalar index on text is created and described as INVERTED.
- no shards, replicas, resource groups or streaming nodes: one process.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

pytest.importorskip('pymilvus')
pytest.importorskip('milvus_lite')

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODULE = os.path.join(ROOT, 'plugins', 'modules', 'milvus_collection.py')
COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')


def _free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope='module')
def milvus():
    data = tempfile.mkdtemp(prefix='milvus-lite-')
    port = _free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'milvus_lite', 'server', '--data-dir', data, '--port', str(port),
                             '--host', '127.0.0.1'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError('milvus-lite exited: %s' % proc.stdout.read().decode())
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError('milvus-lite did not listen on %d within 60 s' % port)
    yield 'http://127.0.0.1:%d' % port
    proc.terminate()
    proc.wait(timeout=30)


def run(args, check=False, diff=False):
    """Run the module as Ansible's module runner does; returns (rc, result)."""
    margs = dict(args)
    margs.update({'_ansible_check_mode': check, '_ansible_diff': diff})
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump({'ANSIBLE_MODULE_ARGS': margs}, f)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS + os.pathsep + os.environ.get('PYTHONPATH', ''))
    p = subprocess.run([sys.executable, MODULE, f.name], capture_output=True, text=True, env=env, timeout=120)
    os.unlink(f.name)
    out = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else '{}'
    return p.returncode, json.loads(out)


def dims(result):
    return dict((f['name'], f.get('dim')) for f in result['actual']['fields'])


def test_create_then_second_run_unchanged(milvus):
    rc, r = run({'uri': milvus, 'dimension': 1024, 'user': 'root', 'password': 'Milvus'})
    assert rc == 0, r
    assert r['changed'] and r['actions'] == ['create', 'load']
    assert r['actual']['exists'] and r['actual']['loaded']
    assert [f['name'] for f in r['actual']['fields']] == ['id', 'text', 'embedding', 'source', 'timestamp']
    assert r['actual']['fields'][0] == {'name': 'id', 'type': 'INT64', 'is_primary': True, 'auto_id': True}
    assert dims(r)['embedding'] == 1024
    idx = dict((i['field'], i) for i in r['actual']['indexes'])
    assert idx['embedding']['index_type'] == 'HNSW' and idx['embedding']['metric_type'] == 'COSINE'
    assert idx['text']['index_type'] == 'INVERTED'
    rc, r2 = run({'uri': milvus, 'dimension': 1024, 'user': 'root', 'password': 'Milvus'})
    assert rc == 0 and r2['changed'] is False and r2['actions'] == [] and r2['differences'] == []
    # Milvus Lite does not report HNSW's build parameters back: listed, not compared
    assert r2['unverified'] == ['index on embedding: M (the server does not report it)',
                                'index on embedding: efConstruction (the server does not report it)']
    assert r2['invocation']['module_args']['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'   # no_log


def test_differing_dimension_reported_not_dropped(milvus):
    run({'uri': milvus, 'name': 'kb_dim', 'dimension': 768})
    rc, r = run({'uri': milvus, 'name': 'kb_dim', 'dimension': 1024})
    assert rc == 1 and r['failed']
    assert 'field embedding: dim is 768, want 1024' in r['msg'] and 'recreate: true' in r['msg']
    assert r['differences'] == ['field embedding: dim is 768, want 1024'] and r['changed'] is False
    assert dims(r)['embedding'] == 768                       # still there, untouched
    rc, r = run({'uri': milvus, 'name': 'kb_dim', 'dimension': 1024, 'fail_on_difference': False})
    assert rc == 0 and not r['changed'] and r['differences'] == ['field embedding: dim is 768, want 1024']


def test_recreate_drops_and_recreates(milvus):
    from pymilvus import MilvusClient
    run({'uri': milvus, 'name': 'kb_re', 'dimension': 4})
    c = MilvusClient(uri=milvus)
    c.insert('kb_re', [{'text': 'a', 'embedding': [0.1, 0.2, 0.3, 0.4], 'source': 's', 'timestamp': 1}])
    c.flush('kb_re')
    assert c.get_collection_stats('kb_re')['row_count'] == 1
    rc, r = run({'uri': milvus, 'name': 'kb_re', 'dimension': 8, 'recreate': True}, diff=True)
    assert rc == 0 and r['changed'] and r['actions'] == ['drop', 'create', 'load']
    assert r['differences'] == ['field embedding: dim is 4, want 8']
    emb = lambda side: [f for f in r['diff'][side]['fields'] if f['name'] == 'embedding'][0]['dim']  # noqa: E731
    assert emb('before') == 4 and emb('after') == 8
    assert dims(r)['embedding'] == 8
    assert c.get_collection_stats('kb_re')['row_count'] == 0  # recreated: the data went with it
    c.close()


def test_check_mode_changes_nothing(milvus):
    from pymilvus import MilvusClient
    rc, r = run({'uri': milvus, 'name': 'kb_check', 'dimension': 16}, check=True, diff=True)
    assert rc == 0 and r['changed'] and r['actions'] == ['create', 'load']
    assert r['diff']['before'] == {} and r['diff']['after']['fields'][2]['dim'] == 16
    c = MilvusClient(uri=milvus)
    assert not c.has_collection('kb_check')
    run({'uri': milvus, 'name': 'kb_check', 'dimension': 16})
    rc, r = run({'uri': milvus, 'name': 'kb_check', 'dimension': 32, 'recreate': True}, check=True)
    assert rc == 0 and r['changed'] and r['actions'] == ['drop', 'create', 'load']
    assert c.describe_collection('kb_check')['fields'][2]['params']['dim'] == 16   # not dropped in check mode
    c.close()


def test_missing_text_index_is_added(milvus):
    run({'uri': milvus, 'name': 'kb_ix', 'dimension': 4, 'text_index': False})
    rc, r = run({'uri': milvus, 'name': 'kb_ix', 'dimension': 4})
    assert rc == 0 and r['changed'] and r['actions'][0] == 'create_indexes'
    assert sorted(i['field'] for i in r['actual']['indexes']) == ['embedding', 'text']


@pytest.mark.parametrize('args, needle', [
    ({'dimension': 0}, 'dimension must be from 1 to 32768'),
    ({}, 'dimension is required'),
    ({'dimension': 8, 'name': 'bad-name'}, 'name must start'),
    ({'dimension': 8, 'hnsw_m': 1}, 'hnsw_m must be from 2'),
    ({'dimension': 8, 'metric_type': 'HAMMING'}, 'metric_type'),
    ({'dimension': 8, 'token': 'root:tok-1', 'user': 'root', 'password': 'pw-not-used-1'}, 'token|user'),
    ({'dimension': 8, 'fields': [{'name': 'id', 'type': 'INT64'}]}, 'exactly one is_primary'),
])
def test_bad_input_fails_before_any_change(milvus, args, needle):
    from pymilvus import MilvusClient
    c = MilvusClient(uri=milvus)
    before = sorted(c.list_collections())
    rc, r = run(dict(args, uri=milvus, name=args.get('name', 'kb_bad')))
    assert rc == 1 and needle in r['msg'], r
    assert sorted(c.list_collections()) == before
    c.close()


def test_unreachable_milvus_names_the_uri():
    rc, r = run({'uri': 'http://127.0.0.1:%d' % _free_port(), 'dimension': 8, 'timeout': 3})
    assert rc == 1 and 'uri' in r['msg'] and '127.0.0.1' in r['msg']


def test_through_ansible_playbook(milvus, tmp_path):
    """The FQCN as a play uses it: first run changed, second run changed=0."""
    pb = tmp_path / 'pb.yml'
    pb.write_text('''
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    models:
      - {name: bge-m3, model: BAAI/bge-m3, served_name: bge-m3, max_model_len: 8192, replicas: {min: 1, max: 3}, task: embed}
  tasks:
    - cnai.platform.milvus_collection:
        uri: "{{ uri }}"
        name: kb_play
        dimension: "{{ (models | cnai.platform.embedding_models | first).dimension }}"
      register: kb
    - ansible.builtin.assert:
        that: (kb.actual.fields | selectattr('name', 'eq', 'embedding') | first).dim == 1024
''')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', str(pb),
           '-e', 'uri=%s' % milvus, '-e', 'ansible_python_interpreter=%s' % sys.executable]
    for want in ('changed=1', 'changed=0'):
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert want in p.stdout, p.stdout
