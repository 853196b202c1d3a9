# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the observability layer: alert rules, dashboards, Prometheus selectors.

The logic is in ``plugins/module_utils/alert_rules.py``, ``dashboards.py`` and ``prom_selectors.py``;
these wrappers turn their errors into ``AnsibleFilterError`` and their results into Kubernetes objects.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import alert_rules, dashboards, prom_selectors


def _meta(name, labels):
    meta = {'name': name}
    if labels:
        meta['labels'] = dict(labels)
    return meta


def prometheus_rules(models, thresholds=None, model_thresholds=None, severities=None, disabled=None,
                     components=None, runbook_base='docs/runbooks.md', name_prefix='cnai', labels=None):
    """PrometheusRule objects (one per component) for the models of ``cnai_models``."""
    try:
        groups = alert_rules.build_rules(models, thresholds, model_thresholds, severities, disabled, components,
                                         runbook_base, group_prefix=name_prefix)
    except alert_rules.AlertRulesError as exc:
        raise AnsibleFilterError('prometheus_rules: %s' % exc)
    out = []
    for group in groups:
        component = group['name'].split('.', 1)[1]
        out.append({
            'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'PrometheusRule',
            'metadata': _meta('%s-%s' % (name_prefix, component), labels),
            'spec': {'groups': [group]},
        })
    return out


def grafana_dashboards(models, mig_assignments=None, name_prefix='cnai-dashboard', labels=None,
                       sidecar_label='grafana_dashboard', sidecar_value='1', folder=None):
    """ConfigMaps the kube-prometheus-stack Grafana sidecar loads (label ``grafana_dashboard: "1"``)."""
    try:
        boards = dashboards.build_dashboards(models, mig_assignments)
    except dashboards.DashboardError as exc:
        raise AnsibleFilterError('grafana_dashboards: %s' % exc)
    out = []
    for uid in sorted(boards):
        cm_labels = dict(labels or {})
        cm_labels[sidecar_label] = sidecar_value
        meta = _meta('%s-%s' % (name_prefix, uid.replace('cnai-', '', 1)), cm_labels)
        if folder:
            meta['annotations'] = {'grafana_folder': folder}
        out.append({
            'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': meta,
            'data': {'%s.json' % uid: json.dumps(boards[uid], indent=1, sort_keys=True)},
        })
    return out


def prometheus_monitor_labels(prometheus):
    """{ServiceMonitor|PodMonitor|PrometheusRule: labels} the installed Prometheus selects on."""
    try:
        return prom_selectors.required_labels(prometheus)
    except prom_selectors.SelectorError as exc:
        raise AnsibleFilterError('prometheus_monitor_labels: %s' % exc)


def prometheus_unselected(objects, prometheus, namespaces=None):
    """Lines naming each object the Prometheus would not select (empty: all selected)."""
    ns = {}
    for item in namespaces or []:
        meta = item.get('metadata') or {}
        ns[meta.get('name')] = meta.get('labels') or {}
    try:
        return prom_selectors.unselected(prometheus, objects, ns)
    except prom_selectors.SelectorError as exc:
        raise AnsibleFilterError('prometheus_unselected: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'prometheus_rules': prometheus_rules,
            'grafana_dashboards': grafana_dashboards,
            'prometheus_monitor_labels': prometheus_monitor_labels,
            'prometheus_unselected': prometheus_unselected,
        }
