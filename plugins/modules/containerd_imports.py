#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: containerd_imports
short_description: Ensure a path is in the top-level imports list of a containerd config
version_added: "0.1.0"
description:
  - Adds O(path) to the top-level C(imports) list of a containerd configuration file. The file is parsed
    and edited with the C(tomlkit) library, which keeps comments, order and layout; only the C(imports)
    array changes, and the result is parsed again before it is written.
  - A missing or empty file is created as C(version = N) plus the C(imports) line.
  - Refuses, changing nothing and saying what to fix, a file that is not valid TOML, has no C(version) line or
    a C(version) other than 2 or 3, has an C(imports) that is not a list of strings, is not UTF-8, cannot be
    read, or is not a regular file (a directory, FIFO, socket or device).
  - A symlink is followed, so its target is edited and the link is kept.
  - The new content is written to a temporary file in the target's directory and renamed over it (atomic),
    with the target's mode and owner (0644 root for a new file).
  - Used by the C(cnai.platform.container_toolkit) role so that C(/etc/containerd/conf.d/*.toml)
    drop-ins are loaded even after another installer rewrote C(config.toml).
requirements:
  - tomlkit (Python library on the managed host, for example the C(python3-tomlkit) package)
options:
  dest:
    description: The containerd main configuration file (or a symlink to it).
    type: path
    default: /etc/containerd/config.toml
  path:
    description:
      - The import entry to ensure, usually a glob such as C(/etc/containerd/conf.d/*.toml).
      - Any characters are written as a valid TOML string (quotes and backslashes are escaped).
    type: str
    required: true
  config_version:
    description: Schema version written when the file is missing or empty (2 for containerd 1.x, 3 for 2.x).
    type: int
    default: 2
    choices: [2, 3]
  backup:
    description: Keep a timestamped copy of the file (the symlink's target) before changing it.
    type: bool
    default: false
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - cnai.platform contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Load containerd drop-ins from conf.d
  cnai.platform.containerd_imports:
    dest: /etc/containerd/config.toml
    path: /etc/containerd/conf.d/*.toml

- name: Same for containerd 2.x, keeping a backup of the file
  cnai.platform.containerd_imports:
    path: /etc/containerd/conf.d/*.toml
    config_version: 3
    backup: true
"""

RETURN = r"""
imports_added:
  description: Whether the path had to be added.
  returned: always
  type: bool
  sample: true
dest:
  description: The file as given.
  returned: always
  type: str
  sample: /etc/containerd/config.toml
target:
  description: The file edited, O(dest) with symlinks resolved.
  returned: always
  type: str
  sample: /etc/containerd/config.toml
backup_file:
  description: The backup copy, when O(backup=true) and the file changed.
  returned: changed and backup requested
  type: str
  sample: /etc/containerd/config.toml.12345.2026-11-29@14:00:00~
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnai.platform.plugins.module_utils.containerd_config import (
    ContainerdConfigError,
    ensure_import,
    read_config,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", default="/etc/containerd/config.toml"),
            path=dict(type="str", required=True),
            config_version=dict(type="int", default=2, choices=[2, 3]),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    dest = module.params["dest"]
    try:
        target, before, st = read_config(dest)
        after, changed = ensure_import(before, module.params["path"], module.params["config_version"])
    except ContainerdConfigError as exc:
        module.fail_json(msg="%s: %s" % (dest, exc), dest=dest)
    result = dict(changed=changed, imports_added=changed, dest=dest, target=target)
    if module._diff:
        result["diff"] = dict(before=before or "", after=after, before_header=target, after_header=target)
    if changed and not module.check_mode:
        if module.params["backup"] and before is not None:
            result["backup_file"] = module.backup_local(target)
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(target), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(after.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, (st.st_mode & 0o7777) if st else 0o644)
            if st and os.geteuid() == 0:
                os.chown(tmp, st.st_uid, st.st_gid)
            module.atomic_move(tmp, target, unsafe_writes=False)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
