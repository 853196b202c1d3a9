# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster content: the inventory's nodes as KWOK Node objects, the default StorageClass, readiness."""
from __future__ import annotations

import json
import os
import sys
import time

from .config import A_PCI, A_SIM, DEFAULT_INVENTORY, TestbedError, collections_path, log
from .processes import log_path


def api_client(cfg):
    from kubernetes import client, config
    return client.ApiClient(config.new_client_from_config(config_file=cfg.kubeconfig).configuration)


def inventory_nodes(inventory=DEFAULT_INVENTORY):
    """Nodes of the inventory's gpu_nodes and cpu_nodes groups, with their host vars."""
    os.environ.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
    os.environ.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[inventory])
    vm = VariableManager(loader=loader, inventory=inv)
    groups = inv.get_groups_dict()
    out = []
    for group, kind in (("gpu_nodes", "gpu"), ("cpu_nodes", "cpu")):
        for host in groups.get(group, []):
            hv = vm.get_vars(host=inv.get_host(host))
            out.append((host, kind, hv))
    if not out:
        raise TestbedError("inventory %s has no hosts in gpu_nodes or cpu_nodes" % inventory)
    return out


def node_manifest(host, kind, hv):
    cpu = str(hv.get("node_cpu", "32"))
    mem = str(hv.get("node_memory", "128Gi"))
    labels = {"kubernetes.io/hostname": host, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "type": "kwok", "node.kubernetes.io/instance-type": "cnai-sim-" + kind}
    annotations = {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0", A_SIM: "true"}
    res = {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "1Ti"}
    if kind == "gpu":
        sys.path.insert(0, collections_path().split(os.pathsep)[0])
        from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
        product = hv.get("cnai_gpu_product")
        pci = hv.get("cnai_gpu_pci_device_id")
        count = int(hv.get("cnai_gpu_count", 1))
        if not product and not pci:
            raise TestbedError("GPU host %s needs cnai_gpu_product or cnai_gpu_pci_device_id in the inventory" % host)
        try:
            model = mig_catalog.lookup(product=product, pci_device_id=pci)
        except mig_catalog.CatalogError as exc:
            model = None
            if hv.get("gpu_memory_mib") is None:
                raise TestbedError("GPU host %s: %s (or set gpu_memory_mib for a non-MIG GPU)" % (host, exc))
        mem_mib = hv.get("gpu_memory_mib") or model.memory_total_mib
        labels.update({
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": mig_catalog.sanitize_product(product or model.names[0]),
            "nvidia.com/gpu.count": str(count),
            "nvidia.com/gpu.memory": str(mem_mib),
            "nvidia.com/mig.capable": "true" if model is not None and model.profiles else "false",
        })
        if pci or model is not None:
            annotations[A_PCI] = mig_catalog.normalize_pci_id(pci) if pci else model.pci_ids[0]
        res["nvidia.com/gpu"] = str(count)
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": host, "labels": labels, "annotations": annotations},
            "spec": {},
            "status": {"capacity": dict(res), "allocatable": dict(res), "phase": "Running"}}


def ensure_objects(cfg):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    api = api_client(cfg)
    core = client.CoreV1Api(api)
    storage = client.StorageV1Api(api)
    created = []
    try:
        storage.create_storage_class({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "kwok-volume",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kwok.x-k8s.io/volume", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
        created.append("storageclass/kwok-volume")
    except ApiException as exc:
        if exc.status != 409:
            raise
    existing = {n["metadata"]["name"] for n in json.loads(core.list_node(_preload_content=False).data)["items"]}
    for host, kind, hv in inventory_nodes(cfg.inventory):
        if host in existing:
            continue
        core.create_node(node_manifest(host, kind, hv))
        created.append("node/" + host)
    if created:
        log("created %s" % ", ".join(created))


def wait_cluster(cfg):
    """Nodes Ready (kwok), GPU capacity in place, default ServiceAccount present."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    core = client.CoreV1Api(api_client(cfg))
    timeout = cfg.wait_seconds
    deadline = time.monotonic() + timeout
    problem = "?"
    while time.monotonic() < deadline:
        nodes = json.loads(core.list_node(_preload_content=False).data)["items"]
        not_ready = [n["metadata"]["name"] for n in nodes
                     if not any(c.get("type") == "Ready" and c.get("status") == "True"
                                for c in (n.get("status") or {}).get("conditions") or [])]
        if not nodes or not_ready:
            problem = "nodes not Ready: %s (kwok log: %s)" % (", ".join(not_ready) or "none exist", log_path(cfg, "kwok"))
        else:
            try:
                core.read_namespaced_service_account("default", "default")
                return nodes
            except ApiException:
                problem = "ServiceAccount default/default not created yet (kube-controller-manager log: %s)" \
                          % log_path(cfg, "kube-controller-manager")
        time.sleep(0.3)
    raise TestbedError("cluster not ready after %d s: %s" % (timeout, problem))
