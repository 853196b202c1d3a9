# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.cnai.platform.plugins.module_utils.inputs import integer


class Bad(Exception):
    pass


@pytest.mark.parametrize('value, expected', [(3, 3), ('3', 3), (3.0, 3), (0, 0), ('-2', -2)])
def test_integral_values_pass(value, expected):
    assert integer(value, 'x') == expected


@pytest.mark.parametrize('value', [True, False, 2.5, '2.5', 'two', None, [], {}])
def test_other_values_name_the_setting(value):
    with pytest.raises(Bad, match=r'^replicas must be an integer, got '):
        integer(value, 'replicas', error=Bad)


def test_bounds_are_inclusive_and_named():
    assert integer(1, 'port', 1, 65535) == 1 and integer('65535', 'port', 1, 65535) == 65535
    with pytest.raises(Bad, match=r'^port must be >= 1, got 0$'):
        integer(0, 'port', 1, 65535, error=Bad)
    with pytest.raises(Bad, match=r'^port must be <= 65535, got 65536$'):
        integer(65536, 'port', 1, 65535, error=Bad)


def test_default_error_is_value_error():
    with pytest.raises(ValueError):
        integer('x', 'n')
