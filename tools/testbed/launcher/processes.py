# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The testbed's processes: commands, pid files, ownership checks, ports, start, readiness, stop, lock."""
from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

from .config import HERE, POD_CIDR, SERVICE_CIDR, TestbedError, collections_path, log


def components(cfg):
    """The testbed's processes: command, ports, readiness check."""
    b = cfg.bin_paths()
    etcd_port, apiserver_port, kubeconfig = cfg.etcd_port, cfg.apiserver_port, cfg.kubeconfig

    def p(name):
        return os.path.join(cfg.pki, name)
    stages_dir = b["kwok-stages"]
    stages = ",".join(os.path.join(stages_dir, f) for f in sorted(os.listdir(stages_dir))
                      if f.endswith(".yaml") and f != "storage-class.yaml") if os.path.isdir(stages_dir) else ""
    py = sys.executable
    return [
        {"name": "etcd", "ports": [etcd_port, etcd_port + 1],
         "cmd": [b["etcd"], "--name", "testbed", "--data-dir", cfg.etcd_data,
                 "--listen-client-urls", "http://127.0.0.1:%d" % etcd_port,
                 "--advertise-client-urls", "http://127.0.0.1:%d" % etcd_port,
                 "--listen-peer-urls", "http://127.0.0.1:%d" % (etcd_port + 1),
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % (etcd_port + 1),
                 "--initial-cluster", "testbed=http://127.0.0.1:%d" % (etcd_port + 1),
                 "--auto-compaction-retention", "1",
                 "--quota-backend-bytes", str(2 * 1024 ** 3), "--unsafe-no-fsync", "--log-level", "warn"],
         "ready": lambda: _http_ok(cfg, "http://127.0.0.1:%d/health" % etcd_port, expect='"health":"true"')},
        {"name": "kube-apiserver", "ports": [apiserver_port],
         "cmd": [b["kube-apiserver"], "--etcd-servers", "http://127.0.0.1:%d" % etcd_port,
                 "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
                 "--secure-port", str(apiserver_port),
                 "--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
                 "--client-ca-file", p("ca.crt"),
                 "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
                 "--service-account-key-file", p("sa.pub"), "--service-account-signing-key-file", p("sa.key"),
                 "--service-cluster-ip-range", SERVICE_CIDR, "--authorization-mode", "Node,RBAC",
                 "--requestheader-client-ca-file", p("front-proxy-ca.crt"),
                 "--requestheader-allowed-names", "front-proxy-client",
                 "--requestheader-username-headers", "X-Remote-User",
                 "--requestheader-group-headers", "X-Remote-Group",
                 "--requestheader-extra-headers-prefix", "X-Remote-Extra-",
                 "--proxy-client-cert-file", p("front-proxy-client.crt"),
                 "--proxy-client-key-file", p("front-proxy-client.key"),
                 "--allow-privileged=true", "--endpoint-reconciler-type", "none", "--profiling=false",
                 "--cert-dir", os.path.join(cfg.state, "apiserver-certs"), "--v", "1"],
         "ready": lambda: _http_ok(cfg, "https://127.0.0.1:%d/readyz" % apiserver_port, client=True)},
        {"name": "kube-controller-manager", "ports": [cfg.kcm_port],
         "cmd": [b["kube-controller-manager"], "--kubeconfig", kubeconfig,
                 "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
                 "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(cfg.kcm_port),
                 "--cert-dir", os.path.join(cfg.state, "kcm-certs"),
                 "--root-ca-file", p("ca.crt"), "--service-account-private-key-file", p("sa.key"),
                 "--cluster-signing-cert-file", p("ca.crt"), "--cluster-signing-key-file", p("ca.key"),
                 "--service-cluster-ip-range", SERVICE_CIDR, "--use-service-account-credentials=false",
                 "--kube-api-qps", "200", "--kube-api-burst", "400", "--profiling=false", "--v", "1"],
         "ready": lambda: _http_ok(cfg, "https://127.0.0.1:%d/healthz" % cfg.kcm_port, verify=False)},
        {"name": "kube-scheduler", "ports": [cfg.scheduler_port],
         "cmd": [b["kube-scheduler"], "--kubeconfig", kubeconfig,
                 "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
                 "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(cfg.scheduler_port),
                 "--cert-dir", os.path.join(cfg.state, "scheduler-certs"), "--profiling=false", "--v", "1"],
         "ready": lambda: _http_ok(cfg, "https://127.0.0.1:%d/healthz" % cfg.scheduler_port, verify=False)},
        {"name": "kwok", "ports": [],
         "cmd": [b["kwok"], "--kubeconfig", kubeconfig, "--manage-all-nodes=true", "--config", stages,
                 "--cidr", POD_CIDR, "--node-ip", "10.0.0.1", "--node-lease-duration-seconds", "40"],
         "ready": lambda: True},
        {"name": "gpu-sim", "ports": [],
         "cmd": [py, os.path.join(HERE, "gpu_sim.py"), "--kubeconfig", kubeconfig,
                 "--ready-file", os.path.join(cfg.run, "gpu-sim.ready")],
         "env": {"PYTHONPATH": collections_path()},
         "ready": lambda: os.path.exists(os.path.join(cfg.run, "gpu-sim.ready"))},
    ]


def _ssl_context(cfg, client=False, verify=True):
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context(cafile=os.path.join(cfg.pki, "ca.crt"))
    if client:
        ctx.load_cert_chain(os.path.join(cfg.pki, "admin.crt"), os.path.join(cfg.pki, "admin.key"))
    return ctx


def _http_ok(cfg, url, client=False, verify=True, expect=None):
    try:
        ctx = _ssl_context(cfg, client, verify) if url.startswith("https") else None
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            body = resp.read().decode(errors="replace")
            return resp.status == 200 and (expect is None or expect in body.replace(" ", ""))
    except Exception:
        return False


def pid_file(cfg, name):
    return os.path.join(cfg.run, name + ".pid")


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return None


def is_ours(cfg, pid, comp=None):
    """True when pid is alive and is a testbed process (its command line points into our state dir)."""
    args = cmdline(pid)
    if not args:
        return False
    try:
        with open("/proc/%d/stat" % pid) as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    if not points_into_state(cfg, args):
        return False
    if comp is None:
        return True
    if comp["name"] == "gpu-sim":
        return args[1:2] == comp["cmd"][1:2]
    return os.path.basename(args[0]) == os.path.basename(comp["cmd"][0])


def points_into_state(cfg, args):
    """True when a command line uses this testbed's state (its kubeconfig, etcd data or PKI).

    Binaries are shared (TESTBED_CACHE) between testbeds with different TESTBED_DIRs, and one state dir
    may be a prefix of another (.cache/testbed vs .cache/testbed-gpu): compare whole paths.
    """
    pki = cfg.pki + os.sep
    return any(a == cfg.kubeconfig or a == cfg.etcd_data or a.startswith(pki) for a in args[1:])


def running_pid(cfg, comp):
    """The pid of a running component, or None. A stale pid file is removed and a running component
    without one (pid file lost) is adopted; both are reported."""
    pf = pid_file(cfg, comp["name"])
    pid = None
    try:
        pid = int(open(pf).read().strip())
    except (OSError, ValueError):
        if os.path.exists(pf):
            log("removing unreadable pid file %s" % pf)
            os.unlink(pf)
    if pid is not None:
        if is_ours(cfg, pid, comp):
            return pid
        log("removing stale pid file %s (pid %d is not a running %s)" % (pf, pid, comp["name"]))
        os.unlink(pf)
    for other in stray_pids(cfg):
        if is_ours(cfg, other, comp):
            log("adopting %s (pid %d) that runs without a pid file" % (comp["name"], other))
            if os.path.isdir(cfg.run):
                with open(pf, "w") as fh:
                    fh.write(str(other))
            return other
    return None


def _port_holder(port):
    """Best effort: 'pid N (cmd)' of the process listening on 127.0.0.1/0.0.0.0:port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    f = line.split()
                    if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(f[9])
        except OSError:
            pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return "pid %s (%s)" % (pid, " ".join((cmdline(int(pid)) or ["?"])[:3]))
        except OSError:
            continue
    return "another process" if not inodes else "a process of another user"


def check_port_free(port, comp):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as Go's listeners do: connections of a previous run in TIME_WAIT must not count as "in use"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise TestbedError("port %d needed by %s is in use by %s. Stop it, or move the testbed with "
                               "TESTBED_APISERVER_PORT / TESTBED_ETCD_PORT / TESTBED_KCM_PORT / "
                               "TESTBED_SCHEDULER_PORT." % (port, comp["name"], _port_holder(port)))
        raise
    finally:
        s.close()


def start(cfg, comp):
    for port in comp["ports"]:
        check_port_free(port, comp)
    if not os.access(comp["cmd"][0], os.X_OK):
        raise TestbedError("%s: binary %s missing; run tools/testbed/build.sh" % (comp["name"], comp["cmd"][0]))
    path = log_path(cfg, comp["name"])
    if os.path.exists(path) and os.path.getsize(path) > 20 * 1024 * 1024:
        os.replace(path, path + ".1")  # keep one older log
    logf = open(path, "ab")
    logf.write(("\n---- %s starting: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(comp["cmd"]))).encode())
    logf.flush()
    env = dict(os.environ)
    env.update(comp.get("env", {}))
    env.pop("KUBECONFIG", None)
    proc = subprocess.Popen(comp["cmd"], stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            cwd=cfg.state, env=env, start_new_session=True, close_fds=True)
    logf.close()
    with open(pid_file(cfg, comp["name"]), "w") as fh:
        fh.write(str(proc.pid))
    return proc


def settle(cfg, comp, pid):
    """A component that runs already: wait until it is ready (False) or has exited (True: start it).

    Covers a process that is still shutting down (e.g. kube-apiserver draining after SIGTERM).
    """
    timeout = cfg.wait_seconds
    deadline = time.monotonic() + timeout
    said = False
    while time.monotonic() < deadline:
        if comp["ready"]():
            return False
        if not is_ours(cfg, pid, comp):
            log("%s (pid %d) exited; starting it again" % (comp["name"], pid))
            try:
                os.unlink(pid_file(cfg, comp["name"]))
            except FileNotFoundError:
                pass
            return True
        if not said:
            log("%s (pid %d) runs but is not ready; waiting up to %d s" % (comp["name"], pid, timeout))
            said = True
        time.sleep(0.3)
    raise TestbedError("%s (pid %d) runs but did not become ready in %d s; see %s, or run `make down && make up`"
                       % (comp["name"], pid, timeout, log_path(cfg, comp["name"])))


def wait_ready(cfg, comp, proc):
    timeout = cfg.wait_seconds
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            os.unlink(pid_file(cfg, comp["name"]))
            raise TestbedError("%s exited with code %s during start-up; last lines of %s:\n%s"
                               % (comp["name"], proc.returncode, log_path(cfg, comp["name"]), tail(cfg, comp["name"])))
        if comp["ready"]():
            return
        time.sleep(0.2)
    raise TestbedError("%s not ready after %d s; last lines of %s:\n%s"
                       % (comp["name"], timeout, log_path(cfg, comp["name"]), tail(cfg, comp["name"])))


def log_path(cfg, name):
    """logs/<component>.log; the simulator's is logs/gpu_sim.log (stdout and stderr of the process)."""
    return os.path.join(cfg.logs, {"gpu-sim": "gpu_sim"}.get(name, name) + ".log")


def tail(cfg, name, n=15):
    try:
        with open(log_path(cfg, name), "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 8000))
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def stray_pids(cfg):
    """Testbed processes not known through pid files (e.g. a pid file deleted by hand)."""
    me = {os.getpid(), os.getppid()}
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "gpu-sim"):
        try:
            me.add(int(open(pid_file(cfg, name)).read().strip()))
        except (OSError, ValueError):
            pass
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        pid = int(pid)
        if pid in me:
            continue
        args = cmdline(pid)
        if not args:
            continue
        exe = args[0]
        bins = cfg.bin_paths()
        binary = exe in [bins[k] for k in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")]
        sim = len(args) > 1 and args[1] == os.path.join(HERE, "gpu_sim.py")
        ours = (binary or sim) and points_into_state(cfg, args)
        if ours and is_ours(cfg, pid):
            out.append(pid)
    return out


def stop_pid(cfg, pid, name, timeout=15):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_ours(cfg, pid):
            return
        time.sleep(0.1)
    log("%s (pid %d) did not stop in %d s; killing it" % (name, pid, timeout))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Lock(object):
    """One up/down at a time per state directory."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.fh = None

    def __enter__(self):
        os.makedirs(self.cfg.run, exist_ok=True)
        self.fh = open(os.path.join(self.cfg.run, "lock"), "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log("another testbed up/down is running; waiting for it (up to 10 min)")
            deadline = time.monotonic() + 600
            while True:
                try:
                    fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TestbedError("timed out waiting for the testbed lock %s" % self.fh.name)
                    time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def bare_components():
    return [{"name": n, "cmd": ["/nonexistent/" + n]} for n in
            ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "gpu-sim")]




def alive(cfg):
    """Names of the testbed components that run now."""
    return [c["name"] for c in components(cfg) if running_pid(cfg, c)]


def known_components(cfg):
    """components(cfg) once the binaries are built, else placeholders (for status and down)."""
    return components(cfg) if os.path.isdir(cfg.bin_paths()["kwok-stages"]) else bare_components()
