#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: milvus_collection
short_description: Create or check a Milvus collection, its fields and its indexes
version_added: 0.2.0
description:
  - Talks to Milvus from the controller with C(pymilvus). Creates the collection when it is missing, with its
    indexes, and loads it; when it exists, compares its fields and indexes with the wanted schema.
  - The default schema is the platform's C(knowledge_base) - an auto-id C(INT64) primary key C(id), C(text)
    C(VARCHAR), C(embedding) C(FLOAT_VECTOR) of O(dimension), C(source) C(VARCHAR), C(timestamp) C(INT64);
    an C(HNSW) index with C(COSINE) on C(embedding) (O(hnsw_m), O(hnsw_ef_construction)) and an C(INVERTED)
    index on C(text).
  - Take O(dimension) from the embedding model of C(cnai_models) (filter M(cnai.platform.embedding_models)).
  - A collection whose fields or indexes differ is never dropped unless O(recreate=true); the differences are
    returned (RV(differences)) and, with O(fail_on_difference=true), the task fails naming them. An index that
    is missing on an otherwise matching collection is created.
  - Every bad input fails before Milvus is contacted, with a message naming the option.
  - Build parameters a server does not report back cannot be compared; they are listed in RV(unverified)
    (Milvus Lite does not report C(M)/C(efConstruction)).
requirements:
  - pymilvus (on the controller; the collection's requirements.txt pins the tested release)
options:
  uri:
    description: Milvus endpoint, C(http://host:19530) (or a Milvus Lite file path in tests).
    type: str
    required: true
  token:
    description: C(user:password) or an API key. Mutually exclusive with O(user)/O(password).
    type: str
  user:
    description: Milvus user (with authorization on, C(root) or a user with the collection privileges).
    type: str
  password:
    description: Password of O(user).
    type: str
  db_name:
    description: Database of the collection.
    type: str
    default: default
  timeout:
    description: Seconds each call to Milvus may take.
    type: float
    default: 30
  name:
    description: Collection name (letters, digits and C(_), starting with a letter or C(_)).
    type: str
    default: knowledge_base
  description:
    description: Collection description (set at creation only; not compared).
    type: str
    default: ""
  dimension:
    description:
      - Vector dimension of C(embedding) (1 to 32768), the embedding model's output size (bge-m3 - 1024).
      - Required for the default schema; with O(fields), the C(dim) of vector fields that set none.
    type: int
  text_max_length:
    description: C(max_length) of C(text) in the default schema.
    type: int
    default: 65535
  source_max_length:
    description: C(max_length) of C(source) in the default schema.
    type: int
    default: 2048
  metric_type:
    description: Similarity metric of the vector index in the default schema.
    type: str
    choices: [COSINE, IP, L2]
    default: COSINE
  index_type:
    description: Vector index type in the default schema.
    type: str
    choices: [HNSW, IVF_FLAT, FLAT, AUTOINDEX]
    default: HNSW
  hnsw_m:
    description: HNSW C(M) (graph degree, 2 to 2048).
    type: int
    default: 16
  hnsw_ef_construction:
    description: HNSW C(efConstruction) (1 to 65536).
    type: int
    default: 200
  text_index:
    description: Create the C(INVERTED) index on C(text) (default schema).
    type: bool
    default: true
  fields:
    description:
      - Another schema instead of C(knowledge_base) - a list of fields C({name, type, is_primary, auto_id,
        max_length, dim}); types are pymilvus C(DataType) names (C(INT64), C(VARCHAR), C(FLOAT_VECTOR), ...).
        Exactly one primary key, at least one vector field.
    type: list
    elements: dict
  indexes:
    description:
      - With O(fields), the indexes C({field, index_type, metric_type, params}); every vector field needs one.
    type: list
    elements: dict
  recreate:
    description:
      - Drop and recreate a collection whose fields or indexes differ. B(Deletes its data.)
    type: bool
    default: false
  load:
    description: Load the collection (searchable) after creating it, or when it is not loaded.
    type: bool
    default: true
  fail_on_difference:
    description: Fail when the collection differs and O(recreate=false). False reports the differences and succeeds.
    type: bool
    default: true
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - cnai.platform contributors
'''

EXAMPLES = r'''
- name: Ensure the knowledge_base collection (dimension of the embedding model)
  cnai.platform.milvus_collection:
    uri: http://127.0.0.1:19530
    user: root
    password: "{{ milvus_root_password }}"
    dimension: "{{ (cnai_models | cnai.platform.embedding_models | first).dimension }}"
  no_log: false

- name: Report, without failing, how an existing collection differs
  cnai.platform.milvus_collection:
    uri: http://127.0.0.1:19530
    token: "root:{{ milvus_root_password }}"
    dimension: 1024
    fail_on_difference: false
  register: kb

- name: Rebuild a collection whose dimension changed (drops its data)
  cnai.platform.milvus_collection:
    uri: http://127.0.0.1:19530
    token: "root:{{ milvus_root_password }}"
    dimension: 768
    recreate: true
'''

RETURN = r'''
collection:
  description: The collection name.
  returned: always
  type: str
actions:
  description: What was (check mode - would be) done, in order - C(drop), C(create), C(create_indexes), C(load).
  returned: always
  type: list
  elements: str
differences:
  description: How the existing collection differs from the schema (empty when it matches or did not exist).
  returned: always
  type: list
  elements: str
  sample: ["field embedding: dim is 768, want 1024"]
unverified:
  description: Wanted index parameters the server does not report back, so they could not be compared.
  returned: always
  type: list
  elements: str
schema:
  description: The wanted fields and indexes, normalized.
  returned: always
  type: dict
actual:
  description: What the server holds after the run - C(exists), C(fields), C(indexes), C(loaded).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnai.platform.plugins.module_utils.milvus_schema import MilvusSchemaError, build_spec, ensure

try:
    from pymilvus import DataType, MilvusClient
    HAS_PYMILVUS = True
    PYMILVUS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    HAS_PYMILVUS = False
    PYMILVUS_IMPORT_ERROR = exc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type='str', required=True),
            token=dict(type='str', no_log=True),
            user=dict(type='str'),
            password=dict(type='str', no_log=True),
            db_name=dict(type='str', default='default'),
            timeout=dict(type='float', default=30.0),
            name=dict(type='str', default='knowledge_base'),
            description=dict(type='str', default=''),
            dimension=dict(type='int'),
            text_max_length=dict(type='int', default=65535),
            source_max_length=dict(type='int', default=2048),
            metric_type=dict(type='str', default='COSINE', choices=['COSINE', 'IP', 'L2']),
            index_type=dict(type='str', default='HNSW', choices=['HNSW', 'IVF_FLAT', 'FLAT', 'AUTOINDEX']),
            hnsw_m=dict(type='int', default=16),
            hnsw_ef_construction=dict(type='int', default=200),
            text_index=dict(type='bool', default=True),
            fields=dict(type='list', elements='dict'),
            indexes=dict(type='list', elements='dict'),
            recreate=dict(type='bool', default=False),
            load=dict(type='bool', default=True),
            fail_on_difference=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('token', 'user'), ('token', 'password')],
        required_together=[('user', 'password')],
        required_by={'indexes': 'fields'},
        supports_check_mode=True,
    )
    p = module.params
    try:
        spec = build_spec(p)
    except MilvusSchemaError as exc:
        module.fail_json(msg='milvus_collection: %s' % exc)
    if p['timeout'] <= 0:
        module.fail_json(msg='milvus_collection: timeout must be more than 0 seconds (got %s)' % p['timeout'])
    if not HAS_PYMILVUS:
        module.fail_json(msg=missing_required_lib('pymilvus', reason='to talk to Milvus (pip install pymilvus)'),
                         exception=str(PYMILVUS_IMPORT_ERROR))
    token = p['token'] or ('%s:%s' % (p['user'], p['password']) if p['user'] else '')
    try:
        client = MilvusClient(uri=p['uri'], token=token, db_name=p['db_name'], timeout=p['timeout'])
    except Exception as exc:
        module.fail_json(msg='milvus_collection: cannot connect to Milvus at %s (uri): %s' % (p['uri'], exc))
    try:
        result = ensure(client, spec, DataType, recreate=p['recreate'], load=p['load'], check_mode=module.check_mode)
    except MilvusSchemaError as exc:
        module.fail_json(msg='milvus_collection: %s' % exc)
    except Exception as exc:
        module.fail_json(msg='milvus_collection: Milvus at %s answered: %s' % (p['uri'], exc))
    finally:
        try:
            client.close()
        except Exception:
            pass
    diff = result.pop('diff')
    if module._diff:
        result['diff'] = diff
    if result['differences'] and not result['changed'] and p['fail_on_difference']:
        module.fail_json(msg='milvus_collection: collection %s differs from the schema and was left as it is: %s. '
                             'Set recreate: true to drop and recreate it (its data is lost), or '
                             'fail_on_difference: false to only report.'
                             % (spec['name'], '; '.join(result['differences'])), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
