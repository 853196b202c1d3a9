# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU Operator simulator for the local testbed (tools/testbed); also runs the ECK simulator (eck_sim.py).

Plays the parts of the NVIDIA GPU Operator that touch the Kubernetes API, for simulated GPU nodes
(nodes labelled nvidia.com/gpu.present=true, GPU model given by the annotation
cnai.platform/sim-gpu-pci-device-id or the nvidia.com/gpu.product label, GPU count by
nvidia.com/gpu.count):

* mig-manager: when a node's ``nvidia.com/mig.config`` label changes, set
  ``nvidia.com/mig.config.state=pending``, read the mig-parted ConfigMap (key ``config.yaml``), check the
  named config against the node's GPUs with the collection's MIG catalog (every GPU covered, profiles
  known to that GPU model, instances placeable on the GPU's placement grid), then ``success`` or
  ``failed`` (capacity unchanged).
* device plugin: advertise ``nvidia.com/mig-<profile>`` (mixed strategy) or ``nvidia.com/gpu`` (single)
  in status.capacity/allocatable; non-MIG GPUs stay ``nvidia.com/gpu``. Time-slicing: the
  ``nvidia.com/device-plugin.config`` label selects a key of the device-plugin ConfigMap whose
  ``sharing.timeSlicing.resources[].replicas`` multiply the advertised resources
  (label ``nvidia.com/gpu.replicas``).

Test hooks (node annotations): ``cnai.platform/sim-fail: "true"`` fails the next MIG change;
``cnai.platform/sim-hold: "true"`` keeps a MIG change pending until the test removes the annotation (a
deterministic hold: tests release it, they never race a clock); ``cnai.platform/sim-delay-seconds: "N"``
keeps it pending N seconds. Bookkeeping lives in
annotations (``cnai.platform/sim-mig-*``), so the simulator is stateless and can restart at any time.

The pure functions at the top (parse_mig_parted_config, select_layout, mig_resources, ...) need no
cluster and are unit-tested in tests/unit/tools/test_gpu_sim.py.

This is an independent implementation of NVIDIA's side on purpose: it does not use the collection's
mig-parted interpreter (plugins/module_utils/mig_parted.py), so that a mistake there cannot hide itself in
the tests. Both follow mig-parted's rules (api/spec/v1, pkg/types/device.go), including device filters:
``0xDDDDVVVV`` matches on device and vendor, the subsystem-qualified ``0xDDDDVVVV:0xSSSSVVVV`` needs all
four to match (the node's subsystem id comes from the annotation cnai.platform/sim-gpu-pci-subsystem-id),
and a filter that is not a PCI id is refused.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading

import yaml

try:
    from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
except ImportError as exc:  # pragma: no cover - environment problem, reported clearly at start
    mig_catalog = None
    _CATALOG_IMPORT_ERROR = exc
else:
    _CATALOG_IMPORT_ERROR = None

LOG = logging.getLogger("gpu_sim")

# Labels (GPU Operator / GFD / mig-manager contract)
L_PRESENT = "nvidia.com/gpu.present"
L_PRODUCT = "nvidia.com/gpu.product"
L_COUNT = "nvidia.com/gpu.count"
L_MIG_CONFIG = "nvidia.com/mig.config"
L_MIG_STATE = "nvidia.com/mig.config.state"
L_MIG_STRATEGY = "nvidia.com/mig.strategy"
L_DP_CONFIG = "nvidia.com/device-plugin.config"
L_REPLICAS = "nvidia.com/gpu.replicas"
L_SHARING = "nvidia.com/gpu.sharing-strategy"
# Annotations (testbed contract)
A_PCI = "cnai.platform/sim-gpu-pci-device-id"
A_PCI_SUBSYSTEM = "cnai.platform/sim-gpu-pci-subsystem-id"
A_FAIL = "cnai.platform/sim-fail"
A_DELAY = "cnai.platform/sim-delay-seconds"
A_HOLD = "cnai.platform/sim-hold"               # "true": stay pending until the test removes it
A_APPLIED = "cnai.platform/sim-mig-applied"      # the mig.config value last handled (success or failed)
A_LAYOUT = "cnai.platform/sim-mig-layout"        # JSON: per GPU index, null (MIG off) or {profile: count}
A_MESSAGE = "cnai.platform/sim-mig-message"      # why the last change failed (or "ok")
A_DP_MESSAGE = "cnai.platform/sim-device-plugin-message"

GPU = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"
STRATEGIES = ("mixed", "single")


def forced_failure(value, wanted):
    """Does the test annotation ``cnai.platform/sim-fail`` fail a change to config ``wanted``?

    ``true``: every change fails. ``except:a,b``: every change fails but those to the configs listed.
    ``a,b``: only changes to the configs listed fail. Empty: nothing is forced.
    """
    value = (value or "").strip()
    if not value:
        return False
    if value.lower() == "true":
        return True
    if value.startswith("except:"):
        return wanted not in [c.strip() for c in value[len("except:"):].split(",") if c.strip()]
    return wanted in [c.strip() for c in value.split(",") if c.strip()]


def held(annotations):
    """Is a MIG change held pending by the test annotation ``cnai.platform/sim-hold`` (any value but "false")?"""
    value = (annotations or {}).get(A_HOLD)
    return value is not None and str(value).strip().lower() not in ("", "false")


class SimError(Exception):
    """A config the simulated GPUs cannot take; the message says why."""


# ---------------------------------------------------------------------------------------------
# Pure logic: mig-parted config -> per-GPU layout -> advertised resources
# ---------------------------------------------------------------------------------------------

def parse_mig_parted_config(text):
    """Parse a mig-parted document (``version: v1``, ``mig-configs``) and validate its shape.

    Returns the ``mig-configs`` dict. Raises SimError with a readable message.
    """
    try:
        doc = yaml.safe_load(text) if isinstance(text, str) else text
    except yaml.YAMLError as exc:
        raise SimError("mig-parted config is not valid YAML: %s" % exc)
    if not isinstance(doc, dict):
        raise SimError("mig-parted config must be a mapping with version and mig-configs")
    unknown = set(doc) - {"version", "mig-configs"}
    if unknown:
        raise SimError("mig-parted config: unexpected field(s) %s" % ", ".join(sorted(unknown)))
    if doc.get("version") != "v1":
        raise SimError("mig-parted config: version must be v1, got %r" % doc.get("version"))
    configs = doc.get("mig-configs")
    if not isinstance(configs, dict) or not configs:
        raise SimError("mig-parted config: mig-configs must be a non-empty mapping")
    for name, entries in configs.items():
        if not isinstance(entries, list) or not entries:
            raise SimError("mig-parted config %r: must be a non-empty list of entries" % name)
        for i, entry in enumerate(entries):
            _check_entry(name, i, entry)
    return configs


def _check_entry(name, i, entry):
    where = "mig-parted config %r entry %d" % (name, i)
    if not isinstance(entry, dict):
        raise SimError("%s: must be a mapping" % where)
    unknown = set(entry) - {"devices", "device-filter", "mig-enabled", "mig-devices"}
    if unknown:
        raise SimError("%s: unexpected field(s) %s" % (where, ", ".join(sorted(unknown))))
    devices = entry.get("devices")
    if devices != "all" and not (isinstance(devices, list) and devices
                                 and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                         for d in devices)):
        raise SimError("%s: devices must be 'all' or a list of GPU indices, got %r" % (where, devices))
    flt = entry.get("device-filter")
    if flt is not None and not isinstance(flt, (str, list)):
        raise SimError("%s: device-filter must be a string or a list" % where)
    for item in ([flt] if isinstance(flt, str) and flt else flt or []):
        if not isinstance(item, str) or not _FILTER_RE.match(item.strip()):
            raise SimError("%s: device-filter %r is not 0xDDDDVVVV or 0xDDDDVVVV:0xSSSSVVVV" % (where, item))
    if not isinstance(entry.get("mig-enabled"), bool):
        raise SimError("%s: mig-enabled (true/false) is required" % where)
    mig_devices = entry.get("mig-devices")
    if entry["mig-enabled"]:
        if not isinstance(mig_devices, dict):
            raise SimError("%s: mig-enabled: true needs mig-devices (may be {})" % where)
        for prof, count in mig_devices.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise SimError("%s: count of %s must be an integer >= 0" % (where, prof))
        if mig_devices and not any(mig_devices.values()):
            raise SimError("%s: all mig-devices counts are zero" % where)
    elif mig_devices:
        raise SimError("%s: mig-enabled: false must not carry mig-devices" % where)


_FILTER_RE = re.compile(r"^0[xX]([0-9a-fA-F]{8})(?::0[xX]([0-9a-fA-F]{8}))?$")


def _filter_matches(flt, pci_id, subsystem_id=None):
    """mig-parted's rule: device+vendor must match; a subsystem-qualified filter needs the subsystem too."""
    if flt in (None, "", []):
        return True
    wanted = [flt] if isinstance(flt, str) else flt
    pci = str(_norm_pci(pci_id) or "").upper()
    for item in wanted:
        m = _FILTER_RE.match(str(item).strip())
        if not m or "0X" + m.group(1).upper() != pci:
            continue
        if m.group(2) is None:
            return True
        if not subsystem_id:
            raise SimError("device-filter %s names a subsystem id, but the node has none (annotate it %s)"
                           % (item, A_PCI_SUBSYSTEM))
        sub = _FILTER_RE.match(str(subsystem_id).strip())
        if sub and sub.group(2) is None and sub.group(1).upper() == m.group(2).upper():
            return True
    return False


def _norm_pci(value):
    if mig_catalog is not None and hasattr(mig_catalog, "normalize_pci_id"):
        return mig_catalog.normalize_pci_id(value) or str(value).lower()
    return str(value or "").lower()


def select_layout(configs, config_name, gpu_count, pci_id, subsystem_id=None):
    """Resolve config_name for a node with gpu_count GPUs of PCI id pci_id, as mig-parted does.

    Walks the entries in order; the later matching entry wins for a GPU. Every GPU must be covered.
    Returns a list with one item per GPU index: None (MIG disabled) or {profile: count} (MIG enabled,
    zero counts dropped; {} means MIG mode on with no instances).
    """
    if config_name not in configs:
        raise SimError("config %r is not defined in the mig-parted ConfigMap (defined: %s)"
                       % (config_name, ", ".join(sorted(configs))))
    layout = [False] * gpu_count  # False = not covered yet
    for entry in configs[config_name]:
        if not _filter_matches(entry.get("device-filter"), pci_id, subsystem_id):
            continue
        devices = range(gpu_count) if entry["devices"] == "all" else entry["devices"]
        for idx in devices:
            if idx >= gpu_count:
                # mig-parted ignores indices the node does not have; say so in the log only
                LOG.debug("config %s names GPU %d, node has %d", config_name, idx, gpu_count)
                continue
            if entry["mig-enabled"]:
                layout[idx] = {p: c for p, c in (entry.get("mig-devices") or {}).items() if c}
            else:
                layout[idx] = None
    missing = [i for i, v in enumerate(layout) if v is False]
    if missing:
        raise SimError("config %r does not cover GPU(s) %s (PCI id %s): mig-parted assert would never pass"
                       % (config_name, ",".join(map(str, missing)), pci_id))
    return layout


def check_layout(layout, model):
    """Check every MIG-enabled GPU against the catalog model: profiles known and placeable."""
    for idx, devs in enumerate(layout):
        if devs is None:
            continue
        if model is None:
            raise SimError("GPU %d: MIG requested but the GPU model is not in the MIG catalog" % idx)
        if not model.profiles:
            raise SimError("GPU %d: %s is not MIG-capable" % (idx, model.key))
        unknown = sorted(p for p in devs if p not in model.profiles)
        if unknown:
            raise SimError("GPU %d: profile(s) %s do not exist on %s (known: %s)"
                           % (idx, ", ".join(unknown), model.key, ", ".join(sorted(model.profiles))))
        if devs and mig_catalog.placement(model, devs) is None:
            raise SimError("GPU %d: %s cannot be placed on one %s"
                           % (idx, ", ".join("%d x %s" % (c, p) for p, c in sorted(devs.items())), model.key))


def mig_resources(layout, strategy):
    """Extended resources the device plugin would advertise for this per-GPU layout."""
    if strategy not in STRATEGIES:
        raise SimError("unknown MIG strategy %r (mixed or single)" % strategy)
    res = {GPU: 0}
    mig_gpus = [d for d in layout if d is not None]
    if strategy == "single" and mig_gpus:
        profiles = {p for d in mig_gpus for p in d}
        if len(mig_gpus) != len(layout) or any(not d for d in mig_gpus) or len(profiles) != 1:
            raise SimError("single strategy needs every GPU MIG-enabled with instances of exactly one "
                           "profile; got %s (use the mixed strategy)" % describe_layout(layout))
        res[GPU] = sum(c for d in mig_gpus for c in d.values())
        return res
    for devs in layout:
        if devs is None:
            res[GPU] += 1
            continue
        for prof, count in devs.items():
            name = resource_name(prof)
            res[name] = res.get(name, 0) + count
    return res


def resource_name(profile):
    if mig_catalog is not None and hasattr(mig_catalog, "resource_name"):
        return mig_catalog.resource_name(profile)
    return MIG_PREFIX + profile.replace("+", ".")


def describe_layout(layout):
    parts = []
    for idx, devs in enumerate(layout):
        if devs is None:
            parts.append("%d:off" % idx)
        else:
            parts.append("%d:{%s}" % (idx, ",".join("%s=%d" % kv for kv in sorted(devs.items()))))
    return " ".join(parts)


def time_slicing(dp_doc_text, resources):
    """Apply a k8s-device-plugin config's sharing.timeSlicing to resources.

    Returns (new_resources, replicas of nvidia.com/gpu or None). Raises SimError on a bad document.
    """
    try:
        doc = yaml.safe_load(dp_doc_text) if isinstance(dp_doc_text, str) else dp_doc_text
    except yaml.YAMLError as exc:
        raise SimError("device-plugin config is not valid YAML: %s" % exc)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SimError("device-plugin config must be a mapping")
    ts = ((doc.get("sharing") or {}).get("timeSlicing") or {})
    if not isinstance(ts, dict):
        raise SimError("sharing.timeSlicing must be a mapping")
    entries = ts.get("resources") or []
    if not isinstance(entries, list):
        raise SimError("sharing.timeSlicing.resources must be a list")
    out = dict(resources)
    gpu_replicas = None
    rename_default = bool(ts.get("renameByDefault"))
    for ent in entries:
        if not isinstance(ent, dict) or "name" not in ent:
            raise SimError("sharing.timeSlicing.resources entries need a name")
        name, replicas = ent["name"], ent.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
            raise SimError("time-slicing replicas of %s must be an integer >= 1, got %r" % (name, replicas))
        if name not in out:
            continue
        count = out.pop(name) * replicas
        new_name = ent.get("rename") or (name + ".shared" if rename_default else name)
        out[new_name] = count
        if name == GPU:
            gpu_replicas = replicas
    return out, gpu_replicas


# ---------------------------------------------------------------------------------------------
# Node facts
# ---------------------------------------------------------------------------------------------

def node_gpu_facts(node):
    """(gpu_count, pci_id, model or None, model_error) for a simulated GPU node dict."""
    meta = node.get("metadata", {})
    labels = meta.get("labels") or {}
    ann = meta.get("annotations") or {}
    try:
        count = int(labels.get(L_COUNT, "0"))
    except ValueError:
        count = 0
    pci = ann.get(A_PCI)
    product = labels.get(L_PRODUCT)
    model, err = None, None
    try:
        if pci:
            model = mig_catalog.lookup(pci_device_id=pci)
        elif product:
            model = mig_catalog.lookup(product=product)
    except mig_catalog.CatalogError as exc:
        err = str(exc)
    if model is not None and not pci:
        pci = (getattr(model, "pci_ids", None) or [None])[0]
    return count, pci, model, err


def load_layout(node, gpu_count):
    raw = ((node.get("metadata", {}).get("annotations") or {}).get(A_LAYOUT))
    if raw:
        try:
            layout = json.loads(raw)
            if isinstance(layout, list) and len(layout) == gpu_count:
                return layout
        except ValueError:
            pass
    return [None] * gpu_count


# ---------------------------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------------------------

class Simulator(object):
    def __init__(self, args):
        from kubernetes import client, config  # imported here: the pure logic above needs no client
        self.args = args
        config.load_kube_config(config_file=args.kubeconfig)
        self.api = client.CoreV1Api()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.busy = set()
        self.dirty = set()

    # -- API helpers (raw JSON dicts, independent of the client's model classes) --
    def _json(self, resp):
        return json.loads(resp.data)

    def get_node(self, name):
        return self._json(self.api.read_node(name, _preload_content=False))

    def list_nodes(self):
        return self._json(self.api.list_node(_preload_content=False))

    def get_configmap(self, namespace, name):
        from kubernetes.client.exceptions import ApiException
        try:
            return self._json(self.api.read_namespaced_config_map(name, namespace, _preload_content=False))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch_meta(self, name, labels=None, annotations=None):
        body = {"metadata": {}}
        if labels:
            body["metadata"]["labels"] = labels
        if annotations:
            body["metadata"]["annotations"] = annotations
        self.api.patch_node(name, body, _content_type="application/merge-patch+json")

    def patch_resources(self, node, resources):
        """Set nvidia.com/* extended resources in status.capacity and .allocatable (status subresource)."""
        status = node.get("status") or {}
        patch = {}
        for field in ("capacity", "allocatable"):
            current = status.get(field) or {}
            want = {k: str(v) for k, v in resources.items()}
            delta = {}
            for k, v in want.items():
                if current.get(k) != v:
                    delta[k] = v
            for k in current:
                if k.startswith("nvidia.com/") and k not in want:
                    delta[k] = None
            if delta:
                patch[field] = delta
        if not patch:
            return False
        self.api.patch_node_status(node["metadata"]["name"], {"status": patch},
                                   _content_type="application/merge-patch+json")
        return True

    # -- reconcile --
    def enqueue(self, name):
        with self.lock:
            if name in self.busy:
                self.dirty.add(name)
                return
            self.busy.add(name)
        threading.Thread(target=self._worker, args=(name,), name="node-" + name, daemon=True).start()

    def _worker(self, name):
        while True:
            try:
                self.reconcile(name)
            except Exception:  # keep the simulator alive; the log says what broke
                LOG.exception("node %s: reconcile failed", name)
            with self.lock:
                if name in self.dirty and not self.stop.is_set():
                    self.dirty.discard(name)
                    continue
                self.busy.discard(name)
                return

    def reconcile(self, name):
        from kubernetes.client.exceptions import ApiException
        try:
            node = self.get_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        labels = node["metadata"].get("labels") or {}
        ann = node["metadata"].get("annotations") or {}
        if labels.get(L_PRESENT) != "true":
            return
        count, pci, model, model_err = node_gpu_facts(node)
        wanted = labels.get(L_MIG_CONFIG)
        if wanted and wanted != ann.get(A_APPLIED):
            self.change_mig(node, wanted, count, pci, model, model_err)
            node = self.get_node(name)
        self.sync_resources(node, count)

    def change_mig(self, node, wanted, count, pci, model, model_err):
        name = node["metadata"]["name"]
        ann = node["metadata"].get("annotations") or {}
        LOG.info("node %s: nvidia.com/mig.config -> %s: pending", name, wanted)
        self.patch_meta(name, labels={L_MIG_STATE: "pending"})
        try:
            delay = float(ann.get(A_DELAY) or self.args.apply_delay)
        except ValueError:
            delay = self.args.apply_delay
        if delay > 0:
            LOG.info("node %s: waiting %.1f s before applying", name, delay)
            if self.stop.wait(delay):
                return
        if held(ann):
            LOG.info("node %s: %s is set: holding %s pending until it is removed", name, A_HOLD, wanted)
            while True:
                if self.stop.wait(self.args.hold_poll):
                    return
                current = self.get_node(name)
                if not held((current["metadata"].get("annotations") or {})):
                    break
            LOG.info("node %s: released; applying %s", name, wanted)
        ok, message, layout = False, "", None
        try:
            if forced_failure(ann.get(A_FAIL, ""), wanted):
                raise SimError("forced failure (annotation %s=%s)" % (A_FAIL, ann.get(A_FAIL)))
            cm = self.get_configmap(self.args.mig_configmap_namespace, self.args.mig_configmap_name)
            if cm is None:
                raise SimError("ConfigMap %s/%s not found" % (self.args.mig_configmap_namespace,
                                                              self.args.mig_configmap_name))
            text = (cm.get("data") or {}).get(self.args.mig_configmap_key)
            if text is None:
                raise SimError("ConfigMap %s/%s has no key %s" % (
                    self.args.mig_configmap_namespace, self.args.mig_configmap_name, self.args.mig_configmap_key))
            configs = parse_mig_parted_config(text)
            layout = select_layout(configs, wanted, count, pci, ann.get(A_PCI_SUBSYSTEM))
            if model is None and any(d is not None for d in layout):
                raise SimError("GPU model unknown to the MIG catalog (%s)" % model_err)
            check_layout(layout, model)
            # the device plugin must be able to advertise it under the node's strategy
            mig_resources(layout, self.strategy(node))
            ok, message = True, "ok: " + describe_layout(layout)
        except SimError as exc:
            message = str(exc)
        # re-read: labels may have moved on while we waited; the next event will handle that
        current = self.get_node(name)
        if (current["metadata"].get("labels") or {}).get(L_MIG_CONFIG) != wanted:
            LOG.info("node %s: mig.config changed while applying %s; starting over", name, wanted)
            return
        annotations = {A_APPLIED: wanted, A_MESSAGE: message[:1000]}
        if ok:
            annotations[A_LAYOUT] = json.dumps(layout, sort_keys=True)
            self.patch_resources(current, self.resources(current, layout))
        self.patch_meta(name, labels={L_MIG_STATE: "success" if ok else "failed"}, annotations=annotations)
        if ok:
            LOG.info("node %s: mig.config %s: success (%s)", name, wanted, describe_layout(layout))
        else:
            LOG.warning("node %s: mig.config %s: failed: %s", name, wanted, message)

    def strategy(self, node):
        value = (node["metadata"].get("labels") or {}).get(L_MIG_STRATEGY) or self.args.mig_strategy
        return value if value in STRATEGIES else self.args.mig_strategy

    def resources(self, node, layout):
        """Resources for layout under the node's strategy and device-plugin (time-slicing) config."""
        name = node["metadata"]["name"]
        labels = node["metadata"].get("labels") or {}
        try:
            res = mig_resources(layout, self.strategy(node))
        except SimError as exc:
            LOG.warning("node %s: %s; advertising no GPUs", name, exc)
            res = {GPU: 0}
        dp_key = labels.get(L_DP_CONFIG) or self.args.device_plugin_default_config
        replicas, msg = None, ""
        if dp_key:
            cm = self.get_configmap(self.args.device_plugin_configmap_namespace,
                                    self.args.device_plugin_configmap_name)
            text = ((cm or {}).get("data") or {}).get(dp_key)
            if text is None:
                msg = "device-plugin config %r not found in ConfigMap %s/%s" % (
                    dp_key, self.args.device_plugin_configmap_namespace, self.args.device_plugin_configmap_name)
            else:
                try:
                    res, replicas = time_slicing(text, res)
                    msg = "ok: %s" % dp_key
                except SimError as exc:
                    msg = "device-plugin config %r: %s" % (dp_key, exc)
            if not msg.startswith("ok"):
                LOG.warning("node %s: %s", name, msg)
        node["_dp"] = (replicas, msg)
        return res

    def sync_resources(self, node, count):
        name = node["metadata"]["name"]
        layout = load_layout(node, count)
        res = self.resources(node, layout)
        replicas, msg = node.pop("_dp")
        labels = node["metadata"].get("labels") or {}
        ann = node["metadata"].get("annotations") or {}
        want_labels = {L_REPLICAS: str(replicas) if replicas else None,
                       L_SHARING: "time-slicing" if replicas else None}
        label_delta = {k: v for k, v in want_labels.items() if labels.get(k) != v}
        ann_delta = {A_DP_MESSAGE: msg or None} if (ann.get(A_DP_MESSAGE) != (msg or None)) else {}
        if self.patch_resources(node, res):
            LOG.info("node %s: resources %s", name, json.dumps(res, sort_keys=True))
        if label_delta or ann_delta:
            self.patch_meta(name, labels=label_delta, annotations=ann_delta)

    # -- main loop --
    def run(self):
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        LOG.info("gpu_sim started: mig ConfigMap %s/%s[%s], device-plugin ConfigMap %s/%s, strategy %s",
                 self.args.mig_configmap_namespace, self.args.mig_configmap_name, self.args.mig_configmap_key,
                 self.args.device_plugin_configmap_namespace, self.args.device_plugin_configmap_name,
                 self.args.mig_strategy)
        ready_written = False
        failing = False
        while not self.stop.is_set():
            try:
                listing = self.list_nodes()
                if failing:
                    LOG.info("API server reachable again; resyncing %d nodes", len(listing.get("items", [])))
                    failing = False
                for item in listing.get("items", []):
                    self.enqueue(item["metadata"]["name"])
                if not ready_written and self.args.ready_file:
                    with open(self.args.ready_file, "w") as fh:
                        fh.write(str(os.getpid()))
                    ready_written = True
                    LOG.info("watching %d nodes", len(listing.get("items", [])))
                w = watch.Watch()
                for event in w.stream(self.api.list_node, resource_version=listing["metadata"]["resourceVersion"],
                                      timeout_seconds=self.args.resync_seconds, deserialize=False):
                    if self.stop.is_set():
                        w.stop()
                        break
                    obj = event.get("raw_object") or event.get("object") or {}
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self.enqueue(obj["metadata"]["name"])
            except ApiException as exc:
                if exc.status != 410:
                    LOG.warning("API error: %s; retrying in 2 s", exc.reason)
                    self.stop.wait(2)
            except Exception as exc:  # connection refused while the apiserver restarts, etc.
                if not failing:
                    LOG.warning("watch interrupted: %s; retrying every 2 s", str(exc).splitlines()[0][:200])
                failing = True
                self.stop.wait(2)
        LOG.info("gpu_sim stopped")


def build_parser():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kubeconfig", default=env("KUBECONFIG"))
    p.add_argument("--mig-configmap-namespace", default=env("GPU_SIM_MIG_CONFIGMAP_NAMESPACE", "gpu-operator"))
    p.add_argument("--mig-configmap-name", default=env("GPU_SIM_MIG_CONFIGMAP_NAME", "cnai-mig-parted-config"),
                   help="the ConfigMap the GPU Operator's migManager.config.name points at")
    p.add_argument("--mig-configmap-key", default=env("GPU_SIM_MIG_CONFIGMAP_KEY", "config.yaml"))
    p.add_argument("--device-plugin-configmap-namespace",
                   default=env("GPU_SIM_DEVICE_PLUGIN_CONFIGMAP_NAMESPACE", "gpu-operator"))
    p.add_argument("--device-plugin-configmap-name",
                   default=env("GPU_SIM_DEVICE_PLUGIN_CONFIGMAP_NAME", "cnai-device-plugin-config"),
                   help="the ConfigMap the GPU Operator's devicePlugin.config.name points at")
    p.add_argument("--device-plugin-default-config", default=env("GPU_SIM_DEVICE_PLUGIN_DEFAULT_CONFIG", ""),
                   help="key used when a node has no nvidia.com/device-plugin.config label (devicePlugin.config.default)")
    p.add_argument("--mig-strategy", choices=STRATEGIES, default=env("GPU_SIM_MIG_STRATEGY", "mixed"),
                   help="used when a node has no nvidia.com/mig.strategy label")
    p.add_argument("--apply-delay", type=float, default=float(env("GPU_SIM_APPLY_DELAY", "1")),
                   help="seconds a MIG change stays pending (annotation %s overrides per node)" % A_DELAY)
    p.add_argument("--hold-poll", type=float, default=0.5,
                   help="seconds between checks of a held node (annotation %s)" % A_HOLD)
    p.add_argument("--resync-seconds", type=int, default=30)
    p.add_argument("--log-file", default=env("GPU_SIM_LOG_FILE"))
    p.add_argument("--ready-file", default=None, help="written once the first node list succeeded")
    p.add_argument("--no-eck-sim", action="store_true", default=env("GPU_SIM_NO_ECK_SIM", "") == "1",
                   help="do not play the ECK operator for Elasticsearch resources (tools/testbed/eck_sim.py)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    handlers = [logging.FileHandler(args.log_file)] if args.log_file else [logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    if mig_catalog is None:
        LOG.error("cannot import the collection's MIG catalog (%s); is PYTHONPATH=.cache/collections set?",
                  _CATALOG_IMPORT_ERROR)
        return 2
    sim = Simulator(args)
    if not args.no_eck_sim:
        # The ECK operator's API-facing part, in a thread of this process (same client, same stop event).
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import eck_sim  # pylint: disable=import-outside-toplevel
        threading.Thread(target=eck_sim.EckSimulator(sim.api.api_client, sim.stop).run, name="eck-sim",
                         daemon=True).start()

    def _stop(signum, _frame):
        LOG.info("signal %d: stopping", signum)
        sim.stop.set()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        sim.run()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
