# -*- coding: utf-8 -*-
"""The host-layer filters as roles call them: facts dict in, plan out; input errors become AnsibleFilterError."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.filter.nvidia_host import FilterModule

F = FilterModule().filters()
DEBIAN = {"distribution": "Debian", "major_version": "12", "architecture": "x86_64", "kernel": "6.1.0-27-amd64",
          "os_family": "Debian"}


def test_every_filter_the_roles_use_is_registered():
    used = {"nvidia_driver_plan", "nvidia_toolkit_plan", "nvidia_stale_packages", "nvidia_version_matches",
            "nvidia_secure_boot_from_efivar", "containerd_config_version", "containerd_nvidia_dropin",
            "containerd_runtime", "containerd_k3s_template", "containerd_runtime_paths"}
    assert used <= set(F)


def test_driver_plan_from_facts():
    plan = F["nvidia_driver_plan"](DEBIAN, branch="535", version="535.216.03", module_type="proprietary",
                                   in_container=True)
    assert plan["errors"] == [] and plan["headers"] == []
    assert plan["packages"][0] == "nvidia-tesla-535-kernel-dkms=535.216.03-*"


def test_toolkit_plan_from_facts():
    assert F["nvidia_toolkit_plan"](DEBIAN, version="1.17.8")["packages"][0] == "nvidia-container-toolkit=1.17.8-*"


@pytest.mark.parametrize("name,args,kwargs", [
    ("nvidia_driver_plan", (DEBIAN,), {"branch": "5x5"}),
    ("nvidia_toolkit_plan", (DEBIAN,), {"version": "latest"}),
    ("containerd_nvidia_dropin", ("[broken",), {}),
    ("containerd_config_version", ("no version here",), {}),
    ("containerd_runtime_paths", ("docker",), {}),
])
def test_bad_input_is_a_filter_error_with_the_reason(name, args, kwargs):
    with pytest.raises(AnsibleFilterError):
        F[name](*args, **kwargs)
