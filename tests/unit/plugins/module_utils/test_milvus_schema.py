# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of cnai.platform.milvus_collection, with a fake client (the real-server tests are in
tests/integration/test_milvus_collection.py, against Milvus Lite)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import enum

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import milvus_schema as ms


class DT(enum.Enum):
    INT64 = 5
    VARCHAR = 21
    FLOAT_VECTOR = 101


def kb(dim=1024, **kw):
    p = {'dimension': dim}
    p.update(kw)
    return ms.build_spec(p)


def test_default_schema_is_knowledge_base():
    spec = kb()
    assert spec['name'] == 'knowledge_base'
    assert spec['fields'] == [
        {'name': 'id', 'type': 'INT64', 'is_primary': True, 'auto_id': True},
        {'name': 'text', 'type': 'VARCHAR', 'max_length': 65535},
        {'name': 'embedding', 'type': 'FLOAT_VECTOR', 'dim': 1024},
        {'name': 'source', 'type': 'VARCHAR', 'max_length': 2048},
        {'name': 'timestamp', 'type': 'INT64'}]
    assert spec['indexes'] == [
        {'field': 'embedding', 'index_type': 'HNSW', 'metric_type': 'COSINE', 'params': {'M': 16, 'efConstruction': 200}},
        {'field': 'text', 'index_type': 'INVERTED', 'params': {}}]


def test_knobs_reach_the_spec():
    spec = kb(768, metric_type='ip', hnsw_m=32, hnsw_ef_construction=400, text_index=False, name='docs')
    assert spec['name'] == 'docs'
    assert spec['indexes'] == [{'field': 'embedding', 'index_type': 'HNSW', 'metric_type': 'IP',
                                'params': {'M': 32, 'efConstruction': 400}}]
    assert kb(8, index_type='FLAT')['indexes'][0]['params'] == {}


@pytest.mark.parametrize('params, needle', [
    ({}, 'dimension is required'),
    ({'dimension': 0}, 'dimension must be from 1'),
    ({'dimension': 40000}, 'dimension must be from 1'),
    ({'dimension': True}, 'dimension must be an integer'),
    ({'dimension': 'abc'}, 'dimension must be an integer'),
    ({'dimension': 8, 'name': '1kb'}, 'name must start'),
    ({'dimension': 8, 'name': 'k-b'}, 'name must start'),
    ({'dimension': 8, 'metric_type': 'HAMMING'}, 'metric_type must be one of'),
    ({'dimension': 8, 'index_type': 'DISKANN'}, 'index_type must be one of'),
    ({'dimension': 8, 'hnsw_m': 1}, 'hnsw_m must be from 2'),
    ({'dimension': 8, 'hnsw_ef_construction': 0}, 'hnsw_ef_construction must be from 1'),
    ({'dimension': 8, 'text_max_length': 70000}, 'text_max_length must be from 1'),
    ({'fields': [{'name': 'id', 'type': 'INT64'}]}, 'exactly one is_primary'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}]}, 'must have a vector field'),
    ({'fields': [{'name': 'id', 'type': 'FLOAT', 'is_primary': True}]}, 'primary key must be INT64 or VARCHAR'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'v', 'type': 'FLOAT_VECTOR'}]},
     'fields[1].dim (or dimension) is required'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'v', 'type': 'VECTOR', 'dim': 2}]},
     'fields[1].type must be one of'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True, 'colour': 1}]}, 'fields[0]: unknown keys colour'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'id', 'type': 'INT64'}]}, 'used twice'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'v', 'type': 'FLOAT_VECTOR', 'dim': 2}]},
     'vector field v needs an index'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'v', 'type': 'FLOAT_VECTOR', 'dim': 2}],
      'indexes': [{'field': 'w', 'index_type': 'HNSW', 'metric_type': 'L2'}]}, 'indexes[0].field must name a field'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'v', 'type': 'FLOAT_VECTOR', 'dim': 2}],
      'indexes': [{'field': 'v', 'index_type': 'INVERTED', 'metric_type': 'L2'}]}, 'indexes[0].index_type for FLOAT_VECTOR'),
    ({'fields': [{'name': 'id', 'type': 'INT64', 'is_primary': True}, {'name': 'v', 'type': 'FLOAT_VECTOR', 'dim': 2}],
      'indexes': [{'field': 'v', 'index_type': 'HNSW'}]}, 'indexes[0].metric_type must be one of'),
])
def test_bad_input_names_the_option(params, needle):
    with pytest.raises(ms.MilvusSchemaError) as err:
        ms.build_spec(params)
    assert needle in str(err.value)


class FakeSchema(object):
    def __init__(self):
        self.fields = []

    def add_field(self, field_name, datatype, **kw):
        self.fields.append(dict(kw, name=field_name, type=datatype))


class FakeIndexParams(list):
    def add_index(self, **kw):
        self.append(kw)


class FakeClient(object):
    """Keeps collections as describe_collection/describe_index would return them (pymilvus shapes)."""

    def __init__(self):
        self.cols = {}
        self.calls = []

    def has_collection(self, name):
        return name in self.cols

    def describe_collection(self, name):
        return {'collection_name': name, 'auto_id': True,
                'fields': [{'name': f['name'], 'type': f['type'],
                            'params': dict((k, f[k]) for k in ('dim', 'max_length') if k in f),
                            'is_primary': f.get('is_primary', False), 'auto_id': f.get('auto_id', False)}
                           for f in self.cols[name]['schema'].fields]}

    def list_indexes(self, name):
        return [ix['index_name'] for ix in self.cols[name]['indexes']]

    def describe_index(self, name, index_name):
        ix = [i for i in self.cols[name]['indexes'] if i['index_name'] == index_name][0]
        out = {'index_type': ix['index_type'], 'metric_type': ix.get('metric_type', 'NONE'),
               'field_name': ix['field_name'], 'index_name': index_name, 'state': 'Finished'}
        out.update(dict((k, str(v)) for k, v in ix['params'].items()))     # real Milvus: strings, top level
        return out

    def get_load_state(self, name):
        return {'state': 'Loaded' if self.cols[name]['loaded'] else 'NotLoad'}

    def create_schema(self, **kw):
        return FakeSchema()

    def prepare_index_params(self):
        return FakeIndexParams()

    def create_collection(self, name, schema, index_params):
        self.calls.append(('create', name))
        self.cols[name] = {'schema': schema, 'indexes': list(index_params), 'loaded': True}

    def create_index(self, name, index_params):
        self.calls.append(('create_index', name))
        self.cols[name]['indexes'] += list(index_params)

    def drop_collection(self, name):
        self.calls.append(('drop', name))
        del self.cols[name]

    def load_collection(self, name):
        self.calls.append(('load', name))
        self.cols[name]['loaded'] = True


def test_create_then_unchanged():
    c = FakeClient()
    r = ms.ensure(c, kb(), DT)
    assert r['changed'] and r['actions'] == ['create', 'load'] and r['differences'] == []
    assert r['actual']['fields'] == kb()['fields']
    assert sorted(i['field'] for i in r['actual']['indexes']) == ['embedding', 'text']
    r2 = ms.ensure(c, kb(), DT)
    assert not r2['changed'] and r2['actions'] == [] and r2['unverified'] == []
    assert r2['diff']['before'] == r2['diff']['after']


def test_check_mode_changes_nothing():
    c = FakeClient()
    r = ms.ensure(c, kb(), DT, check_mode=True)
    assert r['changed'] and r['actions'] == ['create', 'load'] and c.calls == []
    assert r['diff']['before'] == {} and r['diff']['after']['fields'] == kb()['fields']


def test_differing_dimension_is_reported_not_dropped():
    c = FakeClient()
    ms.ensure(c, kb(768), DT)
    c.calls = []
    r = ms.ensure(c, kb(1024), DT)
    assert not r['changed'] and c.calls == []
    assert r['differences'] == ['field embedding: dim is 768, want 1024']


def test_recreate_drops_and_creates():
    c = FakeClient()
    ms.ensure(c, kb(768), DT)
    c.calls = []
    r = ms.ensure(c, kb(1024), DT, recreate=True)
    assert r['changed'] and c.calls == [('drop', 'knowledge_base'), ('create', 'knowledge_base'),
                                         ('load', 'knowledge_base')]
    assert [f for f in r['actual']['fields'] if f['name'] == 'embedding'][0]['dim'] == 1024


def test_index_parameter_and_metric_differences_are_reported():
    c = FakeClient()
    ms.ensure(c, kb(8), DT)
    r = ms.ensure(c, kb(8, hnsw_m=32, metric_type='L2'), DT)
    assert r['differences'] == ['index on embedding: metric_type is COSINE, want L2',
                                'index on embedding: M is 16, want 32']


def test_missing_index_is_added_without_drop():
    c = FakeClient()
    ms.ensure(c, kb(8, text_index=False), DT)
    c.cols['knowledge_base']['loaded'] = False
    c.calls = []
    r = ms.ensure(c, kb(8), DT)
    assert r['actions'] == ['create_indexes', 'load']
    assert c.calls == [('create_index', 'knowledge_base'), ('load', 'knowledge_base')]


def test_extra_and_missing_fields_are_reported():
    have = [{'name': 'id', 'type': 'INT64', 'is_primary': True, 'auto_id': True},
            {'name': 'body', 'type': 'VARCHAR', 'max_length': 10}]
    want = [{'name': 'id', 'type': 'INT64', 'is_primary': True, 'auto_id': True},
            {'name': 'text', 'type': 'VARCHAR', 'max_length': 10}]
    assert ms.field_differences(want, have) == ['field text: missing (want VARCHAR, max_length=10)',
                                                'field body: not in the schema (VARCHAR, max_length=10)']


def test_unreported_build_parameters_are_unverified_not_different():
    missing, diffs, unverified = ms.index_differences(
        kb(8)['indexes'], [{'field': 'embedding', 'index_type': 'HNSW', 'metric_type': 'COSINE', 'params': {}},
                           {'field': 'text', 'index_type': 'INVERTED', 'params': {}}])
    assert missing == [] and diffs == []
    assert unverified == ['index on embedding: M (the server does not report it)',
                          'index on embedding: efConstruction (the server does not report it)']


def test_normalize_index_reads_both_shapes():
    assert ms.normalize_index({'field_name': 'e', 'index_type': 'HNSW', 'metric_type': 'COSINE', 'M': '16',
                               'efConstruction': '200', 'index_name': 'e', 'total_rows': 0}) == \
        {'field': 'e', 'index_type': 'HNSW', 'metric_type': 'COSINE', 'params': {'M': 16, 'efConstruction': 200}}
    assert ms.normalize_index({'field_name': 't', 'index_type': 'INVERTED', 'metric_type': 'NONE'}) == \
        {'field': 't', 'index_type': 'INVERTED', 'params': {}}
