# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which live objects a delivery no longer renders (pure; the module cnai.platform.k8s_prune lists and deletes).

Direct delivery applies a component's overlay with server-side apply under one field manager
(``cnai.platform/<component>``). When the source changes so that an object is no longer rendered (a model
removed from ``cnai_models``, a monitor turned off), the applied copy stays in the cluster; Argo CD prunes it
in GitOps mode, and this is the same for direct delivery. An object is pruned only when all of these hold:

- it is of a kind the delivery scans, in a namespace the overlay uses (never elsewhere: another
  environment's overlay lives in other namespaces and is never touched);
- it carries every label of ``selector`` (the rendered trees label everything ``app.kubernetes.io/part-of:
  cnai-platform``);
- the field manager applied it: ``metadata.managedFields`` has an ``Apply`` entry of that manager (objects
  created by hand, by Helm, by an operator or by another component are never pruned);
- it is not in the current build (same apiVersion group, kind, namespace, name);
- it is not owned by another object (``ownerReferences``: its owner's controller deletes it);
- it does not opt out as Argo CD objects do (annotation ``argocd.argoproj.io/sync-options`` with ``Prune=false``);
- its kind is not protected (``protect_kinds``: storage such as PersistentVolumeClaims is reported, not deleted).
Namespaces and Secrets are never scanned: a namespace holds more than one component, and Secrets are applied
out of band by the roles (never rendered), some with the same field manager.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type


NEVER_SCANNED = ('Namespace', 'Secret')
OPT_OUT_ANNOTATION = 'argocd.argoproj.io/sync-options'


class PruneError(Exception):
    """Bad input; the message names the option."""


def _group(api_version):
    return api_version.split('/')[0] if '/' in (api_version or '') else ''


def ref_key(ref):
    """(group, kind, namespace, name) of a reference or an object: the identity that survives a version bump."""
    if not isinstance(ref, dict):
        raise PruneError('expected an object or a reference {apiVersion, kind, namespace, name}, got %r' % (ref,))
    meta = ref.get('metadata') if isinstance(ref.get('metadata'), dict) else ref
    return (_group(ref.get('apiVersion')), ref.get('kind'), meta.get('namespace') or '', meta.get('name'))


def scan_kinds(default_kinds, keep):
    """The kinds to list: ``default_kinds`` ({apiVersion, kind}) and every kind of ``keep``, each once, in a
    stable order; never Namespaces or Secrets (see the module docstring)."""
    out, seen = [], set()
    for entry in list(default_kinds or []) + [{'apiVersion': r.get('apiVersion'), 'kind': r.get('kind')}
                                              for r in keep or []]:
        if not isinstance(entry, dict) or not entry.get('apiVersion') or not entry.get('kind'):
            raise PruneError('kinds: each entry needs apiVersion and kind, got %r' % (entry,))
        if entry['kind'] in NEVER_SCANNED:
            continue
        key = (_group(entry['apiVersion']), entry['kind'])
        if key not in seen:
            seen.add(key)
            out.append({'apiVersion': entry['apiVersion'], 'kind': entry['kind']})
    return out


def applied_by(obj, manager):
    """Whether ``manager`` server-side applied ``obj`` (an ``Apply`` entry in its managedFields)."""
    for entry in (obj.get('metadata') or {}).get('managedFields') or []:
        if entry.get('manager') == manager and entry.get('operation') == 'Apply':
            return True
    return False


def _has_labels(obj, selector):
    labels = (obj.get('metadata') or {}).get('labels') or {}
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def _opted_out(obj):
    options = ((obj.get('metadata') or {}).get('annotations') or {}).get(OPT_OUT_ANNOTATION) or ''
    return 'Prune=false' in [o.strip() for o in options.split(',')]


def prune_list(live, keep, manager, namespaces, selector=None, protect_kinds=()):
    """``(prune, left)``: the live objects to delete, and those that would be but are protected or opted
    out; both as references sorted by kind, namespace, name.

    ``live``: the objects listed (any kinds/namespaces; filtered here again); ``keep``: the current build's
    references; ``manager``: the field manager of the delivery; ``namespaces``: the overlay's namespaces;
    ``selector``: labels an object must all carry; ``protect_kinds``: kinds never deleted."""
    if not manager:
        raise PruneError('field_manager is required: only objects that manager applied are pruned')
    keep_keys = set(ref_key(r) for r in keep or [])
    wanted = set(namespaces or [])
    prune, left = [], []
    for obj in live or []:
        meta = obj.get('metadata') or {}
        if meta.get('namespace') not in wanted or meta.get('ownerReferences') or meta.get('deletionTimestamp'):
            continue
        if obj.get('kind') in NEVER_SCANNED or ref_key(obj) in keep_keys:
            continue
        if not _has_labels(obj, selector) or not applied_by(obj, manager):
            continue
        ref = {'apiVersion': obj.get('apiVersion'), 'kind': obj.get('kind'),
               'namespace': meta.get('namespace'), 'name': meta.get('name')}
        (left if obj.get('kind') in (protect_kinds or ()) or _opted_out(obj) else prune).append(ref)

    def order(refs):
        return sorted(refs, key=lambda r: (r['kind'], r['namespace'], r['name']))
    return order(prune), order(left)
