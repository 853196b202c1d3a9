# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd configuration for the NVIDIA runtime, as pure functions (role container_toolkit).

Why the drop-in carries the whole CRI plugin table: containerd merges imported files section by
section, not key by key (containerd/containerd#5837). A drop-in that only added
``[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]`` would replace the main file's
CRI settings (sandbox image, SystemdCgroup, registry mirrors). So the drop-in is derived, on every
run, from the CRI table of the main config plus the nvidia runtime. When another installer
(Kubespray, kubeadm scripts) rewrites the main config, the next run re-derives the drop-in and
re-adds the ``imports`` line: the runtime is restored without overwriting what they wrote.

read_config() and ensure_import() run on the managed host (module containerd_imports, Python 3 with the
tomlkit library, which parses and edits TOML keeping its formatting); the TOML parsing functions of the
filters run on the controller, where Python >= 3.11 provides tomllib.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

CRI_V2 = "io.containerd.grpc.v1.cri"       # config version 2 (containerd 1.x)
CRI_V3 = "io.containerd.cri.v1.runtime"    # config version 3 (containerd 2.x)
DEFAULT_DROPIN_DIR = "/etc/containerd/conf.d"

RUNTIME_PATHS = {
    "containerd": {
        "config": "/etc/containerd/config.toml", "dropin_dir": DEFAULT_DROPIN_DIR, "service": "containerd",
    },
    "k3s": {
        "template_v2": "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
        "template_v3": "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl",
        "service": "k3s",
    },
    "rke2": {
        "template_v2": "/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl",
        "template_v3": "/var/lib/rancher/rke2/agent/etc/containerd/config-v3.toml.tmpl",
        "service": "rke2-server",
    },
}

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ContainerdConfigError(ValueError):
    """The configuration cannot be handled; the message says what to change."""


def config_version_for(containerd_version):
    """Config schema to write for a containerd release: 2.x -> 3, 1.x -> 2."""
    m = re.search(r"(\d+)\.(\d+)", str(containerd_version or ""))
    if not m:
        raise ContainerdConfigError("cannot read a containerd version from %r" % containerd_version)
    return 3 if int(m.group(1)) >= 2 else 2


def cri_key(config_version):
    return CRI_V3 if int(config_version) >= 3 else CRI_V2


KNOWN_CONFIG_VERSIONS = (2, 3)


def _tomlkit():
    try:
        import tomlkit
    except ImportError:
        raise ContainerdConfigError(
            "the Python library tomlkit is needed on this host to edit the containerd config (it keeps the file's "
            "formatting): install python3-tomlkit (apt or dnf) or `pip install tomlkit` for the Python Ansible uses")
    return tomlkit


def _toml_error(exc):
    line, col = getattr(exc, "line", None), getattr(exc, "col", None)
    where = " at line %s, column %s" % (line, col) if line is not None else ""
    return "%s%s" % (str(exc).split(" at line ", maxsplit=1)[0], where)


def _shown(item):
    if isinstance(item, bool):
        return "true" if item else "false"
    return item.as_string().strip() if hasattr(item, "as_string") else repr(item)


def _plain(value):
    """A tomlkit document or item as plain Python values (tomlkit < 0.11 has no unwrap())."""
    if hasattr(value, "unwrap"):
        return value.unwrap()
    if hasattr(value, "items"):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if not isinstance(value, (str, int, float)) and hasattr(value, "value"):
        return value.value
    return value


def read_config(path):
    """Read a containerd config for editing: ``(real_path, text, stat)``; ``text`` None when it does not exist.

    Symlinks are followed (the target is what gets edited; the link stays). A directory, FIFO, socket or
    device, a file that cannot be read and bytes that are not UTF-8 are a ContainerdConfigError saying so.
    Never opens anything but a regular file (opening a FIFO would block).
    """
    import os
    import stat as stat_mod
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        if not os.path.lexists(real):
            return real, None, None
        raise ContainerdConfigError("cannot stat %s: %s" % (real, exc))
    if not stat_mod.S_ISREG(st.st_mode):
        kind = ("a directory" if stat_mod.S_ISDIR(st.st_mode) else "a FIFO" if stat_mod.S_ISFIFO(st.st_mode)
                else "a socket" if stat_mod.S_ISSOCK(st.st_mode) else "a device" if
                (stat_mod.S_ISCHR(st.st_mode) or stat_mod.S_ISBLK(st.st_mode)) else "not a regular file")
        shown = real if real == path else "%s (the target of %s)" % (real, path)
        raise ContainerdConfigError("%s is %s, not a regular file: point dest at containerd's config.toml; nothing "
                                    "was changed" % (shown, kind))
    try:
        with open(real, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise ContainerdConfigError("cannot read %s: %s. Run the task with become: true or fix the file's "
                                    "permissions; nothing was changed" % (real, exc))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContainerdConfigError("%s is not UTF-8 (byte 0x%02x at offset %d): containerd reads TOML, which must be "
                                    "UTF-8. Fix or regenerate the file (containerd config default); nothing was "
                                    "changed" % (real, data[exc.start], exc.start))
    return real, text, st


def ensure_import(text, path, config_version=2):
    """Return (new_text, changed): text with `path` in the top-level ``imports`` list.

    The file is parsed and edited with tomlkit, which keeps comments, order and layout: only the
    ``imports`` array changes (appended to, or added after the last top-level key). An empty or missing
    file becomes ``version = N`` plus ``imports``. Refused with ContainerdConfigError, changing nothing:
    text that is not valid TOML, a non-empty file without ``version`` (containerd would read it as schema
    1, which has another layout), a ``version`` other than 2 or 3, and an ``imports`` that is not a list of
    strings. The result is parsed again and must differ from the input only by the new entry.
    """
    tomlkit = _tomlkit()
    if not isinstance(path, str) or not path:
        raise ContainerdConfigError("the import path must be a non-empty string, not %r" % (path,))
    if int(config_version) not in KNOWN_CONFIG_VERSIONS:
        raise ContainerdConfigError("config_version %r is not one this module knows: 2 (containerd 1.x) or 3 "
                                    "(containerd 2.x)" % (config_version,))
    if text is None or not text.strip():
        doc = tomlkit.document()
        doc.add("version", int(config_version))
        doc.add("imports", [path])
        return tomlkit.dumps(doc), True
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises ParseError subclasses; any failure means not TOML
        raise ContainerdConfigError("the containerd config is not valid TOML (%s); fix it, or restore it from a "
                                    "backup, before this role edits it. Nothing was changed" % _toml_error(exc))
    version = doc.get("version")
    if version is None:
        raise ContainerdConfigError(
            "the containerd config has no top-level version line, so containerd reads it as schema 1, whose layout "
            "the drop-ins do not use: add version = 2 (containerd 1.x) or version = 3 (containerd 2.x) after "
            "checking the file, or regenerate it with containerd config default. Nothing was changed")
    if isinstance(version, bool) or not isinstance(version, int) or int(version) not in KNOWN_CONFIG_VERSIONS:
        raise ContainerdConfigError(
            "the containerd config says version = %s: this module knows schema 2 (containerd 1.x) and 3 "
            "(containerd 2.x); schema 1 has no imports. Regenerate the file with containerd config default or "
            "migrate it (containerd config migrate). Nothing was changed" % _shown(version))
    imports = doc.get("imports")
    if imports is not None:
        if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
            raise ContainerdConfigError("the containerd config's top-level imports is not a list of strings (%s); "
                                        "fix it by hand. Nothing was changed" % _shown(imports))
        if path in [str(i) for i in imports]:
            return text, False
        imports.append(path)
    else:
        doc.add("imports", [path])
    out = tomlkit.dumps(doc)
    before, after = _plain(tomlkit.parse(text)), _plain(tomlkit.parse(out))
    expected = dict(before)
    expected["imports"] = list(before.get("imports", [])) + [path]
    if after != expected:  # pragma: no cover - a tomlkit defect; refuse rather than write it
        raise ContainerdConfigError("editing the containerd config with tomlkit changed more than the imports line; "
                                    "nothing was changed")
    return out, True


def _loads(text):
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python < 3.11 on the controller
        raise ContainerdConfigError("parsing containerd TOML needs Python >= 3.11 (tomllib) on the controller")
    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError as exc:
        raise ContainerdConfigError("containerd config is not valid TOML: %s" % exc)


def _key(k):
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (_key(k), _value(x)) for k, x in v.items()) + "}"
    raise ContainerdConfigError("cannot write %r (%s) as TOML" % (v, type(v).__name__))


def dumps(data, _prefix=()):
    """A small, deterministic TOML writer for containerd's shapes (tables, scalars, lists)."""
    out, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            out.append("%s = %s\n" % (_key(k), _value(v)))
    for k, v in tables:
        path = _prefix + (k,)
        has_scalars = any(not isinstance(x, dict) for x in v.values())
        if has_scalars or not v:
            out.append("\n[%s]\n" % ".".join(_key(p) for p in path))
        out.append(dumps(v, path))
    return "".join(out)


def deep_merge(base, override):
    """A copy of base with override merged in, table by table (how containerd decodes one file)."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def nvidia_dropin(main_text, default_text="", runtime_name="nvidia", binary="/usr/bin/nvidia-container-runtime",
                  set_default=False, config_version=None, marker="Managed by Ansible (cnai.platform.container_toolkit)"):
    """The drop-in TOML: the CRI table as the main config alone makes it, plus the NVIDIA runtime.

    default_text: the output of `containerd config default` for the installed containerd. The main
    file's CRI table is merged over those defaults first, because the drop-in's table replaces the
    whole section: without them the default runc runtime and unset defaults would be lost.
    config_version: the schema when the main file does not say (2 for containerd 1.x, 3 for 2.x).
    """
    main = _loads(main_text)
    defaults = _loads(default_text)
    version = int(main.get("version", defaults.get("version", config_version or 2)))
    if version < 2:
        raise ContainerdConfigError(
            "the main containerd config uses schema version %d; imports need version 2 or later: "
            "regenerate it with `containerd config default` or set version = 2" % version)
    key = cri_key(version)
    cri = deep_merge(defaults.get("plugins", {}).get(key, {}), main.get("plugins", {}).get(key, {}))
    ctr = cri.setdefault("containerd", {})
    runtimes = ctr.setdefault("runtimes", {})
    runc_opts = runtimes.get("runc", {}).get("options", {})
    options = {"BinaryName": binary}
    if "SystemdCgroup" in runc_opts:
        options["SystemdCgroup"] = runc_opts["SystemdCgroup"]
    runtime = {"runtime_type": "io.containerd.runc.v2", "options": options}
    runtimes[runtime_name] = runtime
    if set_default:
        ctr["default_runtime_name"] = runtime_name
    body = dumps({"version": version, "plugins": {key: cri}})
    return "# %s\n# The CRI table of the main config plus the %r runtime (containerd merges imports per\n" \
           "# section, not per key). Re-derived on every run; do not edit.\n%s" % (marker, runtime_name, body)


def runtime_from_config(text, runtime_name="nvidia"):
    """The runtime table named runtime_name in a (dumped) config, or None."""
    cfg = _loads(text)
    plugins = cfg.get("plugins", {})
    for key in (CRI_V3, CRI_V2):
        runtime = plugins.get(key, {}).get("containerd", {}).get("runtimes", {}).get(runtime_name)
        if runtime is not None:
            return runtime
    return None


def imports_of(text):
    """The imports list of a config file (top level), [] when none."""
    return list(_loads(text).get("imports", []))


def k3s_template(runtime_name="nvidia", binary="/usr/bin/nvidia-container-runtime", config_version=2,
                 set_default=False, marker="Managed by Ansible (cnai.platform.container_toolkit)"):
    """A k3s/RKE2 config template: their generated base config plus the NVIDIA runtime.

    k3s and RKE2 regenerate config.toml at every start from config.toml.tmpl (config-v3.toml.tmpl for
    containerd 2.x); ``{{ template "base" . }}`` keeps everything they generate.
    """
    key = cri_key(config_version)
    prefix = 'plugins.%s.containerd' % json.dumps(key)
    lines = [
        "# %s" % marker,
        '{{ template "base" . }}',
        "",
        "[%s.runtimes.%s]" % (prefix, json.dumps(runtime_name)),
        '  runtime_type = "io.containerd.runc.v2"',
        "[%s.runtimes.%s.options]" % (prefix, json.dumps(runtime_name)),
        "  BinaryName = %s" % json.dumps(binary),
        "  SystemdCgroup = {{ .SystemdCgroup }}",
    ]
    if set_default:
        lines += ["[%s]" % prefix, "  default_runtime_name = %s" % json.dumps(runtime_name)]
    return "\n".join(lines) + "\n"


def runtime_paths(flavour, config_version=2):
    """Where the runtime config lives for containerd, k3s or rke2."""
    if flavour not in RUNTIME_PATHS:
        raise ContainerdConfigError("container_toolkit_runtime must be one of %s, not %r"
                                    % (", ".join(sorted(RUNTIME_PATHS)), flavour))
    paths = dict(RUNTIME_PATHS[flavour])
    if flavour != "containerd":
        paths["template"] = paths["template_v3" if int(config_version) >= 3 else "template_v2"]
    return paths
