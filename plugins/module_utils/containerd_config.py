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

ensure_import() runs on the managed host (module containerd_imports, any Python 3); the TOML parsing
functions run on the controller (filters), where Python >= 3.11 provides tomllib.
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

_HEADER_RE = re.compile(r"^\s*\[")
_IMPORTS_RE = re.compile(r"^\s*imports\s*=")
_VERSION_RE = re.compile(r"^\s*version\s*=\s*(\d+)")
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


def ensure_import(text, path, config_version=2):
    """Return (new_text, changed): text with `path` in the top-level ``imports`` list.

    Only the top-level part of the file (before the first table header) is touched; everything
    else is kept byte for byte. An empty or missing file becomes ``version = N`` plus the imports line.
    """
    if not text.strip():
        return 'version = %d\nimports = ["%s"]\n' % (int(config_version), path), True
    lines = text.splitlines(True)
    top_end = next((i for i, line in enumerate(lines) if _HEADER_RE.match(line)), len(lines))
    for i in range(top_end):
        if not _IMPORTS_RE.match(lines[i]):
            continue
        # The list may span lines: collect up to the closing bracket.
        j, chunk = i, lines[i]
        while chunk.count("[") > chunk.count("]") and j + 1 < top_end:
            j += 1
            chunk += lines[j]
        start, end = chunk.index("[") + 1, chunk.rindex("]")
        entries = [e.strip() for e in chunk[start:end].replace("\n", " ").split(",") if e.strip()]
        values = [e.strip("'\"") for e in entries]
        if path in values:
            return text, False
        entries.append(json.dumps(path))
        lines[i:j + 1] = ["imports = [%s]\n" % ", ".join(entries)]
        return "".join(lines), True
    insert = 0
    for i in range(top_end):
        if _VERSION_RE.match(lines[i]):
            insert = i + 1
            break
    if insert and not lines[insert - 1].endswith("\n"):
        lines[insert - 1] += "\n"
    lines.insert(insert, 'imports = ["%s"]\n' % path)
    return "".join(lines), True


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
