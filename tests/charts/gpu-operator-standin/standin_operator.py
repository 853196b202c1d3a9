"""Stand-in for the GPU Operator's ClusterPolicy status reporting, for offline tests only.

No operator runs on the local testbed, so nothing would ever set ClusterPolicy ``.status.state``.
This loop plays that single part: every ``--interval`` seconds it sets ``status.state`` of each
ClusterPolicy that is not yet ``ready`` to ``ready`` (through the status subresource, as the operator
does), unless the object carries the annotation ``cnai.platform/standin-state`` in which case that
value is written instead (e.g. ``notReady``, to test the role's timeout). It exits after ``--seconds``,
or once the API server has been unreachable for ``--give-up`` seconds (the testbed was stopped).

It proves only that the role waits for and reads the status; it says nothing about operands.
"""
import argparse
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = 'nvidia.com', 'v1', 'clusterpolicies'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--kubeconfig', required=True)
    ap.add_argument('--seconds', type=int, default=900)
    ap.add_argument('--interval', type=float, default=1.0)
    ap.add_argument('--give-up', type=float, default=20.0)
    args = ap.parse_args()
    config.load_kube_config(config_file=args.kubeconfig)
    api = client.CustomObjectsApi()
    deadline = time.time() + args.seconds
    last_ok = time.time()
    while time.time() < deadline:
        try:
            items = api.list_cluster_custom_object(GROUP, VERSION, PLURAL).get('items', [])
            last_ok = time.time()
        except ApiException as exc:
            last_ok = time.time()
            if exc.status != 404:      # CRD not installed yet
                print('list: %s' % exc.reason, file=sys.stderr)
            items = []
        except Exception as exc:       # connection refused: the API server is gone
            if time.time() - last_ok > args.give_up:
                print('API server unreachable for %.0f s (%s); exiting' % (args.give_up, exc), file=sys.stderr)
                return 0
            items = []
        for obj in items:
            meta = obj['metadata']
            want = (meta.get('annotations') or {}).get('cnai.platform/standin-state', 'ready')
            if (obj.get('status') or {}).get('state') == want:
                continue
            body = {'status': {'state': want, 'namespace': 'gpu-operator',
                               'conditions': [{'type': 'Ready', 'status': 'True' if want == 'ready' else 'False',
                                               'reason': 'StandIn', 'message': 'set by standin_operator.py',
                                               'lastTransitionTime': time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                                                                   time.gmtime())}]}}
            try:
                api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, meta['name'], body)
                print('clusterpolicy/%s: state=%s' % (meta['name'], want), flush=True)
            except ApiException as exc:
                print('patch %s: %s' % (meta['name'], exc.reason), file=sys.stderr)
        time.sleep(args.interval)
    return 0


if __name__ == '__main__':
    sys.exit(main())
