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
  - Adds I(path) to the C(imports) list of a containerd configuration file, keeping every other
    byte of the file as it is (comments, tables, other installers' settings).
  - A missing or empty file is created as C(version = N) plus the C(imports) line.
  - Used by the C(cnai.platform.container_toolkit) role so that C(/etc/containerd/conf.d/*.toml)
    drop-ins are loaded even after another installer rewrote C(config.toml).
options:
  dest:
    description: The containerd main configuration file.
    type: path
    default: /etc/containerd/config.toml
  path:
    description: The import entry to ensure, usually a glob such as C(/etc/containerd/conf.d/*.toml).
    type: str
    required: true
  config_version:
    description: Schema version written when the file is missing or empty (2 for containerd 1.x, 3 for 2.x).
    type: int
    default: 2
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode).
    support: full
author:
  - cnai.platform contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Load containerd drop-ins from conf.d
  cnai.platform.containerd_imports:
    dest: /etc/containerd/config.toml
    path: /etc/containerd/conf.d/*.toml
"""

RETURN = r"""
imports_added:
  description: Whether the path had to be added.
  returned: always
  type: bool
  sample: true
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnai.platform.plugins.module_utils.containerd_config import ensure_import


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", default="/etc/containerd/config.toml"),
            path=dict(type="str", required=True),
            config_version=dict(type="int", default=2),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    dest = module.params["dest"]
    before = ""
    if os.path.exists(dest):
        with open(dest, "r") as handle:
            before = handle.read()
    after, changed = ensure_import(before, module.params["path"], module.params["config_version"])
    result = dict(changed=changed, imports_added=changed, dest=dest)
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header=dest, after_header=dest)
    if changed and not module.check_mode:
        if module.params["backup"] and before:
            result["backup_file"] = module.backup_local(dest)
        directory = os.path.dirname(dest)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        tmp = dest + ".cnai-tmp"
        with open(tmp, "w") as handle:
            handle.write(after)
        if before:
            module.set_mode_if_different(tmp, "0%o" % (os.stat(dest).st_mode & 0o7777), False)
        else:
            module.set_mode_if_different(tmp, "0644", False)
        module.atomic_move(tmp, dest)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
