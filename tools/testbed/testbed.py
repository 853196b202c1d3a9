# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launcher of the local testbed: a real Kubernetes control plane with simulated (KWOK) GPU nodes.

    testbed.py up       build what is missing, start etcd, kube-apiserver, kube-controller-manager,
                        kube-scheduler, kwok and the GPU Operator simulator; create the nodes of the
                        inventory; a second `up` changes nothing
    testbed.py down     stop every process of the testbed and delete the cluster's data
    testbed.py status   kubeconfig path, processes and nodes; exit 1 when the testbed is not up
    testbed.py env      print `export KUBECONFIG=...` lines

Everything listens on 127.0.0.1 only. State lives in .cache/testbed/ (TESTBED_DIR): kubeconfig, pki/,
etcd/, logs/<component>.log, run/<component>.pid. Ports: TESTBED_APISERVER_PORT (16443),
TESTBED_ETCD_PORT (12379; peer = port + 1), TESTBED_KCM_PORT (20257), TESTBED_SCHEDULER_PORT (20259).
Also TESTBED_INVENTORY, TESTBED_CACHE (binaries), TESTBED_WAIT_SECONDS (90).
Run with the project's venv python (needs kubernetes, PyYAML, cryptography, ansible-core).

The code is the package launcher/ beside this file, one concern per module: config (read once, in
main), pki, processes, nodes, cli. The names below are what tests and tools import from here.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from launcher.config import Config, TestbedError, versions  # noqa: E402  pylint: disable=wrong-import-position
from launcher.nodes import inventory_nodes, node_manifest  # noqa: E402  pylint: disable=wrong-import-position
from launcher.processes import (bare_components, components, known_components,  # noqa: E402  pylint: disable=wrong-import-position
                                points_into_state, running_pid)
from launcher.cli import main  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ['Config', 'TestbedError', 'versions', 'inventory_nodes', 'node_manifest', 'bare_components', 'components',
           'known_components', 'points_into_state', 'running_pid', 'main']

if __name__ == "__main__":
    sys.exit(main())
