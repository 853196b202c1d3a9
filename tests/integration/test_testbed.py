# -*- coding: utf-8 -*-
"""The local testbed: real control plane + KWOK nodes + GPU Operator simulator (tools/testbed).

MIG/time-slicing tests run on throw-away GPU nodes they create (same manifest as the inventory's), so
the inventory's nodes stay as other layers expect them; the simulator's ConfigMaps are restored after.
"""
import json
import os
import re
import time
import uuid

import pytest
import yaml

from conftest import ROOT, tb, wait_for

pytestmark = pytest.mark.testbed

MIG_NS = "gpu-operator"
MIG_CM = "cnai-mig-parted-config"
DP_CM = "cnai-device-plugin-config"
STATE = "nvidia.com/mig.config.state"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def gpu_deployment(name, gpus, replicas=1, resource="nvidia.com/gpu", node=None):
    spec = {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                            "resources": {"limits": {resource: str(gpus)}}}]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def deployment_available(testbed, ns, name):
    d = json.loads(testbed.apps.read_namespaced_deployment(name, ns, _preload_content=False).data)
    conds = {c["type"]: c["status"] for c in (d.get("status") or {}).get("conditions") or []}
    want = d["spec"]["replicas"]
    st = d.get("status") or {}
    return conds.get("Available") == "True" and st.get("availableReplicas") == want and st.get("readyReplicas") == want


def _upsert_configmap(testbed, name, data):
    from kubernetes.client.exceptions import ApiException
    body = {"metadata": {"name": name, "namespace": MIG_NS}, "data": data}
    try:
        testbed.core.create_namespaced_config_map(MIG_NS, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        testbed.core.replace_namespaced_config_map(name, MIG_NS, body)


@pytest.fixture
def gpu_operator_configmaps(testbed):
    """Write the simulator's two ConfigMaps (merging into what exists); restore them afterwards."""
    from kubernetes.client.exceptions import ApiException
    try:
        testbed.core.create_namespace({"metadata": {"name": MIG_NS}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    saved = {}
    for name in (MIG_CM, DP_CM):
        try:
            saved[name] = json.loads(testbed.core.read_namespaced_config_map(
                name, MIG_NS, _preload_content=False).data).get("data") or {}
        except ApiException as exc:
            if exc.status != 404:
                raise
            saved[name] = None

    def write(mig_configs=None, dp_configs=None):
        if mig_configs is not None:
            old = yaml.safe_load((saved[MIG_CM] or {}).get("config.yaml") or "") or {}
            doc = {"version": "v1", "mig-configs": dict(old.get("mig-configs") or {}, **mig_configs)}
            _upsert_configmap(testbed, MIG_CM, {"config.yaml": yaml.safe_dump(doc, sort_keys=False)})
        if dp_configs is not None:
            data = dict(saved[DP_CM] or {})
            data.update({k: yaml.safe_dump(v) for k, v in dp_configs.items()})
            _upsert_configmap(testbed, DP_CM, data)

    yield write
    for name, data in saved.items():
        if data is None:
            try:
                testbed.core.delete_namespaced_config_map(name, MIG_NS)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        else:
            _upsert_configmap(testbed, name, data)


@pytest.fixture
def sim_node(testbed):
    """Create throw-away simulated GPU nodes from an inventory-like host description; delete after."""
    made = []

    def make(product="NVIDIA H200", pci="0x233510DE", count=2, labels=None, annotations=None):
        name = "t-gpu-%s" % uuid.uuid4().hex[:6]
        manifest = tb.node_manifest(name, "gpu", {"cnai_gpu_product": product, "cnai_gpu_pci_device_id": pci,
                                                  "cnai_gpu_count": count, "node_cpu": "16", "node_memory": "64Gi"})
        manifest["metadata"]["labels"].update(labels or {})
        manifest["metadata"]["annotations"].update(annotations or {})
        testbed.core.create_node(manifest)
        made.append(name)
        wait_for(lambda: _ready(testbed.node(name)), 30, "node %s Ready (kwok)" % name)
        return name

    yield make
    for name in made:
        testbed.core.delete_node(name)


def _ready(node):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def mig_state(testbed, node):
    return (testbed.node(node)["metadata"].get("labels") or {}).get(STATE)


def relabel(testbed, node, config):
    testbed.patch_node(node, labels={"nvidia.com/mig.config": config})


def wait_state(testbed, node, timeout=30):
    """Wait until the simulator has handled the node's current nvidia.com/mig.config; return the state."""
    def handled():
        meta = testbed.node(node)["metadata"]
        labels, ann = meta.get("labels") or {}, meta.get("annotations") or {}
        state = labels.get(STATE)
        if ann.get("cnai.platform/sim-mig-applied") == labels.get("nvidia.com/mig.config") \
                and state in ("success", "failed"):
            return state
        return None
    return wait_for(handled, timeout, "%s on %s to reach success/failed" % (STATE, node))


def message(testbed, node):
    return testbed.node(node)["metadata"]["annotations"].get("cnai.platform/sim-mig-message", "")


H200_CONFIGS = {
    "t-all-1g": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.18gb": 7}}],
    "t-mixed": [{"devices": [0], "mig-enabled": True, "mig-devices": {"1g.18gb": 2, "2g.35gb": 1, "3g.71gb": 1}},
                {"devices": [1], "mig-enabled": False}],
    "t-3x3g": [{"devices": "all", "mig-enabled": True, "mig-devices": {"3g.71gb": 3}}],
    "t-disabled": [{"devices": "all", "mig-enabled": False}],
}


# ---------------------------------------------------------------------------------------------
# the control plane and the inventory's nodes
# ---------------------------------------------------------------------------------------------

def test_control_plane_reports_the_pinned_release(testbed):
    from kubernetes import client
    ver = json.loads(client.VersionApi(testbed.api_client).get_code(_preload_content=False).data)
    assert ver["gitVersion"] == testbed.versions["K8S_VERSION"]
    assert os.path.exists(testbed.kubeconfig) and testbed.kubeconfig.endswith(".cache/testbed/kubeconfig")


def test_inventory_nodes_look_like_gpu_feature_discovery_labelled_them(testbed):
    nodes = {n["metadata"]["name"]: n for n in testbed.nodes()}
    inv = {h: (k, hv) for h, k, hv in tb.inventory_nodes()}
    assert set(inv) <= set(nodes), "inventory hosts missing as nodes"
    for host, (kind, hv) in inv.items():
        node = nodes[host]
        labels = node["metadata"]["labels"]
        assert _ready(node), host
        alloc = node["status"]["allocatable"]
        assert alloc["cpu"] == str(hv["node_cpu"]) and alloc["memory"] == str(hv["node_memory"])
        if kind == "cpu":
            assert not [k for k in labels if k.startswith("nvidia.com/")], host
            assert "nvidia.com/gpu" not in alloc
            continue
        assert labels["nvidia.com/gpu.present"] == "true"
        assert labels["nvidia.com/gpu.product"] == hv["cnai_gpu_product"].replace(" ", "-")
        assert labels["nvidia.com/gpu.count"] == str(hv["cnai_gpu_count"])
        assert labels["nvidia.com/mig.capable"] == "true"
        assert int(labels["nvidia.com/gpu.memory"]) > 40000
        assert node["metadata"]["annotations"]["cnai.platform/sim-gpu-pci-device-id"] == hv["cnai_gpu_pci_device_id"]
    # H200 memory as nvidia-smi reports it (fixtures/nvidia-smi/h200-141gb: 143771 MiB)
    assert nodes["gpu-h200-0"]["metadata"]["labels"]["nvidia.com/gpu.memory"] == "143771"


# ---------------------------------------------------------------------------------------------
# scheduling on simulated GPUs
# ---------------------------------------------------------------------------------------------

def test_gpu_deployment_is_scheduled_on_a_gpu_node_and_available(testbed, namespace):
    testbed.apps.create_namespaced_deployment(namespace, gpu_deployment("one-gpu", 1, replicas=2))
    wait_for(lambda: deployment_available(testbed, namespace, "one-gpu"), 60, "Deployment one-gpu Available")
    pods = testbed.pods(namespace, "app=one-gpu")
    assert len(pods) == 2
    for pod in pods:
        node = testbed.node(pod["spec"]["nodeName"])
        assert node["metadata"]["labels"].get("nvidia.com/gpu.present") == "true"
        assert pod["status"]["phase"] == "Running"


def test_more_gpus_than_any_node_has_stays_pending(testbed, namespace):
    most = max(int(n["status"]["allocatable"].get("nvidia.com/gpu", "0")) for n in testbed.nodes())
    testbed.apps.create_namespaced_deployment(namespace, gpu_deployment("too-big", most + 1))

    def failed_scheduling():
        evs = [e for e in testbed.events(namespace) if e.get("reason") == "FailedScheduling"]
        return evs and evs[0]["message"]
    msg = wait_for(failed_scheduling, 60, "a FailedScheduling event")
    assert "Insufficient nvidia.com/gpu" in msg
    pods = testbed.pods(namespace, "app=too-big")
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Pending" and not pods[0]["spec"].get("nodeName")
    assert not deployment_available(testbed, namespace, "too-big")


# ---------------------------------------------------------------------------------------------
# the GPU Operator simulator: MIG
# ---------------------------------------------------------------------------------------------

def test_mig_config_goes_pending_then_success_and_allocatable_follows(
        testbed, sim_node, gpu_operator_configmaps, namespace):
    gpu_operator_configmaps(mig_configs=H200_CONFIGS)
    node = sim_node(count=2, annotations={"cnai.platform/sim-delay-seconds": "3"})
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "2"}
    relabel(testbed, node, "t-mixed")
    wait_for(lambda: mig_state(testbed, node) == "pending", 10, "state pending")
    time.sleep(1)
    assert mig_state(testbed, node) == "pending", "the delay annotation keeps the change pending"
    assert wait_state(testbed, node) == "success", message(testbed, node)
    want = {"nvidia.com/gpu": "1", "nvidia.com/mig-1g.18gb": "2", "nvidia.com/mig-2g.35gb": "1",
            "nvidia.com/mig-3g.71gb": "1"}
    assert testbed.nvidia_resources(node) == want
    assert testbed.nvidia_resources(node, "capacity") == want

    # the real scheduler places pods on the new MIG resources
    testbed.apps.create_namespaced_deployment(
        namespace, gpu_deployment("mig-app", 1, replicas=2, resource="nvidia.com/mig-1g.18gb", node=node))
    wait_for(lambda: deployment_available(testbed, namespace, "mig-app"), 60, "Deployment mig-app Available")

    # and back: all-disabled-like config restores whole GPUs, MIG resources disappear
    testbed.patch_node(node, annotations={"cnai.platform/sim-delay-seconds": "0"})
    relabel(testbed, node, "t-all-1g")
    assert wait_state(testbed, node) == "success"
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "0", "nvidia.com/mig-1g.18gb": "14"}
    relabel(testbed, node, "t-disabled")
    wait_for(lambda: testbed.nvidia_resources(node) == {"nvidia.com/gpu": "2"}, 30, "whole GPUs back")
    assert mig_state(testbed, node) == "success"


def test_config_the_gpu_cannot_hold_fails_and_leaves_capacity(testbed, sim_node, gpu_operator_configmaps):
    gpu_operator_configmaps(mig_configs=H200_CONFIGS)
    node = sim_node(count=2)
    relabel(testbed, node, "t-all-1g")
    assert wait_state(testbed, node) == "success"
    before = testbed.nvidia_resources(node, "capacity")
    relabel(testbed, node, "t-3x3g")
    assert wait_state(testbed, node) == "failed"
    assert "cannot be placed" in message(testbed, node)
    assert testbed.nvidia_resources(node, "capacity") == before
    assert testbed.nvidia_resources(node) == before


def test_missing_config_name_fails(testbed, sim_node, gpu_operator_configmaps):
    gpu_operator_configmaps(mig_configs=H200_CONFIGS)
    node = sim_node(count=1)
    relabel(testbed, node, "no-such-config")
    assert wait_state(testbed, node) == "failed"
    assert "not defined" in message(testbed, node)
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "1"}


def test_forced_failure_annotation(testbed, sim_node, gpu_operator_configmaps):
    gpu_operator_configmaps(mig_configs=H200_CONFIGS)
    node = sim_node(count=2, annotations={"cnai.platform/sim-fail": "true"})
    relabel(testbed, node, "t-all-1g")  # a valid config
    assert wait_state(testbed, node) == "failed"
    assert "forced failure" in message(testbed, node)
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "2"}
    # lifting the annotation and asking again works
    testbed.patch_node(node, annotations={"cnai.platform/sim-fail": None})
    relabel(testbed, node, "t-mixed")
    assert wait_state(testbed, node) == "success"


def test_single_strategy_advertises_mig_devices_as_gpus(testbed, sim_node, gpu_operator_configmaps):
    gpu_operator_configmaps(mig_configs=H200_CONFIGS)
    node = sim_node(count=2, labels={"nvidia.com/mig.strategy": "single"})
    relabel(testbed, node, "t-all-1g")
    assert wait_state(testbed, node) == "success"
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "14"}
    relabel(testbed, node, "t-mixed")  # two profiles: not valid under single
    assert wait_state(testbed, node) == "failed"
    assert "single strategy" in message(testbed, node)
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "14"}


def test_a100_node_uses_its_own_profiles(testbed, sim_node, gpu_operator_configmaps):
    gpu_operator_configmaps(mig_configs={
        "t-a100": [{"device-filter": "0x20B210DE", "devices": "all", "mig-enabled": True,
                    "mig-devices": {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 1}}]})
    node = sim_node(product="NVIDIA A100-SXM4-80GB", pci="0x20B210DE", count=4)
    relabel(testbed, node, "t-a100")
    assert wait_state(testbed, node) == "success", message(testbed, node)
    assert testbed.nvidia_resources(node) == {"nvidia.com/gpu": "0", "nvidia.com/mig-3g.40gb": "4",
                                              "nvidia.com/mig-2g.20gb": "4", "nvidia.com/mig-1g.10gb": "4"}


# ---------------------------------------------------------------------------------------------
# the GPU Operator simulator: time-slicing
# ---------------------------------------------------------------------------------------------

def test_time_slicing_replicas_multiply_gpus(testbed, sim_node, gpu_operator_configmaps, namespace):
    gpu_operator_configmaps(dp_configs={"t-ts4": {
        "version": "v1", "flags": {"migStrategy": "mixed"},
        "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}}})
    node = sim_node(count=2)
    testbed.patch_node(node, labels={"nvidia.com/device-plugin.config": "t-ts4"})
    wait_for(lambda: testbed.nvidia_resources(node) == {"nvidia.com/gpu": "8"}, 30, "8 shared GPUs")
    wait_for(lambda: "nvidia.com/gpu.replicas" in testbed.node(node)["metadata"]["labels"], 10,
             "label nvidia.com/gpu.replicas")
    labels = testbed.node(node)["metadata"]["labels"]
    assert labels["nvidia.com/gpu.replicas"] == "4"
    assert labels["nvidia.com/gpu.sharing-strategy"] == "time-slicing"
    # 8 pods of one GPU each fit on 2 physical GPUs
    testbed.apps.create_namespaced_deployment(namespace, gpu_deployment("shared", 1, replicas=8, node=node))
    wait_for(lambda: deployment_available(testbed, namespace, "shared"), 60, "8 replicas on 2 time-sliced GPUs")
    # dropping the label goes back to whole GPUs
    testbed.patch_node(node, labels={"nvidia.com/device-plugin.config": None})
    wait_for(lambda: testbed.nvidia_resources(node) == {"nvidia.com/gpu": "2"}, 30, "2 whole GPUs")
    wait_for(lambda: "nvidia.com/gpu.replicas" not in testbed.node(node)["metadata"]["labels"], 10,
             "label nvidia.com/gpu.replicas removed")


def test_kwok_heartbeats_keep_simulated_capacity(testbed, sim_node, gpu_operator_configmaps):
    """kwok's node stages touch conditions, not capacity: the simulator's resources survive a heartbeat."""
    gpu_operator_configmaps(mig_configs=H200_CONFIGS)
    node = sim_node(count=1)
    relabel(testbed, node, "t-all-1g")
    assert wait_state(testbed, node) == "success"
    want = testbed.nvidia_resources(node)
    # Force kwok to re-run node-initialize (it selects nodes that are not Ready) and wait for it.
    n = testbed.node(node)
    conds = [dict(c, status="Unknown") if c["type"] == "Ready" else c for c in n["status"]["conditions"]]
    testbed.core.patch_node_status(node, {"status": {"conditions": conds}},
                                   _content_type="application/strategic-merge-patch+json")
    wait_for(lambda: _ready(testbed.node(node)), 30, "kwok to mark the node Ready again")
    assert testbed.nvidia_resources(node) == want
    assert testbed.nvidia_resources(node, "capacity") == want


# ---------------------------------------------------------------------------------------------
# Ansible against the testbed
# ---------------------------------------------------------------------------------------------

def recap(proc):
    line = [l for l in proc.stdout.splitlines() if l.startswith("localhost") and "ok=" in l][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def test_kubernetes_core_k8s_apply_and_wait(testbed, namespace):
    pb = os.path.join(ROOT, "tests", "integration", "playbooks", "k8s_apply_wait.yml")
    first = recap(testbed.run_playbook(pb, {"testbed_namespace": namespace}))
    assert first["changed"] == 1 and first["failed"] == 0, first  # the looped apply task
    assert deployment_available(testbed, namespace, "gpu-app")
    second = recap(testbed.run_playbook(pb, {"testbed_namespace": namespace}))
    assert second["changed"] == 0 and second["failed"] == 0, "second run must be idempotent: %s" % second


def test_kubernetes_core_helm_installs_a_local_chart(testbed, namespace):
    pb = os.path.join(ROOT, "tests", "integration", "playbooks", "helm_local_chart.yml")
    testbed.run_playbook(pb, {"testbed_namespace": namespace, "testbed_helm": testbed.bins["helm"],
                              "testbed_chart": os.path.join(ROOT, "tests", "integration", "charts", "tiny")})
    assert deployment_available(testbed, namespace, "tiny-tiny")
    dep = json.loads(testbed.apps.read_namespaced_deployment("tiny-tiny", namespace, _preload_content=False).data)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.invalid/tiny:2.0"  # the values
    pods = testbed.pods(namespace, "app.kubernetes.io/instance=tiny")
    assert len(pods) == 2
    assert all(testbed.node(p["spec"]["nodeName"])["metadata"]["labels"].get("nvidia.com/gpu.present") == "true"
               for p in pods)


def test_status_prints_the_kubeconfig_and_nodes(testbed, capsys):
    assert tb.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "kubeconfig: %s" % testbed.kubeconfig in out
    for node in tb.inventory_nodes():
        assert "\n%s " % node[0] in out
