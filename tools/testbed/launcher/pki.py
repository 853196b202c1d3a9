# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pki_dir (cryptography, which ansible-core already depends on) and the admin kubeconfig."""
from __future__ import annotations

import base64
import datetime
import json
import os
import shutil

from .config import CONTEXT, TestbedError, log

PKI_MARKER = "complete-v2"  # bump when ensure_pki() writes new files


def ensure_pki(cfg, running=lambda: []):
    """CA, API server, admin, service-account and front-proxy keys in cfg.pki; ``running()`` names the
    components still running (they would keep the old PKI)."""
    pki_dir = cfg.pki
    if os.path.exists(os.path.join(pki_dir, PKI_MARKER)):
        return
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    import ipaddress

    alive = running()
    if alive:
        raise TestbedError("the PKI in %s must be (re)created but %s still run with the old one; run `make down` "
                           "first" % (pki_dir, ", ".join(alive)))
    log("creating PKI in %s" % pki_dir)
    shutil.rmtree(pki_dir, ignore_errors=True)
    os.makedirs(pki_dir, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    later = now + datetime.timedelta(days=3650)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_key(name, k):
        with open(os.path.join(pki_dir, name), "wb") as fh:
            fh.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()))

    def write_cert(name, c):
        with open(os.path.join(pki_dir, name), "wb") as fh:
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
    with open(os.path.join(pki_dir, "sa.pub"), "wb") as fh:
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
    open(os.path.join(pki_dir, PKI_MARKER), "w").close()


def write_kubeconfig(cfg):
    pki_dir, kubeconfig = cfg.pki, cfg.kubeconfig

    def b64(name):
        with open(os.path.join(pki_dir, name), "rb") as fh:
            return base64.b64encode(fh.read()).decode()

    cfg = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": "https://127.0.0.1:%d" % cfg.apiserver_port,
                                                   "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": CONTEXT + "-admin", "user": {"client-certificate-data": b64("admin.crt"),
                                                        "client-key-data": b64("admin.key")}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT + "-admin"}}],
        "current-context": CONTEXT,
    }
    text = json.dumps(cfg, indent=2)  # JSON is YAML; no dependency needed
    old = open(kubeconfig).read() if os.path.exists(kubeconfig) else None
    if old != text:
        tmp = kubeconfig + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, kubeconfig)
