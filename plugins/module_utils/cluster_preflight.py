# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of the cluster plays: can the controller reach the cluster, and with supported tools?

Checked in this order, each failure naming the inventory variable to set:

1. the kubeconfig file (``cnai_kubeconfig``; empty: ``$KUBECONFIG`` or ``~/.kube/config``, or the in-cluster
   service account when running in a pod) exists and is a kubeconfig;
2. the context (``cnai_kube_context``; empty: the file's current-context) is in it;
3. the API server of that context answers ``/version`` within the time limit, with a Kubernetes version
   in ``SUPPORTED['kubernetes']``;
4. helm (``cnai_helm_binary``: a name on PATH or a path) runs, with a version in ``SUPPORTED['helm']``;
5. the CustomResourceDefinitions the play needs exist.

The supported ranges are here, in one place (module ``cnai.platform.cluster_preflight`` and role
``cnai.platform.cluster_preflight`` default to them). Pure functions; the API calls go through a small
client object so that the unit tests need no cluster.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess

from ansible_collections.cnai.platform.plugins.module_utils import platform_paths

# Minimum inclusive, maximum exclusive (major.minor[.patch]). Kubernetes: the releases kubernetes.core 6 and
# the pinned charts support, tested on the local testbed (v1.35). Helm: 3.x from 3.14 (kubernetes.core 6
# needs 3.x; the testbed builds v3.22).
SUPPORTED = {
    'kubernetes': '>=1.30,<1.37',
    'helm': '>=3.14,<4.0',
}

VAR_KUBECONFIG = 'cnai_kubeconfig'
VAR_CONTEXT = 'cnai_kube_context'
VAR_HELM = 'cnai_helm_binary'


class PreflightError(Exception):
    """A preflight check failed; the message says which variable to set."""


# ------------------------------------------------------------------------------------------------ versions
def parse_version(text):
    """``v1.35.4``, ``v3.22.0+g1a2b3c``, ``1.30.2-gke.1``, ``Client: v3.1`` -> (1, 35, 4). None if absent."""
    m = re.search(r'v?(\d+)\.(\d+)(?:\.(\d+))?', text or '')
    if not m:
        return None
    return tuple(int(x) if x is not None else 0 for x in m.groups())


def _vt(text):
    v = parse_version(text)
    if v is None:
        raise PreflightError('bad version %r in a supported range' % text)
    return v


def parse_range(spec):
    """``'>=1.30,<1.37'`` -> [('>=', (1, 30, 0)), ('<', (1, 37, 0))]."""
    out = []
    for part in (spec or '').split(','):
        part = part.strip()
        if not part:
            continue
        m = re.match(r'^(>=|<=|==|!=|>|<)\s*(.+)$', part)
        if not m:
            raise PreflightError('bad version range %r: use comparisons such as >=1.30,<1.37' % spec)
        out.append((m.group(1), _vt(m.group(2))))
    return out


def in_range(version, spec):
    """True when the version tuple satisfies every comparison of ``spec``."""
    ops = {'>=': lambda a, b: a >= b, '<=': lambda a, b: a <= b, '==': lambda a, b: a == b,
           '!=': lambda a, b: a != b, '>': lambda a, b: a > b, '<': lambda a, b: a < b}
    return all(ops[op](tuple(version), bound) for op, bound in parse_range(spec))


def fmt(version):
    return '.'.join(str(x) for x in version)


# ------------------------------------------------------------------------------------------------ kubeconfig
def find_kubeconfig(path, environ=None, home=None):
    """The kubeconfig file to use: ``(file, source)``; ``(None, 'in-cluster')`` in a pod without a file.

    ``path`` is ``cnai_kubeconfig`` (``~`` expanded). Empty: the first existing file of ``$KUBECONFIG``, else
    ``~/.kube/config``, else the in-cluster service account. PreflightError naming cnai_kubeconfig otherwise.
    """
    env = os.environ if environ is None else environ
    if path:
        full = os.path.abspath(os.path.expanduser(path))
        if not os.path.isfile(full) or not os.access(full, os.R_OK):
            raise PreflightError(
                '%s: the kubeconfig %s (%s) does not exist or cannot be read. Set %s (or K8S_AUTH_KUBECONFIG '
                'where the inventory reads it) to the kubeconfig file of the target cluster'
                % (VAR_KUBECONFIG, path, full, VAR_KUBECONFIG))
        return full, VAR_KUBECONFIG
    tried = []
    for cand in [p for p in env.get('KUBECONFIG', '').split(os.pathsep) if p]:
        cand = os.path.expanduser(cand)
        tried.append(cand)
        if os.path.isfile(cand):
            return os.path.abspath(cand), 'KUBECONFIG'
    default = os.path.join(home or os.path.expanduser('~'), '.kube', 'config')
    tried.append(default)
    if os.path.isfile(default):
        return default, '~/.kube/config'
    if env.get('KUBERNETES_SERVICE_HOST') and os.path.isfile(
            '/var/run/secrets/kubernetes.io/serviceaccount/token'):
        return None, 'in-cluster'
    raise PreflightError(
        '%s is not set and no kubeconfig was found (tried %s; not running in a pod). Set %s to the kubeconfig '
        'file of the target cluster (and %s to its context)'
        % (VAR_KUBECONFIG, ', '.join(tried), VAR_KUBECONFIG, VAR_CONTEXT))


def pick_context(doc, path, context):
    """``(context name, cluster server)`` from a loaded kubeconfig; PreflightError naming the variable."""
    if not isinstance(doc, dict) or not isinstance(doc.get('contexts'), list) or not doc['contexts']:
        raise PreflightError('%s: %s is not a kubeconfig with contexts. Set %s to the kubeconfig file of the '
                             'target cluster' % (VAR_KUBECONFIG, path, VAR_KUBECONFIG))
    contexts = dict((c.get('name'), c.get('context') or {}) for c in doc['contexts'] if isinstance(c, dict))
    names = ', '.join(sorted(str(n) for n in contexts)) or 'none'
    name = context or doc.get('current-context') or ''
    if not name:
        raise PreflightError('%s: %s has no current-context. Set %s to one of its contexts: %s'
                             % (VAR_CONTEXT, path, VAR_CONTEXT, names))
    if name not in contexts:
        raise PreflightError('%s: context %r is not in %s (%s there: %s). Set %s to one of them'
                             % (VAR_CONTEXT if context else 'current-context', name, path,
                                'contexts', names, VAR_CONTEXT))
    cluster = contexts[name].get('cluster')
    server = ''
    for c in doc.get('clusters') or []:
        if isinstance(c, dict) and c.get('name') == cluster:
            server = (c.get('cluster') or {}).get('server', '')
    return name, server


# ------------------------------------------------------------------------------------------------ API server
def check_api(client, where, timeout, versions):
    """``client.version(timeout)`` -> git version string; PreflightError on no answer or a version out of range."""
    try:
        git_version = client.version(timeout)
    except Exception as exc:  # the client's connection, TLS and auth errors all end here
        status = getattr(exc, 'status', None)
        if status in (401, 403):
            raise PreflightError('the API server of %s refused the credentials (HTTP %s). Check the user of that '
                                 'context in %s / %s' % (where, status, VAR_KUBECONFIG, VAR_CONTEXT))
        raise PreflightError('cannot reach the API server of %s within %s s (%s). Check %s and %s, and that the '
                             'cluster is up and reachable from the controller'
                             % (where, timeout, _short(exc), VAR_KUBECONFIG, VAR_CONTEXT))
    version = parse_version(git_version)
    if version is None or not in_range(version, versions):
        raise PreflightError('the API server of %s runs Kubernetes %s; cnai.platform supports %s. Point %s / %s '
                             'at a supported cluster (or set cluster_preflight_kubernetes_versions to accept it)'
                             % (where, git_version, versions, VAR_KUBECONFIG, VAR_CONTEXT))
    return git_version


def missing_crds(client, crds, timeout):
    """The CRDs of ``crds`` (``[{name, hint}]``) that do not exist: ``client.crd_exists(name, timeout)``."""
    return [c for c in crds if not client.crd_exists(c['name'], timeout)]


def normalize_crds(crds):
    """CRDs as strings or ``{name, hint}`` -> ``[{name, hint}]``; PreflightError on a bad entry."""
    out = []
    for c in crds or []:
        if isinstance(c, str) and c:
            out.append({'name': c, 'hint': ''})
        elif isinstance(c, dict) and c.get('name'):
            out.append({'name': str(c['name']), 'hint': str(c.get('hint') or '')})
        else:
            raise PreflightError('cluster_preflight_crds: %r is not a CRD name or {name, hint}' % (c,))
    return out


def crd_message(missing):
    """One line; CRDs that share a hint are listed together, the hint once."""
    groups = []
    for c in missing:
        for g in groups:
            if g[0] == c['hint']:
                g[1].append(c['name'])
                break
        else:
            groups.append((c['hint'], [c['name']]))
    return ('the cluster lacks the CustomResourceDefinitions this play needs: %s'
            % '; '.join('%s%s' % (', '.join(names), (' (%s)' % hint) if hint else '') for hint, names in groups))


# ------------------------------------------------------------------------------------------------ helm
def check_helm(binary, versions, timeout=30, runner=None):
    """``(path, version)`` of helm, or PreflightError naming cnai_helm_binary."""
    try:
        path = platform_paths.resolve_binary(binary, VAR_HELM, default_name='helm')
    except platform_paths.BinaryError as exc:
        raise PreflightError(str(exc))
    run = runner or subprocess.run
    try:
        proc = run([path, 'version', '--short'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   universal_newlines=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError('%s: %s does not run (%s). Set %s to a working helm'
                             % (VAR_HELM, path, _short(exc), VAR_HELM))
    out = (proc.stdout or '').strip()
    version = parse_version(out) if proc.returncode == 0 else None
    if version is None:
        raise PreflightError('%s: `%s version --short` failed (rc %s: %s). Set %s to a working helm'
                             % (VAR_HELM, path, proc.returncode, _short(proc.stderr or out), VAR_HELM))
    if not in_range(version, versions):
        raise PreflightError('%s: %s is helm %s; cnai.platform supports %s. Set %s to a supported helm'
                             % (VAR_HELM, path, out, versions, VAR_HELM))
    return path, out


def _short(text, limit=300):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit] + '...'
