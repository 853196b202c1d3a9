# -*- coding: utf-8 -*-
"""containerd drop-in logic of the container_toolkit role (runs for real in Molecule on containerd 1.6)."""

from __future__ import absolute_import, division, print_function

import tomllib

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import containerd_config as cc

GLOB = "/etc/containerd/conf.d/*.toml"

KUBESPRAY_LIKE = """\
# Kubespray-style main config: no imports line
version = 2
root = "/var/lib/containerd"
oom_score = 0

[grpc]
  max_recv_message_size = 16777216

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["https://mirror.example:5000"]
"""


def test_ensure_import_adds_at_the_top_level_and_keeps_the_rest():
    out, changed = cc.ensure_import(KUBESPRAY_LIKE, GLOB)
    assert changed
    # added after the last top-level key, before the first table; every other byte kept
    assert out == KUBESPRAY_LIKE.replace('oom_score = 0\n', 'oom_score = 0\nimports = ["%s"]\n' % GLOB)
    again, changed = cc.ensure_import(out, GLOB)
    assert not changed and again == out
    assert tomllib.loads(out)["imports"] == [GLOB]


def test_ensure_import_appends_to_existing_multiline_list_keeping_its_layout():
    text = 'version = 2\nimports = [\n  "/etc/a.toml",\n  \'/etc/b/*.toml\',\n]\n\n[grpc]\n  x = 1\n'
    out, changed = cc.ensure_import(text, GLOB)
    assert changed
    assert tomllib.loads(out)["imports"] == ["/etc/a.toml", "/etc/b/*.toml", GLOB]
    assert out == text.replace("\'/etc/b/*.toml\',\n", "\'/etc/b/*.toml\',\n  \"%s\",\n" % GLOB)


def test_ensure_import_ignores_imports_key_inside_tables():
    text = 'version = 2\n[plugins.x]\n  imports = ["nope"]\n'
    out, changed = cc.ensure_import(text, GLOB)
    assert changed and out.startswith('version = 2\nimports = ["%s"]\n[plugins.x]' % GLOB)
    data = tomllib.loads(out)
    assert data["imports"] == [GLOB] and data["plugins"]["x"]["imports"] == ["nope"]


def test_ensure_import_empty_file_gets_version():
    out, changed = cc.ensure_import("", GLOB, 3)
    assert changed and tomllib.loads(out) == {"version": 3, "imports": [GLOB]}
    out, changed = cc.ensure_import(None, GLOB, 2)
    assert changed and tomllib.loads(out) == {"version": 2, "imports": [GLOB]}


@pytest.mark.parametrize("path", ['/etc/con"tainerd/*.toml', '/etc/back\\slash/*.toml', "/etc/it's/*.toml",
                                  "/etc/tab\there", "/etc/ünïcode/*.toml"])
def test_paths_with_quotes_and_escapes_make_valid_toml(path):
    for text in ("", KUBESPRAY_LIKE, 'version = 2\nimports = ["/a"]\n'):
        out, changed = cc.ensure_import(text, path)
        assert changed
        assert tomllib.loads(out)["imports"][-1] == path
        assert cc.ensure_import(out, path) == (out, False)


@pytest.mark.parametrize("text,match", [
    ("version = 2\n[plugins\n", r"not valid TOML \(.*line 2"),
    ('version = 2\nimports = ["/a"\n', "not valid TOML"),
    ("version = 2\nversion = 3\n", "not valid TOML"),
    ("version = 2\n= 3\n", "not valid TOML"),
    ('root = "/var/lib/containerd"\n', "no top-level version line, so containerd reads it as schema 1"),
    ("# only a comment\n", "no top-level version line"),
    ("version = 1\n", "says version = 1: this module knows schema 2 .*and 3"),
    ("version = 4\n", "says version = 4"),
    ('version = "2"\n', 'says version = "2"'),
    ("version = true\n", "says version = true"),
    ('version = 2\nimports = "/etc/a.toml"\n', "imports is not a list of strings"),
    ("version = 2\nimports = [1, 2]\n", "imports is not a list of strings"),
])
def test_ensure_import_refuses_bad_files(text, match):
    with pytest.raises(cc.ContainerdConfigError, match=match) as e:
        cc.ensure_import(text, GLOB)
    assert "Nothing was changed" in str(e.value)


@pytest.mark.parametrize("version", [1, 4, 0])
def test_ensure_import_refuses_unknown_config_version_for_a_new_file(version):
    with pytest.raises(cc.ContainerdConfigError, match="config_version %d is not one this module knows" % version):
        cc.ensure_import("", GLOB, version)


def test_ensure_import_refuses_an_empty_path():
    with pytest.raises(cc.ContainerdConfigError, match="non-empty string"):
        cc.ensure_import("version = 2\n", "")


def test_read_config_cases(tmp_path):
    missing = tmp_path / "nope.toml"
    assert cc.read_config(str(missing)) == (str(missing), None, None)
    f = tmp_path / "config.toml"
    f.write_text("version = 2\n")
    real, text, st = cc.read_config(str(f))
    assert (real, text, st.st_size) == (str(f), "version = 2\n", 12)
    link = tmp_path / "link.toml"
    link.symlink_to(f)
    assert cc.read_config(str(link))[:2] == (str(f), "version = 2\n")
    dangling = tmp_path / "dangling.toml"
    dangling.symlink_to(tmp_path / "target-to-be.toml")
    assert cc.read_config(str(dangling)) == (str(tmp_path / "target-to-be.toml"), None, None)


def test_read_config_refuses_directories_fifos_and_links_to_them(tmp_path):
    import os
    with pytest.raises(cc.ContainerdConfigError, match=r"is a directory, not a regular file.*nothing was changed"):
        cc.read_config(str(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    with pytest.raises(cc.ContainerdConfigError, match=r"fifo is a FIFO, not a regular file"):
        cc.read_config(str(fifo))   # must not block: a FIFO is never opened
    link = tmp_path / "link"
    link.symlink_to(fifo)
    with pytest.raises(cc.ContainerdConfigError, match=r"fifo \(the target of .*link\) is a FIFO"):
        cc.read_config(str(link))


def test_read_config_refuses_non_utf8_and_unreadable(tmp_path, monkeypatch):
    f = tmp_path / "config.toml"
    f.write_bytes(b'version = 2\nroot = "/var/\xff"\n')
    with pytest.raises(cc.ContainerdConfigError, match=r"is not UTF-8 \(byte 0xff at offset 25\)"):
        cc.read_config(str(f))
    f.write_text("version = 2\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(cc.ContainerdConfigError, match=r"cannot read .*Permission denied.*become: true"):
        cc.read_config(str(f))


def test_dropin_carries_main_cri_table_plus_runtime():
    text = cc.nvidia_dropin(KUBESPRAY_LIKE)
    data = tomllib.loads(text)
    cri = data["plugins"]["io.containerd.grpc.v1.cri"]
    assert data["version"] == 2
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    assert cri["registry"]["mirrors"]["docker.io"]["endpoint"] == ["https://mirror.example:5000"]
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    nvidia = cri["containerd"]["runtimes"]["nvidia"]
    assert nvidia == {"runtime_type": "io.containerd.runc.v2",
                      "options": {"BinaryName": "/usr/bin/nvidia-container-runtime", "SystemdCgroup": True}}
    assert cri["containerd"]["default_runtime_name"] == "runc"
    assert text.startswith("# Managed by Ansible")
    # deterministic: same input, same bytes (idempotent template)
    assert cc.nvidia_dropin(KUBESPRAY_LIKE) == text


DEFAULTS_16 = """\
version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
"""

DEBIAN_MAIN = """\
version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
"""


def test_dropin_keeps_defaults_the_section_replacement_would_drop():
    # Seen on containerd 1.6.20 (Debian 12): a drop-in holding only runtimes.nvidia made the
    # effective config lose the runc runtime and Debian's cni bin_dir. The drop-in must carry both.
    data = tomllib.loads(cc.nvidia_dropin(DEBIAN_MAIN, DEFAULTS_16))
    cri = data["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni"            # main wins over defaults
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.6"  # defaults kept
    assert set(cri["containerd"]["runtimes"]) == {"runc", "nvidia"}
    assert cri["containerd"]["runtimes"]["nvidia"]["options"]["SystemdCgroup"] is False


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1, "c": {"d": 2}}}
    out = cc.deep_merge(base, {"a": {"c": {"e": 3}}, "f": [1]})
    assert out == {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": [1]}
    assert base == {"a": {"b": 1, "c": {"d": 2}}}


def test_dropin_default_runtime_and_v3_schema():
    text = cc.nvidia_dropin("", set_default=True, config_version=3, binary="/opt/nv/runtime")
    data = tomllib.loads(text)
    cri = data["plugins"]["io.containerd.cri.v1.runtime"]
    assert data["version"] == 3
    assert cri["containerd"]["default_runtime_name"] == "nvidia"
    assert cri["containerd"]["runtimes"]["nvidia"]["options"] == {"BinaryName": "/opt/nv/runtime"}


def test_dropin_refuses_version_1_and_bad_toml():
    with pytest.raises(cc.ContainerdConfigError, match="version 2"):
        cc.nvidia_dropin("version = 1\n")
    with pytest.raises(cc.ContainerdConfigError, match="not valid TOML"):
        cc.nvidia_dropin("[plugins\n")


def test_runtime_from_dump_detects_removal():
    merged = KUBESPRAY_LIKE + '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n' \
                              '  runtime_type = "io.containerd.runc.v2"\n'
    assert cc.runtime_from_config(merged)["runtime_type"] == "io.containerd.runc.v2"
    assert cc.runtime_from_config(KUBESPRAY_LIKE) is None
    v3 = 'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.nvidia]\n  runtime_type = "x"\n'
    assert cc.runtime_from_config(v3) == {"runtime_type": "x"}


def test_imports_of():
    assert cc.imports_of(KUBESPRAY_LIKE) == []
    assert cc.imports_of('version = 2\nimports = ["/a"]\n') == ["/a"]
    assert cc.imports_of(cc.ensure_import(KUBESPRAY_LIKE, GLOB)[0]) == [GLOB]


@pytest.mark.parametrize("version,expected", [("1.6.20~ds1", 2), ("containerd github.com/containerd/containerd v1.7.22", 2),
                                              ("v2.0.5", 3), ("2.1.0", 3)])
def test_config_version_for(version, expected):
    assert cc.config_version_for(version) == expected


def test_config_version_for_garbage():
    with pytest.raises(cc.ContainerdConfigError):
        cc.config_version_for("unknown")


def test_k3s_template_keeps_base_and_adds_runtime():
    tmpl = cc.k3s_template()
    assert '{{ template "base" . }}' in tmpl
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia"]' in tmpl
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in tmpl
    v3 = cc.k3s_template(config_version=3, set_default=True)
    assert '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes."nvidia"]' in v3
    assert 'default_runtime_name = "nvidia"' in v3


def test_runtime_paths():
    assert cc.runtime_paths("k3s")["template"].endswith("/k3s/agent/etc/containerd/config.toml.tmpl")
    assert cc.runtime_paths("rke2", 3)["template"].endswith("/rke2/agent/etc/containerd/config-v3.toml.tmpl")
    assert cc.runtime_paths("containerd")["dropin_dir"] == "/etc/containerd/conf.d"
    with pytest.raises(cc.ContainerdConfigError):
        cc.runtime_paths("cri-o")


def test_dumps_quotes_and_nests():
    out = cc.dumps({"a": {"b.c": {"x": [1, "two", True]}, "y": 1.5}})
    assert tomllib.loads(out) == {"a": {"b.c": {"x": [1, "two", True]}, "y": 1.5}}
    assert '[a."b.c"]' in out
