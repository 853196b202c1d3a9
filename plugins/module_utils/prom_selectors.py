# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which monitors and rules a Prometheus (Prometheus Operator ``monitoring.coreos.com/v1``) selects.

kube-prometheus-stack's Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules by label
(``release: <helm release>`` by default) and by namespace. Rather than hard-coding that label, the
``observability`` role reads the installed Prometheus object and asks:

* ``required_labels(prometheus)``: the labels each of our objects must carry, per kind, derived from the
  Prometheus's ``serviceMonitorSelector``, ``podMonitorSelector`` and ``ruleSelector`` (``matchLabels``,
  and ``matchExpressions`` with ``In``); a selector that selects nothing, or one whose labels cannot be
  derived (``NotIn``/``Exists`` only), is an error naming the field;
* ``unselected(prometheus, objects, namespaces)``: the objects that Prometheus would not pick up, with
  the reason (labels, or namespace outside ``*NamespaceSelector``), for the role's verify step.

Semantics follow the operator: a nil label selector selects no object, ``{}`` selects all; a nil namespace
selector means the Prometheus's own namespace only, ``{}`` means every namespace.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

KINDS = {
    'ServiceMonitor': ('serviceMonitorSelector', 'serviceMonitorNamespaceSelector'),
    'PodMonitor': ('podMonitorSelector', 'podMonitorNamespaceSelector'),
    'PrometheusRule': ('ruleSelector', 'ruleNamespaceSelector'),
}


class SelectorError(Exception):
    """The Prometheus object cannot select our objects; the message names the field."""


def matches(selector, labels):
    """Kubernetes LabelSelector semantics; ``None`` selects nothing, ``{}`` everything."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get('matchExpressions') or []:
        key, op, values = expr.get('key'), expr.get('operator'), expr.get('values') or []
        if op == 'In' and labels.get(key) not in values:
            return False
        if op == 'NotIn' and key in labels and labels[key] in values:
            return False
        if op == 'Exists' and key not in labels:
            return False
        if op == 'DoesNotExist' and key in labels:
            return False
        if op not in ('In', 'NotIn', 'Exists', 'DoesNotExist'):
            raise SelectorError('unknown selector operator %r for key %r' % (op, key))
    return True


def _derive(selector, field):
    if selector is None:
        raise SelectorError(
            'Prometheus spec.%s is not set, so it selects no object of that kind: set it (kube-prometheus-stack: '
            'prometheus.prometheusSpec.%s) or let the role install the stack' % (field, field))
    labels = dict(selector.get('matchLabels') or {})
    for expr in selector.get('matchExpressions') or []:
        key, op, values = expr.get('key'), expr.get('operator'), expr.get('values') or []
        if op == 'In':
            if key in labels and labels[key] not in values:
                raise SelectorError('Prometheus spec.%s: matchLabels and matchExpressions disagree on %r'
                                    % (field, key))
            labels.setdefault(key, sorted(values)[0])
        elif op == 'Exists':
            if key not in labels:
                raise SelectorError('Prometheus spec.%s requires label %r to exist but names no value: set '
                                    'observability_monitor_labels' % (field, key))
    if not matches(selector, labels):
        raise SelectorError('Prometheus spec.%s: no label set satisfies it (%r); set observability_monitor_labels'
                            % (field, selector))
    return labels


def required_labels(prometheus):
    """{kind: labels} our ServiceMonitors, PodMonitors and PrometheusRules need to be selected."""
    spec = (prometheus or {}).get('spec') or {}
    return dict((kind, _derive(spec.get(fields[0]), fields[0])) for kind, fields in KINDS.items())


def namespace_selected(prometheus, namespace, namespace_labels, kind):
    spec = (prometheus or {}).get('spec') or {}
    ns_selector = spec.get(KINDS[kind][1])
    if ns_selector is None:
        return namespace == ((prometheus or {}).get('metadata') or {}).get('namespace')
    labels = dict(namespace_labels or {})
    labels.setdefault('kubernetes.io/metadata.name', namespace)
    return matches(ns_selector, labels)


def unselected(prometheus, objects, namespaces):
    """Lines 'Kind ns/name: reason' for each object (k8s dict) the Prometheus does not select.

    ``namespaces``: {name: labels} of the namespaces the objects live in.
    """
    spec = (prometheus or {}).get('spec') or {}
    out = []
    for obj in objects or []:
        kind = obj.get('kind')
        meta = obj.get('metadata') or {}
        ref = '%s %s/%s' % (kind, meta.get('namespace'), meta.get('name'))
        if kind not in KINDS:
            out.append('%s: not a kind Prometheus selects' % ref)
            continue
        selector = spec.get(KINDS[kind][0])
        if not matches(selector, meta.get('labels')):
            out.append('%s: labels %s do not match spec.%s %s'
                       % (ref, meta.get('labels') or {}, KINDS[kind][0], selector))
            continue
        if not namespace_selected(prometheus, meta.get('namespace'), (namespaces or {}).get(meta.get('namespace')),
                                  kind):
            out.append('%s: namespace %s is outside spec.%s %s'
                       % (ref, meta.get('namespace'), KINDS[kind][1], spec.get(KINDS[kind][1])))
    return out
