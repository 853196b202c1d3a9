# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GitOps hand-off (design §3b, issue 11): what Argo CD needs to sync the rendered tree.

Pure functions over manifests as data, no I/O:

* ``resource_allowlists(objects)``: the AppProject's cluster-resource and namespace-resource allow-lists,
  computed from the kinds the tree really contains (so they stay no wider than needed as components change).
* ``scaled_targets(objects)`` / ``ignore_differences(objects)``: the workloads whose replica count KEDA or an
  HPA owns, and the Application ``ignoreDifferences`` that keep Argo CD from fighting the autoscaler.
* ``kustomize_application`` / ``helm_application`` / ``root_application`` / ``app_project``: the Argo CD objects.
* ``namespace_violations(namespaces, patterns)``: namespaces the project would not allow (preflight).
* ``commit_message(status_lines)``: a message that says what changed, per component and overlay.
* ``comparable(obj)``: a live object minus the metadata that differs by nature (direct vs. GitOps compare).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

try:
    import yaml
except ImportError:  # reported by the module
    yaml = None


if yaml is not None:
    class _ManifestLoader(yaml.SafeLoader):
        """SafeLoader that reads a plain ``=`` as the string it is in Kubernetes manifests.

        YAML 1.1 resolves a plain ``=`` to tag:yaml.org,2002:value, which SafeLoader cannot construct; charts
        have it (kube-prometheus-stack's AlertmanagerConfig CRD: matchType enum ``- =``).
        """

    _ManifestLoader.add_constructor('tag:yaml.org,2002:value', yaml.SafeLoader.construct_yaml_str)

ARGOCD_GROUP = 'argoproj.io'
IN_CLUSTER = 'https://kubernetes.default.svc'

# Cluster-scoped kinds of Kubernetes itself and of the platform's operators' CRDs (group, kind). A kind defined
# by a CustomResourceDefinition of the tree is classified by that CRD's spec.scope instead.
CLUSTER_SCOPED = frozenset([
    ('', 'Namespace'), ('', 'Node'), ('', 'PersistentVolume'), ('', 'ComponentStatus'),
    ('rbac.authorization.k8s.io', 'ClusterRole'), ('rbac.authorization.k8s.io', 'ClusterRoleBinding'),
    ('apiextensions.k8s.io', 'CustomResourceDefinition'), ('apiregistration.k8s.io', 'APIService'),
    ('admissionregistration.k8s.io', 'ValidatingWebhookConfiguration'),
    ('admissionregistration.k8s.io', 'MutatingWebhookConfiguration'),
    ('admissionregistration.k8s.io', 'ValidatingAdmissionPolicy'),
    ('admissionregistration.k8s.io', 'ValidatingAdmissionPolicyBinding'),
    ('scheduling.k8s.io', 'PriorityClass'), ('storage.k8s.io', 'StorageClass'),
    ('storage.k8s.io', 'CSIDriver'), ('storage.k8s.io', 'VolumeAttachment'),
    ('networking.k8s.io', 'IngressClass'), ('node.k8s.io', 'RuntimeClass'),
    ('flowcontrol.apiserver.k8s.io', 'FlowSchema'), ('flowcontrol.apiserver.k8s.io', 'PriorityLevelConfiguration'),
    ('certificates.k8s.io', 'CertificateSigningRequest'),
    ('gateway.networking.k8s.io', 'GatewayClass'),
    ('keda.sh', 'ClusterTriggerAuthentication'),
    ('resource.k8s.io', 'DeviceClass'),
])

# Replica counts an autoscaler owns: (autoscaler group, kind) -> how to read its target
AUTOSCALERS = {
    ('keda.sh', 'ScaledObject'): 'keda',
    ('autoscaling', 'HorizontalPodAutoscaler'): 'hpa',
}

# metadata that differs by nature between two copies of the same object (direct vs. GitOps)
VOLATILE_METADATA = ('uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'namespace',
                     'selfLink', 'ownerReferences')
VOLATILE_ANNOTATIONS = ('kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision',
                        'argocd.argoproj.io/tracking-id', 'argocd.argoproj.io/installation-id')
VOLATILE_LABELS = ('app.kubernetes.io/instance-argocd',)


class GitOpsError(Exception):
    """An input the GitOps hand-off cannot use; the message says what to fix."""


def group_of(api_version):
    """'apps/v1' -> 'apps', 'v1' -> ''."""
    api_version = api_version or ''
    return api_version.split('/', 1)[0] if '/' in api_version else ''


def _crd_scopes(objects):
    scopes = {}
    for obj in objects:
        if obj.get('kind') == 'CustomResourceDefinition' and group_of(obj.get('apiVersion')) == 'apiextensions.k8s.io':
            spec = obj.get('spec') or {}
            kind = (spec.get('names') or {}).get('kind')
            if kind:
                scopes[(spec.get('group') or '', kind)] = spec.get('scope') or 'Namespaced'
    return scopes


def is_cluster_scoped(group, kind, crd_scopes=None):
    """Cluster-scoped by the built-in table, or by a CRD of the tree (its scope wins)."""
    if crd_scopes and (group, kind) in crd_scopes:
        return crd_scopes[(group, kind)] == 'Cluster'
    return (group, kind) in CLUSTER_SCOPED


def resource_allowlists(objects, create_namespace=True):
    """``{'cluster': [{group, kind}], 'namespaced': [{group, kind}]}``, each sorted and unique: exactly the kinds
    of ``objects``. With ``create_namespace`` (the Applications' CreateNamespace=true) Namespace is allowed too,
    as Argo CD then creates the destination namespace."""
    crds = _crd_scopes(objects)
    cluster, namespaced = set(), set()
    for obj in objects:
        kind = obj.get('kind')
        if not kind or not obj.get('apiVersion'):
            raise GitOpsError('an object without apiVersion/kind cannot be synced: %r' % (obj.get('metadata'),))
        key = (group_of(obj.get('apiVersion')), kind)
        (cluster if is_cluster_scoped(key[0], key[1], crds) else namespaced).add(key)
    if create_namespace:
        cluster.add(('', 'Namespace'))

    def listed(keys):
        return [{'group': g, 'kind': k} for g, k in sorted(keys)]
    return {'cluster': listed(cluster), 'namespaced': listed(namespaced)}


def scaled_targets(objects, default_namespace=None):
    """Workloads whose replicas an autoscaler of ``objects`` owns: sorted unique
    ``[{group, kind, name, namespace}]`` (KEDA ScaledObject spec.scaleTargetRef, HPA spec.scaleTargetRef)."""
    out = set()
    for obj in objects:
        how = AUTOSCALERS.get((group_of(obj.get('apiVersion')), obj.get('kind')))
        if not how:
            continue
        ref = (obj.get('spec') or {}).get('scaleTargetRef') or {}
        name = ref.get('name')
        if not name:
            raise GitOpsError('%s %s has no spec.scaleTargetRef.name' % (obj.get('kind'),
                                                                         (obj.get('metadata') or {}).get('name')))
        kind = ref.get('kind') or 'Deployment'
        group = group_of(ref.get('apiVersion') or ('apps/v1' if kind in ('Deployment', 'StatefulSet') else ''))
        ns = (obj.get('metadata') or {}).get('namespace') or default_namespace or ''
        out.add((group, kind, name, ns))
    return [{'group': g, 'kind': k, 'name': n, 'namespace': ns} for g, k, n, ns in sorted(out)]


def ignore_differences(objects, default_namespace=None):
    """Application ``spec.ignoreDifferences``: ``/spec/replicas`` of every workload an autoscaler owns."""
    out = []
    for t in scaled_targets(objects, default_namespace):
        entry = {'group': t['group'], 'kind': t['kind'], 'name': t['name'], 'jsonPointers': ['/spec/replicas']}
        if t['namespace']:
            entry['namespace'] = t['namespace']
        out.append(entry)
    return out


def sync_policy(retry_limit=5, backoff_duration='5s', backoff_factor=2, backoff_max='3m', create_namespace=True,
                self_heal=True, prune=True):
    """Automated sync (prune, self-heal), server-side apply, differences the autoscalers own respected, retry."""
    options = ['ServerSideApply=true', 'RespectIgnoreDifferences=true']
    if create_namespace:
        options.insert(0, 'CreateNamespace=true')
    return {
        'automated': {'prune': bool(prune), 'selfHeal': bool(self_heal)},
        'syncOptions': options,
        'retry': {'limit': int(retry_limit),
                  'backoff': {'duration': backoff_duration, 'factor': int(backoff_factor), 'maxDuration': backoff_max}},
    }


def _labels(extra=None):
    labels = {'app.kubernetes.io/part-of': 'cnai-platform', 'app.kubernetes.io/managed-by': 'cnai.platform'}
    labels.update(extra or {})
    return labels


def _application(name, argocd_namespace, project, source, namespace, policy, ignore=None, labels=None):
    spec = {
        'project': project,
        'source': source,
        'destination': {'server': IN_CLUSTER, 'namespace': namespace},
        'syncPolicy': copy.deepcopy(policy),
    }
    if ignore:
        spec['ignoreDifferences'] = ignore
    return {
        'apiVersion': 'argoproj.io/v1alpha1', 'kind': 'Application',
        'metadata': {'name': name, 'namespace': argocd_namespace, 'labels': _labels(labels),
                     # children are deleted with their resources when removed from the tree
                     'finalizers': ['resources-finalizer.argocd.argoproj.io']},
        'spec': spec,
    }


def kustomize_application(component, environment, objects, repo_url, revision, argocd_namespace, project, policy,
                          namespace=None):
    """The Application of one component's overlay ``<component>/overlays/<environment>``. Its destination
    namespace is the overlay's (the one namespace its namespaced objects use)."""
    used = sorted(set((o.get('metadata') or {}).get('namespace') for o in objects) - set([None, '']))
    if namespace is None:
        if len(used) > 1:
            raise GitOpsError('%s/overlays/%s puts objects in several namespaces (%s): an overlay sets one namespace'
                              % (component, environment, ', '.join(used)))
        namespace = used[0] if used else 'default'
    source = {'repoURL': repo_url, 'targetRevision': revision,
              'path': '%s/overlays/%s' % (component, environment)}
    return _application('%s-%s' % (component, environment), argocd_namespace, project, source, namespace, policy,
                        ignore_differences(objects, namespace),
                        {'cnai.platform/component': component, 'cnai.platform/environment': environment})


def helm_application(record, environment, objects, argocd_namespace, project, policy, repo_url=None, revision=None,
                     chart_path=None):
    """The Application of a chart release recorded by role helm_release (cnai_delivery=gitops). The chart comes
    from its pinned repository (``record.repo_url``), or, with ``chart_path``, from that directory of the
    GitOps repository (offline sites: the packaged chart unpacked there)."""
    for key in ('name', 'namespace', 'chart', 'chart_version'):
        if not record.get(key):
            raise GitOpsError('helm release record %r has no %s' % (record.get('name'), key))
    helm = {'releaseName': record['name'], 'valuesObject': copy.deepcopy(record.get('values') or {})}
    if chart_path:
        source = {'repoURL': repo_url, 'targetRevision': revision, 'path': chart_path, 'helm': helm}
    else:
        if not record.get('repo_url'):
            raise GitOpsError('helm release record %r has no repo_url' % record['name'])
        source = {'repoURL': record['repo_url'], 'chart': record['chart'], 'targetRevision': record['chart_version'],
                  'helm': helm}
    return _application('%s-%s' % (record['name'], environment), argocd_namespace, project, source,
                        record['namespace'], policy, ignore_differences(objects, record['namespace']),
                        {'cnai.platform/component': record['name'], 'cnai.platform/environment': environment})


def root_application(environment, repo_url, revision, argocd_namespace, project, policy):
    """The app-of-apps of one environment: the Applications in ``apps/<environment>``."""
    source = {'repoURL': repo_url, 'targetRevision': revision, 'path': 'apps/%s' % environment,
              'directory': {'recurse': False}}
    pol = copy.deepcopy(policy)
    pol['syncOptions'] = [o for o in pol['syncOptions'] if not o.startswith('CreateNamespace')]
    app = _application('cnai-platform-%s' % environment, argocd_namespace, project, source, argocd_namespace, pol,
                       None, {'cnai.platform/environment': environment})
    # deleting the root must not cascade into the whole platform by accident
    del app['metadata']['finalizers']
    return app


def app_project(name, argocd_namespace, source_repos, namespaces, allowlists, description=''):
    """An AppProject scoped to the platform: its repositories, its namespaces (globs) on this cluster, and the
    computed allow-lists (cluster and namespaced kinds). Nothing else may be synced through it."""
    proj = {
        'apiVersion': 'argoproj.io/v1alpha1', 'kind': 'AppProject',
        'metadata': {'name': name, 'namespace': argocd_namespace, 'labels': _labels()},
        'spec': {
            'description': description or 'cnai.platform components (rendered by the collection)',
            'sourceRepos': sorted(set(source_repos)),
            'destinations': [{'server': IN_CLUSTER, 'namespace': n} for n in namespaces],
            'clusterResourceWhitelist': allowlists['cluster'],
            'orphanedResources': {'warn': True},
        },
    }
    # namespaced kinds: listed where given (the root project: Applications only); a chart's namespaced kinds
    # depend on the API versions the cluster serves at sync time, so the platform project does not list them
    if allowlists.get('namespaced') is not None:
        proj['spec']['namespaceResourceWhitelist'] = allowlists['namespaced']
    return proj


def root_project(name, argocd_namespace, source_repos):
    """The project of the app-of-apps: it may only create Applications in the Argo CD namespace."""
    return app_project(name, argocd_namespace, source_repos, [argocd_namespace],
                       {'cluster': [], 'namespaced': [{'group': ARGOCD_GROUP, 'kind': 'Application'}]},
                       'cnai.platform app-of-apps: Applications only, in %s' % argocd_namespace)


def namespace_violations(namespaces, patterns):
    """The namespaces no pattern (glob, as AppProject destinations) allows, sorted."""
    return sorted(n for n in set(namespaces) if not any(fnmatch.fnmatchcase(n, p) for p in patterns))


def commit_message(status_lines, prefix='cnai.platform'):
    """A commit message from ``git status --porcelain`` lines: a subject naming each component with its
    changed parts (base, overlays/<env>, apps/<env>, helm/<release>), and a body listing every file."""
    parts, body = {}, []
    for line in status_lines:
        if not line.strip():
            continue
        code, path = line[:2].strip() or 'M', line[3:].strip()
        if ' -> ' in path:
            path = path.split(' -> ', 1)[1]
        path = path.strip('"')
        body.append('%s %s' % ({'??': 'A', 'A': 'A', 'D': 'D', 'R': 'R'}.get(code, code[0]), path))
        bits = path.split('/')
        top = bits[0]
        if top == 'apps' and len(bits) > 2:          # apps/<env>/<component>-<env>.yaml
            what, top = 'apps/%s' % bits[1], bits[2].rsplit('.', 1)[0]
            if top.endswith('-' + bits[1]):
                top = top[:-len(bits[1]) - 1]
        elif top == 'bootstrap' and len(bits) > 2:
            what, top = 'bootstrap/%s' % bits[1], 'argocd'
        elif top == 'helm' and len(bits) > 1:        # helm/<release>.yaml
            what, top = 'helm', bits[1].rsplit('.', 1)[0]
        elif top == 'charts' and len(bits) > 1:      # charts/<chart>-<version>/...
            what, top = 'charts', re.sub(r'-v?[0-9][0-9A-Za-z.+-]*$', '', bits[1])
        elif len(bits) > 2 and bits[1] == 'overlays':
            what = 'overlays/%s' % bits[2]
        elif len(bits) > 1:
            what = bits[1] if not bits[1].startswith('.') else 'tree'
        else:
            what = 'tree'
        parts.setdefault(top, set()).add(what)
    if not body:
        return None
    changed_parts = ['%s (%s)' % (c, ', '.join(sorted(w))) for c, w in sorted(parts.items())]
    subject = '%s: update %s' % (prefix, '; '.join(changed_parts))
    if len(subject) > 200:
        subject = '%s: update %d components (%s)' % (prefix, len(parts), ', '.join(sorted(parts)))
    return subject + '\n\n' + '\n'.join(sorted(body)) + '\n'


def comparable(obj):
    """A live object without what differs by nature between two deliveries of the same render: server-set
    metadata, the namespace, the tracking annotations of Argo CD and the revision kubectl/Deployments set,
    status, and what the API server allocates (a Service's cluster IPs, a claim's volume)."""
    out = copy.deepcopy(obj)
    out.pop('status', None)
    meta = out.get('metadata') or {}
    for key in VOLATILE_METADATA:
        meta.pop(key, None)
    for field, volatile in (('annotations', VOLATILE_ANNOTATIONS), ('labels', VOLATILE_LABELS)):
        vals = meta.get(field) or {}
        for key in volatile:
            vals.pop(key, None)
        if field in meta and not vals:
            meta.pop(field)
    spec = out.get('spec') or {}
    if out.get('kind') == 'Service' and out.get('apiVersion') == 'v1':
        for key in ('clusterIP', 'clusterIPs'):   # allocated by the API server
            spec.pop(key, None)
    if out.get('kind') == 'PersistentVolumeClaim':
        spec.pop('volumeName', None)              # bound by the PV controller
    return out


# --------------------------------------------------------------------------------------------------
# The repository tree (I/O: kustomize build, helm template, files). Used by module gitops_apps.
# --------------------------------------------------------------------------------------------------
RESERVED_DIRS = ('apps', 'bootstrap', 'helm', 'charts')


def components(root, environment):
    """The components of the render tree that have an overlay for ``environment`` (sorted)."""
    out = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if name in RESERVED_DIRS or name.startswith('.'):
            continue
        if os.path.isfile(os.path.join(root, name, 'overlays', environment, 'kustomization.yaml')):
            out.append(name)
    return out


def release_records(root):
    """The release records role helm_release wrote (``helm/<name>.yaml``), sorted by name."""
    d = os.path.join(root, 'helm')
    out = []
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if f.endswith('.yaml'):
            with open(os.path.join(d, f)) as fh:
                rec = yaml.safe_load(fh) or {}
            if rec.get('name') != f[:-len('.yaml')]:
                raise GitOpsError('helm/%s: its name is %r, not the file name' % (f, rec.get('name')))
            out.append(rec)
    return out


def chart_package(chart_dir, record):
    """``<chart_dir>/<chart>-<version>.tgz`` when it exists, else None."""
    if not chart_dir:
        return None
    p = os.path.join(chart_dir, '%s-%s.tgz' % (record['chart'], record['chart_version']))
    return p if os.path.isfile(p) else None


def helm_template(binary, record, package=None, timeout=120, runner=None):
    """``helm template`` of a release record (CRDs included) -> objects: what the chart will create."""
    run = runner or subprocess.run
    tmp = tempfile.mkdtemp(prefix='cnai-helm-')
    try:
        values = os.path.join(tmp, 'values.yaml')
        with open(values, 'w') as f:
            f.write(yaml.safe_dump(record.get('values') or {}))
        cmd = [binary, 'template', record['name'], package or record['chart'], '--namespace', record['namespace'],
               '--include-crds', '--values', values]
        if not package:
            cmd += ['--repo', record['repo_url'], '--version', str(record['chart_version'])]
        try:
            proc = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       universal_newlines=True, check=False)
        except subprocess.TimeoutExpired:
            raise GitOpsError('helm template %s did not finish within %s s' % (record['name'], timeout))
        except OSError as exc:
            raise GitOpsError('cannot run helm (%s): %s' % (binary, exc))
        if proc.returncode != 0:
            raise GitOpsError('helm template %s failed (rc=%d): %s'
                              % (record['name'], proc.returncode, (proc.stderr or proc.stdout).strip()))
        return [d for d in yaml.load_all(proc.stdout, Loader=_ManifestLoader) if isinstance(d, dict) and d.get('kind')]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def chart_files(package, dest_rel):
    """The files of a packaged chart (tgz, one top directory) as ``{<dest_rel>/<path>: text}``."""
    files = {}
    with tarfile.open(package, 'r:gz') as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            parts = m.name.split('/', 1)
            if len(parts) < 2 or '..' in parts[1].split('/'):
                continue
            files['%s/%s' % (dest_rel, parts[1])] = tar.extractfile(m).read().decode('utf-8', 'replace')
    return files


def dump(obj):
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, width=120)


def sync_files(root, files, managed_dirs, check_mode=False):
    """Write ``files`` ({rel: text}) under ``root``, only those that differ; remove every other file under the
    ``managed_dirs`` (the tool owns them whole). Returns ``{'changed': [...], 'removed': [...]}``."""
    changed, removed = [], []
    for rel in sorted(files):
        p = os.path.join(root, rel)
        old = None
        if os.path.isfile(p):
            with open(p) as f:
                old = f.read()
        if old != files[rel]:
            changed.append(rel)
            if not check_mode:
                d = os.path.dirname(p)
                if not os.path.isdir(d):
                    os.makedirs(d)
                with open(p, 'w') as f:
                    f.write(files[rel])
    for md in managed_dirs:
        top = os.path.join(root, md)
        for d, dummy, fs in os.walk(top):
            for f in fs:
                rel = os.path.relpath(os.path.join(d, f), root)
                if rel not in files:
                    removed.append(rel)
                    if not check_mode:
                        os.unlink(os.path.join(d, f))
    return {'changed': changed, 'removed': sorted(removed)}


def build_tree(root, environment, repo_url, revision='main', argocd_namespace='argocd', project='cnai-platform',
               root_project_name='cnai-platform-root', namespaces=(), kustomize_binary='kustomize',
               helm_binary='helm', chart_dir=None, chart_source='repo', policy=None, create_namespace=True,
               timeout=120, check_mode=False, runner=None, server=IN_CLUSTER):
    """Everything module gitops_apps does: build each component's overlay, template each recorded chart,
    compute the project's allow-list, and write ``apps/<env>/``, ``bootstrap/<env>/`` (and ``charts/`` when
    charts come from Git). Returns the module's result."""
    from ansible_collections.cnai.platform.plugins.module_utils.kustomize_render import (
        RenderError, kustomize_build)
    if chart_source not in ('repo', 'git'):
        raise GitOpsError('chart_source must be repo or git, not %r' % chart_source)
    policy = policy or sync_policy(create_namespace=create_namespace)
    comps = components(root, environment)
    records = release_records(root)
    if not comps and not records:
        raise GitOpsError('%s has no component with overlays/%s and no helm/ release record: render the '
                          'components (cnai_delivery: gitops) before the gitops role' % (root, environment))
    apps, objects_of, files, extra_repos = [], {}, {}, []
    for comp in comps:
        overlay = os.path.join(root, comp, 'overlays', environment)
        try:
            objs = kustomize_build(kustomize_binary, overlay, timeout, runner)
        except RenderError as exc:
            raise GitOpsError(str(exc))
        app = kustomize_application(comp, environment, objs, repo_url, revision, argocd_namespace, project, policy)
        apps.append(app)
        objects_of[app['metadata']['name']] = objs
    for rec in records:
        package = chart_package(chart_dir, rec)
        objs = helm_template(helm_binary, rec, package, timeout, runner)
        chart_path = None
        if chart_source == 'git':
            if not package:
                raise GitOpsError('chart_source=git: %s-%s.tgz is not in chart_dir (%s)'
                                  % (rec['chart'], rec['chart_version'], chart_dir))
            chart_path = 'charts/%s-%s' % (rec['chart'], rec['chart_version'])
            files.update(chart_files(package, chart_path))
        else:
            extra_repos.append(rec['repo_url'])
        app = helm_application(rec, environment, objs, argocd_namespace, project, policy, repo_url, revision,
                               chart_path)
        apps.append(app)
        objects_of[app['metadata']['name']] = objs
    every = [o for objs in objects_of.values() for o in objs]
    allow = resource_allowlists(every, create_namespace)
    used = set(a['spec']['destination']['namespace'] for a in apps)
    used.update((o.get('metadata') or {}).get('namespace') for o in every if (o.get('metadata') or {}).get('namespace'))
    bad = namespace_violations(used, namespaces)
    if bad:
        raise GitOpsError('the tree uses namespaces the AppProject %s would not allow: %s (allowed: %s); render '
                          'them into platform namespaces or add a pattern to gitops_project_namespaces'
                          % (project, ', '.join(bad), ', '.join(namespaces)))
    proj = app_project(project, argocd_namespace, [repo_url] + extra_repos, list(namespaces),
                       {'cluster': allow['cluster'], 'namespaced': None})
    rproj = root_project(root_project_name, argocd_namespace, [repo_url])
    root_app = root_application(environment, repo_url, revision, argocd_namespace, root_project_name, policy)
    if server != IN_CLUSTER:    # Argo CD runs elsewhere (a management cluster): every destination names this one
        for obj in apps + [root_app]:
            obj['spec']['destination']['server'] = server
        for obj in (proj, rproj):
            for d in obj['spec']['destinations']:
                d['server'] = server
    for app in apps:
        files['apps/%s/%s.yaml' % (environment, app['metadata']['name'])] = dump(app)
    files['bootstrap/%s/appproject-%s.yaml' % (environment, project)] = dump(proj)
    files['bootstrap/%s/appproject-%s.yaml' % (environment, root_project_name)] = dump(rproj)
    files['bootstrap/%s/application-%s.yaml' % (environment, root_app['metadata']['name'])] = dump(root_app)
    managed = ['apps/%s' % environment, 'bootstrap/%s' % environment] + (['charts'] if chart_source == 'git' else [])
    sync = sync_files(root, files, managed, check_mode)
    return {
        'changed': bool(sync['changed'] or sync['removed']),
        'applications': apps, 'projects': [rproj, proj], 'root': root_app,
        'allowlists': allow, 'components': comps, 'releases': [r['name'] for r in records],
        'namespaces': sorted(used),
        'objects': dict((k, [{'apiVersion': o.get('apiVersion'), 'kind': o.get('kind'),
                              'namespace': (o.get('metadata') or {}).get('namespace'),
                              'name': (o.get('metadata') or {}).get('name')} for o in v])
                        for k, v in objects_of.items()),
        'files': {'changed': sync['changed'], 'removed': sync['removed']},
    }
