# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Executables on PATH or by path, and the output directory (module_utils/platform_paths.py + its filters)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.platform_paths import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils import platform_paths as pp


def _exe(path, mode=0o755):
    path.write_text('#!/bin/sh\necho ok\n')
    path.chmod(mode)
    return str(path)


def test_bare_name_is_found_on_path(tmp_path):
    helm = _exe(tmp_path / 'helm')
    assert pp.resolve_binary('helm', 'cnai_helm_binary', path=str(tmp_path)) == helm


def test_empty_uses_the_default_name_on_path(tmp_path):
    helm = _exe(tmp_path / 'helm')
    assert pp.resolve_binary('', 'gpu_operator_helm_binary', default_name='helm', path=str(tmp_path)) == helm
    assert pp.resolve_binary(None, 'x', default_name='helm', path=str(tmp_path)) == helm


def test_absolute_relative_and_home_paths(tmp_path, monkeypatch):
    helm = _exe(tmp_path / 'helm')
    assert pp.resolve_binary(helm, 'cnai_helm_binary') == helm
    monkeypatch.chdir(tmp_path)
    assert pp.resolve_binary('./helm', 'cnai_helm_binary') == helm
    monkeypatch.setenv('HOME', str(tmp_path))
    assert pp.resolve_binary('~/helm', 'cnai_helm_binary') == helm


def test_missing_binary_names_the_variable(tmp_path):
    with pytest.raises(pp.BinaryError, match=r"cnai_helm_binary: 'helm' is not an executable file "
                                             r"\(looked it up on PATH .*Set cnai_helm_binary"):
        pp.resolve_binary('helm', 'cnai_helm_binary', path=str(tmp_path))
    with pytest.raises(pp.BinaryError, match=r"'/nope/helm' is not an executable file \(looked it up on the path\)"):
        pp.resolve_binary('/nope/helm', 'cnai_helm_binary')
    with pytest.raises(pp.BinaryError, match='cnai_helm_binary is empty'):
        pp.resolve_binary('', 'cnai_helm_binary')


def test_a_file_that_is_not_executable_or_a_directory_is_refused(tmp_path):
    plain = _exe(tmp_path / 'helm', mode=0o644)
    with pytest.raises(pp.BinaryError, match='not an executable file'):
        pp.resolve_binary(plain, 'cnai_helm_binary')
    with pytest.raises(pp.BinaryError, match='not an executable file'):
        pp.resolve_binary(str(tmp_path), 'cnai_helm_binary')
    assert not os.stat(plain).st_mode & stat.S_IXUSR


def test_hint_is_appended(tmp_path):
    with pytest.raises(pp.BinaryError, match='; make up builds it$'):
        pp.resolve_binary('helm', 'v', path=str(tmp_path), hint='make up builds it')


def test_output_dir_default_relative_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert pp.output_dir() == str(tmp_path / 'cnai-output')
    assert pp.output_dir('', 'plan') == str(tmp_path / 'cnai-output' / 'plan')
    assert pp.output_dir(None, 'render') == str(tmp_path / 'cnai-output' / 'render')
    assert pp.output_dir('out/../site', 'plan') == str(tmp_path / 'site' / 'plan')
    assert pp.output_dir('/srv/cnai/', 'render') == '/srv/cnai/render'
    assert pp.output_dir('rel', cwd='/base') == '/base/rel'
    monkeypatch.setenv('HOME', '/home/ops')
    assert pp.output_dir('~/cnai') == '/home/ops/cnai'


def test_filters(tmp_path, monkeypatch):
    filters = FilterModule().filters()
    monkeypatch.chdir(tmp_path)
    assert filters['output_dir']('', 'plan') == str(tmp_path / 'cnai-output' / 'plan')
    helm = _exe(tmp_path / 'helm')
    monkeypatch.setenv('PATH', str(tmp_path))
    assert filters['binary_path']('helm', 'cnai_helm_binary') == helm
    assert filters['binary_path']('', 'gpu_operator_helm_binary', 'helm') == helm
    with pytest.raises(AnsibleFilterError, match=r"gpu_operator_helm_binary \(inventory: cnai_helm_binary\): 'kustomize'"):
        filters['binary_path']('kustomize', 'gpu_operator_helm_binary (inventory: cnai_helm_binary)')
