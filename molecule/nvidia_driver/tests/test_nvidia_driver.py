"""What the nvidia_driver role left on a real Debian 12 container (after moving it from branch 470 to 535)."""

import pytest

BRANCH = "535"
VERSION = "535.216.03"
NEW = [f"nvidia-tesla-{BRANCH}-kernel-dkms", f"nvidia-tesla-{BRANCH}-smi",
       f"libnvidia-tesla-{BRANCH}-cuda1", f"libnvidia-tesla-{BRANCH}-cfg1"]
OLD = ["nvidia-tesla-470-kernel-dkms", "nvidia-tesla-470-smi", "libnvidia-tesla-470-cuda1",
       "libnvidia-tesla-470-cfg1"]


@pytest.mark.parametrize("name", NEW)
def test_pinned_packages_installed_at_the_pinned_version(host, name):
    pkg = host.package(name)
    assert pkg.is_installed
    assert pkg.version.startswith(VERSION + "-"), pkg.version


@pytest.mark.parametrize("name", NEW + ["nvidia-persistenced"])
def test_packages_are_held(host, name):
    sel = host.check_output("dpkg --get-selections %s", name).split()
    assert [sel[0].split(":")[0], sel[1]] == [name, "hold"]  # multiarch libs read name:amd64


def test_holds_stop_apt_from_moving_the_driver(host):
    held = set(n.split(":")[0] for n in host.check_output("apt-mark showhold").split())
    assert set(NEW) <= held
    # An unrelated transaction that would take the driver away must be refused by apt, not applied:
    # removing (or replacing) a held package needs --allow-change-held-packages.
    cmd = host.run("apt-get remove -s -y nvidia-tesla-535-smi")
    assert cmd.rc != 0
    assert "Held packages were changed" in cmd.stderr + cmd.stdout


@pytest.mark.parametrize("name", OLD)
def test_old_branch_removed_and_unheld(host, name):
    assert not host.package(name).is_installed
    assert name not in [n.split(":")[0] for n in host.check_output("apt-mark showhold").split()]


def test_nvidia_smi_is_the_535_one(host):
    # Debian selects the branch's nvidia-smi through update-alternatives
    target = host.check_output("readlink -f /usr/bin/nvidia-smi")
    assert host.check_output("dpkg -S %s", target).startswith(f"nvidia-tesla-{BRANCH}-smi")


def test_dkms_source_registered_but_not_built_in_a_container(host):
    # The role skips headers and the build in containers; DKMS knows the module, built for no kernel.
    status = host.check_output("dkms status")
    assert f"nvidia-tesla-{BRANCH}/{VERSION}: added" in status
    assert "470" not in status
    kernel = host.check_output("uname -r")
    assert not host.package(f"linux-headers-{kernel}").is_installed


def test_nouveau_blacklisted(host):
    f = host.file("/etc/modprobe.d/blacklist-nouveau-cnai.conf")
    assert f.is_file and f.user == "root" and f.mode == 0o644
    lines = [ln.strip() for ln in f.content_string.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines == ["blacklist nouveau", "options nouveau modeset=0"]


def test_modprobe_options(host):
    f = host.file("/etc/modprobe.d/nvidia-cnai.conf")
    assert "options nvidia NVreg_EnableStreamMemOPs=1 NVreg_RestrictProfilingToAdminUsers=1" in f.content_string
    assert "branch 535, version 535.216.03" in f.content_string
    # modprobe itself accepts the file set (parses every options line)
    out = host.run("modprobe --showconfig 2>&1")
    assert out.rc == 0
    assert "options nvidia NVreg_EnableStreamMemOPs=1 NVreg_RestrictProfilingToAdminUsers=1" in out.stdout
    assert "blacklist nouveau" in out.stdout


def test_modules_loaded_at_boot(host):
    f = host.file("/etc/modules-load.d/nvidia-cnai.conf")
    assert [ln for ln in f.content_string.splitlines() if not ln.startswith("#")] == ["nvidia", "nvidia_uvm"]


def test_persistence_daemon_enabled(host):
    svc = host.service("nvidia-persistenced")
    assert svc.is_enabled
    unit = host.check_output("systemctl cat nvidia-persistenced")
    assert "--no-persistence-mode" not in unit  # the daemon turns persistence mode on
