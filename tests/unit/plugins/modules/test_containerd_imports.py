# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform.containerd_imports through AnsibleModule: check mode, diff, mode kept, idempotence."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
from unittest import mock

import pytest

from ansible.module_utils import _internal as _mu_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cnai.platform.plugins.modules import containerd_imports

GLOB = "/etc/containerd/conf.d/*.toml"
MAIN = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n'


def run(capsys, check_mode=False, diff=False, **args):
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), mock.patch.object(_mu_internal, "is_controller", False):
        with pytest.raises(SystemExit) as exc:
            containerd_imports.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0, result
    return result


def test_adds_import_keeps_file_mode_and_is_idempotent(tmp_path, capsys):
    dest = tmp_path / "config.toml"
    dest.write_text(MAIN)
    os.chmod(dest, 0o600)
    first = run(capsys, dest=str(dest), path=GLOB)
    assert first["changed"] and first["imports_added"]
    assert dest.read_text() == 'version = 2\nimports = ["%s"]\n' % GLOB + MAIN[len("version = 2\n"):]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    second = run(capsys, dest=str(dest), path=GLOB)
    assert not second["changed"]


def test_check_mode_reports_but_does_not_write_and_gives_a_diff(tmp_path, capsys):
    dest = tmp_path / "config.toml"
    dest.write_text(MAIN)
    result = run(capsys, check_mode=True, diff=True, dest=str(dest), path=GLOB)
    assert result["changed"]
    assert dest.read_text() == MAIN
    assert 'imports = ["%s"]' % GLOB in result["diff"]["after"]
    assert result["diff"]["before"] == MAIN


def test_missing_file_is_created_with_schema_version(tmp_path, capsys):
    dest = tmp_path / "etc" / "containerd" / "config.toml"
    result = run(capsys, dest=str(dest), path=GLOB, config_version=3)
    assert result["changed"]
    assert dest.read_text() == 'version = 3\nimports = ["%s"]\n' % GLOB
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644


def test_backup(tmp_path, capsys):
    dest = tmp_path / "config.toml"
    dest.write_text(MAIN)
    result = run(capsys, dest=str(dest), path=GLOB, backup=True)
    assert os.path.exists(result["backup_file"])
    with open(result["backup_file"]) as handle:
        assert handle.read() == MAIN
