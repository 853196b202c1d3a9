# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the host layer: thin wrappers over module_utils/nvidia_host.py and containerd_config.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import containerd_config as cc
from ansible_collections.cnai.platform.plugins.module_utils import nvidia_host as nh


def _wrap(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (nh.PlanError, cc.ContainerdConfigError) as exc:
            raise AnsibleFilterError(str(exc))
    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def nvidia_driver_plan(facts, **options):
    """facts: a dict with distribution, major_version, architecture, kernel (and os_family)."""
    return nh.driver_plan(
        distribution=facts.get("distribution"), major_version=facts.get("major_version"),
        architecture=facts.get("architecture"), kernel=facts.get("kernel", ""),
        os_family=facts.get("os_family"), **options)


def nvidia_toolkit_plan(facts, **options):
    """facts: a dict with distribution, major_version, architecture (and os_family)."""
    return nh.toolkit_plan(
        distribution=facts.get("distribution"), major_version=facts.get("major_version"),
        architecture=facts.get("architecture"), os_family=facts.get("os_family"), **options)


class FilterModule(object):
    """cnai.platform host-layer filters."""

    def filters(self):
        return {
            "nvidia_driver_plan": _wrap(nvidia_driver_plan),
            "nvidia_toolkit_plan": _wrap(nvidia_toolkit_plan),
            "nvidia_stale_packages": _wrap(nh.stale_packages),
            "nvidia_version_matches": _wrap(nh.driver_version_matches),
            "nvidia_secure_boot_from_efivar": _wrap(nh.secure_boot_from_efivar),
            "nvidia_gpu_present": _wrap(nh.has_nvidia_gpu),
            "containerd_config_version": _wrap(cc.config_version_for),
            "containerd_nvidia_dropin": _wrap(cc.nvidia_dropin),
            "containerd_runtime": _wrap(cc.runtime_from_config),
            "containerd_config_imports": _wrap(cc.imports_of),
            "containerd_k3s_template": _wrap(cc.k3s_template),
            "containerd_runtime_paths": _wrap(cc.runtime_paths),
        }
