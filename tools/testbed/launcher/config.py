# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration of one testbed, built once from the environment in ``cli.main``; shared helpers."""
from __future__ import annotations

import os
from dataclasses import dataclass

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))      # tools/testbed
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_INVENTORY = os.path.join(ROOT, "inventories", "local")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.0.0.0/16"
CONTEXT = "cnai-testbed"

# Annotation/label contract shared with gpu_sim.py and the tests
A_PCI = "cnai.platform/sim-gpu-pci-device-id"
A_SIM = "cnai.platform/simulated"


class TestbedError(Exception):
    pass


def log(msg):
    print("==> testbed: %s" % msg, flush=True)


def _env_int(environ, name, default):
    value = environ.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TestbedError("%s must be an integer, got %r" % (name, value))


@dataclass(frozen=True)
class Config:
    """Where the testbed keeps its state and which ports it uses (env: TESTBED_*)."""
    state: str
    inventory: str
    cache: str
    apiserver_port: int = 16443
    etcd_port: int = 12379          # peer port = etcd_port + 1
    kcm_port: int = 20257
    scheduler_port: int = 20259
    wait_seconds: int = 90

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        return cls(
            state=os.path.abspath(env.get("TESTBED_DIR", os.path.join(ROOT, ".cache", "testbed"))),
            inventory=env.get("TESTBED_INVENTORY", DEFAULT_INVENTORY),
            cache=env.get("TESTBED_CACHE", os.path.join(ROOT, ".cache", "testbed")),
            apiserver_port=_env_int(env, "TESTBED_APISERVER_PORT", 16443),
            etcd_port=_env_int(env, "TESTBED_ETCD_PORT", 12379),
            kcm_port=_env_int(env, "TESTBED_KCM_PORT", 20257),
            scheduler_port=_env_int(env, "TESTBED_SCHEDULER_PORT", 20259),
            wait_seconds=_env_int(env, "TESTBED_WAIT_SECONDS", 90),
        )

    @property
    def kubeconfig(self):
        return os.path.join(self.state, "kubeconfig")

    @property
    def pki(self):
        return os.path.join(self.state, "pki")

    @property
    def logs(self):
        return os.path.join(self.state, "logs")

    @property
    def run(self):
        return os.path.join(self.state, "run")

    @property
    def etcd_data(self):
        return os.path.join(self.state, "etcd")

    def bin_paths(self):
        v = versions()
        k8s = os.path.join(self.cache, "bin", "k8s-" + v["K8S_VERSION"])
        kwok = os.path.join(self.cache, "bin", "kwok-" + v["KWOK_VERSION"])
        return {
            "etcd": os.path.join(k8s, "etcd"),
            "kube-apiserver": os.path.join(k8s, "kube-apiserver"),
            "kube-controller-manager": os.path.join(k8s, "kube-controller-manager"),
            "kube-scheduler": os.path.join(k8s, "kube-scheduler"),
            "kwok": os.path.join(kwok, "kwok"),
            "kwok-stages": os.path.join(kwok, "stages"),
            "helm": os.path.join(self.cache, "bin", "helm-" + v["HELM_VERSION"], "helm"),
        }


def versions():
    out = {}
    with open(os.path.join(HERE, "versions.env")) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    return out


def collections_path():
    """Make the collection importable as ansible_collections.cnai.platform (as `make venv` does)."""
    base = os.path.join(ROOT, ".cache", "collections")
    link = os.path.join(base, "ansible_collections", "cnai", "platform")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(ROOT, os.path.dirname(link)), link)
    extra = os.environ.get("PYTHONPATH", "")
    return base + (os.pathsep + extra if extra and base not in extra.split(os.pathsep) else "")
