# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render Kubernetes manifests given as data into a Kustomize tree, and build it with a real kustomize.

The tree a component gets (``<path>`` is the component directory)::

    <path>/base/kustomization.yaml           resources (one file per object), namespace, labels
    <path>/base/<kind>-<name>.yaml           one object each, deterministic YAML
    <path>/overlays/<env>/kustomization.yaml ../../base + namespace, labels, patches, replicas, images
    <path>/overlays/<env>/<kind>-<name>.yaml objects only this environment has (optional)
    <path>/.cnai-render-owned.json           the ownership manifest: the files this code wrote

Everything here is pure (no Ansible): ``render_tree`` computes the files, ``plan_sync`` compares them
with the disk and the ownership manifest, ``apply_sync`` writes, ``validate_tree`` and ``kustomize_build``
run the kustomize binary with a time limit. Errors are ``RenderError`` with a message that names the
input to fix.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import subprocess
import tempfile
import traceback

try:
    import yaml
except ImportError:
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None

from ansible_collections.cnai.platform.plugins.module_utils import platform_paths

KUSTOMIZATION_API = 'kustomize.config.k8s.io/v1beta1'
MANIFEST = '.cnai-render-owned.json'
MANIFEST_OWNER = 'cnai.platform.kustomize_render'
OVERLAY_KEYS = ('namespace', 'labels', 'annotations', 'patches', 'replicas', 'images', 'resources')
TARGET_KEYS = ('group', 'version', 'kind', 'name', 'namespace', 'labelSelector', 'annotationSelector')
IMAGE_KEYS = ('name', 'newName', 'newTag', 'digest')
SCALABLE_KINDS = ('Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController')
WORKLOAD_KINDS = ('Deployment', 'StatefulSet')
# label of the bare Namespaces delivery creates: an applied configuration that owns no field leaves no
# managedFields entry, and the next apply would then "change" the object (the API server backfills one)
NAMESPACE_MANAGER = 'cnai.platform'
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
_UNSAFE = re.compile(r'[^a-z0-9._-]+')
# keys first in every mapping, in this order; then the rest alphabetically
_KEY_ORDER = ('apiVersion', 'kind', 'metadata', 'name', 'namespace')


class RenderError(Exception):
    """Bad input, a conflict on disk, or a kustomize failure; the message says what to fix."""


# --------------------------------------------------------------------------------------------------
# deterministic YAML
# --------------------------------------------------------------------------------------------------
_DUMPER = []


def _dumper():
    """SafeDumper that keeps mapping order as given, indents lists, writes multi-line strings as blocks
    (built on first use: PyYAML is imported lazily so that a missing PyYAML is a clear module error)."""
    if not _DUMPER:
        class Dumper(yaml.SafeDumper):
            def increase_indent(self, flow=False, indentless=False):
                return super(Dumper, self).increase_indent(flow, False)

        def str_representer(dumper, data):
            style = '|' if '\n' in data else None
            return dumper.represent_scalar('tag:yaml.org,2002:str', data, style=style)

        Dumper.add_representer(str, str_representer)
        _DUMPER.append(Dumper)
    return _DUMPER[0]


def _key(k):
    return (_KEY_ORDER.index(k) if k in _KEY_ORDER else len(_KEY_ORDER), k)


def normalize(value, where='value'):
    """Plain, key-ordered copy of JSON-like data (dict keys must be strings); raises on other types."""
    if isinstance(value, dict):
        out = {}
        for k in sorted(value, key=lambda x: _key(str(x))):
            if not isinstance(k, str):
                raise RenderError('%s: mapping key %r is not a string' % (where, k))
            out[str(k)] = normalize(value[k], '%s.%s' % (where, k))
        return out
    if isinstance(value, (list, tuple)):
        return [normalize(v, '%s[%d]' % (where, i)) for i, v in enumerate(value)]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    raise RenderError('%s: unsupported type %s (only mappings, lists, strings, numbers, booleans, null)'
                      % (where, type(value).__name__))


def to_yaml(value):
    """Deterministic YAML for one document: same data, same bytes."""
    return yaml.dump(normalize(value), Dumper=_dumper(), default_flow_style=False, sort_keys=False,
                     allow_unicode=True, width=120)


# --------------------------------------------------------------------------------------------------
# input checks and file names
# --------------------------------------------------------------------------------------------------
def _check_object(obj, where):
    if not isinstance(obj, dict):
        raise RenderError('%s: a manifest must be a mapping, got %s' % (where, type(obj).__name__))
    missing = [k for k in ('apiVersion', 'kind') if not isinstance(obj.get(k), str) or not obj.get(k)]
    meta = obj.get('metadata')
    if not isinstance(meta, dict) or not isinstance(meta.get('name'), str) or not meta.get('name'):
        missing.append('metadata.name')
    if missing:
        raise RenderError('%s: manifest lacks %s (kind=%s, name=%s)' % (
            where, ', '.join(missing), obj.get('kind'), (meta or {}).get('name') if isinstance(meta, dict) else None))


def object_filename(obj):
    """``<kind>-<name>.yaml``, lower case, characters outside [a-z0-9._-] replaced by ``_``."""
    stem = '%s-%s' % (obj['kind'].lower(), obj['metadata']['name'].lower())
    return _UNSAFE.sub('_', stem) + '.yaml'


def _object_files(objects, where):
    """[(filename, object)] in input order; fails on two objects that would share a file."""
    files, seen = [], {}
    for i, obj in enumerate(objects or []):
        _check_object(obj, '%s[%d]' % (where, i))
        fname = object_filename(obj)
        if fname in seen:
            raise RenderError('%s[%d] (%s %s) and %s[%d] would both be written to %s: give them distinct '
                              'kind/name pairs' % (where, i, obj['kind'], obj['metadata']['name'], where,
                                                   seen[fname], fname))
        seen[fname] = i
        files.append((fname, obj))
    return files


def _check_labels(labels, where):
    if not isinstance(labels, dict):
        raise RenderError('%s must be a mapping of label name to string value' % where)
    for k, v in labels.items():
        if not isinstance(v, str):
            raise RenderError('%s: label %s must be a string, got %r (quote it)' % (where, k, v))
    return labels


def _label_entry(labels):
    # labels:, never the deprecated commonLabels: selectors stay untouched (immutable on Deployments),
    # pod templates carry the labels too
    return [{'pairs': dict(labels), 'includeSelectors': False, 'includeTemplates': True}]


def _matches(target, obj):
    if target.get('kind') and target['kind'] != obj['kind']:
        return False
    if target.get('name') and target['name'] != obj['metadata']['name']:
        return False
    api = obj['apiVersion']
    group, version = api.rpartition('/')[::2]
    if target.get('group') is not None and target['group'] != group:
        return False
    if target.get('version') and target['version'] != version:
        return False
    return True


def _patch_entry(patch, objects, where):
    if not isinstance(patch, dict) or set(patch) - {'target', 'patch'} or 'patch' not in patch:
        raise RenderError('%s: a patch is {target: {kind, name, ...}, patch: <mapping or list>}, got %r'
                          % (where, patch))
    target = patch.get('target')
    if not isinstance(target, dict) or not target:
        raise RenderError('%s: target is required (a mapping with kind and name, or a labelSelector)' % where)
    unknown = sorted(set(target) - set(TARGET_KEYS))
    if unknown:
        raise RenderError('%s: unknown target keys %s (allowed: %s)'
                          % (where, ', '.join(unknown), ', '.join(TARGET_KEYS)))
    body = patch['patch']
    # a target named by kind and name must exist in the base or the overlay: kustomize would skip it
    matched = [o for o in objects if _matches(target, o)]
    selector = target.get('labelSelector') or target.get('annotationSelector')
    if not selector and not matched:
        raise RenderError('%s: target %s matches no resource of the component (kustomize would ignore the '
                          'patch silently)' % (where, json.dumps(target, sort_keys=True)))
    if isinstance(body, list):
        for j, op in enumerate(body):
            if not isinstance(op, dict) or 'op' not in op or 'path' not in op:
                raise RenderError('%s: JSON 6902 patch operation %d needs op and path, got %r' % (where, j, op))
        text = to_yaml(body)
    elif isinstance(body, dict):
        # a strategic merge patch: kustomize needs apiVersion, kind and a name to parse it; with a target
        # the name is not used for matching
        body = dict(body)
        meta = dict(body.get('metadata') or {})
        meta.setdefault('name', target.get('name') or (matched[0]['metadata']['name'] if matched else 'cnai-patch'))
        body['metadata'] = meta
        body.setdefault('kind', target.get('kind') or (matched[0]['kind'] if matched else None))
        body.setdefault('apiVersion', matched[0]['apiVersion'] if matched else
                        ('%s/%s' % (target['group'], target.get('version', 'v1')) if target.get('group')
                         else target.get('version', 'v1')))
        if not body['kind']:
            raise RenderError('%s: a strategic merge patch needs a kind (in target or in the patch)' % where)
        text = to_yaml(body)
    elif isinstance(body, str):
        text = body if body.endswith('\n') else body + '\n'
    else:
        raise RenderError('%s: patch must be a mapping (strategic merge) or a list (JSON 6902)' % where)
    return {'target': dict((k, target[k]) for k in TARGET_KEYS if k in target), 'patch': text}


def _replicas_entries(replicas, objects, where):
    out = []
    if not isinstance(replicas, list):
        raise RenderError('%s must be a list of {name, count}' % where)
    for i, r in enumerate(replicas):
        w = '%s[%d]' % (where, i)
        if not isinstance(r, dict) or set(r) != {'name', 'count'}:
            raise RenderError('%s: expected {name, count}, got %r' % (w, r))
        count = r['count']
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise RenderError('%s: count must be an integer >= 0, got %r' % (w, count))
        if not any(o['kind'] in SCALABLE_KINDS and o['metadata']['name'] == r['name'] for o in objects):
            raise RenderError('%s: no %s named %s in the component' % (w, '/'.join(SCALABLE_KINDS), r['name']))
        out.append({'name': r['name'], 'count': count})
    return out


def _image_entries(images, where):
    if not isinstance(images, list):
        raise RenderError('%s must be a list of {name, newName, newTag, digest}' % where)
    for i, img in enumerate(images):
        if not isinstance(img, dict) or 'name' not in img or set(img) - set(IMAGE_KEYS):
            raise RenderError('%s[%d]: expected keys from %s with name, got %r' % (where, i, ', '.join(IMAGE_KEYS), img))
    return [dict(img) for img in images]


def _kustomization(**fields):
    doc = {'apiVersion': KUSTOMIZATION_API, 'kind': 'Kustomization'}
    doc.update(dict((k, v) for k, v in fields.items() if v not in (None, [], {})))
    return doc


# --------------------------------------------------------------------------------------------------
# the tree
# --------------------------------------------------------------------------------------------------
def render_tree(resources, namespace=None, overlays=None, labels=None):
    """Return ``{relative path: file content}`` of the whole tree (ownership manifest excluded).

    ``resources``: base objects; ``namespace``: base namespace (``namespace:`` of the base kustomization);
    ``overlays``: ``{env: {namespace, labels, annotations, patches, replicas, images, resources}}``;
    ``labels``: labels of every object (``labels:`` with ``includeSelectors: false``).
    """
    if not isinstance(resources, list) or not resources:
        raise RenderError('resources: give at least one manifest (a list of mappings)')
    if namespace is not None and not _DNS_LABEL.match(namespace):
        raise RenderError('namespace: %r is not a valid namespace name (DNS label)' % namespace)
    base_files = _object_files(resources, 'resources')
    base_objects = [o for dummy, o in base_files]
    files = {}
    for fname, obj in base_files:
        files['base/' + fname] = to_yaml(obj)
    files['base/kustomization.yaml'] = to_yaml(_kustomization(
        namespace=namespace,
        labels=_label_entry(_check_labels(labels, 'labels')) if labels else None,
        resources=[f for f, dummy in base_files]))

    overlays = overlays or {}
    if not isinstance(overlays, dict):
        raise RenderError('overlays must be a mapping of environment name to settings')
    for env in sorted(overlays):
        spec = overlays[env] if overlays[env] is not None else {}
        where = 'overlays.%s' % env
        if not isinstance(env, str) or not _DNS_LABEL.match(env):
            raise RenderError('overlays: environment name %r must be a DNS label (dev, staging, production)' % env)
        if not isinstance(spec, dict):
            raise RenderError('%s must be a mapping with keys from %s' % (where, ', '.join(OVERLAY_KEYS)))
        unknown = sorted(set(spec) - set(OVERLAY_KEYS))
        if unknown:
            raise RenderError('%s: unknown keys %s (allowed: %s)' % (where, ', '.join(unknown), ', '.join(OVERLAY_KEYS)))
        ns = spec.get('namespace')
        if ns is not None and (not isinstance(ns, str) or not _DNS_LABEL.match(ns)):
            raise RenderError('%s.namespace: %r is not a valid namespace name (DNS label)' % (where, ns))
        extra = _object_files(spec.get('resources') or [], where + '.resources')
        for fname, obj in extra:
            if 'base/' + fname in files:
                raise RenderError('%s.resources: %s %s is already in the base; patch it instead'
                                  % (where, obj['kind'], obj['metadata']['name']))
            files['overlays/%s/%s' % (env, fname)] = to_yaml(obj)
        objects = base_objects + [o for dummy, o in extra]
        annotations = spec.get('annotations')
        if annotations is not None:
            _check_labels(annotations, where + '.annotations')
        files['overlays/%s/kustomization.yaml' % env] = to_yaml(_kustomization(
            resources=['../../base'] + [f for f, dummy in extra],
            namespace=ns,
            labels=_label_entry(_check_labels(spec['labels'], where + '.labels')) if spec.get('labels') else None,
            commonAnnotations=dict(annotations) if annotations else None,
            patches=[_patch_entry(p, objects, '%s.patches[%d]' % (where, i))
                     for i, p in enumerate(spec.get('patches') or [])],
            replicas=_replicas_entries(spec.get('replicas') or [], objects, where + '.replicas'),
            images=_image_entries(spec.get('images') or [], where + '.images')))
    return files


def overlay_dirs(root, files):
    """``{env: absolute overlay directory}`` for the overlays in ``files``."""
    envs = sorted(set(p.split('/')[1] for p in files if p.startswith('overlays/')))
    return dict((env, os.path.join(root, 'overlays', env)) for env in envs)


# --------------------------------------------------------------------------------------------------
# the disk: ownership manifest, plan, apply
# --------------------------------------------------------------------------------------------------
def _read(path):
    try:
        with open(path, 'r') as f:
            return f.read()
    except (IOError, OSError):
        return None


def read_manifest(root):
    """The files a previous run wrote (relative paths), or [] when there is no manifest."""
    text = _read(os.path.join(root, MANIFEST))
    if text is None:
        return []
    try:
        data = json.loads(text)
        files = data['files']
        if data.get('owner') != MANIFEST_OWNER or not isinstance(files, list):
            raise ValueError('not ours')
    except (ValueError, KeyError, TypeError):
        raise RenderError('%s exists but is not an ownership manifest written by %s; remove it or choose another '
                          'path' % (os.path.join(root, MANIFEST), MANIFEST_OWNER))
    return [f for f in files if isinstance(f, str) and _safe_rel(f)]


def _safe_rel(rel):
    parts = rel.split('/')
    return bool(rel) and not rel.startswith('/') and '..' not in parts and parts[0] in ('base', 'overlays')


def manifest_text(files):
    return json.dumps({'owner': MANIFEST_OWNER, 'files': sorted(files)}, indent=1, sort_keys=True) + '\n'


def plan_sync(root, files):
    """Compare the wanted ``files`` with the disk. Returns a dict with ``create``, ``change``, ``remove``,
    ``unchanged`` (relative paths, sorted), ``before`` ({path: old content} for changed/removed files) and
    ``manifest`` (the new manifest text, or None when it is already right). Fails, before anything is
    written, when a wanted file exists, differs, and is not in the ownership manifest."""
    owned = set(read_manifest(root))
    plan = {'create': [], 'change': [], 'remove': [], 'unchanged': [], 'before': {}}
    foreign = []
    for rel in sorted(files):
        full = os.path.join(root, rel)
        if os.path.isdir(full):
            foreign.append(rel + ' (a directory)')
            continue
        current = _read(full)
        if current is None:
            plan['create'].append(rel)
        elif current == files[rel]:
            plan['unchanged'].append(rel)     # identical: adopted, whoever wrote it
        elif rel in owned:
            plan['change'].append(rel)
            plan['before'][rel] = current
        else:
            foreign.append(rel)
    if foreign:
        raise RenderError('refusing to overwrite files that %s did not write (not in %s): %s. Move them away or '
                          'render into another path' % (MANIFEST_OWNER, os.path.join(root, MANIFEST), ', '.join(foreign)))
    for rel in sorted(owned - set(files)):
        current = _read(os.path.join(root, rel))
        if current is not None:
            plan['remove'].append(rel)
            plan['before'][rel] = current
    text = manifest_text(files)
    plan['manifest'] = None if _read(os.path.join(root, MANIFEST)) == text else text
    return plan


def changed(plan):
    return bool(plan['create'] or plan['change'] or plan['remove'] or plan['manifest'])


def _write_atomic(path, content):
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=d)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def apply_sync(root, files, plan):
    """Write what ``plan_sync`` planned; remove owned files no longer wanted and the directories they leave
    empty (only base/, overlays/ and overlays/<env>/)."""
    for rel in plan['create'] + plan['change']:
        _write_atomic(os.path.join(root, rel), files[rel])
    for rel in plan['remove']:
        os.unlink(os.path.join(root, rel))
    for rel in sorted(set(os.path.dirname(r) for r in plan['remove']), key=len, reverse=True):
        for d in (rel, os.path.dirname(rel)):
            full = os.path.join(root, d)
            if d in ('base', 'overlays') or (d.startswith('overlays/') and d.count('/') == 1):
                if os.path.isdir(full) and not os.listdir(full):
                    os.rmdir(full)
    if plan['manifest'] is not None:
        _write_atomic(os.path.join(root, MANIFEST), plan['manifest'])


def diffs(root, files, plan):
    """Ansible diff entries (before/after per file) for the planned changes."""
    out = []
    for rel in plan['create']:
        out.append({'before': '', 'after': files[rel], 'before_header': '%s (absent)' % os.path.join(root, rel),
                    'after_header': os.path.join(root, rel)})
    for rel in plan['change']:
        out.append({'before': plan['before'][rel], 'after': files[rel],
                    'before_header': os.path.join(root, rel), 'after_header': os.path.join(root, rel)})
    for rel in plan['remove']:
        out.append({'before': plan['before'][rel], 'after': '', 'before_header': os.path.join(root, rel),
                    'after_header': '%s (removed)' % os.path.join(root, rel)})
    return out


# --------------------------------------------------------------------------------------------------
# kustomize
# --------------------------------------------------------------------------------------------------
def resolve_binary(binary, option='kustomize_binary'):
    """Absolute path of an executable kustomize (a bare name on PATH, or a path), or RenderError naming the
    option to set (module_utils/platform_paths.py: the one resolution every role uses)."""
    try:
        return platform_paths.resolve_binary(
            binary, 'cnai_kustomize_binary (module option %s)' % option, default_name='kustomize',
            hint='on the local testbed `make kustomize` builds it under .cache/testbed/bin/')
    except platform_paths.BinaryError as exc:
        raise RenderError(str(exc))


def kustomize_build(binary, directory, timeout=60, runner=None):
    """``kustomize build <directory>`` → list of objects. RenderError with kustomize's message on failure,
    and on a time-out. ``runner`` (tests) replaces subprocess.run."""
    run = runner or subprocess.run
    try:
        proc = run([binary, 'build', directory], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   timeout=timeout, universal_newlines=True, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError('kustomize build %s did not finish within %s s (timeout)' % (directory, timeout))
    except OSError as exc:
        raise RenderError('cannot run %s: %s' % (binary, exc))
    if proc.returncode != 0:
        raise RenderError('kustomize build %s failed (rc=%d): %s' % (directory, proc.returncode,
                                                                     (proc.stderr or proc.stdout).strip()))
    try:
        return [d for d in yaml.safe_load_all(proc.stdout) if d]
    except yaml.YAMLError as exc:
        raise RenderError('kustomize build %s printed output that is not YAML: %s' % (directory, exc))


def validate_tree(binary, files, timeout=60, runner=None):
    """Write ``files`` into a scratch directory and ``kustomize build`` every overlay (the base when there
    is none). Returns ``{env: [objects]}``; raises RenderError naming the overlay kustomize rejects."""
    scratch = tempfile.mkdtemp(prefix='cnai-kustomize-')
    try:
        for rel, content in files.items():
            _write_atomic(os.path.join(scratch, rel), content)
        dirs = overlay_dirs(scratch, files) or {'base': os.path.join(scratch, 'base')}
        built = {}
        for env in sorted(dirs):
            try:
                built[env] = kustomize_build(binary, dirs[env], timeout, runner)
            except RenderError as exc:
                raise RenderError('overlay %s: %s' % (env, str(exc).replace(scratch + os.sep, '')))
        return built
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def summarize(objects):
    """What a build contains: ``refs`` (apiVersion/kind/namespace/name per object, in build order),
    ``namespaces`` (every namespace a namespaced object uses, plus the Namespace objects, sorted),
    ``workloads`` (the Deployments and StatefulSets, which delivery waits for), ``namespace_objects`` (what
    to apply first: the Namespace objects of the build, then a Namespace labelled
    app.kubernetes.io/managed-by=cnai.platform for every other namespace used)
    and ``resource_objects`` (everything else, in build order)."""
    refs, namespaces = [], set()
    for obj in objects:
        meta = obj.get('metadata') or {}
        ref = {'apiVersion': obj.get('apiVersion'), 'kind': obj.get('kind'), 'name': meta.get('name'),
               'namespace': meta.get('namespace')}
        refs.append(ref)
        if ref['namespace']:
            namespaces.add(ref['namespace'])
        if ref['kind'] == 'Namespace' and ref['apiVersion'] == 'v1':
            namespaces.add(ref['name'])
    is_ns = [o.get('kind') == 'Namespace' and o.get('apiVersion') == 'v1' for o in objects]
    defined = set(r['name'] for r, ns in zip(refs, is_ns) if ns)
    namespace_objects = [o for o, ns in zip(objects, is_ns) if ns] + [
        {'apiVersion': 'v1', 'kind': 'Namespace',
         'metadata': {'name': n, 'labels': {'app.kubernetes.io/managed-by': NAMESPACE_MANAGER}}}
        for n in sorted(namespaces - defined)]
    return {'refs': refs, 'namespaces': sorted(namespaces),
            'workloads': [r for r in refs if r['kind'] in WORKLOAD_KINDS],
            'namespace_objects': namespace_objects,
            'resource_objects': [o for o, ns in zip(objects, is_ns) if not ns]}


def render(root, resources, namespace=None, overlays=None, labels=None, binary='kustomize', validate=True,
           timeout=60, check_mode=False, runner=None):
    """The whole job: render, check against the disk, validate with kustomize, then (unless check_mode)
    write. Nothing is written when anything fails. Returns the result dict of the module."""
    if not root or not os.path.isabs(root):
        raise RenderError('path: %r must be an absolute directory path' % root)
    files = render_tree(resources, namespace, overlays, labels)
    plan = plan_sync(root, files)
    if validate:
        validate_tree(resolve_binary(binary), files, timeout, runner)
    if not check_mode:
        apply_sync(root, files, plan)
    return {
        'changed': changed(plan),
        'path': root,
        'files': {
            'written': sorted(files),
            'changed': sorted(plan['create'] + plan['change']),
            'removed': plan['remove'],
        },
        'overlays': overlay_dirs(root, files),
        'validated': bool(validate),
        'diff': diffs(root, files, plan),
    }
