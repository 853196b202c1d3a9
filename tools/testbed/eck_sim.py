# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECK simulator for the local testbed (tools/testbed), run as a thread of gpu_sim.py.

KWOK runs no containers, so the ECK operator the elasticsearch role installs from its real chart never
reconciles. This plays the parts of ECK that other components read through the API, for every
``Elasticsearch`` resource (elasticsearch.k8s.elastic.co/v1):

* the HTTP Service ``<name>-es-http`` (port 9200, name https) selecting the cluster's pods;
* the Secret ``<name>-es-elastic-user`` (key ``elastic``, a random password) and the public CA Secret
  ``<name>-es-http-certs-public`` (``ca.crt``, ``tls.crt``: a self-signed certificate made here);
* the status ECK reports once the cluster is up: ``phase: Ready``, ``health: green``, ``availableNodes``
  (the sum of the nodeSets' counts), ``version``, ``observedGeneration`` and the conditions
  ReconciliationComplete, ElasticsearchIsReachable, RunningDesiredVersion (``True``).

Every object it creates carries the label ``cnai.platform/simulated=eck`` and an owner reference to the
Elasticsearch resource (the garbage collector removes them with it). Objects that already exist are left
alone (a test may create its own). It never runs Elasticsearch: the endpoint exists, nothing answers on it.
"""
from __future__ import annotations

import base64
import datetime
import logging
import secrets

LOG = logging.getLogger("eck_sim")
GROUP, VERSION, PLURAL = "elasticsearch.k8s.elastic.co", "v1", "elasticsearches"
SIM_LABEL = {"cnai.platform/simulated": "eck"}


def desired_objects(es, ca_pem):
    """The Service and Secrets ECK would create for one Elasticsearch resource (pure; unit-tested)."""
    meta = es["metadata"]
    name, ns = meta["name"], meta["namespace"]
    owner = [{"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "Elasticsearch", "name": name,
              "uid": meta["uid"], "controller": True, "blockOwnerDeletion": False}]
    labels = dict(SIM_LABEL, **{"common.k8s.elastic.co/type": "elasticsearch",
                                "elasticsearch.k8s.elastic.co/cluster-name": name})

    def md(obj_name):
        return {"name": obj_name, "namespace": ns, "labels": dict(labels), "ownerReferences": owner}

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": md("%s-es-http" % name),
           "spec": {"selector": {"common.k8s.elastic.co/type": "elasticsearch",
                                 "elasticsearch.k8s.elastic.co/cluster-name": name},
                    "ports": [{"name": "https", "port": 9200, "targetPort": 9200, "protocol": "TCP"}]}}
    user = {"apiVersion": "v1", "kind": "Secret", "metadata": md("%s-es-elastic-user" % name), "type": "Opaque",
            "data": {"elastic": base64.b64encode(secrets.token_urlsafe(24).encode()).decode()}}
    pem = base64.b64encode(ca_pem).decode()
    ca = {"apiVersion": "v1", "kind": "Secret", "metadata": md("%s-es-http-certs-public" % name), "type": "Opaque",
          "data": {"ca.crt": pem, "tls.crt": pem}}
    return [svc, user, ca]


def desired_status(es):
    """The status ECK reports for a healthy cluster of this spec (pure; unit-tested)."""
    spec = es.get("spec") or {}
    nodes = sum(int(ns.get("count", 1)) for ns in spec.get("nodeSets") or [])
    conditions = [{"type": t, "status": "True", "lastTransitionTime": "1970-01-01T00:00:00Z"}
                  for t in ("ReconciliationComplete", "ElasticsearchIsReachable", "RunningDesiredVersion")]
    return {"phase": "Ready", "health": "green", "availableNodes": nodes, "version": spec.get("version", ""),
            "observedGeneration": es["metadata"].get("generation", 1), "conditions": conditions}


def status_differs(have, want):
    """Whether the stored status lacks what desired_status() reports (times of conditions ignored)."""
    def conds(status):
        return sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])
    return (any(have.get(k) != v for k, v in want.items() if k != "conditions")
            or conds(have) != conds(want))


def self_signed_pem(common_name="cnai-testbed-eck-sim"):
    """A self-signed certificate (PEM) standing in for ECK's CA; made once per simulator."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


class EckSimulator(object):
    """Polls the Elasticsearch resources every ``interval`` seconds (stateless: safe to restart)."""

    def __init__(self, api_client, stop, interval=2.0):
        from kubernetes import client
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.stop = stop
        self.interval = interval
        self._ca = None

    def reconcile(self, es):
        from kubernetes.client.exceptions import ApiException
        if self._ca is None:
            self._ca = self_signed_pem()
        meta = es["metadata"]
        for obj in desired_objects(es, self._ca):
            create = self.core.create_namespaced_service if obj["kind"] == "Service" else self.core.create_namespaced_secret
            try:
                create(meta["namespace"], obj)
                LOG.info("elasticsearch %s/%s: created %s %s (simulated ECK)", meta["namespace"], meta["name"],
                         obj["kind"], obj["metadata"]["name"])
            except ApiException as exc:
                if exc.status != 409:       # exists: left alone
                    raise
        want = desired_status(es)
        have = es.get("status") or {}
        if status_differs(have, want):
            self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, meta["namespace"], PLURAL, meta["name"],
                                                              {"status": want})
            LOG.info("elasticsearch %s/%s: status %s", meta["namespace"], meta["name"], want)

    def run(self):
        from kubernetes.client.exceptions import ApiException
        LOG.info("eck_sim started (polling every %.0f s)", self.interval)
        while not self.stop.is_set():
            try:
                items = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL).get("items", [])
                for es in items:
                    if not es["metadata"].get("deletionTimestamp"):
                        self.reconcile(es)
            except ApiException as exc:
                if exc.status != 404:       # 404: the ECK CRDs are not installed
                    LOG.warning("API error: %s", exc.reason)
            except Exception as exc:  # pylint: disable=broad-except  # API server restarting, etc.
                LOG.warning("eck_sim: %s", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
            self.stop.wait(self.interval)
        LOG.info("eck_sim stopped")
