# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana dashboards for the platform, generated from one place.

``build_dashboards(models, mig_assignments)`` returns ``{uid: dashboard}`` (Grafana dashboard JSON models,
schemaVersion 39): vLLM per model, GPUs and MIG instances, Milvus, the AI gateway (HTTP and JVM), and the
MIG plan (planned vs allocatable vs used per node and resource). Every panel queries the datasource
variable ``${datasource}``; the vLLM dashboard's model list comes from ``cnai_models`` (served names).

Metric names are the ones the exporters expose (vLLM ``vllm:*``; dcgm-exporter default counters, which
on MIG carry ``GPU_I_PROFILE``/``GPU_I_ID``; kube-state-metrics; Milvus ``milvus_*``; Micrometer's
Prometheus names for Spring Boot). ``tests/unit/plugins/module_utils/test_dashboards.py`` parses every
query and checks every metric name against those lists.

The MIG plan dashboard's "planned" numbers are constants from the plan (``mig_plan`` assignments) written
as PromQL (``label_replace(vector(N), ...)``), so Grafana shows them beside kube-state-metrics'
``kube_node_status_allocatable`` and the pods' requests without any extra exporter.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.cnai.platform.plugins.module_utils.alert_rules import AlertRulesError, normalize_models

DS = {'type': 'prometheus', 'uid': '${datasource}'}
RATE = '$__rate_interval'


class DashboardError(Exception):
    """Bad input; the message names the variable to fix."""


def _target(expr, legend, ref):
    return {'datasource': DS, 'expr': expr, 'legendFormat': legend, 'refId': ref, 'range': True}


class _Board(object):
    def __init__(self, uid, title, tags):
        self.uid, self.title, self.tags = uid, title, tags
        self.panels = []
        self.variables = [{
            'name': 'datasource', 'label': 'Data source', 'type': 'datasource', 'query': 'prometheus',
            'current': {}, 'hide': 0, 'refresh': 1, 'regex': '', 'options': [],
        }]
        self._y = 0
        self._x = 0
        self._row_h = 0

    def query_var(self, name, query, label=None, multi=True):
        self.variables.append({
            'name': name, 'label': label or name, 'type': 'query', 'datasource': DS,
            'query': {'query': query, 'refId': 'var-%s' % name}, 'definition': query, 'refresh': 2,
            'multi': multi, 'includeAll': multi, 'allValue': '.*', 'current': {}, 'options': [], 'sort': 1,
            'hide': 0, 'regex': '',
        })

    def custom_var(self, name, values, label=None):
        self.variables.append({
            'name': name, 'label': label or name, 'type': 'custom', 'query': ','.join(values),
            'multi': True, 'includeAll': True, 'allValue': '.*', 'hide': 0, 'current': {},
            'options': [{'text': v, 'value': v, 'selected': False} for v in values],
        })

    def row(self, title):
        self._newline()
        self.panels.append({'type': 'row', 'title': title, 'collapsed': False, 'panels': [],
                            'id': len(self.panels) + 1, 'gridPos': {'h': 1, 'w': 24, 'x': 0, 'y': self._y}})
        self._y += 1

    def _newline(self):
        if self._x:
            self._y += self._row_h
            self._x, self._row_h = 0, 0

    def panel(self, title, targets, unit='short', kind='timeseries', width=12, height=8, description=''):
        if self._x + width > 24:
            self._newline()
        refs = 'ABCDEFGHIJ'
        panel = {
            'id': len(self.panels) + 1, 'type': kind, 'title': title, 'description': description,
            'datasource': DS, 'gridPos': {'h': height, 'w': width, 'x': self._x, 'y': self._y},
            'targets': [_target(expr, legend, refs[i]) for i, (expr, legend) in enumerate(targets)],
            'fieldConfig': {'defaults': {'unit': unit}, 'overrides': []}, 'options': {},
        }
        if kind == 'table':
            for t in panel['targets']:
                t['format'] = 'table'
                t['instant'] = True
                t['range'] = False
        self.panels.append(panel)
        self._x += width
        self._row_h = max(self._row_h, height)

    def render(self):
        return {
            'uid': self.uid, 'title': self.title, 'tags': ['cnai-platform'] + self.tags, 'editable': True,
            'schemaVersion': 39, 'version': 1, 'timezone': 'browser', 'refresh': '30s',
            'time': {'from': 'now-6h', 'to': 'now'}, 'templating': {'list': self.variables},
            'annotations': {'list': []}, 'panels': self.panels, 'links': [],
        }


def _quantiles(metric, sel, by='model_name'):
    return [('histogram_quantile(%s, sum by (le, %s) (rate(%s_bucket{%s}[%s])))' % (q, by, metric, sel, RATE),
             'p%s {{%s}}' % (int(q * 100), by)) for q in (0.5, 0.95, 0.99)]


def vllm_dashboard(served_names):
    b = _Board('cnai-vllm', 'cnai / vLLM per model', ['vllm'])
    b.query_var('namespace', 'label_values(vllm:num_requests_running, namespace)')
    b.custom_var('model_name', served_names, 'model')
    sel = 'namespace=~"$namespace",model_name=~"$model_name"'
    b.row('Traffic')
    b.panel('Requests per second (finished)', [
        ('sum by (model_name) (rate(vllm:request_success_total{%s}[%s]))' % (sel, RATE), '{{model_name}}')],
        'reqps', width=8)
    b.panel('Requests by finish reason', [
        ('sum by (model_name, finished_reason) (rate(vllm:request_success_total{%s}[%s]))' % (sel, RATE),
         '{{model_name}} {{finished_reason}}')], 'reqps', width=8)
    b.panel('Tokens per second', [
        ('sum by (model_name) (rate(vllm:generation_tokens_total{%s}[%s]))' % (sel, RATE), 'generated {{model_name}}'),
        ('sum by (model_name) (rate(vllm:prompt_tokens_total{%s}[%s]))' % (sel, RATE), 'prompt {{model_name}}')],
        'short', width=8)
    b.row('Latency')
    b.panel('Time to first token', _quantiles('vllm:time_to_first_token_seconds', sel), 's', width=8)
    b.panel('Inter-token latency', _quantiles('vllm:inter_token_latency_seconds', sel), 's', width=8)
    b.panel('End-to-end request latency', _quantiles('vllm:e2e_request_latency_seconds', sel), 's', width=8)
    b.panel('Queue time p95', [
        ('histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:request_queue_time_seconds_bucket{%s}[%s])))'
         % (sel, RATE), '{{model_name}}')], 's', width=12)
    b.panel('Prefill / decode time p95', [
        ('histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:request_prefill_time_seconds_bucket{%s}[%s])))'
         % (sel, RATE), 'prefill {{model_name}}'),
        ('histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:request_decode_time_seconds_bucket{%s}[%s])))'
         % (sel, RATE), 'decode {{model_name}}')], 's', width=12)
    b.row('Scheduler and KV cache')
    b.panel('Requests running / waiting', [
        ('sum by (model_name) (vllm:num_requests_running{%s})' % sel, 'running {{model_name}}'),
        ('sum by (model_name) (vllm:num_requests_waiting{%s})' % sel, 'waiting {{model_name}}')], 'short', width=8)
    b.panel('KV cache usage per pod', [
        ('max by (model_name, pod) (vllm:kv_cache_usage_perc{%s})' % sel, '{{model_name}} {{pod}}')],
        'percentunit', width=8)
    b.panel('Preemptions per second', [
        ('sum by (model_name) (rate(vllm:num_preemptions_total{%s}[%s]))' % (sel, RATE), '{{model_name}}')],
        'short', width=8)
    b.panel('Prefix cache hit rate', [
        ('sum by (model_name) (rate(vllm:prefix_cache_hits_total{%s}[%s])) / sum by (model_name) '
         '(rate(vllm:prefix_cache_queries_total{%s}[%s]))' % (sel, RATE, sel, RATE), '{{model_name}}')],
        'percentunit', width=12)
    b.panel('Replicas (autoscaler)', [
        ('max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas'
         '{namespace=~"$namespace",horizontalpodautoscaler=~"keda-hpa-.*"})', 'current {{horizontalpodautoscaler}}'),
        ('max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas'
         '{namespace=~"$namespace",horizontalpodautoscaler=~"keda-hpa-.*"})', 'max {{horizontalpodautoscaler}}')],
        'short', width=12)
    return b.render()


def gpu_dashboard():
    b = _Board('cnai-gpu', 'cnai / GPUs and MIG instances', ['gpu', 'dcgm', 'mig'])
    b.query_var('node', 'label_values(DCGM_FI_DEV_GPU_TEMP, Hostname)', 'node')
    sel = 'Hostname=~"$node"'
    b.row('MIG instances (DCGM profiling metrics work on MIG; GPU_UTIL does not)')
    b.panel('Graphics engine active per MIG instance', [
        ('avg by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{%s})' % sel,
         '{{Hostname}} gpu{{gpu}} {{GPU_I_PROFILE}} id{{GPU_I_ID}}')], 'percentunit')
    b.panel('DRAM active per MIG instance', [
        ('avg by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_PROF_DRAM_ACTIVE{%s})' % sel,
         '{{Hostname}} gpu{{gpu}} {{GPU_I_PROFILE}} id{{GPU_I_ID}}')], 'percentunit')
    b.panel('Framebuffer used per instance', [
        ('max by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_DEV_FB_USED{%s})' % sel,
         '{{Hostname}} gpu{{gpu}} {{GPU_I_PROFILE}} id{{GPU_I_ID}}')], 'decmbytes')
    b.panel('Instances held by pods', [
        ('count by (GPU_I_PROFILE, namespace, pod) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{%s,pod!=""})' % sel,
         '{{namespace}}/{{pod}} {{GPU_I_PROFILE}}')], 'short', kind='table')
    b.row('Physical GPUs')
    b.panel('Temperature', [('max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP{%s})' % sel, '{{Hostname}} gpu{{gpu}}')],
            'celsius', width=8)
    b.panel('Power', [('max by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE{%s})' % sel, '{{Hostname}} gpu{{gpu}}')],
            'watt', width=8)
    b.panel('SM clock', [('max by (Hostname, gpu) (DCGM_FI_DEV_SM_CLOCK{%s})' % sel, '{{Hostname}} gpu{{gpu}}')],
            'hertz', width=8)
    b.panel('Tensor pipe active', [
        ('avg by (Hostname, gpu) (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{%s})' % sel, '{{Hostname}} gpu{{gpu}}')],
        'percentunit', width=8)
    b.panel('XID errors (last code)', [
        ('max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS{%s})' % sel, '{{Hostname}} gpu{{gpu}}')], 'none', width=8)
    b.panel('Remapped rows / remap failure', [
        ('max by (Hostname, gpu) (DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{%s})' % sel, 'uncorrectable {{Hostname}} gpu{{gpu}}'),
        ('max by (Hostname, gpu) (DCGM_FI_DEV_ROW_REMAP_FAILURE{%s})' % sel, 'failure {{Hostname}} gpu{{gpu}}')],
        'none', width=8)
    return b.render()


def milvus_dashboard():
    b = _Board('cnai-milvus', 'cnai / Milvus', ['milvus', 'rag'])
    b.query_var('namespace', 'label_values(milvus_proxy_req_count, namespace)')
    sel = 'namespace=~"$namespace"'
    b.panel('Search latency', _quantiles('milvus_proxy_sq_latency', sel + ',query_type="search"', 'namespace'), 'ms')
    b.panel('Requests by status', [
        ('sum by (function_name, status) (rate(milvus_proxy_req_count{%s,status!="total"}[%s]))' % (sel, RATE),
         '{{function_name}} {{status}}')], 'reqps')
    b.panel('Error ratio', [
        ('sum by (namespace) (rate(milvus_proxy_req_count{%s,status="fail"}[%s])) / sum by (namespace) '
         '(rate(milvus_proxy_req_count{%s,status="total"}[%s]))' % (sel, RATE, sel, RATE), '{{namespace}}')],
        'percentunit')
    b.panel('Vectors searched / inserted per second', [
        ('sum by (namespace) (rate(milvus_proxy_search_vectors_count{%s}[%s]))' % (sel, RATE), 'searched'),
        ('sum by (namespace) (rate(milvus_proxy_insert_vectors_count{%s}[%s]))' % (sel, RATE), 'inserted')],
        'short')
    return b.render()


def gateway_dashboard():
    b = _Board('cnai-gateway', 'cnai / AI gateway', ['gateway', 'spring-boot'])
    b.query_var('job', 'label_values(http_server_requests_seconds_count, job)', 'gateway')
    sel = 'job=~"$job"'
    b.row('HTTP')
    b.panel('Requests per second by status', [
        ('sum by (status) (rate(http_server_requests_seconds_count{%s}[%s]))' % (sel, RATE), '{{status}}')],
        'reqps', width=8)
    b.panel('5xx ratio', [
        ('sum (rate(http_server_requests_seconds_count{%s,status=~"5.."}[%s])) / '
         'sum (rate(http_server_requests_seconds_count{%s}[%s]))' % (sel, RATE, sel, RATE), '5xx')],
        'percentunit', width=8)
    b.panel('Latency by URI', [
        ('histogram_quantile(0.95, sum by (le, uri) (rate(http_server_requests_seconds_bucket{%s}[%s])))'
         % (sel, RATE), 'p95 {{uri}}'),
        ('sum by (uri) (rate(http_server_requests_seconds_sum{%s}[%s])) / sum by (uri) '
         '(rate(http_server_requests_seconds_count{%s}[%s]))' % (sel, RATE, sel, RATE), 'mean {{uri}}')],
        's', width=8)
    b.row('JVM')
    b.panel('Heap used', [('sum by (pod) (jvm_memory_used_bytes{%s,area="heap"})' % sel, 'used {{pod}}'),
                          ('sum by (pod) (jvm_memory_max_bytes{%s,area="heap"})' % sel, 'max {{pod}}')],
            'bytes', width=8)
    b.panel('GC pause', [('sum by (pod) (rate(jvm_gc_pause_seconds_sum{%s}[%s]))' % (sel, RATE), '{{pod}}')],
            's', width=8)
    b.panel('Threads and CPU', [('sum by (pod) (jvm_threads_live_threads{%s})' % sel, 'threads {{pod}}'),
                                ('max by (pod) (process_cpu_usage{%s})' % sel, 'cpu {{pod}}')], 'short', width=8)
    return b.render()


def _ksm_resource(resource):
    """kube-state-metrics writes resource names with . / - as _ (nvidia.com/mig-1g.18gb -> nvidia_com_mig_1g_18gb)."""
    return re.sub(r'[^a-zA-Z0-9_]', '_', resource)


def planned_counts(assignments, var='observability_mig_assignments'):
    """{(node, resource): count} from mig_plan assignments."""
    counts = {}
    if assignments is None:
        return counts
    if not isinstance(assignments, list):
        raise DashboardError('%s: must be the list mig_plan returns as assignments' % var)
    for index, a in enumerate(assignments):
        if not isinstance(a, dict) or not a.get('node') or not a.get('resource'):
            raise DashboardError('%s[%d]: needs node and resource (mig_plan assignments), got %r' % (var, index, a))
        n = len(a['gpus']) if isinstance(a.get('gpus'), list) and a.get('resource') == 'nvidia.com/gpu' else 1
        key = (str(a['node']), _ksm_resource(str(a['resource'])))
        counts[key] = counts.get(key, 0) + n
    for node, resource in counts:
        if '"' in node or '\\' in node:
            raise DashboardError('%s: node name %r cannot be used in a query' % (var, node))
    return counts


def mig_plan_dashboard(assignments):
    b = _Board('cnai-mig-plan', 'cnai / MIG plan vs cluster', ['mig', 'gpu', 'plan'])
    counts = planned_counts(assignments)
    res = 'resource=~"nvidia_com_gpu|nvidia_com_mig_.*"'
    if counts:
        planned = ' or '.join(
            'label_replace(label_replace(vector(%d), "node", "%s", "", ""), "resource", "%s", "", "")'
            % (n, node, resource) for (node, resource), n in sorted(counts.items()))
    else:
        planned = 'vector(0)'
    b.panel('Planned (from the MIG plan) vs allocatable vs requested, per node and resource', [
        (planned, 'planned'),
        ('sum by (node, resource) (kube_node_status_allocatable{%s})' % res, 'allocatable'),
        ('sum by (node, resource) (kube_pod_container_resource_requests{%s})' % res, 'requested')],
        'short', kind='table', width=24, height=12,
        description='Planned counts are written into this dashboard when it is rendered from the plan '
                    '(mig_plan assignments); allocatable comes from the device plugin through kube-state-metrics.')
    b.panel('MIG config and state per node', [
        ('max by (node, label_nvidia_com_mig_config, label_nvidia_com_mig_config_state) (kube_node_labels)',
         '{{node}}')], 'short', kind='table', width=24, height=8)
    b.panel('Allocatable minus requested', [
        ('sum by (node, resource) (kube_node_status_allocatable{%s}) - sum by (node, resource) '
         '(kube_pod_container_resource_requests{%s})' % (res, res), '{{node}} {{resource}}')], 'short', width=24)
    return b.render()


def build_dashboards(models=None, mig_assignments=None):
    """{uid: dashboard JSON model} for every dashboard the collection ships."""
    try:
        served = [m['model_name'] for m in normalize_models(models)]
    except AlertRulesError as exc:
        raise DashboardError(str(exc))
    boards = [vllm_dashboard(served), gpu_dashboard(), milvus_dashboard(), gateway_dashboard(),
              mig_plan_dashboard(mig_assignments)]
    return dict((d['uid'], d) for d in boards)


def panel_queries(dashboard):
    """Every PromQL of a dashboard (panels and query variables), for the tests."""
    out = []
    for panel in dashboard.get('panels', []):
        for t in panel.get('targets', []):
            out.append(t['expr'])
    for var in dashboard.get('templating', {}).get('list', []):
        if var.get('type') == 'query':
            out.append(var['definition'])
    return out
