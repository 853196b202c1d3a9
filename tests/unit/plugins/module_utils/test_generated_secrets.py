# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets generated once and kept: given > existing > generated > error."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import random

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.generated_secrets import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils import generated_secrets as gs


def b64(text):
    return base64.b64encode(text.encode()).decode()


def dec(value):
    return base64.b64decode(value).decode()


def test_absent_secret_generates_and_fixed_values_are_written():
    out = gs.secret_data([], {'username': 'ai-gateway', 'password': {'generate': 32}})
    assert dec(out['data']['username']) == 'ai-gateway'
    password = dec(out['data']['password'])
    assert len(password) == 32 and set(password) <= set(gs.ALPHABET)
    assert out['generated'] == ['password'] and out['given'] == ['username'] and out['kept'] == []


def test_existing_value_is_kept_byte_for_byte():
    existing = {'data': {'password': b64('old-password-123'), 'other': b64('x')}}
    out = gs.secret_data([existing], {'password': {'generate': 32}})
    assert out['data'] == {'password': b64('old-password-123')}
    assert out['kept'] == ['password'] and out['generated'] == []


def test_given_value_wins_over_existing():
    existing = {'data': {'password': b64('old-password-123')}}
    out = gs.secret_data(existing, {'password': {'value': 'from-vault-456789', 'generate': 32}})
    assert dec(out['data']['password']) == 'from-vault-456789'
    assert out['given'] == ['password']


def test_generated_values_differ_and_use_the_rng():
    a = gs.secret_data(None, {'p': {'generate': 24}}, rng=random.Random(1))
    b = gs.secret_data(None, {'p': {'generate': 24}}, rng=random.Random(1))
    c = gs.secret_data(None, {'p': {'generate': 24}})
    assert a['data'] == b['data'] != c['data']


def test_result_lists_hold_names_not_values():
    out = gs.secret_data(None, {'password': {'value': 'sekret-value-1234'}})
    assert 'sekret-value-1234' not in repr({k: v for k, v in out.items() if k != 'data'})


@pytest.mark.parametrize('spec, message', [
    ({'password': {}}, 'Secret key password has no value'),
    ({'password': {'generate': 8}}, 'between 16 and 256'),
    ({'password': {'generate': 'long'}}, 'generate must be a length'),
    ({'password': {'value': 5}}, 'value must be a string'),
    ({'password': {'size': 5}}, 'give a string'),
    ({'bad key': 'x'}, 'keys are made of'),
    ({}, 'at least one key'),
])
def test_bad_specs_name_the_key(spec, message):
    with pytest.raises(gs.SecretSpecError, match=message):
        gs.secret_data(None, spec)


def test_filter_wraps_errors():
    with pytest.raises(AnsibleFilterError, match='has no value'):
        FilterModule().filters()['secret_data']([], {'password': ''})


def test_manifest():
    m = gs.secret_manifest('s', 'ns', {'a': b64('1')}, 'kubernetes.io/basic-auth', {'l': 'v'})
    assert m == {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'kubernetes.io/basic-auth',
                 'metadata': {'name': 's', 'namespace': 'ns', 'labels': {'l': 'v'}}, 'data': {'a': b64('1')}}
