# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Milvus collections as data: the platform's schemas, their validation, the comparison with what a
Milvus server holds, and the one function that brings a collection to its schema (cnai.platform.milvus_collection).

Pure except for ``ensure``, which talks to Milvus through a client object with the methods of
``pymilvus.MilvusClient`` that it uses (``has_collection``, ``describe_collection``, ``list_indexes``,
``describe_index``, ``create_collection``, ``create_index``, ``drop_collection``, ``get_load_state``,
``load_collection``), so that the decisions are unit-tested with a fake and the module runs them against
a real server.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Scalar and vector types the platform's schemas use (pymilvus DataType names).
SCALAR_TYPES = ('BOOL', 'INT8', 'INT16', 'INT32', 'INT64', 'FLOAT', 'DOUBLE', 'VARCHAR', 'JSON')
VECTOR_TYPES = ('FLOAT_VECTOR', 'FLOAT16_VECTOR', 'BFLOAT16_VECTOR')
FIELD_TYPES = SCALAR_TYPES + VECTOR_TYPES
METRIC_TYPES = ('COSINE', 'IP', 'L2')
VECTOR_INDEX_TYPES = ('HNSW', 'IVF_FLAT', 'FLAT', 'AUTOINDEX')
SCALAR_INDEX_TYPES = ('INVERTED', 'AUTOINDEX')
MAX_DIM = 32768            # Milvus' proxy.maxDimension default
MAX_VARCHAR = 65535        # Milvus' limit on VARCHAR max_length
NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,254}$')

DEFAULT_COLLECTION = 'knowledge_base'
DEFAULT_HNSW_M = 16
DEFAULT_HNSW_EF_CONSTRUCTION = 200


class MilvusSchemaError(Exception):
    """Bad input (the message names the option) or a collection that cannot be brought to its schema."""


def _int(value, what, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError
            value = int(str(value))
        except (TypeError, ValueError):
            raise MilvusSchemaError('%s must be an integer from %d to %d (got %r)' % (what, low, high, value))
    if not low <= value <= high:
        raise MilvusSchemaError('%s must be from %d to %d (got %d)' % (what, low, high, value))
    return value


def knowledge_base_fields(dimension, text_max_length=MAX_VARCHAR, source_max_length=2048):
    """The seed's knowledge_base schema: auto-id INT64 key, text, embedding, source, timestamp."""
    return [
        {'name': 'id', 'type': 'INT64', 'is_primary': True, 'auto_id': True},
        {'name': 'text', 'type': 'VARCHAR', 'max_length': text_max_length},
        {'name': 'embedding', 'type': 'FLOAT_VECTOR', 'dim': dimension},
        {'name': 'source', 'type': 'VARCHAR', 'max_length': source_max_length},
        {'name': 'timestamp', 'type': 'INT64'},
    ]


def knowledge_base_indexes(metric_type='COSINE', index_type='HNSW', m=DEFAULT_HNSW_M,
                           ef_construction=DEFAULT_HNSW_EF_CONSTRUCTION, text_index=True):
    params = {'M': m, 'efConstruction': ef_construction} if index_type == 'HNSW' else {}
    indexes = [{'field': 'embedding', 'index_type': index_type, 'metric_type': metric_type, 'params': params}]
    if text_index:
        indexes.append({'field': 'text', 'index_type': 'INVERTED', 'params': {}})
    return indexes


def build_spec(params):
    """Module parameters -> a validated collection spec {name, description, fields, indexes}.

    Every check runs before anything touches Milvus; each message names the option to fix."""
    name = params.get('name') or DEFAULT_COLLECTION
    if not NAME_RE.match(name):
        raise MilvusSchemaError('name must start with a letter or _ and hold only letters, digits and _ '
                                '(at most 255), got %r' % name)
    metric = str(params.get('metric_type') or 'COSINE').upper()
    if metric not in METRIC_TYPES:
        raise MilvusSchemaError('metric_type must be one of %s (got %r)' % (', '.join(METRIC_TYPES), metric))
    index_type = str(params.get('index_type') or 'HNSW').upper()
    if index_type not in VECTOR_INDEX_TYPES:
        raise MilvusSchemaError('index_type must be one of %s (got %r)' % (', '.join(VECTOR_INDEX_TYPES), index_type))
    m = _int(params.get('hnsw_m', DEFAULT_HNSW_M), 'hnsw_m', 2, 2048)
    efc = _int(params.get('hnsw_ef_construction', DEFAULT_HNSW_EF_CONSTRUCTION), 'hnsw_ef_construction', 1, 65536)
    fields = params.get('fields')
    if fields:
        fields = validate_fields(fields, params.get('dimension'))
        indexes = params.get('indexes') or []
    else:
        if params.get('dimension') is None:
            raise MilvusSchemaError('dimension is required for the knowledge_base schema (the embedding model\'s '
                                    'vector size, e.g. cnai_models | cnai.platform.embedding_models)')
        dim = _int(params['dimension'], 'dimension', 1, MAX_DIM)
        fields = knowledge_base_fields(
            dim, _int(params.get('text_max_length', MAX_VARCHAR), 'text_max_length', 1, MAX_VARCHAR),
            _int(params.get('source_max_length', 2048), 'source_max_length', 1, MAX_VARCHAR))
        indexes = params.get('indexes') or knowledge_base_indexes(metric, index_type, m, efc,
                                                                  bool(params.get('text_index', True)))
    indexes = validate_indexes(indexes, fields)
    return {'name': name, 'description': params.get('description') or '', 'fields': fields, 'indexes': indexes}


def validate_fields(fields, dimension=None):
    out, seen, primaries = [], set(), 0
    if not isinstance(fields, list) or not fields:
        raise MilvusSchemaError('fields must be a non-empty list of {name, type, ...}')
    for i, f in enumerate(fields):
        where = 'fields[%d]' % i
        if not isinstance(f, dict):
            raise MilvusSchemaError('%s must be a mapping (got %r)' % (where, f))
        unknown = set(f) - {'name', 'type', 'is_primary', 'auto_id', 'max_length', 'dim', 'description'}
        if unknown:
            raise MilvusSchemaError('%s: unknown keys %s' % (where, ', '.join(sorted(unknown))))
        name = f.get('name')
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise MilvusSchemaError('%s.name must be a Milvus field name (got %r)' % (where, name))
        if name in seen:
            raise MilvusSchemaError('%s.name %r is used twice' % (where, name))
        seen.add(name)
        ftype = str(f.get('type') or '').upper()
        if ftype not in FIELD_TYPES:
            raise MilvusSchemaError('%s.type must be one of %s (got %r)' % (where, ', '.join(FIELD_TYPES), f.get('type')))
        g = {'name': name, 'type': ftype}
        if f.get('is_primary'):
            if ftype not in ('INT64', 'VARCHAR'):
                raise MilvusSchemaError('%s: the primary key must be INT64 or VARCHAR (got %s)' % (where, ftype))
            primaries += 1
            g['is_primary'] = True
            if f.get('auto_id'):
                if ftype != 'INT64':
                    raise MilvusSchemaError('%s.auto_id needs an INT64 primary key' % where)
                g['auto_id'] = True
        elif f.get('auto_id'):
            raise MilvusSchemaError('%s.auto_id is only for the primary key' % where)
        if ftype == 'VARCHAR':
            g['max_length'] = _int(f.get('max_length', MAX_VARCHAR), '%s.max_length' % where, 1, MAX_VARCHAR)
        elif f.get('max_length') is not None:
            raise MilvusSchemaError('%s.max_length is only for VARCHAR fields' % where)
        if ftype in VECTOR_TYPES:
            dim = f.get('dim', dimension)
            if dim is None:
                raise MilvusSchemaError('%s.dim (or dimension) is required for %s' % (where, ftype))
            g['dim'] = _int(dim, '%s.dim' % where, 1, MAX_DIM)
        elif f.get('dim') is not None:
            raise MilvusSchemaError('%s.dim is only for vector fields' % where)
        out.append(g)
    if primaries != 1:
        raise MilvusSchemaError('fields must have exactly one is_primary field (got %d)' % primaries)
    if not any(f['type'] in VECTOR_TYPES for f in out):
        raise MilvusSchemaError('fields must have a vector field (Milvus needs one)')
    return out


def validate_indexes(indexes, fields):
    by_name = dict((f['name'], f) for f in fields)
    out, seen = [], set()
    if not isinstance(indexes, list):
        raise MilvusSchemaError('indexes must be a list of {field, index_type, metric_type, params}')
    for i, ix in enumerate(indexes):
        where = 'indexes[%d]' % i
        if not isinstance(ix, dict):
            raise MilvusSchemaError('%s must be a mapping (got %r)' % (where, ix))
        field = ix.get('field')
        if field not in by_name:
            raise MilvusSchemaError('%s.field must name a field of the schema (%s), got %r'
                                    % (where, ', '.join(by_name), field))
        if field in seen:
            raise MilvusSchemaError('%s.field %r has two indexes' % (where, field))
        seen.add(field)
        itype = str(ix.get('index_type') or '').upper()
        vector = by_name[field]['type'] in VECTOR_TYPES
        allowed = VECTOR_INDEX_TYPES if vector else SCALAR_INDEX_TYPES
        if itype not in allowed:
            raise MilvusSchemaError('%s.index_type for %s field %s must be one of %s (got %r)'
                                    % (where, by_name[field]['type'], field, ', '.join(allowed), ix.get('index_type')))
        g = {'field': field, 'index_type': itype, 'params': {}}
        if vector:
            metric = str(ix.get('metric_type') or '').upper()
            if metric not in METRIC_TYPES:
                raise MilvusSchemaError('%s.metric_type must be one of %s (got %r)' % (where, ', '.join(METRIC_TYPES),
                                                                                      ix.get('metric_type')))
            g['metric_type'] = metric
        params = ix.get('params') or {}
        if not isinstance(params, dict):
            raise MilvusSchemaError('%s.params must be a mapping' % where)
        for k, v in params.items():
            g['params'][str(k)] = _int(v, '%s.params.%s' % (where, k), 1, 1 << 20)
        out.append(g)
    for f in fields:
        if f['type'] in VECTOR_TYPES and f['name'] not in seen:
            raise MilvusSchemaError('indexes: vector field %s needs an index (Milvus loads only indexed collections)'
                                    % f['name'])
    return out


# --- what the server holds ------------------------------------------------------------------------------------

def _type_name(t):
    """pymilvus DataType (enum), its int value or a name -> the name."""
    name = getattr(t, 'name', None)
    if name:
        return name
    if isinstance(t, int):
        try:
            from pymilvus import DataType  # noqa: F401  (only on the controller, at run time)
            return DataType(t).name
        except Exception:  # pragma: no cover - pymilvus missing
            return str(t)
    return str(t).upper().replace('DATATYPE.', '')


def normalize_fields(described):
    """describe_collection()['fields'] -> the spec's field form."""
    out = []
    for f in described.get('fields', []):
        ftype = _type_name(f.get('type'))
        params = f.get('params') or {}
        g = {'name': f['name'], 'type': ftype}
        if f.get('is_primary'):
            g['is_primary'] = True
            if f.get('auto_id') or (described.get('auto_id') and ftype == 'INT64'):
                g['auto_id'] = True
        if 'max_length' in params:
            g['max_length'] = int(params['max_length'])
        if 'dim' in params:
            g['dim'] = int(params['dim'])
        out.append(g)
    return out


def normalize_index(described):
    """describe_index() -> {field, index_type, metric_type?, params}."""
    skip = {'field_name', 'index_name', 'index_type', 'metric_type', 'total_rows', 'indexed_rows',
            'pending_index_rows', 'state', 'params', 'index_state_fail_reason', 'mmap.enabled'}
    params = {}
    raw = dict(described.get('params') or {})
    raw.update(dict((k, v) for k, v in described.items() if k not in skip))
    for k, v in raw.items():
        try:
            params[k] = int(v)
        except (TypeError, ValueError):
            params[k] = v
    g = {'field': described.get('field_name'), 'index_type': str(described.get('index_type') or '').upper(),
         'params': params}
    metric = str(described.get('metric_type') or '').upper()
    if metric and metric != 'NONE':          # scalar indexes describe themselves with metric NONE
        g['metric_type'] = metric
    return g


def field_differences(want, have):
    """Differences that only dropping the collection can resolve (field set, types, dims, lengths, keys)."""
    diffs = []
    have_by = dict((f['name'], f) for f in have)
    want_by = dict((f['name'], f) for f in want)
    for f in want:
        h = have_by.get(f['name'])
        if h is None:
            diffs.append('field %s: missing (want %s)' % (f['name'], _field_str(f)))
            continue
        for key in ('type', 'dim', 'max_length', 'is_primary', 'auto_id'):
            if f.get(key) != h.get(key):
                diffs.append('field %s: %s is %s, want %s' % (f['name'], key, _show(h.get(key)), _show(f.get(key))))
    for h in have:
        if h['name'] not in want_by:
            diffs.append('field %s: not in the schema (%s)' % (h['name'], _field_str(h)))
    return diffs


def index_differences(want, have):
    """(missing indexes, differing-index messages, unverified parameters). A missing index can be added; a
    differing one cannot be changed in place by this module (it is reported, as a differing field is). A build
    parameter the server does not report back (Milvus Lite keeps HNSW's M and efConstruction to itself) cannot
    be compared: it is listed as unverified, not as a difference."""
    have_by = dict((ix['field'], ix) for ix in have)
    missing, diffs, unverified = [], [], []
    for ix in want:
        h = have_by.get(ix['field'])
        if h is None:
            missing.append(ix)
            continue
        for key in ('index_type', 'metric_type'):
            if ix.get(key) != h.get(key):
                diffs.append('index on %s: %s is %s, want %s' % (ix['field'], key, _show(h.get(key)), _show(ix.get(key))))
        for k, v in ix['params'].items():
            if k not in h['params']:
                unverified.append('index on %s: %s (the server does not report it)' % (ix['field'], k))
            elif h['params'][k] != v:
                diffs.append('index on %s: %s is %s, want %s' % (ix['field'], k, _show(h['params'][k]), v))
    return missing, diffs, unverified


def _show(v):
    return 'unset' if v is None else str(v)


def _field_str(f):
    extra = ''.join(', %s=%s' % (k, f[k]) for k in ('dim', 'max_length') if k in f)
    return f['type'] + extra


# --- bringing a collection to its spec ----------------------------------------------------------------------------

def read_collection(client, name):
    """{'exists': False} or {'exists': True, 'fields': [...], 'indexes': [...], 'loaded': bool}."""
    if not client.has_collection(name):
        return {'exists': False}
    described = client.describe_collection(name)
    indexes = []
    for index_name in client.list_indexes(name) or []:
        d = client.describe_index(name, index_name)
        if d:
            d = dict(d)
            d.setdefault('index_name', index_name)
            indexes.append(normalize_index(d))
    state = client.get_load_state(name)
    state = state.get('state') if isinstance(state, dict) else state
    return {'exists': True, 'fields': normalize_fields(described), 'indexes': indexes,
            'loaded': 'Loaded' in str(getattr(state, 'name', state))}


def _schema(client, spec, data_type):
    schema = client.create_schema(auto_id=any(f.get('auto_id') for f in spec['fields']),
                                  enable_dynamic_field=False, description=spec['description'])
    for f in spec['fields']:
        kwargs = dict((k, f[k]) for k in ('is_primary', 'auto_id', 'max_length', 'dim') if k in f)
        schema.add_field(field_name=f['name'], datatype=getattr(data_type, f['type']), **kwargs)
    return schema


def _index_params(client, indexes):
    ip = client.prepare_index_params()
    for ix in indexes:
        kwargs = {'field_name': ix['field'], 'index_type': ix['index_type'], 'index_name': ix['field'],
                  'params': dict(ix['params'])}
        if ix.get('metric_type'):
            kwargs['metric_type'] = ix['metric_type']
        ip.add_index(**kwargs)
    return ip


def plan(spec, actual, recreate=False, load=True):
    """What ensure() would do: {'actions': [...], 'differences': [...], 'blocked': bool}.

    actions are 'create', 'drop', 'create_indexes', 'load'. blocked: the collection differs and recreate is
    false (nothing will change; the differences are the report)."""
    if not actual['exists']:
        return {'actions': ['create'] + (['load'] if load else []), 'differences': [], 'blocked': False,
                'missing_indexes': [], 'unverified': []}
    diffs = field_differences(spec['fields'], actual['fields'])
    missing, ixdiffs, unverified = index_differences(spec['indexes'], actual['indexes'])
    diffs += ixdiffs
    if diffs:
        if recreate:
            return {'actions': ['drop', 'create'] + (['load'] if load else []), 'differences': diffs,
                    'blocked': False, 'missing_indexes': [], 'unverified': []}
        return {'actions': [], 'differences': diffs, 'blocked': True, 'missing_indexes': [], 'unverified': unverified}
    actions = ['create_indexes'] if missing else []
    if load and (missing or not actual['loaded']):
        actions.append('load')
    return {'actions': actions, 'differences': [], 'blocked': False, 'missing_indexes': missing,
            'unverified': unverified}


def ensure(client, spec, data_type, recreate=False, load=True, check_mode=False):
    """Bring the collection to spec. Returns the module result (changed, actions, differences, before, after)."""
    before = read_collection(client, spec['name'])
    p = plan(spec, before, recreate, load)
    want = {'exists': True, 'fields': spec['fields'], 'indexes': spec['indexes'], 'loaded': bool(load) or
            before.get('loaded', False)}
    result = {'changed': bool(p['actions']), 'actions': p['actions'], 'differences': p['differences'],
              'unverified': p['unverified'],
              'collection': spec['name'], 'schema': {'fields': spec['fields'], 'indexes': spec['indexes']},
              'diff': {'before': _diffable(before), 'after': _diffable(want if not p['blocked'] else before)}}
    if check_mode or not p['actions']:
        result['actual'] = before
        return result
    if 'drop' in p['actions']:
        client.drop_collection(spec['name'])
    if 'create' in p['actions']:
        client.create_collection(spec['name'], schema=_schema(client, spec, data_type),
                                 index_params=_index_params(client, spec['indexes']))
    if 'create_indexes' in p['actions']:
        client.create_index(spec['name'], _index_params(client, p['missing_indexes']))
    if 'load' in p['actions']:
        client.load_collection(spec['name'])
    result['actual'] = read_collection(client, spec['name'])
    return result


def _diffable(state):
    """A readable, stable rendering for diff mode."""
    if not state.get('exists'):
        return {}
    return {'fields': state['fields'], 'indexes': sorted(state['indexes'], key=lambda i: i['field']),
            'loaded': state.get('loaded', False)}
