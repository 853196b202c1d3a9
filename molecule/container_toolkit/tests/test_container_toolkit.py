"""containerd on a real Debian 12 container after the container_toolkit role and a Kubespray-style rewrite."""

import tomllib
from datetime import datetime, timezone

DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
CRI = "io.containerd.grpc.v1.cri"


def dump(host):
    return tomllib.loads(host.check_output("containerd config dump"))


def test_containerd_is_running_with_the_merged_config(host):
    assert host.service("containerd").is_running
    assert host.run("ctr version").rc == 0  # the daemon answers on its socket


def test_effective_config_has_nvidia_runtime(host):
    runtimes = dump(host)["plugins"][CRI]["containerd"]["runtimes"]
    assert runtimes["nvidia"]["runtime_type"] == "io.containerd.runc.v2"
    assert runtimes["nvidia"]["options"]["BinaryName"] == "/usr/bin/nvidia-container-runtime"


def test_other_installers_settings_survive(host):
    # The rewrite in side_effect.yml set these; the drop-in must carry them, not reset them
    # (containerd replaces a whole plugin section per imported file).
    cri = dump(host)["plugins"][CRI]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True
    assert cri["containerd"]["default_runtime_name"] == "runc"
    # the nvidia runtime follows the node's cgroup driver
    assert cri["containerd"]["runtimes"]["nvidia"]["options"]["SystemdCgroup"] is True


def test_main_config_kept_and_imports_the_dropins(host):
    main = host.file("/etc/containerd/config.toml").content_string
    # tomlkit adds the imports line after the last top-level key; every other byte is the rewrite's own
    assert main.startswith('# written by "kubespray" (simulated)\nversion = 2\nroot = "/var/lib/containerd"\n'
                           'oom_score = 0\nimports = ["/etc/containerd/conf.d/*.toml"]\n\n[plugins."io.containerd.grpc.v1.cri"]\n')
    assert 'sandbox_image = "registry.k8s.io/pause:3.10"' in main
    assert "nvidia" not in main  # the runtime lives in the drop-in only
    assert "/etc/containerd/conf.d/99-nvidia.toml" in dump(host)["imports"]


def test_dropin_file(host):
    f = host.file(DROPIN)
    assert f.is_file and f.user == "root" and f.mode == 0o644
    assert f.content_string.startswith("# Managed by Ansible (cnai.platform.container_toolkit)")
    data = tomllib.loads(f.content_string)
    assert data["version"] == 2
    assert set(data["plugins"]) == {CRI}


def test_containerd_restarted_after_the_repair(host):
    # The handler restarted containerd after the role rewrote the drop-in (side_effect.yml); without
    # it, containerd's last start would be the "kubespray" restart, which came before the write.
    started = host.check_output("systemctl show --timestamp=us+utc -p ActiveEnterTimestamp --value containerd")
    started_at = datetime.strptime(started, "%a %Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=timezone.utc).timestamp()
    written = float(host.check_output("stat -c %%.9Y %s", DROPIN))
    assert started_at > written


def test_tomlkit_from_the_distribution(host):
    # containerd_imports runs on the host with the role's python3-tomlkit, not the controller's pin
    assert host.package("python3-tomlkit").is_installed
