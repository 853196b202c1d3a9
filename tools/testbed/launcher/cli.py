# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The testbed commands (up, down, status, env, build) and ``main``, which reads the configuration once."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from . import nodes, pki, processes
from .config import HERE, Config, TestbedError, log


def cmd_build(_cfg, _args):
    env = dict(os.environ)
    r = subprocess.run(["nice", "-n", "10", "bash", os.path.join(HERE, "build.sh")], env=env, check=False)
    if r.returncode:
        raise TestbedError("build failed (exit %d); see the output above" % r.returncode)


def cmd_up(cfg, args):
    t0 = time.monotonic()
    if not args.no_build:
        cmd_build(cfg, args)
    with processes.Lock(cfg):
        for d in (cfg.state, cfg.logs, cfg.run):
            os.makedirs(d, exist_ok=True)
        pki.ensure_pki(cfg, lambda: processes.alive(cfg))
        pki.write_kubeconfig(cfg)
        started = []
        comps = processes.components(cfg)
        todo = [c for c in comps if not processes.running_pid(cfg, c)]
        for comp in todo:  # all ports first: fail before starting anything
            for port in comp["ports"]:
                processes.check_port_free(port, comp)
        for comp in comps:
            if comp not in todo:
                pid = processes.running_pid(cfg, comp)
                if pid and not processes.settle(cfg, comp, pid):
                    continue  # running and ready
            if comp["name"] == "gpu-sim":
                try:
                    os.unlink(os.path.join(cfg.run, "gpu-sim.ready"))
                except FileNotFoundError:
                    pass
            for port in comp["ports"]:
                processes.check_port_free(port, comp)
            proc = processes.start(cfg, comp)
            processes.wait_ready(cfg, comp, proc)
            started.append(comp["name"])
            if comp["name"] == "kube-apiserver":
                nodes.ensure_objects(cfg)
        if not started:
            nodes.ensure_objects(cfg)  # cheap and idempotent: nodes someone deleted come back
        ready = nodes.wait_cluster(cfg)
    if started:
        log("started %s in %.1f s" % (", ".join(started), time.monotonic() - t0))
    else:
        log("already up (nothing started)")
    log("KUBECONFIG=%s  (%d nodes)" % (cfg.kubeconfig, len(ready)))


def cmd_down(cfg, _args):
    with processes.Lock(cfg):
        stopped = []
        for comp in reversed(processes.known_components(cfg)):
            pid = processes.running_pid(cfg, comp)
            if pid:
                processes.stop_pid(cfg, pid, comp["name"])
                stopped.append(comp["name"])
            try:
                os.unlink(processes.pid_file(cfg, comp["name"]))
            except FileNotFoundError:
                pass
        for pid in processes.stray_pids(cfg):
            log("stopping stray testbed process %d: %s" % (pid, " ".join((processes.cmdline(pid) or [])[:2])))
            processes.stop_pid(cfg, pid, "stray process")
            stopped.append("pid %d" % pid)
        left = processes.stray_pids(cfg)
        if left:
            raise TestbedError("testbed processes still running after down: %s" % left)
        for d in (cfg.etcd_data, os.path.join(cfg.run, "gpu-sim.ready")):
            if os.path.isdir(d):
                shutil.rmtree(d)
            elif os.path.exists(d):
                os.unlink(d)
    log("stopped %s; cluster data removed (PKI, logs and binaries kept)" % (", ".join(stopped) or "nothing (was not running)"))


def cmd_status(cfg, _args):
    print("kubeconfig: %s" % cfg.kubeconfig)
    comps = processes.known_components(cfg)
    down = []
    total = 0
    for comp in comps:
        pid = processes.running_pid(cfg, comp) if os.path.isdir(cfg.run) else None
        alive = pid is not None
        rss = _rss_mib(pid) if alive else 0
        total += rss
        print("  %-24s %s" % (comp["name"], "running  pid %-7d rss %4d MiB" % (pid, rss) if alive else "stopped"))
        if not alive:
            down.append(comp["name"])
    print("  %-24s %d MiB resident" % ("total", total))
    if down:
        print("testbed is not up (stopped: %s); run `make up`" % ", ".join(down))
        return 1
    from kubernetes import client
    api = nodes.api_client(cfg)
    ver = json.loads(client.VersionApi(api).get_code(_preload_content=False).data)
    print("server: %s" % ver.get("gitVersion"))
    items = json.loads(client.CoreV1Api(api).list_node(_preload_content=False).data)["items"]
    print("%-14s %-6s %-26s %-5s %-18s %s" % ("NODE", "READY", "GPU PRODUCT", "GPUs", "MIG CONFIG/STATE",
                                              "NVIDIA RESOURCES (allocatable)"))
    for n in items:
        lab = n["metadata"].get("labels") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (n.get("status") or {}).get("conditions") or [])
        alloc = (n.get("status") or {}).get("allocatable") or {}
        nv = ",".join("%s=%s" % (k.replace("nvidia.com/", ""), v) for k, v in sorted(alloc.items())
                      if k.startswith("nvidia.com/"))
        mig = lab.get("nvidia.com/mig.config", "-")
        if "nvidia.com/mig.config.state" in lab:
            mig += "/" + lab["nvidia.com/mig.config.state"]
        print("%-14s %-6s %-26s %-5s %-18s %s" % (n["metadata"]["name"], "True" if ready else "False",
                                                  lab.get("nvidia.com/gpu.product", "-"),
                                                  lab.get("nvidia.com/gpu.count", "-"), mig, nv or "-"))
    return 0


def _rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def cmd_env(cfg, _args):
    bins = cfg.bin_paths()
    print("export KUBECONFIG=%s" % cfg.kubeconfig)
    print("export PATH=%s:%s:$PATH" % (os.path.dirname(bins["helm"]), os.path.dirname(bins["kwok"])))


def main(argv=None):
    p = argparse.ArgumentParser(description="local testbed: real control plane + simulated GPU nodes")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up")
    up.add_argument("--no-build", action="store_true", help="fail instead of building missing binaries")
    sub.add_parser("down")
    sub.add_parser("status")
    sub.add_parser("env")
    sub.add_parser("build")
    args = p.parse_args(argv)
    if argv is None:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `testbed.py status | head` ends quietly
    try:
        cfg = Config.from_env()     # the configuration, read once
    except TestbedError as exc:
        print("testbed: ERROR: %s" % exc, file=sys.stderr)
        return 1
    try:
        rc = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env, "build": cmd_build}[args.cmd](cfg, args)
    except TestbedError as exc:
        print("testbed: ERROR: %s" % exc, file=sys.stderr)
        return 1
    except Exception as exc:  # API unreachable or refusing: say what and where to look, no traceback
        if type(exc).__module__.split(".")[0] not in ("kubernetes", "urllib3"):
            raise
        print("testbed: ERROR: the API server at https://127.0.0.1:%d did not answer as expected (%s: %s); "
              "see %s and `make status`" % (cfg.apiserver_port, type(exc).__name__, str(exc).splitlines()[0][:300],
                                            processes.log_path(cfg, "kube-apiserver")), file=sys.stderr)
        return 1
    return rc or 0
