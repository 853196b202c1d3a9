# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.cnai.platform.plugins.module_utils.milvus_upgrade import MilvusUpgradeError, check, parse


def test_parse():
    assert parse('v2.6.15') == (2, 6, 15)
    assert parse('2.5.16-gpu') == (2, 5, 16)
    assert parse('latest') is None and parse(None) is None and parse('sha256:abc') is None


@pytest.mark.parametrize('installed', [[], ['2.6.15'], ['v2.6.3'], ['2.5.16'], ['v2.5.20', 'latest'], ['2.6.0', '2.6.15']])
def test_allowed(installed):
    out = check(installed, '2.6.15')
    assert out['target'] == '2.6.15'


def test_first_install_is_not_an_upgrade():
    assert check([], 'v2.6.15') == {'installed': [], 'target': '2.6.15', 'upgrade': False}
    assert check(['v2.5.18'], 'v2.6.15')['upgrade'] is True


@pytest.mark.parametrize('installed, path', [
    ('v2.4.17', '2.4.17 -> 2.5.16 or later 2.5.x -> 2.6.15'),
    ('2.5.4', '2.5.4 -> 2.5.16 or later 2.5.x -> 2.6.15'),
    ('2.3.22', '2.3.22 -> 2.4.x (latest patch) -> 2.5.16 or later 2.5.x -> 2.6.15'),
])
def test_refused_with_path(installed, path):
    with pytest.raises(MilvusUpgradeError) as err:
        check([installed], 'v2.6.15')
    msg = str(err.value)
    assert 'not supported' in msg and 'Supported path: ' + path in msg and 'Nothing was changed' in msg


def test_downgrade_refused():
    with pytest.raises(MilvusUpgradeError) as err:
        check(['2.6.15'], '2.5.16')
    assert 'downgrade' in str(err.value)
    with pytest.raises(MilvusUpgradeError):
        check(['2.6.16'], '2.6.15')


def test_major_and_bad_target():
    with pytest.raises(MilvusUpgradeError) as err:
        check(['1.1.1'], '2.6.15')
    assert 'milvus-migration' in str(err.value)
    with pytest.raises(MilvusUpgradeError) as err:
        check([], 'latest')
    assert 'not a Milvus version' in str(err.value)
