# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG rollout's decisions, as pure functions (``roles/gpu_partitioning`` reads, calls these, acts, verifies).

* :func:`rollout_plan` - per node: target config, live state, whether to relabel, whether to touch it at all,
  whose cordon it is, the resources expected afterwards; the mig-parted document with the old configs nodes
  still carry (kept until the rollout completes); the batches; time-slicing per node; the report line.
* :func:`evictable_pods` - the pods a drain must remove (not DaemonSet or mirror pods, not finished).
* :func:`settle_batch` - after a failure, each node of the batch: ``untouched`` (label never changed),
  ``done`` (target, ``success``, resources as planned) or ``failed``; who to uncordon, who to roll back.
* :func:`failure_report` - the one message the failed play ends with.

Every function is linear in the number of nodes (the Jinja ``set_fact`` loops they replace were quadratic).
Resource arithmetic is injected (``expected_fn``, ``allocatable_fn``: the ``cnai.platform.mig_expected_resources``
and ``cnai.platform.gpu_allocatable`` filters), so this file has no second mig-parted interpreter.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

LABEL_CONFIG = 'nvidia.com/mig.config'
LABEL_STATE = 'nvidia.com/mig.config.state'
LABEL_DP_CONFIG = 'nvidia.com/device-plugin.config'
LABEL_REPLICAS = 'nvidia.com/gpu.replicas'
CORDON_ANNOTATION = 'cnai.platform/cordoned-for-mig-config'
TS_PREFIX = 'cnai-ts-'
DISABLED = 'all-disabled'
MAX_REPLICAS = 1024
MSG_LIMIT = 600


class RolloutError(ValueError):
    """Bad input to the rollout; the message names the variable to fix."""


def _meta(node):
    return (node or {}).get('metadata') or {}


def _labels(node):
    return _meta(node).get('labels') or {}


def _int_in(value, low, high):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if low <= number <= high else None


def check_time_slicing(time_slicing, node_names):
    """{node: replicas} with replicas an integer 1..MAX_REPLICAS and every node a GPU node."""
    if not isinstance(time_slicing, dict):
        raise RolloutError('gpu_partitioning_time_slicing must be a map of node name -> replicas per GPU, got %r'
                           % (time_slicing,))
    out, bad = {}, []
    for name, value in time_slicing.items():
        number = _int_in(value, 1, MAX_REPLICAS)
        if number is None:
            bad.append('%s: %r' % (name, value))
        out[str(name)] = number
    if bad:
        raise RolloutError('gpu_partitioning_time_slicing: replicas must be integers from 1 to %d (%s)'
                           % (MAX_REPLICAS, ', '.join(sorted(bad))))
    unknown = sorted(set(out) - set(node_names))
    if unknown:
        raise RolloutError('gpu_partitioning_time_slicing names nodes that are not GPU nodes of the inventory group: %s '
                           '(keys are Kubernetes node names: cnai_k8s_node_name, else the inventory name)'
                           % ', '.join(unknown))
    return out


def kept_document(plan_document, old_document, current_configs):
    """The planned mig-parted document plus the old configs that nodes still carry, and their names.

    Nodes not yet reconfigured (and a failed node's previous config, for a rollback) name configs of the
    old document: they stay defined until the rollout is complete, so that a mig-manager restart finds them.
    """
    planned = plan_document.get('mig-configs') or {}
    old = ((old_document or {}).get('mig-configs') if isinstance(old_document, dict) else None) or {}
    if not isinstance(old, dict):
        old = {}
    kept = sorted(set(c for c in current_configs if c and c not in planned and c in old))
    document = dict(plan_document)
    configs = dict((name, old[name]) for name in kept)
    configs.update(planned)
    document['mig-configs'] = configs
    return document, kept


def _summary(name, current, state, target, unschedulable, marked):
    text = '%s (%s/%s -> %s' % (name, current or 'unset', state or 'no state', target)
    if unschedulable and marked:
        text += ', cordoned by a previous run'
    elif unschedulable:
        text += ', cordoned by someone else: stays cordoned'
    return text + ')'


def rollout_plan(records, plan, strategy, expected_fn, old_document=None, time_slicing=None, max_unavailable=1,
                 check_mode=False):
    """Everything the rollout decides before it acts (see the module docstring).

    ``records``: ``cnai.platform.gpu_planner_nodes`` records read with live nodes (``node`` set);
    ``plan``: the ``cnai.platform.mig_plan`` result; ``expected_fn(document, config, gpu_count, strategy,
    gpu_product=, pci_device_id=, replicas=)``: the resources a node advertises.
    """
    max_unavailable = _int_in(max_unavailable, 1, 100000)
    if max_unavailable is None:
        raise RolloutError('gpu_partitioning_max_unavailable must be an integer >= 1')
    if strategy not in ('mixed', 'single'):
        raise RolloutError('gpu_partitioning_strategy must be mixed or single, got %r' % (strategy,))
    document = (plan or {}).get('mig_config') or {}
    node_configs = (plan or {}).get('node_configs') or {}
    if document.get('version') != 'v1' or not isinstance(document.get('mig-configs'), dict):
        raise RolloutError('the planned mig-parted document is not version v1 with mig-configs: a planner bug, '
                           'report it with the plan output')
    names = [r['name'] for r in records]
    missing = sorted((set(node_configs[n] for n in names if n in node_configs) | set([DISABLED]))
                     - set(document['mig-configs']))
    if missing or any(n not in node_configs for n in names):
        raise RolloutError('the planned mig-parted document lacks configs %s or node_configs lacks nodes %s (every '
                           'name in node_configs and all-disabled must be defined): a planner bug, report it with '
                           'the plan output' % (', '.join(str(m) for m in missing) or '-',
                                                ', '.join(n for n in names if n not in node_configs) or '-'))
    ts = check_time_slicing(time_slicing or {}, names)
    full_document, kept = kept_document(document, old_document, [r.get('current_config') for r in records])
    targets, ts_items, in_use = [], [], set()
    for rec in sorted(records, key=lambda r: r['name']):
        node = rec.get('node') or {}
        labels = _labels(node)
        name, target = rec['name'], node_configs[rec['name']]
        current = labels.get(LABEL_CONFIG) or ''
        state = labels.get(LABEL_STATE) or ''
        unschedulable = bool((node.get('spec') or {}).get('unschedulable'))
        marked = CORDON_ANNOTATION in (_meta(node).get('annotations') or {})
        replicas_now = _int_in(labels.get(LABEL_REPLICAS, '1'), 1, MAX_REPLICAS) or 1
        kwargs = dict(gpu_product=rec.get('gpu_product') or None, pci_device_id=rec.get('pci_device_id') or None)
        targets.append({
            'name': name, 'host': rec.get('host', name), 'target': target,
            'current': current, 'previous': current or DISABLED, 'state': state,
            'relabel': current != target,
            'change': current != target or state != 'success' or (unschedulable and marked),
            'unschedulable': unschedulable, 'cordon_marked': marked, 'cordon_ours': not unschedulable or marked,
            'summary': _summary(name, current, state, target, unschedulable, marked),
            'gpu_count': rec['gpu_count'], 'gpu_product': rec.get('gpu_product') or '',
            'pci_device_id': rec.get('pci_device_id') or '',
            'expected': expected_fn(document, target, rec['gpu_count'], strategy, replicas=replicas_now, **kwargs),
        })
        have = labels.get(LABEL_DP_CONFIG) or ''
        if re.match('^%s[0-9]+$' % re.escape(TS_PREFIX), have):
            in_use.add(int(have[len(TS_PREFIX):]))
        want = (TS_PREFIX + str(ts[name])) if name in ts else ''
        ts_items.append({
            'name': name, 'want': want, 'have': have, 'replicas': ts.get(name, 1),
            'set': want != '' and have != want,
            'unset': want == '' and have.startswith(TS_PREFIX),
            'expected': expected_fn(document, target, rec['gpu_count'], strategy, replicas=ts.get(name, 1), **kwargs),
        })
    changes = [t for t in targets if t['change']]
    batches = [changes[i:i + max_unavailable] for i in range(0, len(changes), max_unavailable)]
    line = 'Nodes to reconfigure, %d at a time%s: %s' % (
        max_unavailable, ' (check mode: nothing will change)' if check_mode else '',
        ', '.join(t['summary'] for t in changes) if changes else 'none, every node is at its target')
    return {
        'document': full_document, 'kept': kept, 'targets': targets, 'changes': changes, 'batches': batches,
        'time_slicing': ts_items, 'replicas_wanted': sorted(set(ts.values())), 'replicas_in_use': sorted(in_use),
        'report': str((plan or {}).get('report') or '').splitlines() + [line],
    }


def is_evictable(pod):
    """A pod a drain must remove: not owned by a DaemonSet, not a mirror pod, not finished."""
    meta = _meta(pod)
    if any((o or {}).get('kind') == 'DaemonSet' for o in meta.get('ownerReferences') or []):
        return False
    if 'kubernetes.io/config.mirror' in (meta.get('annotations') or {}):
        return False
    return ((pod or {}).get('status') or {}).get('phase') not in ('Succeeded', 'Failed')


def evictable_pods(pods):
    """``namespace/name`` of the pods a drain must still remove."""
    return sorted('%s/%s' % (_meta(p).get('namespace', ''), _meta(p).get('name', '')) for p in pods or []
                  if is_evictable(p))


def failure_info(task_name, result):
    """What failed, from ``ansible_failed_task.name`` and ``ansible_failed_result`` (kept before later tasks run)."""
    result = result if isinstance(result, dict) else {}
    failed_items = [r for r in result.get('results') or [] if isinstance(r, dict) and r.get('failed')]
    pods = [p for r in failed_items for p in (r.get('resources') or []) if isinstance(p, dict)
            and 'namespace' in _meta(p)]
    return {
        'task': task_name or '?',
        'msg': str(result.get('msg') or '')[:MSG_LIMIT],
        'item_msgs': '; '.join(str(r.get('msg') or '') for r in failed_items if r.get('msg'))[:MSG_LIMIT],
        'pods_left': evictable_pods(pods),
    }


def _fmt(resources):
    return '{%s}' % ', '.join('%s: %s' % (k, resources[k]) for k in sorted(resources or {}))


def settle_batch(batch, nodes_after, allocatable_fn):
    """Classify each node of a failed batch from the Node objects read after the failure.

    ``untouched``: its label is not the target (the failure came before the label was set); ``done``: target
    label, state ``success`` and the planned resources; ``failed``: anything else (or the Node is gone).
    Returns ``outcomes`` (name -> ``{outcome, label, state, allocatable, summary}``), ``uncordon`` (nodes
    whose cordon is ours and which are untouched or done), ``failed`` and ``rollback`` (failed nodes that
    were relabelled: their previous config can be put back).
    """
    after = dict((_meta(n).get('name'), n) for n in nodes_after or [] if _meta(n).get('name'))
    outcomes = {}
    for t in batch:
        node = after.get(t['name'])
        labels = _labels(node)
        label, state = labels.get(LABEL_CONFIG, ''), labels.get(LABEL_STATE, '')
        alloc = allocatable_fn(node) if node else {}
        if node is None:
            outcome = 'failed'
        elif label != t['target']:
            outcome = 'untouched'
        elif state == 'success' and alloc == t['expected']:
            outcome = 'done'
        else:
            outcome = 'failed'
        outcomes[t['name']] = {
            'outcome': outcome, 'label': label, 'state': state, 'allocatable': alloc,
            'summary': '%s: %s=%s, %s=%s, allocatable %s (planned %s) -> %s' % (
                t['name'], LABEL_CONFIG, label or 'unset', LABEL_STATE, state or 'unset', _fmt(alloc),
                _fmt(t['expected']), outcome)}
    failed = [t['name'] for t in batch if outcomes[t['name']]['outcome'] == 'failed']
    return {
        'outcomes': outcomes,
        'uncordon': [t['name'] for t in batch if t['cordon_ours'] and outcomes[t['name']]['outcome'] != 'failed'],
        'failed': failed,
        'rollback': [t['name'] for t in batch if t['name'] in failed and t['relabel']],
    }


def rollback_states(batch, names, nodes_after, timeout):
    """``node -> previous config and what became of it`` for the nodes rolled back, read after the rollback."""
    after = dict((_meta(n).get('name'), n) for n in nodes_after or [] if _meta(n).get('name'))
    out = []
    for t in batch:
        if t['name'] not in names:
            continue
        labels = _labels(after.get(t['name']))
        label, state = labels.get(LABEL_CONFIG, ''), labels.get(LABEL_STATE, '')
        if label != t['previous']:
            text = '%s not applied (the label is %s), left cordoned' % (t['previous'], label or 'unset')
        elif state in ('success', 'failed'):
            text = '%s %s' % (t['previous'], state)
        else:
            text = '%s %s after %s s, left cordoned' % (t['previous'], state or 'no state', timeout)
        out.append('%s -> %s' % (t['name'], text))
    return out


def later_nodes(changes, batch_index, max_unavailable):
    """Nodes after the failed batch: never touched."""
    return [t['name'] for t in changes[(int(batch_index) + 1) * int(max_unavailable):]]


def failure_report(batch, settled, failure, later, rollback=False, rollback_lines=(), drain_timeout=None,
                   namespace='gpu-operator'):
    """The message a failed batch ends the play with: where, why, each node's state, what was left how,
    what was not touched and how to recover."""
    failed = settled['failed']
    parts = [
        'gpu_partitioning: MIG rollout stopped at %s.' % ', '.join(t['name'] for t in batch),
        'Failed step: %s: %s' % (failure.get('task', '?'), failure.get('msg', '')),
    ]
    if failure.get('item_msgs'):
        parts.append('%s.' % failure['item_msgs'])
    if failure.get('pods_left'):
        parts.append('Pods still on the node after %s s (not DaemonSet or mirror pods; do they tolerate the '
                     'unschedulable taint, or are they stuck terminating?): %s.'
                     % (drain_timeout, ', '.join(failure['pods_left'])))
    parts.append('Node states: %s.' % '; '.join(settled['outcomes'][t['name']]['summary'] for t in batch))
    if failed:
        parts.append('%s%s.' % ('Rolled back (previous config restored): ' if rollback
                                else 'Left cordoned with the new label for inspection: ', ', '.join(failed)))
        if rollback and rollback_lines:
            parts.append('Rollback: %s.' % ', '.join(rollback_lines))
    else:
        parts.append('No node was left with a half-applied config; the nodes of this batch are uncordoned.')
    others = [t['name'] for t in batch if not t['cordon_ours']]
    if others:
        parts.append('Cordoned by someone else before this run, left cordoned: %s.' % ', '.join(others))
    parts.append('Not touched (later in the rollout): %s.' % (', '.join(later) if later else 'none'))
    parts.append('To recover: look at mig-manager on the failed node (its pod log in namespace %s, and the node\'s '
                 'nvidia.com/mig.config.state), fix the cause (or the PodDisruptionBudget / pods that block the '
                 'drain), then re-run the play: nodes at their target are skipped and the rollout resumes at the '
                 'first node that is not.' % namespace)
    if not rollback:
        parts.append('To put a failed node back by hand: label it nvidia.com/mig.config=<previous config> and '
                     'uncordon it, or re-run with -e gpu_partitioning_rollback=true.')
    return ' '.join(parts)
