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
Run with the project's venv python (needs kubernetes, PyYAML, cryptography, ansible-core).
"""
from __future__ import annotations

import argparse
import base64
import datetime
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def _env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        sys.exit("testbed: %s must be a port number" % name)


STATE = os.path.abspath(os.environ.get("TESTBED_DIR", os.path.join(ROOT, ".cache", "testbed")))
INVENTORY = os.environ.get("TESTBED_INVENTORY", os.path.join(ROOT, "inventories", "local"))
APISERVER_PORT = _env_int("TESTBED_APISERVER_PORT", 16443)
ETCD_PORT = _env_int("TESTBED_ETCD_PORT", 12379)
KCM_PORT = _env_int("TESTBED_KCM_PORT", 20257)
SCHEDULER_PORT = _env_int("TESTBED_SCHEDULER_PORT", 20259)
KUBECONFIG = os.path.join(STATE, "kubeconfig")
PKI = os.path.join(STATE, "pki")
LOGS = os.path.join(STATE, "logs")
RUN = os.path.join(STATE, "run")
ETCD_DATA = os.path.join(STATE, "etcd")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.0.0.0/16"
CONTEXT = "cnai-testbed"
WAIT_COMPONENT = int(os.environ.get("TESTBED_WAIT_SECONDS", "90"))

# Annotation/label contract shared with gpu_sim.py and the tests
A_PCI = "cnai.platform/sim-gpu-pci-device-id"
A_SIM = "cnai.platform/simulated"
PKI_MARKER = "complete-v2"  # bump when ensure_pki() writes new files


class TestbedError(Exception):
    pass


def log(msg):
    print("==> testbed: %s" % msg, flush=True)


def versions():
    out = {}
    with open(os.path.join(HERE, "versions.env")) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    return out


def bin_paths():
    v = versions()
    cache = os.environ.get("TESTBED_CACHE", os.path.join(ROOT, ".cache", "testbed"))
    k8s = os.path.join(cache, "bin", "k8s-" + v["K8S_VERSION"])
    return {
        "etcd": os.path.join(k8s, "etcd"),
        "kube-apiserver": os.path.join(k8s, "kube-apiserver"),
        "kube-controller-manager": os.path.join(k8s, "kube-controller-manager"),
        "kube-scheduler": os.path.join(k8s, "kube-scheduler"),
        "kwok": os.path.join(cache, "bin", "kwok-" + v["KWOK_VERSION"], "kwok"),
        "kwok-stages": os.path.join(cache, "bin", "kwok-" + v["KWOK_VERSION"], "stages"),
        "helm": os.path.join(cache, "bin", "helm-" + v["HELM_VERSION"], "helm"),
    }


# ---------------------------------------------------------------------------------------------
# PKI (cryptography, which ansible-core already depends on)
# ---------------------------------------------------------------------------------------------

def ensure_pki():
    if os.path.exists(os.path.join(PKI, PKI_MARKER)):
        return
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    import ipaddress

    alive = [c["name"] for c in components() if running_pid(c)]
    if alive:
        raise TestbedError("the PKI in %s must be (re)created but %s still run with the old one; run `make down` "
                           "first" % (PKI, ", ".join(alive)))
    log("creating PKI in %s" % PKI)
    shutil.rmtree(PKI, ignore_errors=True)
    os.makedirs(PKI, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    later = now + datetime.timedelta(days=3650)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_key(name, k):
        with open(os.path.join(PKI, name), "wb") as fh:
            fh.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()))

    def write_cert(name, c):
        with open(os.path.join(PKI, name), "wb") as fh:
            fh.write(c.public_bytes(serialization.Encoding.PEM))

    def name(cn, org=None):
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("cnai-testbed-ca")).issuer_name(name("cnai-testbed-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn, org, usage, sans=None):
        k = key()
        b = (x509.CertificateBuilder().subject_name(name(cn, org)).issuer_name(ca.subject)
             .public_key(k.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(later)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return k, b.sign(ca_key, hashes.SHA256())

    sans = [x509.DNSName(d) for d in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                      "kubernetes.default.svc.cluster.local")]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.96.0.1")]
    srv_key, srv = leaf("kube-apiserver", None, ExtendedKeyUsageOID.SERVER_AUTH, sans)
    adm_key, adm = leaf("cnai-testbed-admin", "system:masters", ExtendedKeyUsageOID.CLIENT_AUTH)
    sa_key = key()
    write_key("ca.key", ca_key)
    write_cert("ca.crt", ca)
    write_key("apiserver.key", srv_key)
    write_cert("apiserver.crt", srv)
    write_key("admin.key", adm_key)
    write_cert("admin.crt", adm)
    write_key("sa.key", sa_key)
    with open(os.path.join(PKI, "sa.pub"), "wb") as fh:
        fh.write(sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    # front proxy (request-header authentication): its own CA, as kubeadm does
    fp_ca_key = key()
    fp_ca = (x509.CertificateBuilder().subject_name(name("cnai-testbed-front-proxy-ca"))
             .issuer_name(name("cnai-testbed-front-proxy-ca"))
             .public_key(fp_ca_key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(later)
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(fp_ca_key, hashes.SHA256()))
    fp_key = key()
    fp = (x509.CertificateBuilder().subject_name(name("front-proxy-client")).issuer_name(fp_ca.subject)
          .public_key(fp_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(later)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
          .sign(fp_ca_key, hashes.SHA256()))
    write_cert("front-proxy-ca.crt", fp_ca)
    write_key("front-proxy-client.key", fp_key)
    write_cert("front-proxy-client.crt", fp)
    open(os.path.join(PKI, PKI_MARKER), "w").close()


def write_kubeconfig():
    def b64(name):
        with open(os.path.join(PKI, name), "rb") as fh:
            return base64.b64encode(fh.read()).decode()

    cfg = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": "https://127.0.0.1:%d" % APISERVER_PORT,
                                                   "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": CONTEXT + "-admin", "user": {"client-certificate-data": b64("admin.crt"),
                                                        "client-key-data": b64("admin.key")}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT + "-admin"}}],
        "current-context": CONTEXT,
    }
    text = json.dumps(cfg, indent=2)  # JSON is YAML; no dependency needed
    old = open(KUBECONFIG).read() if os.path.exists(KUBECONFIG) else None
    if old != text:
        tmp = KUBECONFIG + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, KUBECONFIG)


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

def components():
    b = bin_paths()

    def p(name):
        return os.path.join(PKI, name)
    stages_dir = b["kwok-stages"]
    stages = ",".join(os.path.join(stages_dir, f) for f in sorted(os.listdir(stages_dir))
                      if f.endswith(".yaml") and f != "storage-class.yaml") if os.path.isdir(stages_dir) else ""
    py = sys.executable
    return [
        {"name": "etcd", "ports": [ETCD_PORT, ETCD_PORT + 1],
         "cmd": [b["etcd"], "--name", "testbed", "--data-dir", ETCD_DATA,
                 "--listen-client-urls", "http://127.0.0.1:%d" % ETCD_PORT,
                 "--advertise-client-urls", "http://127.0.0.1:%d" % ETCD_PORT,
                 "--listen-peer-urls", "http://127.0.0.1:%d" % (ETCD_PORT + 1),
                 "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % (ETCD_PORT + 1),
                 "--initial-cluster", "testbed=http://127.0.0.1:%d" % (ETCD_PORT + 1),
                 "--auto-compaction-retention", "1",
                 "--quota-backend-bytes", str(2 * 1024 ** 3), "--unsafe-no-fsync", "--log-level", "warn"],
         "ready": lambda: _http_ok("http://127.0.0.1:%d/health" % ETCD_PORT, expect='"health":"true"')},
        {"name": "kube-apiserver", "ports": [APISERVER_PORT],
         "cmd": [b["kube-apiserver"], "--etcd-servers", "http://127.0.0.1:%d" % ETCD_PORT,
                 "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
                 "--secure-port", str(APISERVER_PORT),
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
                 "--cert-dir", os.path.join(STATE, "apiserver-certs"), "--v", "1"],
         "ready": lambda: _http_ok("https://127.0.0.1:%d/readyz" % APISERVER_PORT, client=True)},
        {"name": "kube-controller-manager", "ports": [KCM_PORT],
         "cmd": [b["kube-controller-manager"], "--kubeconfig", KUBECONFIG,
                 "--authentication-kubeconfig", KUBECONFIG, "--authorization-kubeconfig", KUBECONFIG,
                 "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(KCM_PORT),
                 "--cert-dir", os.path.join(STATE, "kcm-certs"),
                 "--root-ca-file", p("ca.crt"), "--service-account-private-key-file", p("sa.key"),
                 "--cluster-signing-cert-file", p("ca.crt"), "--cluster-signing-key-file", p("ca.key"),
                 "--service-cluster-ip-range", SERVICE_CIDR, "--use-service-account-credentials=false",
                 "--kube-api-qps", "200", "--kube-api-burst", "400", "--profiling=false", "--v", "1"],
         "ready": lambda: _http_ok("https://127.0.0.1:%d/healthz" % KCM_PORT, verify=False)},
        {"name": "kube-scheduler", "ports": [SCHEDULER_PORT],
         "cmd": [b["kube-scheduler"], "--kubeconfig", KUBECONFIG,
                 "--authentication-kubeconfig", KUBECONFIG, "--authorization-kubeconfig", KUBECONFIG,
                 "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(SCHEDULER_PORT),
                 "--cert-dir", os.path.join(STATE, "scheduler-certs"), "--profiling=false", "--v", "1"],
         "ready": lambda: _http_ok("https://127.0.0.1:%d/healthz" % SCHEDULER_PORT, verify=False)},
        {"name": "kwok", "ports": [],
         "cmd": [b["kwok"], "--kubeconfig", KUBECONFIG, "--manage-all-nodes=true", "--config", stages,
                 "--cidr", POD_CIDR, "--node-ip", "10.0.0.1", "--node-lease-duration-seconds", "40"],
         "ready": lambda: True},
        {"name": "gpu-sim", "ports": [],
         "cmd": [py, os.path.join(HERE, "gpu_sim.py"), "--kubeconfig", KUBECONFIG,
                 "--ready-file", os.path.join(RUN, "gpu-sim.ready")],
         "env": {"PYTHONPATH": _collections_path()},
         "ready": lambda: os.path.exists(os.path.join(RUN, "gpu-sim.ready"))},
    ]


def _collections_path():
    """Make the collection importable as ansible_collections.cnai.platform (as `make venv` does)."""
    base = os.path.join(ROOT, ".cache", "collections")
    link = os.path.join(base, "ansible_collections", "cnai", "platform")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(ROOT, os.path.dirname(link)), link)
    extra = os.environ.get("PYTHONPATH", "")
    return base + (os.pathsep + extra if extra and base not in extra.split(os.pathsep) else "")


def _ssl_context(client=False, verify=True):
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.crt"))
    if client:
        ctx.load_cert_chain(os.path.join(PKI, "admin.crt"), os.path.join(PKI, "admin.key"))
    return ctx


def _http_ok(url, client=False, verify=True, expect=None):
    try:
        ctx = _ssl_context(client, verify) if url.startswith("https") else None
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            body = resp.read().decode(errors="replace")
            return resp.status == 200 and (expect is None or expect in body.replace(" ", ""))
    except Exception:
        return False


def pid_file(name):
    return os.path.join(RUN, name + ".pid")


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return None


def _is_ours(pid, comp=None):
    """True when pid is alive and is a testbed process (its command line points into our state dir)."""
    args = _cmdline(pid)
    if not args:
        return False
    try:
        with open("/proc/%d/stat" % pid) as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    if not _points_into_state(args):
        return False
    if comp is None:
        return True
    if comp["name"] == "gpu-sim":
        return args[1:2] == comp["cmd"][1:2]
    return os.path.basename(args[0]) == os.path.basename(comp["cmd"][0])


def _points_into_state(args):
    """True when a command line uses this testbed's state (its kubeconfig, etcd data or PKI).

    Binaries are shared (TESTBED_CACHE) between testbeds with different TESTBED_DIRs, and one state dir
    may be a prefix of another (.cache/testbed vs .cache/testbed-gpu): compare whole paths.
    """
    pki = PKI + os.sep
    return any(a == KUBECONFIG or a == ETCD_DATA or a.startswith(pki) for a in args[1:])


def running_pid(comp):
    """The pid of a running component, or None. A stale pid file is removed and a running component
    without one (pid file lost) is adopted; both are reported."""
    pf = pid_file(comp["name"])
    pid = None
    try:
        pid = int(open(pf).read().strip())
    except (OSError, ValueError):
        if os.path.exists(pf):
            log("removing unreadable pid file %s" % pf)
            os.unlink(pf)
    if pid is not None:
        if _is_ours(pid, comp):
            return pid
        log("removing stale pid file %s (pid %d is not a running %s)" % (pf, pid, comp["name"]))
        os.unlink(pf)
    for other in stray_pids():
        if _is_ours(other, comp):
            log("adopting %s (pid %d) that runs without a pid file" % (comp["name"], other))
            if os.path.isdir(RUN):
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
                    return "pid %s (%s)" % (pid, " ".join((_cmdline(int(pid)) or ["?"])[:3]))
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


def start(comp):
    for port in comp["ports"]:
        check_port_free(port, comp)
    if not os.access(comp["cmd"][0], os.X_OK):
        raise TestbedError("%s: binary %s missing; run tools/testbed/build.sh" % (comp["name"], comp["cmd"][0]))
    path = _log(comp["name"])
    if os.path.exists(path) and os.path.getsize(path) > 20 * 1024 * 1024:
        os.replace(path, path + ".1")  # keep one older log
    logf = open(path, "ab")
    logf.write(("\n---- %s starting: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(comp["cmd"]))).encode())
    logf.flush()
    env = dict(os.environ)
    env.update(comp.get("env", {}))
    env.pop("KUBECONFIG", None)
    proc = subprocess.Popen(comp["cmd"], stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            cwd=STATE, env=env, start_new_session=True, close_fds=True)
    logf.close()
    with open(pid_file(comp["name"]), "w") as fh:
        fh.write(str(proc.pid))
    return proc


def _settle(comp, pid, timeout=WAIT_COMPONENT):
    """A component that runs already: wait until it is ready (False) or has exited (True: start it).

    Covers a process that is still shutting down (e.g. kube-apiserver draining after SIGTERM).
    """
    deadline = time.monotonic() + timeout
    said = False
    while time.monotonic() < deadline:
        if comp["ready"]():
            return False
        if not _is_ours(pid, comp):
            log("%s (pid %d) exited; starting it again" % (comp["name"], pid))
            try:
                os.unlink(pid_file(comp["name"]))
            except FileNotFoundError:
                pass
            return True
        if not said:
            log("%s (pid %d) runs but is not ready; waiting up to %d s" % (comp["name"], pid, timeout))
            said = True
        time.sleep(0.3)
    raise TestbedError("%s (pid %d) runs but did not become ready in %d s; see %s, or run `make down && make up`"
                       % (comp["name"], pid, timeout, _log(comp["name"])))


def wait_ready(comp, proc, timeout=WAIT_COMPONENT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            os.unlink(pid_file(comp["name"]))
            raise TestbedError("%s exited with code %s during start-up; last lines of %s:\n%s"
                               % (comp["name"], proc.returncode, _log(comp["name"]), _tail(comp["name"])))
        if comp["ready"]():
            return
        time.sleep(0.2)
    raise TestbedError("%s not ready after %d s; last lines of %s:\n%s"
                       % (comp["name"], timeout, _log(comp["name"]), _tail(comp["name"])))


def _log(name):
    """logs/<component>.log; the simulator's is logs/gpu_sim.log (stdout and stderr of the process)."""
    return os.path.join(LOGS, {"gpu-sim": "gpu_sim"}.get(name, name) + ".log")


def _tail(name, n=15):
    try:
        with open(_log(name), "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 8000))
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def stray_pids():
    """Testbed processes not known through pid files (e.g. a pid file deleted by hand)."""
    me = {os.getpid(), os.getppid()}
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "gpu-sim"):
        try:
            me.add(int(open(pid_file(name)).read().strip()))
        except (OSError, ValueError):
            pass
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        pid = int(pid)
        if pid in me:
            continue
        args = _cmdline(pid)
        if not args:
            continue
        exe = args[0]
        bins = bin_paths()
        binary = exe in [bins[k] for k in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")]
        sim = len(args) > 1 and args[1] == os.path.join(HERE, "gpu_sim.py")
        ours = (binary or sim) and _points_into_state(args)
        if ours and _is_ours(pid):
            out.append(pid)
    return out


def stop_pid(pid, name, timeout=15):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_ours(pid):
            return
        time.sleep(0.1)
    log("%s (pid %d) did not stop in %d s; killing it" % (name, pid, timeout))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------------
# Cluster content
# ---------------------------------------------------------------------------------------------

def _api():
    from kubernetes import client, config
    return client.ApiClient(config.new_client_from_config(config_file=KUBECONFIG).configuration)


def inventory_nodes(inventory=INVENTORY):
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
        sys.path.insert(0, _collections_path().split(os.pathsep)[0])
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


def ensure_objects():
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    api = _api()
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
    for host, kind, hv in inventory_nodes():
        if host in existing:
            continue
        core.create_node(node_manifest(host, kind, hv))
        created.append("node/" + host)
    if created:
        log("created %s" % ", ".join(created))


def wait_cluster(timeout=WAIT_COMPONENT):
    """Nodes Ready (kwok), GPU capacity in place, default ServiceAccount present."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    core = client.CoreV1Api(_api())
    deadline = time.monotonic() + timeout
    problem = "?"
    while time.monotonic() < deadline:
        nodes = json.loads(core.list_node(_preload_content=False).data)["items"]
        not_ready = [n["metadata"]["name"] for n in nodes
                     if not any(c.get("type") == "Ready" and c.get("status") == "True"
                                for c in (n.get("status") or {}).get("conditions") or [])]
        if not nodes or not_ready:
            problem = "nodes not Ready: %s (kwok log: %s)" % (", ".join(not_ready) or "none exist", _log("kwok"))
        else:
            try:
                core.read_namespaced_service_account("default", "default")
                return nodes
            except ApiException:
                problem = "ServiceAccount default/default not created yet (kube-controller-manager log: %s)" \
                          % _log("kube-controller-manager")
        time.sleep(0.3)
    raise TestbedError("cluster not ready after %d s: %s" % (timeout, problem))


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

class Lock(object):
    def __enter__(self):
        os.makedirs(RUN, exist_ok=True)
        self.fh = open(os.path.join(RUN, "lock"), "w")
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


def cmd_build(_args):
    env = dict(os.environ)
    r = subprocess.run(["nice", "-n", "10", "bash", os.path.join(HERE, "build.sh")], env=env, check=False)
    if r.returncode:
        raise TestbedError("build failed (exit %d); see the output above" % r.returncode)


def cmd_up(args):
    t0 = time.monotonic()
    if not args.no_build:
        cmd_build(args)
    with Lock():
        for d in (STATE, LOGS, RUN):
            os.makedirs(d, exist_ok=True)
        ensure_pki()
        write_kubeconfig()
        started = []
        comps = components()
        todo = [c for c in comps if not running_pid(c)]
        for comp in todo:  # all ports first: fail before starting anything
            for port in comp["ports"]:
                check_port_free(port, comp)
        for comp in comps:
            if comp not in todo:
                pid = running_pid(comp)
                if pid and not _settle(comp, pid):
                    continue  # running and ready
            if comp["name"] == "gpu-sim":
                try:
                    os.unlink(os.path.join(RUN, "gpu-sim.ready"))
                except FileNotFoundError:
                    pass
            for port in comp["ports"]:
                check_port_free(port, comp)
            proc = start(comp)
            wait_ready(comp, proc)
            started.append(comp["name"])
            if comp["name"] == "kube-apiserver":
                ensure_objects()
        if not started:
            ensure_objects()  # cheap and idempotent: nodes someone deleted come back
        nodes = wait_cluster()
    if started:
        log("started %s in %.1f s" % (", ".join(started), time.monotonic() - t0))
    else:
        log("already up (nothing started)")
    log("KUBECONFIG=%s  (%d nodes)" % (KUBECONFIG, len(nodes)))


def cmd_down(_args):
    with Lock():
        stopped = []
        for comp in reversed(components() if os.path.isdir(bin_paths()["kwok-stages"]) else _bare_components()):
            pid = running_pid(comp)
            if pid:
                stop_pid(pid, comp["name"])
                stopped.append(comp["name"])
            try:
                os.unlink(pid_file(comp["name"]))
            except FileNotFoundError:
                pass
        for pid in stray_pids():
            log("stopping stray testbed process %d: %s" % (pid, " ".join((_cmdline(pid) or [])[:2])))
            stop_pid(pid, "stray process")
            stopped.append("pid %d" % pid)
        left = stray_pids()
        if left:
            raise TestbedError("testbed processes still running after down: %s" % left)
        for d in (ETCD_DATA, os.path.join(RUN, "gpu-sim.ready")):
            if os.path.isdir(d):
                shutil.rmtree(d)
            elif os.path.exists(d):
                os.unlink(d)
    log("stopped %s; cluster data removed (PKI, logs and binaries kept)" % (", ".join(stopped) or "nothing (was not running)"))


def _bare_components():
    return [{"name": n, "cmd": ["/nonexistent/" + n]} for n in
            ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "gpu-sim")]


def cmd_status(_args):
    print("kubeconfig: %s" % KUBECONFIG)
    comps = components() if os.path.isdir(bin_paths()["kwok-stages"]) else _bare_components()
    down = []
    total = 0
    for comp in comps:
        pid = running_pid(comp) if os.path.isdir(RUN) else None
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
    api = _api()
    ver = json.loads(client.VersionApi(api).get_code(_preload_content=False).data)
    print("server: %s" % ver.get("gitVersion"))
    nodes = json.loads(client.CoreV1Api(api).list_node(_preload_content=False).data)["items"]
    print("%-14s %-6s %-26s %-5s %-18s %s" % ("NODE", "READY", "GPU PRODUCT", "GPUs", "MIG CONFIG/STATE",
                                              "NVIDIA RESOURCES (allocatable)"))
    for n in nodes:
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


def cmd_env(_args):
    print("export KUBECONFIG=%s" % KUBECONFIG)
    print("export PATH=%s:%s:$PATH" % (os.path.dirname(bin_paths()["helm"]), os.path.dirname(bin_paths()["kwok"])))


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
        rc = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env, "build": cmd_build}[args.cmd](args)
    except TestbedError as exc:
        print("testbed: ERROR: %s" % exc, file=sys.stderr)
        return 1
    except Exception as exc:  # API unreachable or refusing: say what and where to look, no traceback
        if type(exc).__module__.split(".")[0] not in ("kubernetes", "urllib3"):
            raise
        print("testbed: ERROR: the API server at https://127.0.0.1:%d did not answer as expected (%s: %s); "
              "see %s and `make status`" % (APISERVER_PORT, type(exc).__name__, str(exc).splitlines()[0][:300],
                                            _log("kube-apiserver")), file=sys.stderr)
        return 1
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
