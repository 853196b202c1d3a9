# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the host layer (roles nvidia_driver and container_toolkit), as pure functions.

Nothing here touches a host: the roles gather facts, call these through the filters in
plugins/filter/nvidia_host.py, and act on the answer. Every distribution path, including the
ones CI cannot install for real (Ubuntu, RHEL), is covered by tests/unit/plugins/module_utils/.

Package names follow the distributions' archives as of 2026:
- Ubuntu (Canonical "restricted"/"multiverse"): nvidia-headless[-no-dkms]-<branch>[-server][-open],
  nvidia-utils-<branch>[-server], nvidia-compute-utils-<branch>[-server] (nvidia-persistenced),
  precompiled, Canonical-signed modules linux-modules-nvidia-<branch>[-server][-open]-<kernel>
  (+ linux-signatures-nvidia-<kernel> for the proprietary flavour), meta per kernel flavour
  linux-modules-nvidia-<branch>[-server][-open]-<flavour>.
- NVIDIA's CUDA repository for Ubuntu uses the same names without "-server", DKMS only.
- Debian 12 (non-free/contrib): nvidia-tesla-<branch>-* (470, 535) and the unversioned
  "current" set (nvidia-kernel-dkms / nvidia-open-kernel-dkms, nvidia-smi, libcuda1), DKMS only.
- RHEL/Rocky/Alma 9 (NVIDIA's CUDA repository, dnf modularity): nvidia-driver:<branch> (precompiled
  kmod, proprietary), nvidia-driver:<branch>-dkms, nvidia-driver:<branch>-open (open, DKMS).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SUPPORTED_OS = {
    "ubuntu": ("22", "24"),
    "debian": ("12",),
    "rhel": ("9",),
}
RHEL_LIKE = ("RedHat", "Rocky", "AlmaLinux", "CentOS")
SUPPORTED_ARCH = ("x86_64", "aarch64")
MODULE_TYPES = ("open", "proprietary")
MODULE_SOURCES = ("auto", "dkms", "precompiled")
REPO_SOURCES = ("distribution", "nvidia")

# What Debian 12 itself packages (bookworm non-free/contrib).
DEBIAN12_TESLA_BRANCHES = ("470", "535")
DEBIAN12_CURRENT_BRANCH = "535"
# The "current" set, stale when the tesla set is wanted. libnvidia-cfg1 and nvidia-alternative are
# left alone: nvidia-persistenced pulls them in next to the tesla packages.
DEBIAN_CURRENT_PACKAGES = (
    "nvidia-kernel-dkms", "nvidia-open-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-driver",
    "nvidia-driver-bin", "nvidia-kernel-support", "nvidia-open-kernel-support", "libnvidia-ml1",
    "libnvidia-ptxjitcompiler1", "libnvidia-pkcs11-openssl3", "firmware-nvidia-gsp",
)

_VERSION_RE = re.compile(r"^(\d{3})(\.\d{1,3}){0,2}$")
_BRANCH_RE = re.compile(r"^\d{3}$")

MOK_STEPS = (
    "To use DKMS-built modules under Secure Boot, enroll the key DKMS signs with, once per host: "
    "(1) create or locate it (Debian: `dkms generate_mok` -> /var/lib/dkms/mok.pub; Ubuntu: "
    "`update-secureboot-policy --new-key` -> /var/lib/shim-signed/mok/MOK.der; RHEL: the key your "
    "kmods are signed with, e.g. NVIDIA's public key from the repository); "
    "(2) `mokutil --import <key>` and choose a one-time password; "
    "(3) reboot and, at the console, pick 'Enroll MOK' in MokManager and type that password; "
    "(4) check with `mokutil --list-enrolled`, then re-run with nvidia_driver_secure_boot_mok_enrolled: true."
)


class PlanError(ValueError):
    """A decision that cannot be made from the inputs; the message says what to change."""


def os_key(distribution, os_family=None):
    """Map Ansible's ansible_distribution / ansible_os_family to ubuntu, debian, rhel or None."""
    if distribution == "Ubuntu":
        return "ubuntu"
    if distribution == "Debian":
        return "debian"
    if distribution in RHEL_LIKE or (os_family == "RedHat" and distribution not in ("Fedora", "Amazon")):
        return "rhel"
    return None


def kernel_flavour(kernel):
    """Ubuntu kernel flavour from a release string: 6.8.0-45-generic -> generic, 6.8.0-1015-nvidia-64k -> nvidia-64k."""
    parts = kernel.split("-", 2)
    if len(parts) < 3 or not parts[2]:
        raise PlanError("cannot derive the Ubuntu kernel flavour from %r (expected X.Y.Z-ABI-flavour)" % kernel)
    return parts[2]


def split_version(version, branch):
    """Return (branch, full_version_or_empty). The version must belong to the branch."""
    branch = str(branch or "").strip()
    version = str(version or "").strip()
    if version and not _VERSION_RE.match(version):
        raise PlanError("nvidia_driver_version %r is not a driver version such as 580 or 580.95.05" % version)
    if not branch and version:
        branch = version.split(".", 1)[0]
    if not _BRANCH_RE.match(branch):
        raise PlanError("nvidia_driver_branch %r is not a three-digit driver branch such as 580" % branch)
    if version and version.split(".", 1)[0] != branch:
        raise PlanError(
            "nvidia_driver_version %s is not on branch %s: set both to the same branch" % (version, branch))
    full = version if version.count(".") >= 1 else ""
    return branch, full


def _spec(name, version, mgr):
    """A package spec pinned to an upstream driver version (any distribution revision)."""
    if not version:
        return name
    if mgr == "apt":
        return "%s=%s-*" % (name, version)
    return "%s-%s*" % (name, version)


def _secure_boot(plan, secure_boot, mok_enrolled, signed, signed_hint):
    plan["secure_boot"] = {"enabled": bool(secure_boot), "signed_modules": bool(signed)}
    if not secure_boot:
        plan["secure_boot"]["action"] = "none"
        return
    if signed:
        plan["secure_boot"]["action"] = "signed-precompiled"
        plan["notes"].append("Secure Boot is on: using signed precompiled modules (%s)." % signed_hint)
        return
    if mok_enrolled:
        plan["secure_boot"]["action"] = "mok-enrolled"
        plan["notes"].append("Secure Boot is on: DKMS-built modules are signed with the enrolled MOK key "
                             "(nvidia_driver_secure_boot_mok_enrolled: true).")
        return
    plan["secure_boot"]["action"] = "blocked"
    reason = ("Secure Boot is enabled and this plan builds unsigned kernel modules with DKMS (%s), which the "
              "kernel would refuse to load. " % plan["module_source"])
    if signed_hint:
        reason += "Option A: %s. " % signed_hint
    plan["errors"].append(reason + "Option B: " + MOK_STEPS)


def driver_plan(distribution, major_version, architecture, kernel, branch, version="",
                module_type="open", module_source="auto", repo_source="distribution",
                os_family=None, secure_boot=False, mok_enrolled=False, in_container=False,
                ubuntu_server_branch=True, ubuntu_track_flavour=True, debian_family="tesla",
                rhel_repo_url="", ubuntu_repo_url=""):
    """Decide what the nvidia_driver role installs on one host.

    Returns a dict: os, branch, version, module_type, module_source, packages (install specs, pinned),
    hold (names to hold/versionlock), headers (packages for the running kernel, [] when not needed),
    dnf_module (RHEL stream spec or ""), repo (which source), build_modules (False in containers),
    secure_boot, persistenced_service, notes (for the log), errors (preflight fails on any).
    It raises PlanError only for malformed inputs; policy problems land in errors.
    """
    osk = os_key(distribution, os_family)
    plan = {
        "os": osk, "branch": "", "version": "", "module_type": module_type, "module_source": module_source,
        "packages": [], "hold": [], "headers": [], "dnf_module": "", "repo": {"source": repo_source},
        "build_modules": not in_container, "secure_boot": {}, "persistenced_service": "nvidia-persistenced",
        "notes": [], "errors": [],
    }
    if osk is None or str(major_version) not in SUPPORTED_OS[osk]:
        plan["errors"].append(
            "%s %s is not supported by nvidia_driver: use Ubuntu 22.04/24.04, Debian 12 or RHEL/Rocky/Alma 9"
            % (distribution, major_version))
        return plan
    if architecture not in SUPPORTED_ARCH:
        plan["errors"].append("architecture %s is not supported: use x86_64 or aarch64" % architecture)
        return plan
    if module_type not in MODULE_TYPES:
        raise PlanError("nvidia_driver_kernel_module_type must be one of %s, not %r" % (MODULE_TYPES, module_type))
    if module_source not in MODULE_SOURCES:
        raise PlanError("nvidia_driver_module_source must be one of %s, not %r" % (MODULE_SOURCES, module_source))
    if repo_source not in REPO_SOURCES:
        raise PlanError("nvidia_driver_repo_source must be one of %s, not %r" % (REPO_SOURCES, repo_source))
    branch, full = split_version(version, branch)
    plan["branch"], plan["version"] = branch, full
    if in_container:
        plan["notes"].append("Running in a container: kernel headers, DKMS builds, module loading and reboot "
                             "are skipped; packages, holds and configuration are real.")
    {"ubuntu": _ubuntu, "debian": _debian, "rhel": _rhel}[osk](
        plan, kernel=kernel, arch=architecture, secure_boot=secure_boot, mok_enrolled=mok_enrolled,
        server=ubuntu_server_branch, track=ubuntu_track_flavour, family=debian_family,
        rhel_repo_url=rhel_repo_url, ubuntu_repo_url=ubuntu_repo_url, distribution=distribution,
        major=str(major_version))
    if not plan["build_modules"]:
        plan["headers"] = []
    return plan


def _ubuntu(plan, kernel, arch, secure_boot, mok_enrolled, server, track, ubuntu_repo_url, major, **_):
    branch, full, open_ = plan["branch"], plan["version"], plan["module_type"] == "open"
    distro = plan["repo"]["source"] == "distribution"
    suffix = "-server" if (distro and server) else ""
    otag = "-open" if open_ else ""
    if plan["module_source"] == "auto":
        plan["module_source"] = "precompiled" if distro else "dkms"
    if plan["module_source"] == "precompiled" and not distro:
        plan["errors"].append(
            "precompiled modules come from Ubuntu's own archive (linux-modules-nvidia-*); NVIDIA's CUDA "
            "repository has DKMS packages only: set nvidia_driver_module_source: dkms or "
            "nvidia_driver_repo_source: distribution")
        return
    if not distro:
        plan["repo"].update({"url": ubuntu_repo_url or (
            "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu%s04/%s/"
            % (major, "sbsa" if arch == "aarch64" else "x86_64"))})
    user = ["nvidia-utils-%s%s" % (branch, suffix), "nvidia-compute-utils-%s%s" % (branch, suffix)]
    if plan["module_source"] == "precompiled":
        try:
            flavour = kernel_flavour(kernel)
        except PlanError as exc:
            plan["errors"].append(str(exc))
            return
        mods = ["linux-modules-nvidia-%s%s%s-%s" % (branch, suffix, otag, kernel)]
        if track:
            mods.append("linux-modules-nvidia-%s%s%s-%s" % (branch, suffix, otag, flavour))
        if not open_:
            mods.append("linux-signatures-nvidia-%s" % kernel)
        pinned = ["nvidia-headless-no-dkms-%s%s%s" % (branch, suffix, otag)] + user
        plan["packages"] = [_spec(p, full, "apt") for p in pinned] + mods
        plan["hold"] = pinned + mods
        plan["notes"].append("Precompiled, Canonical-signed modules for the running kernel %s." % kernel)
        _secure_boot(plan, secure_boot, mok_enrolled, True, "")
    else:
        pinned = ["nvidia-headless-%s%s%s" % (branch, suffix, otag)] + user
        plan["packages"] = [_spec(p, full, "apt") for p in pinned]
        plan["hold"] = list(pinned) + ["nvidia-dkms-%s%s%s" % (branch, suffix, otag)]
        plan["headers"] = ["linux-headers-%s" % kernel]
        hint = ("set nvidia_driver_repo_source: distribution and nvidia_driver_module_source: precompiled to "
                "use Canonical-signed linux-modules-nvidia-%s%s%s-%s"
                % (branch, "-server" if server else "", otag, kernel))
        _secure_boot(plan, secure_boot, mok_enrolled, False, hint)


def _debian(plan, kernel, arch, secure_boot, mok_enrolled, family, **_):
    branch, full, open_ = plan["branch"], plan["version"], plan["module_type"] == "open"
    if plan["repo"]["source"] != "distribution":
        plan["errors"].append("on Debian 12 the driver comes from Debian's non-free archive: set "
                              "nvidia_driver_repo_source: distribution (NVIDIA's CUDA repository for "
                              "Debian is not wired into this role)")
        return
    if plan["module_source"] == "precompiled":
        plan["errors"].append("Debian 12 has no precompiled NVIDIA modules: set nvidia_driver_module_source: "
                              "dkms (or auto)")
        return
    plan["module_source"] = "dkms"
    if arch != "x86_64" and family == "tesla":
        plan["notes"].append("Debian's tesla packages on %s: availability varies by branch." % arch)
    # Debian's driver packages depend on each other at the EXACT version: every package of that
    # version-locked set is pinned (and held), or apt cannot resolve an older pin while the archive
    # (bookworm-security) carries a newer one ("held broken packages", pain point 2).
    if open_ or family == "current":
        if branch != DEBIAN12_CURRENT_BRANCH:
            plan["errors"].append(
                "Debian 12 packages the %s kernel modules only for branch %s (nvidia-%skernel-dkms): set "
                "nvidia_driver_branch: %s, or use Ubuntu/RHEL with NVIDIA's repository for branch %s"
                % ("open" if open_ else "current", DEBIAN12_CURRENT_BRANCH, "open-" if open_ else "",
                   DEBIAN12_CURRENT_BRANCH, branch))
            return
        kmod = "nvidia-open-kernel" if open_ else "nvidia-kernel"
        pinned = [kmod + "-dkms", kmod + "-support", "nvidia-smi", "libcuda1", "libnvidia-cfg1",
                  "nvidia-alternative", "libnvidia-ml1", "libnvidia-ptxjitcompiler1", "libnvidia-pkcs11-openssl3",
                  "firmware-nvidia-gsp"]
        if open_:
            plan["notes"].append("Debian 12 ships open modules for one version (bookworm contrib); pin "
                                 "nvidia_driver_version to it (535.261.03 at the time of writing).")
    else:
        if branch not in DEBIAN12_TESLA_BRANCHES:
            plan["errors"].append(
                "Debian 12 packages the datacenter driver only for branches %s (nvidia-tesla-<branch>-*): "
                "set nvidia_driver_branch to one of them, or run Ubuntu 22.04/24.04 or RHEL 9 for branch %s"
                % ("/".join(DEBIAN12_TESLA_BRANCHES), branch))
            return
        pinned = ["nvidia-tesla-%s-%s" % (branch, p) for p in ("kernel-dkms", "kernel-support", "smi", "alternative")]
        pinned += ["libnvidia-tesla-%s-%s" % (branch, p) for p in ("cuda1", "cfg1", "ml1", "ptxjitcompiler1")]
        if int(branch) >= 525:  # GSP firmware and the PKCS#11 library exist from the 525 series on
            pinned += ["firmware-nvidia-tesla-%s-gsp" % branch, "libnvidia-tesla-%s-pkcs11-openssl3" % branch]
    plan["packages"] = [_spec(p, full, "apt") for p in pinned] + ["nvidia-persistenced"]
    plan["hold"] = pinned + ["nvidia-persistenced"]
    plan["headers"] = ["linux-headers-%s" % kernel]
    plan["repo"]["components"] = ["main", "contrib", "non-free", "non-free-firmware"]
    _secure_boot(plan, secure_boot, mok_enrolled, False, "")


def _rhel(plan, kernel, arch, secure_boot, mok_enrolled, rhel_repo_url, **_):
    branch, full, open_ = plan["branch"], plan["version"], plan["module_type"] == "open"
    if plan["repo"]["source"] != "nvidia":
        plan["errors"].append(
            "RHEL 9 does not ship the NVIDIA driver: set nvidia_driver_repo_source: nvidia and "
            "nvidia_driver_rhel_repo_url to NVIDIA's CUDA repository or your mirror of it")
        return
    plan["repo"]["url"] = rhel_repo_url or (
        "https://developer.download.nvidia.com/compute/cuda/repos/rhel9/%s/"
        % ("sbsa" if arch == "aarch64" else "x86_64"))
    if plan["module_source"] == "auto":
        plan["module_source"] = "precompiled" if (secure_boot and not open_) else "dkms"
    if plan["module_source"] == "precompiled" and open_:
        plan["errors"].append(
            "NVIDIA's RHEL 9 precompiled streams (nvidia-driver:<branch>) carry the proprietary modules: set "
            "nvidia_driver_kernel_module_type: proprietary, or nvidia_driver_module_source: dkms")
        return
    base_kernel = re.sub(r"\.(x86_64|aarch64)$", "", kernel)
    if plan["module_source"] == "precompiled":
        stream = branch
        kmod = ["kmod-nvidia-%s-%s" % (full, base_kernel)] if full else []
        plan["notes"].append("Precompiled kmod for the running kernel %s (stream nvidia-driver:%s)."
                             % (kernel, stream))
    else:
        stream = "%s-open" % branch if open_ else "%s-dkms" % branch
        kmod = ["kmod-nvidia-open-dkms" if open_ else "kmod-nvidia-latest-dkms"]
        plan["headers"] = ["kernel-devel-%s" % kernel, "kernel-headers-%s" % kernel]
    plan["dnf_module"] = "@nvidia-driver:%s/default" % stream
    user = ["nvidia-driver", "nvidia-driver-cuda", "nvidia-driver-libs", "nvidia-driver-cuda-libs",
            "nvidia-persistenced", "nvidia-kmod-common"]
    plan["packages"] = [_spec(p, full, "dnf") for p in user] + kmod
    # dnf versionlock entries: name-version* (a repoquery glob) pins the version, not just the name.
    plan["hold"] = [_spec(p, full, "dnf") for p in user] + kmod
    # Precompiled + Secure Boot: NVIDIA signs its precompiled kmods; its key must be trusted (MOK).
    signed_hint = ("use the precompiled stream: nvidia_driver_module_source: precompiled with "
                   "nvidia_driver_kernel_module_type: proprietary")
    _secure_boot(plan, secure_boot, mok_enrolled, False, "" if plan["module_source"] == "precompiled" else signed_hint)
    if secure_boot and plan["module_source"] == "precompiled" and plan["secure_boot"]["action"] == "blocked":
        plan["errors"][-1] = plan["errors"][-1].replace(
            "builds unsigned kernel modules with DKMS (precompiled)",
            "installs NVIDIA-signed precompiled kmods whose signing key the firmware does not trust until enrolled")


_UBUNTU_PKG = re.compile(
    r"^(?:nvidia-(?:headless-no-dkms|headless|driver|dkms|utils|compute-utils|kernel-common|kernel-source|"
    r"firmware|fabricmanager)|libnvidia-[a-z0-9-]+?|linux-modules-nvidia|linux-objects-nvidia|"
    r"xserver-xorg-video-nvidia)-(\d{3})(-server)?(-open)?(?:-|$)")
_UBUNTU_KMOD = re.compile(r"^(?:nvidia-(?:headless-no-dkms|headless|dkms|kernel-source)|linux-modules-nvidia)-")
_DEBIAN_TESLA = re.compile(r"^(?:lib)?(?:firmware-)?nvidia-tesla-(\d{3})-")


def stale_packages(installed, plan):
    """Installed NVIDIA driver packages that the plan replaces (another branch or module type).

    installed: ansible_facts.packages (name -> [ {version: ...}, ... ]) or a list of names.
    Returns sorted names; the role unholds and removes them before installing the plan.
    """
    names = sorted(installed.keys() if isinstance(installed, dict) else installed)
    branch, open_ = plan["branch"], plan["module_type"] == "open"
    wanted = set(plan["hold"]) | set(p.split("=")[0] for p in plan["packages"])
    stale = []
    if plan["os"] == "ubuntu":
        for name in names:
            m = _UBUNTU_PKG.match(name)
            if not m or name in wanted:
                continue
            if m.group(1) != branch:
                stale.append(name)
            elif _UBUNTU_KMOD.match(name) and bool(m.group(3)) != open_:
                stale.append(name)
    elif plan["os"] == "debian":
        tesla = any(p.startswith("nvidia-tesla-") for p in plan["hold"])
        for name in names:
            if name in wanted:
                continue
            m = _DEBIAN_TESLA.match(name)
            if m and (not tesla or m.group(1) != branch):
                stale.append(name)
            elif name in DEBIAN_CURRENT_PACKAGES and (tesla or "kernel-" in name):
                stale.append(name)
    elif plan["os"] == "rhel" and isinstance(installed, dict):
        for name in names:
            if not (name.startswith("nvidia-driver") or name.startswith("kmod-nvidia")):
                continue
            versions = [str(v.get("version", "")) for v in installed[name]]
            if name.startswith("kmod-nvidia") and not any(name == w or w.startswith(name) for w in wanted):
                stale.append(name)
            elif any(v and not v.startswith(branch + ".") for v in versions):
                stale.append(name)
    return sorted(set(stale))


def driver_version_matches(reported, branch, version=""):
    """True when every line nvidia-smi reported is the pinned version (or on the branch, if only a branch)."""
    lines = [line.strip() for line in str(reported).splitlines() if line.strip()]
    if not lines:
        return False
    if version and version.count(".") >= 1:
        return all(line == version for line in lines)
    return all(line.split(".")[0] == str(branch) for line in lines)


def secure_boot_from_efivar(b64_or_bytes):
    """Secure Boot state from the SecureBoot EFI variable (4 attribute bytes, then 1 data byte)."""
    import base64
    data = b64_or_bytes
    if isinstance(data, str):
        data = base64.b64decode(data)
    return bool(len(data) >= 5 and data[4] == 1)


def has_nvidia_gpu(vendor_ids):
    """True if any PCI vendor id (contents of /sys/bus/pci/devices/*/vendor) is NVIDIA's 0x10de."""
    return any(str(v).strip().lower() == "0x10de" for v in vendor_ids)


TOOLKIT_PACKAGES = ("nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
                    "libnvidia-container1")
TOOLKIT_CONFLICTS = ("nvidia-docker2", "nvidia-container-runtime", "nvidia-container-toolkit-operator-extensions")


def toolkit_plan(distribution, major_version, architecture, version, os_family=None, repo_source="configured",
                 apt_repo_url="", rpm_repo_url=""):
    """Decide what the container_toolkit role installs: pinned packages, holds, repository, errors."""
    osk = os_key(distribution, os_family)
    plan = {"os": osk, "packages": [], "hold": [], "repo": {"source": repo_source}, "errors": []}
    if osk is None or str(major_version) not in SUPPORTED_OS[osk]:
        plan["errors"].append("%s %s is not supported by container_toolkit: use Ubuntu 22.04/24.04, Debian 12 "
                              "or RHEL/Rocky/Alma 9" % (distribution, major_version))
        return plan
    if architecture not in SUPPORTED_ARCH:
        plan["errors"].append("architecture %s is not supported: use x86_64 or aarch64" % architecture)
        return plan
    if repo_source not in ("configured", "nvidia"):
        raise PlanError("container_toolkit_repo_source must be configured or nvidia, not %r" % repo_source)
    version = str(version or "").strip()
    if version and not re.match(r"^\d+\.\d+\.\d+(~rc\.\d+)?$", version):
        raise PlanError("container_toolkit_version %r is not a toolkit version such as 1.17.8" % version)
    mgr = "dnf" if osk == "rhel" else "apt"
    plan["packages"] = [_spec(p, version, mgr) for p in TOOLKIT_PACKAGES]
    plan["hold"] = list(TOOLKIT_PACKAGES) if mgr == "apt" else [_spec(p, version, mgr) for p in TOOLKIT_PACKAGES]
    if repo_source == "nvidia":
        if mgr == "apt":
            # NVIDIA publishes one "stable/deb/<arch>" repo for every Debian/Ubuntu release.
            plan["repo"]["url"] = apt_repo_url or "https://nvidia.github.io/libnvidia-container/stable/deb/%s" % (
                "arm64" if architecture == "aarch64" else "amd64")
        else:
            plan["repo"]["url"] = rpm_repo_url or \
                "https://nvidia.github.io/libnvidia-container/stable/rpm/%s" % architecture
    return plan
