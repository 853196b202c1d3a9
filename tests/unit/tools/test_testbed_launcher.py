# -*- coding: utf-8 -*-
"""The testbed launcher's pure parts (tools/testbed/testbed.py, package launcher/): node manifests, process
ownership, configuration."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "testbed"))
import testbed as tb  # noqa: E402


def test_gpu_node_carries_gfd_labels_capacity_and_pci_annotation():
    node = tb.node_manifest("gpu-h200-0", "gpu", {"cnai_gpu_product": "NVIDIA H200", "cnai_gpu_pci_device_id": "0x233510de",
                                                  "cnai_gpu_count": 8, "node_cpu": "96", "node_memory": "1Ti"})
    labels = node["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H200"
    assert labels["nvidia.com/gpu.count"] == "8"
    assert labels["nvidia.com/gpu.memory"] == "143771"
    assert labels["nvidia.com/mig.capable"] == "true"
    assert labels["nvidia.com/gpu.present"] == "true"
    assert node["metadata"]["annotations"]["cnai.platform/sim-gpu-pci-device-id"] == "0x233510DE"
    for field in ("capacity", "allocatable"):
        assert node["status"][field] == {"cpu": "96", "memory": "1Ti", "pods": "110", "ephemeral-storage": "1Ti",
                                         "nvidia.com/gpu": "8"}
    assert "nvidia.com/mig.config" not in labels  # nothing is configured until someone labels the node


def test_gpu_node_from_pci_id_only():
    node = tb.node_manifest("a", "gpu", {"cnai_gpu_pci_device_id": "0x20B210DE", "cnai_gpu_count": 4})
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert node["metadata"]["labels"]["nvidia.com/gpu.memory"] == "81920"


def test_cpu_node_has_no_gpu_anything():
    node = tb.node_manifest("cpu-0", "cpu", {"node_cpu": "32", "node_memory": "128Gi"})
    assert not [k for k in node["metadata"]["labels"] if k.startswith("nvidia.com/")]
    assert "nvidia.com/gpu" not in node["status"]["capacity"]
    assert node["status"]["capacity"]["cpu"] == "32"


def test_unknown_gpu_needs_its_memory():
    with pytest.raises(tb.TestbedError, match="gpu_memory_mib"):
        tb.node_manifest("x", "gpu", {"cnai_gpu_product": "NVIDIA L4", "cnai_gpu_count": 1})
    node = tb.node_manifest("x", "gpu", {"cnai_gpu_product": "NVIDIA L4", "cnai_gpu_count": 1, "gpu_memory_mib": 23034})
    assert node["metadata"]["labels"]["nvidia.com/mig.capable"] == "false"
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-L4"


def test_gpu_node_without_model_is_refused():
    with pytest.raises(tb.TestbedError, match="cnai_gpu_product or cnai_gpu_pci_device_id"):
        tb.node_manifest("x", "gpu", {"cnai_gpu_count": 1})


def test_process_ownership_compares_whole_state_paths():
    cfg = tb.Config.from_env({})
    ours = ["/bin/kwok", "--kubeconfig", cfg.kubeconfig]
    sibling = ["/bin/kwok", "--kubeconfig", cfg.state + "-gpu/kubeconfig",
               "--config", os.path.join(cfg.state, "bin", "kwok", "stages", "a.yaml")]
    assert tb.points_into_state(cfg, ours)
    assert not tb.points_into_state(cfg, sibling)
    assert tb.points_into_state(cfg, ["/bin/kube-apiserver", "--tls-cert-file", os.path.join(cfg.pki, "apiserver.crt")])
    assert not tb.points_into_state(cfg, [cfg.kubeconfig])  # the executable itself does not count


def test_configuration_is_read_from_the_environment_once_given():
    cfg = tb.Config.from_env({"TESTBED_DIR": "/tmp/tb-x", "TESTBED_APISERVER_PORT": "16453", "TESTBED_ETCD_PORT": "12389",
                              "TESTBED_KCM_PORT": "20267", "TESTBED_SCHEDULER_PORT": "20269",
                              "TESTBED_WAIT_SECONDS": "5", "TESTBED_INVENTORY": "/inv", "TESTBED_CACHE": "/c"})
    assert (cfg.kubeconfig, cfg.pki, cfg.logs, cfg.run, cfg.etcd_data) == (
        "/tmp/tb-x/kubeconfig", "/tmp/tb-x/pki", "/tmp/tb-x/logs", "/tmp/tb-x/run", "/tmp/tb-x/etcd")
    assert (cfg.apiserver_port, cfg.etcd_port, cfg.kcm_port, cfg.scheduler_port, cfg.wait_seconds) == (
        16453, 12389, 20267, 20269, 5)
    assert cfg.inventory == "/inv" and cfg.bin_paths()["kwok"].startswith("/c/bin/kwok-")
    etcd = [c for c in tb.components(cfg) if c["name"] == "etcd"][0]
    assert etcd["ports"] == [12389, 12390] and "/tmp/tb-x/etcd" in etcd["cmd"]
    with pytest.raises(tb.TestbedError, match="TESTBED_APISERVER_PORT must be an integer"):
        tb.Config.from_env({"TESTBED_APISERVER_PORT": "high"})


def test_main_reports_bad_configuration_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("TESTBED_ETCD_PORT", "x")
    assert tb.main(["env"]) == 1
    assert "TESTBED_ETCD_PORT must be an integer" in capsys.readouterr().err


def test_inventory_of_the_embedded_default():
    nodes = {h: (k, hv) for h, k, hv in tb.inventory_nodes()}
    assert nodes["gpu-h200-0"][0] == "gpu" and nodes["cpu-0"][0] == "cpu"
    assert nodes["gpu-a100-0"][1]["cnai_gpu_pci_device_id"] == "0x20B210DE"
