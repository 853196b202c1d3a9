# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform.containerd_imports through AnsibleModule: check mode, diff, mode kept, idempotence."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import tomllib
from unittest import mock

import pytest

from ansible.module_utils import _internal as _mu_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cnai.platform.plugins.modules import containerd_imports

GLOB = "/etc/containerd/conf.d/*.toml"
MAIN = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n'


def run(capsys, check_mode=False, diff=False, fail=False, **args):
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), mock.patch.object(_mu_internal, "is_controller", False):
        with pytest.raises(SystemExit) as exc:
            containerd_imports.main()
    result = json.loads(capsys.readouterr().out)
    assert (exc.value.code != 0) == fail, result
    return result


def test_adds_import_keeps_file_mode_and_is_idempotent(tmp_path, capsys):
    dest = tmp_path / "config.toml"
    dest.write_text(MAIN)
    os.chmod(dest, 0o600)
    first = run(capsys, dest=str(dest), path=GLOB)
    assert first["changed"] and first["imports_added"]
    assert dest.read_text() == 'version = 2\nimports = ["%s"]\n' % GLOB + MAIN[len("version = 2\n"):]
    assert first["target"] == str(dest)
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


def test_symlink_is_followed_and_kept(tmp_path, capsys):
    real = tmp_path / "real" / "config.toml"
    real.parent.mkdir()
    real.write_text(MAIN)
    os.chmod(real, 0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    result = run(capsys, dest=str(link), path=GLOB, backup=True)
    assert result["changed"] and result["target"] == str(real)
    assert os.path.islink(link) and os.readlink(link) == str(real)
    assert 'imports = ["%s"]' % GLOB in real.read_text()
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640
    assert os.path.dirname(result["backup_file"]) == str(real.parent)
    assert not run(capsys, dest=str(link), path=GLOB)["changed"]


def test_write_is_atomic_and_keeps_owner_and_mode(tmp_path, capsys):
    """A new inode replaces the file (rename), with the old file's mode and owner; no temp file is left."""
    dest = tmp_path / "config.toml"
    dest.write_text(MAIN)
    os.chmod(dest, 0o604)
    if os.geteuid() == 0:
        os.chown(dest, 1234, 2345)
    before = os.stat(dest)
    renamed = []
    real_rename = os.rename

    def spy(src, dst):
        renamed.append((os.path.dirname(os.fsdecode(src)), os.fsdecode(dst)))
        return real_rename(src, dst)
    with mock.patch("os.rename", spy):
        assert run(capsys, dest=str(dest), path=GLOB)["changed"]
    after = os.stat(dest)
    assert renamed == [(str(tmp_path), str(dest))]      # temp file in the same directory, renamed over it
    assert after.st_ino != before.st_ino
    assert stat.S_IMODE(after.st_mode) == 0o604
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]


def test_quote_in_path_gives_valid_toml(tmp_path, capsys):
    dest = tmp_path / "config.toml"
    dest.write_text(MAIN)
    odd = '/etc/con"tainerd/conf.d/*.toml'
    run(capsys, dest=str(dest), path=odd)
    assert tomllib.loads(dest.read_text())["imports"] == [odd]


@pytest.mark.parametrize("content,match", [
    (b"version = 2\n[plugins\n", "is not valid TOML"),
    (b"version = 1\n", "says version = 1"),
    (b'root = "/x"\n', "no top-level version line"),
    (b"version = 2\nroot = \"\xfe\"\n", "is not UTF-8 (byte 0xfe at offset 20)"),
])
def test_bad_files_are_refused_and_left_alone(tmp_path, capsys, content, match):
    dest = tmp_path / "config.toml"
    dest.write_bytes(content)
    result = run(capsys, fail=True, dest=str(dest), path=GLOB)
    assert result["msg"].startswith(str(dest) + ": ")
    assert match in result["msg"]
    assert dest.read_bytes() == content
    assert os.listdir(tmp_path) == ["config.toml"]


def test_directory_fifo_and_unreadable_are_refused(tmp_path, capsys):
    result = run(capsys, fail=True, dest=str(tmp_path), path=GLOB)
    assert "is a directory, not a regular file" in result["msg"]
    fifo = tmp_path / "config.toml"
    os.mkfifo(str(fifo))
    result = run(capsys, fail=True, dest=str(fifo), path=GLOB)
    assert "is a FIFO, not a regular file" in result["msg"]
    fifo.unlink()
    fifo.write_text(MAIN)
    real_open = open

    def denied(name, *args, **kwargs):
        if str(name) == str(fifo):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)
    with mock.patch("builtins.open", denied):
        result = run(capsys, fail=True, dest=str(fifo), path=GLOB)
    assert "cannot read" in result["msg"] and "Permission denied" in result["msg"] and "become" in result["msg"]


def test_unknown_config_version_option_is_refused(tmp_path, capsys):
    result = run(capsys, fail=True, dest=str(tmp_path / "c.toml"), path=GLOB, config_version=4)
    assert "config_version" in result["msg"] and "2, 3" in result["msg"]


def test_check_mode_on_a_missing_file_creates_nothing(tmp_path, capsys):
    dest = tmp_path / "etc" / "config.toml"
    result = run(capsys, check_mode=True, diff=True, dest=str(dest), path=GLOB)
    assert result["changed"] and result["diff"]["before"] == ""
    assert tomllib.loads(result["diff"]["after"]) == {"version": 2, "imports": [GLOB]}
    assert not (tmp_path / "etc").exists()
