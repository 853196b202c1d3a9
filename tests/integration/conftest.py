# -*- coding: utf-8 -*-
"""Fixtures for tests against the local testbed (tools/testbed): a real control plane, simulated GPUs.

``testbed`` (session): uses a running testbed, or starts one with tools/testbed/testbed.py and stops it
at the end -- only when this session started it (TESTBED_KEEP=1 keeps it running anyway).
Any test that uses it is marked ``testbed`` automatically (``pytest -m testbed``).

Contract other layers rely on: kubeconfig at .cache/testbed/kubeconfig (``testbed.kubeconfig``).
"""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "testbed"))
import testbed as tb  # noqa: E402  (tools/testbed/testbed.py)


class Testbed(object):
    def __init__(self, started):
        from kubernetes import client, config
        self.started = started
        cfg = tb.Config.from_env()
        self.kubeconfig = cfg.kubeconfig
        self.versions = tb.versions()
        self.bins = cfg.bin_paths()
        self.api_client = config.new_client_from_config(config_file=self.kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.storage = client.StorageV1Api(self.api_client)

    # raw JSON helpers: independent of the client's model classes
    def node(self, name):
        return json.loads(self.core.read_node(name, _preload_content=False).data)

    def nodes(self):
        return json.loads(self.core.list_node(_preload_content=False).data)["items"]

    def pods(self, namespace, selector=None):
        kw = {"label_selector": selector} if selector else {}
        return json.loads(self.core.list_namespaced_pod(namespace, _preload_content=False, **kw).data)["items"]

    def events(self, namespace):
        return json.loads(self.core.list_namespaced_event(namespace, _preload_content=False).data)["items"]

    def patch_node(self, name, labels=None, annotations=None):
        meta = {}
        if labels is not None:
            meta["labels"] = labels
        if annotations is not None:
            meta["annotations"] = annotations
        self.core.patch_node(name, {"metadata": meta}, _content_type="application/merge-patch+json")

    def nvidia_resources(self, name, field="allocatable"):
        st = self.node(name).get("status") or {}
        return {k: v for k, v in (st.get(field) or {}).items() if k.startswith("nvidia.com/")}

    def run_playbook(self, playbook, extra_vars=None, check=True):
        """ansible-playbook from the venv against localhost; returns the CompletedProcess."""
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".cache", "collections"))
        env.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
        env["ANSIBLE_FORCE_COLOR"] = "0"
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
               "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-e", json.dumps(dict(extra_vars or {}, testbed_kubeconfig=self.kubeconfig)), playbook]
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=600, check=False)
        if check and proc.returncode:
            pytest.fail("ansible-playbook %s failed (rc %d):\n%s" % (playbook, proc.returncode, proc.stdout[-6000:]))
        return proc


def wait_for(predicate, timeout, what, interval=0.25):
    """Poll predicate() until it returns a truthy value; fail with `what` and the last value after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def _running():
    cfg = tb.Config.from_env()
    comps = tb.known_components(cfg)
    return [c["name"] for c in comps if tb.running_pid(cfg, c)], len(comps)


@pytest.fixture(scope="session")
def testbed():
    running, total = _running()
    started = False
    if len(running) < total:
        # none running: we own it; some running: heal it but leave it running (someone else owns it)
        started = not running
        rc = tb.main(["up"])
        if rc:
            pytest.fail("could not start the testbed (tools/testbed/testbed.py up exited %d); logs in %s"
                        % (rc, tb.Config.from_env().logs))
    bed = Testbed(started)
    yield bed
    if started and os.environ.get("TESTBED_KEEP") != "1":
        tb.main(["down"])


@pytest.fixture
def namespace(testbed):
    """A fresh namespace, deleted after the test."""
    name = "t-" + uuid.uuid4().hex[:8]
    testbed.core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: _has_default_sa(testbed, name), 30, "ServiceAccount default in %s" % name)
    yield name
    testbed.core.delete_namespace(name)


def _has_default_sa(testbed, ns):
    from kubernetes.client.exceptions import ApiException
    try:
        testbed.core.read_namespaced_service_account("default", ns)
        return True
    except ApiException:
        return False


def pytest_collection_modifyitems(items):
    for item in items:
        if "testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.testbed)
