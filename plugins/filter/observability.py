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

from ansible_collections.cnai.platform.plugins.module_utils import alert_rules, dashboards, otel_config, prom_selectors


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


def _service_monitor(spec, labels, index):
    var = 'observability_service_monitors[%d]' % index
    for key in ('name', 'namespace', 'selector', 'port'):
        if not spec.get(key):
            raise AnsibleFilterError('observability_objects: %s: %s is required' % (var, key))
    return {
        'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'ServiceMonitor',
        'metadata': _meta(spec['name'], labels),
        'spec': {
            'namespaceSelector': {'matchNames': [spec['namespace']]},
            'selector': {'matchLabels': dict(spec['selector'])},
            'endpoints': [{'port': spec['port'], 'path': spec.get('path', '/metrics'),
                           'interval': spec.get('interval', '30s')}],
        },
    }


def observability_objects(rules, dashboards_, service_monitors, monitor_labels, environments):
    """What role observability renders: {resources, overlays}.

    ``rules`` (from prometheus_rules) get the labels the Prometheus's ruleSelector needs, the ServiceMonitors
    built from ``service_monitors`` those of its serviceMonitorSelector (``monitor_labels`` is the result of
    prometheus_monitor_labels); every environment gets an overlay labelling the objects with it.
    """
    try:
        rule_labels = monitor_labels['PrometheusRule']
        sm_labels = monitor_labels['ServiceMonitor']
    except (KeyError, TypeError):
        raise AnsibleFilterError('observability_objects: monitor_labels must be what prometheus_monitor_labels returns')
    resources = []
    for rule in rules or []:
        obj = json.loads(json.dumps(rule))
        obj['metadata'].setdefault('labels', {}).update(rule_labels)
        resources.append(obj)
    resources.extend(dashboards_ or [])
    for index, spec in enumerate(service_monitors or []):
        resources.append(_service_monitor(spec, sm_labels, index))
    names = [(r['kind'], r['metadata']['name']) for r in resources]
    dupes = sorted(set(n for n in names if names.count(n) > 1))
    if dupes:
        raise AnsibleFilterError('observability_objects: duplicate objects %s (observability_service_monitors names?)'
                                 % ', '.join('%s/%s' % d for d in dupes))
    overlays = dict((env, {'labels': {'cnai.platform/environment': env}}) for env in environments or [])
    return {'resources': resources, 'overlays': overlays}


def otel_collector_values(prometheus_endpoint, tempo_endpoint, loki_endpoint, image_repository, image_tag,
                          memory_limit_mib=400, replicas=1, mode='deployment'):
    """Values for the opentelemetry-collector chart (OTLP in; Tempo, Loki OTLP, Prometheus OTLP out)."""
    try:
        return otel_config.chart_values(tempo_endpoint, loki_endpoint, prometheus_endpoint, image_repository,
                                        image_tag, memory_limit_mib, replicas, mode)
    except otel_config.OtelConfigError as exc:
        raise AnsibleFilterError('otel_collector_values: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'prometheus_rules': prometheus_rules,
            'grafana_dashboards': grafana_dashboards,
            'prometheus_monitor_labels': prometheus_monitor_labels,
            'prometheus_unselected': prometheus_unselected,
            'otel_collector_values': otel_collector_values,
            'observability_objects': observability_objects,
        }
