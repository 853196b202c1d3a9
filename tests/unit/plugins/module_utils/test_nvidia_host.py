# -*- coding: utf-8 -*-
"""Decisions of the nvidia_driver role for every distribution path, including those CI cannot install.

Ubuntu and RHEL are not installed for real in CI (their archives are not reachable offline); these
tests pin down the package names, repo choice, module choice and Secure Boot handling they would use.
"""

from __future__ import absolute_import, division, print_function

import base64

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import nvidia_host as nh

UBUNTU = dict(distribution="Ubuntu", major_version="24", architecture="x86_64", kernel="6.8.0-45-generic")
DEBIAN = dict(distribution="Debian", major_version="12", architecture="x86_64", kernel="6.1.0-27-amd64")
ROCKY = dict(distribution="Rocky", major_version="9", architecture="x86_64",
             kernel="5.14.0-503.14.1.el9_5.x86_64", os_family="RedHat")


def names(plan):
    return [p.split("=")[0] for p in plan["packages"]]


# --- Ubuntu -------------------------------------------------------------------------------------

def test_ubuntu_default_is_precompiled_signed_server_branch_open():
    plan = nh.driver_plan(branch="580", version="580.95.05", **UBUNTU)
    assert plan["errors"] == []
    assert plan["module_source"] == "precompiled"
    assert plan["packages"] == [
        "nvidia-headless-no-dkms-580-server-open=580.95.05-*",
        "nvidia-utils-580-server=580.95.05-*",
        "nvidia-compute-utils-580-server=580.95.05-*",
        "linux-modules-nvidia-580-server-open-6.8.0-45-generic",
        "linux-modules-nvidia-580-server-open-generic",
    ]
    assert plan["headers"] == []  # nothing to build
    assert "linux-modules-nvidia-580-server-open-6.8.0-45-generic" in plan["hold"]
    assert plan["repo"] == {"source": "distribution"}


def test_ubuntu_proprietary_precompiled_adds_signatures_for_running_kernel():
    plan = nh.driver_plan(branch="570", module_type="proprietary", ubuntu_track_flavour=False, **UBUNTU)
    assert names(plan) == [
        "nvidia-headless-no-dkms-570-server", "nvidia-utils-570-server", "nvidia-compute-utils-570-server",
        "linux-modules-nvidia-570-server-6.8.0-45-generic", "linux-signatures-nvidia-6.8.0-45-generic",
    ]
    # branch only: no version pin in the spec
    assert plan["packages"][0] == "nvidia-headless-no-dkms-570-server"


def test_ubuntu_flavour_of_cloud_and_64k_kernels():
    assert nh.kernel_flavour("6.8.0-1015-aws") == "aws"
    assert nh.kernel_flavour("6.8.0-1015-nvidia-64k") == "nvidia-64k"
    with pytest.raises(nh.PlanError):
        nh.kernel_flavour("6.8.0")


def test_ubuntu_dkms_needs_headers_of_running_kernel():
    plan = nh.driver_plan(branch="580", version="580.95.05", module_source="dkms", **UBUNTU)
    assert plan["headers"] == ["linux-headers-6.8.0-45-generic"]
    assert names(plan) == ["nvidia-headless-580-server-open", "nvidia-utils-580-server",
                           "nvidia-compute-utils-580-server"]
    assert "nvidia-dkms-580-server-open" in plan["hold"]


def test_ubuntu_nvidia_repo_has_no_server_suffix_and_no_precompiled():
    plan = nh.driver_plan(branch="580", repo_source="nvidia", **UBUNTU)
    assert plan["module_source"] == "dkms"
    assert names(plan)[0] == "nvidia-headless-580-open"
    assert plan["repo"]["url"] == "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/x86_64/"
    bad = nh.driver_plan(branch="580", repo_source="nvidia", module_source="precompiled", **UBUNTU)
    assert bad["errors"] and "DKMS packages only" in bad["errors"][0]


def test_ubuntu_arm64_repo_is_sbsa_and_22_04():
    plan = nh.driver_plan(distribution="Ubuntu", major_version="22", architecture="aarch64",
                          kernel="5.15.0-1060-nvidia-64k", branch="580", repo_source="nvidia")
    assert plan["repo"]["url"].endswith("/ubuntu2204/sbsa/")


def test_ubuntu_secure_boot_precompiled_is_fine_dkms_is_blocked_with_mok_steps():
    ok = nh.driver_plan(branch="580", secure_boot=True, **UBUNTU)
    assert ok["errors"] == [] and ok["secure_boot"]["action"] == "signed-precompiled"
    blocked = nh.driver_plan(branch="580", secure_boot=True, module_source="dkms", **UBUNTU)
    assert blocked["secure_boot"]["action"] == "blocked"
    msg = blocked["errors"][0]
    assert "mokutil --import" in msg and "linux-modules-nvidia-580-server-open-6.8.0-45-generic" in msg
    enrolled = nh.driver_plan(branch="580", secure_boot=True, module_source="dkms", mok_enrolled=True, **UBUNTU)
    assert enrolled["errors"] == [] and enrolled["secure_boot"]["action"] == "mok-enrolled"


# --- Debian 12 (installed for real in Molecule) ---------------------------------------------------

def test_debian_tesla_535_packages_pinned_and_held():
    plan = nh.driver_plan(branch="535", version="535.216.03", module_type="proprietary", **DEBIAN)
    assert plan["errors"] == []
    # the whole exact-version dependency set is pinned, so apt never has to guess an older version
    assert plan["packages"] == [p + "=535.216.03-*" for p in (
        "nvidia-tesla-535-kernel-dkms", "nvidia-tesla-535-kernel-support", "nvidia-tesla-535-smi",
        "nvidia-tesla-535-alternative", "libnvidia-tesla-535-cuda1", "libnvidia-tesla-535-cfg1",
        "libnvidia-tesla-535-ml1", "libnvidia-tesla-535-ptxjitcompiler1", "firmware-nvidia-tesla-535-gsp",
        "libnvidia-tesla-535-pkcs11-openssl3")] + ["nvidia-persistenced"]
    assert plan["hold"][-1] == "nvidia-persistenced" and len(plan["hold"]) == 11
    assert plan["headers"] == ["linux-headers-6.1.0-27-amd64"]
    assert plan["module_source"] == "dkms"


def test_debian_tesla_470_has_no_gsp_firmware():
    plan = nh.driver_plan(branch="470", module_type="proprietary", **DEBIAN)
    assert not [p for p in plan["packages"] if "gsp" in p or "pkcs11" in p]
    assert "libnvidia-tesla-470-ml1" in plan["packages"]


def test_debian_in_container_skips_headers_and_says_so():
    plan = nh.driver_plan(branch="535", module_type="proprietary", in_container=True, **DEBIAN)
    assert plan["headers"] == [] and plan["build_modules"] is False
    assert any("container" in n for n in plan["notes"])


def test_debian_branch_580_is_refused_with_what_to_do():
    plan = nh.driver_plan(branch="580", module_type="proprietary", **DEBIAN)
    assert plan["packages"] == []
    assert "470/535" in plan["errors"][0]


def test_debian_open_modules_only_on_current_branch():
    plan = nh.driver_plan(branch="535", version="535.261.03", module_type="open", **DEBIAN)
    assert names(plan)[:2] == ["nvidia-open-kernel-dkms", "nvidia-open-kernel-support"]
    for shared in ("libcuda1", "nvidia-alternative", "libnvidia-ml1", "firmware-nvidia-gsp"):
        assert shared + "=535.261.03-*" in plan["packages"]
    assert nh.driver_plan(branch="470", module_type="open", **DEBIAN)["errors"]


def test_debian_precompiled_and_nvidia_repo_refused():
    assert "no precompiled" in nh.driver_plan(branch="535", module_source="precompiled", **DEBIAN)["errors"][0]
    assert nh.driver_plan(branch="535", repo_source="nvidia", **DEBIAN)["errors"]


def test_debian_secure_boot_blocked_unless_mok_enrolled():
    plan = nh.driver_plan(branch="535", module_type="proprietary", secure_boot=True, **DEBIAN)
    assert "dkms generate_mok" in plan["errors"][0]
    plan = nh.driver_plan(branch="535", module_type="proprietary", secure_boot=True, mok_enrolled=True, **DEBIAN)
    assert plan["errors"] == []


# --- RHEL / Rocky 9 -------------------------------------------------------------------------------

def test_rhel_requires_nvidia_repo():
    plan = nh.driver_plan(branch="580", **ROCKY)
    assert "RHEL 9 does not ship" in plan["errors"][0]


def test_rhel_open_dkms_stream_and_headers():
    plan = nh.driver_plan(branch="580", version="580.95.05", repo_source="nvidia", **ROCKY)
    assert plan["errors"] == []
    assert plan["dnf_module"] == "@nvidia-driver:580-open/default"
    assert "kmod-nvidia-open-dkms" in plan["packages"]
    assert plan["headers"] == ["kernel-devel-5.14.0-503.14.1.el9_5.x86_64",
                               "kernel-headers-5.14.0-503.14.1.el9_5.x86_64"]
    assert "nvidia-driver-580.95.05*" in plan["hold"]
    assert plan["repo"]["url"].endswith("/rhel9/x86_64/")


def test_rhel_proprietary_dkms_and_precompiled_streams():
    dkms = nh.driver_plan(branch="580", module_type="proprietary", repo_source="nvidia", **ROCKY)
    assert dkms["dnf_module"] == "@nvidia-driver:580-dkms/default"
    assert "kmod-nvidia-latest-dkms" in dkms["packages"]
    pre = nh.driver_plan(branch="580", version="580.95.05", module_type="proprietary",
                         module_source="precompiled", repo_source="nvidia", **ROCKY)
    assert pre["dnf_module"] == "@nvidia-driver:580/default"
    assert "kmod-nvidia-580.95.05-5.14.0-503.14.1.el9_5" in pre["packages"]
    assert pre["headers"] == []


def test_rhel_secure_boot_auto_picks_precompiled_but_needs_key_enrolled():
    plan = nh.driver_plan(branch="580", module_type="proprietary", repo_source="nvidia", secure_boot=True, **ROCKY)
    assert plan["module_source"] == "precompiled"
    assert "signing key" in plan["errors"][0]
    ok = nh.driver_plan(branch="580", module_type="proprietary", repo_source="nvidia", secure_boot=True,
                        mok_enrolled=True, **ROCKY)
    assert ok["errors"] == []


def test_rhel_open_precompiled_refused():
    plan = nh.driver_plan(branch="580", module_source="precompiled", repo_source="nvidia", **ROCKY)
    assert "proprietary" in plan["errors"][0]


def test_redhat_family_alias_and_unsupported():
    assert nh.os_key("AlmaLinux", "RedHat") == "rhel"
    assert nh.os_key("Fedora", "RedHat") is None
    plan = nh.driver_plan(distribution="Ubuntu", major_version="20", architecture="x86_64",
                          kernel="5.4.0-1-generic", branch="580")
    assert "not supported" in plan["errors"][0]
    plan = nh.driver_plan(architecture="ppc64le", **{k: v for k, v in UBUNTU.items() if k != "architecture"},
                          branch="580")
    assert "ppc64le" in plan["errors"][0]


# --- versions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("branch,version,expected", [
    ("580", "580.95.05", ("580", "580.95.05")),
    ("580", "", ("580", "")),
    ("", "580.95.05", ("580", "580.95.05")),
    ("580", "580", ("580", "")),
])
def test_split_version(branch, version, expected):
    assert nh.split_version(version, branch) == expected


@pytest.mark.parametrize("branch,version", [("570", "580.95.05"), ("58", ""), ("580", "580.x")])
def test_split_version_rejects(branch, version):
    with pytest.raises(nh.PlanError):
        nh.split_version(version, branch)


def test_bad_enums_raise():
    with pytest.raises(nh.PlanError):
        nh.driver_plan(branch="580", module_type="closed", **UBUNTU)
    with pytest.raises(nh.PlanError):
        nh.driver_plan(branch="580", repo_source="ppa", **UBUNTU)


def test_driver_version_matches():
    assert nh.driver_version_matches("580.95.05\n580.95.05\n", "580", "580.95.05")
    assert not nh.driver_version_matches("580.95.05\n580.82.07\n", "580", "580.95.05")
    assert nh.driver_version_matches("580.82.07", "580", "")
    assert not nh.driver_version_matches("570.1.1", "580", "580")
    assert not nh.driver_version_matches("", "580", "")


# --- upgrade path: what gets unheld and removed ---------------------------------------------------

def test_stale_debian_other_tesla_branch():
    plan = nh.driver_plan(branch="535", module_type="proprietary", **DEBIAN)
    installed = {n: [{"version": "x"}] for n in [
        "nvidia-tesla-470-kernel-dkms", "libnvidia-tesla-470-cuda1", "nvidia-tesla-470-smi",
        "nvidia-tesla-535-smi", "nvidia-persistenced", "nvidia-modprobe", "bash"]}
    assert nh.stale_packages(installed, plan) == [
        "libnvidia-tesla-470-cuda1", "nvidia-tesla-470-kernel-dkms", "nvidia-tesla-470-smi"]


def test_stale_debian_switch_tesla_to_open_current():
    plan = nh.driver_plan(branch="535", module_type="open", **DEBIAN)
    installed = ["nvidia-tesla-535-smi", "firmware-nvidia-tesla-535-gsp", "nvidia-kernel-dkms",
                 "nvidia-kernel-support", "nvidia-smi", "libnvidia-cfg1", "nvidia-alternative"]
    assert nh.stale_packages(installed, plan) == [
        "firmware-nvidia-tesla-535-gsp", "nvidia-kernel-dkms", "nvidia-kernel-support", "nvidia-tesla-535-smi"]


def test_stale_debian_tesla_keeps_what_persistenced_pulled_in():
    plan = nh.driver_plan(branch="535", module_type="proprietary", **DEBIAN)
    installed = ["nvidia-tesla-535-smi", "libnvidia-cfg1", "nvidia-alternative", "nvidia-smi", "libcuda1"]
    assert nh.stale_packages(installed, plan) == ["libcuda1", "nvidia-smi"]


def test_stale_ubuntu_branch_and_module_type_change():
    plan = nh.driver_plan(branch="580", **UBUNTU)  # open, precompiled
    installed = ["nvidia-headless-no-dkms-570-server", "nvidia-utils-570-server",
                 "linux-modules-nvidia-580-server-6.8.0-45-generic",   # proprietary, same branch
                 "nvidia-utils-580-server", "libnvidia-compute-570-server", "nvidia-container-toolkit",
                 "linux-signatures-nvidia-6.8.0-45-generic"]
    assert nh.stale_packages(installed, plan) == [
        "libnvidia-compute-570-server", "linux-modules-nvidia-580-server-6.8.0-45-generic",
        "nvidia-headless-no-dkms-570-server", "nvidia-utils-570-server"]


def test_stale_rhel_by_installed_version():
    plan = nh.driver_plan(branch="580", repo_source="nvidia", **ROCKY)
    installed = {"nvidia-driver": [{"version": "570.124.06"}], "nvidia-driver-cuda": [{"version": "580.95.05"}],
                 "kmod-nvidia-latest-dkms": [{"version": "570.124.06"}], "kmod-nvidia-open-dkms": [{"version": "580.95.05"}]}
    assert nh.stale_packages(installed, plan) == ["kmod-nvidia-latest-dkms", "nvidia-driver"]


# --- probes ---------------------------------------------------------------------------------------

def test_secure_boot_efivar():
    on = base64.b64encode(b"\x06\x00\x00\x00\x01").decode()
    off = base64.b64encode(b"\x06\x00\x00\x00\x00").decode()
    assert nh.secure_boot_from_efivar(on) is True
    assert nh.secure_boot_from_efivar(off) is False
    assert nh.secure_boot_from_efivar(b"") is False


def test_gpu_present_from_pci_vendor_ids():
    assert nh.has_nvidia_gpu(["0x8086\n", "0x10de\n"])
    assert not nh.has_nvidia_gpu(["0x8086", "0x1af4"])
    assert not nh.has_nvidia_gpu([])


# --- container toolkit ------------------------------------------------------------------------------

def test_toolkit_apt_pinned_and_held():
    plan = nh.toolkit_plan("Debian", "12", "x86_64", "1.17.8")
    assert plan["errors"] == []
    assert plan["packages"][0] == "nvidia-container-toolkit=1.17.8-*"
    assert plan["hold"] == list(nh.TOOLKIT_PACKAGES)
    assert plan["repo"] == {"source": "configured"}


def test_toolkit_nvidia_repo_urls_per_arch_and_family():
    assert nh.toolkit_plan("Ubuntu", "24", "aarch64", "1.17.8", repo_source="nvidia")["repo"]["url"].endswith(
        "/stable/deb/arm64")
    rpm = nh.toolkit_plan("Rocky", "9", "x86_64", "1.17.8", os_family="RedHat", repo_source="nvidia")
    assert rpm["repo"]["url"].endswith("/stable/rpm/x86_64")
    assert rpm["packages"][0] == "nvidia-container-toolkit-1.17.8*"
    assert rpm["hold"][0] == "nvidia-container-toolkit-1.17.8*"
    mirror = nh.toolkit_plan("Ubuntu", "22", "x86_64", "1.17.8", repo_source="nvidia", apt_repo_url="http://m/x")
    assert mirror["repo"]["url"] == "http://m/x"


def test_toolkit_rejects_bad_input_and_unsupported_os():
    assert nh.toolkit_plan("Debian", "11", "x86_64", "1.17.8")["errors"]
    with pytest.raises(nh.PlanError):
        nh.toolkit_plan("Debian", "12", "x86_64", "latest")
    with pytest.raises(nh.PlanError):
        nh.toolkit_plan("Debian", "12", "x86_64", "1.17.8", repo_source="ppa")
