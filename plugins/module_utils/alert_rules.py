# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus alert rules for the platform, generated from data.

One catalogue (``CATALOGUE``) describes every alert the collection ships: the component it watches,
whether it is made once per model of ``cnai_models`` or once for the cluster, its PromQL (a ``%``-format
template over thresholds and the model's selector), ``for``, default severity, summary, description and,
for the promtool unit tests, a series set that fires it and one that does not.

``build_rules`` validates the inputs (models, threshold and severity overrides, disabled alerts) and
returns the PrometheusRule ``spec.groups``; ``build_rule_tests`` returns a ``promtool test rules``
document in which every generated alert has a firing and a quiet case, with the exact labels and
annotations expected. Nothing here talks to a cluster: the role wraps the groups into PrometheusRule
objects, and ``tools/promtool`` runs the real promtool on both documents.

Metric names are the ones the exporters expose today (``research/stack-anchors.md`` section 2 and 4):
vLLM's are ``vllm:``-prefixed with counters ending in ``_total``; ``vllm:gpu_cache_usage_perc`` is gone
(``vllm:kv_cache_usage_perc``); DCGM's come from dcgm-exporter's ``default-counters.csv``; MIG state
is read from ``kube_node_labels`` (kube-state-metrics must allow-list the node label).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re

SEVERITIES = ('critical', 'warning', 'info')
TASKS = ('generate', 'embed')
DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
_LABEL_REF = re.compile(r'\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}')

# Thresholds every model gets unless overridden (observability_alert_thresholds for all models,
# observability_model_alert_thresholds.<model> for one).
MODEL_THRESHOLDS = {
    'waiting_requests': 10,          # requests in vLLM's queue, per model and namespace
    'kv_cache_usage': 0.9,           # vllm:kv_cache_usage_perc is a 0..1 ratio
    'preemptions_per_second': 0.0,   # any sustained preemption means KV pressure
    'ttft_p95_seconds': 2.0,
    'e2e_p95_seconds': 30.0,
    'abort_ratio': 0.05,
    'scaled_object': '',             # KEDA ScaledObject(s) of the model: <name> or <name>-<product>...
}
# Thresholds of the cluster-wide alerts (observability_alert_thresholds).
GLOBAL_THRESHOLDS = {
    'vllm_job_regex': '',            # '' = the PodMonitor jobs of cnai_models: <namespace>/<model name>
    'gpu_temperature_celsius': 85,
    'gpu_idle_ratio': 0.05,
    'mig_pending_minutes': 30,
    'milvus_search_p99_ms': 500,
    'milvus_error_ratio': 0.05,
    'gateway_job_regex': '.*gateway.*',
    'gateway_5xx_ratio': 0.05,
    'gateway_p95_seconds': 5.0,
}
# keys whose value must be > 0 (a latency or temperature of 0 makes the alert always fire)
_POSITIVE = ('ttft_p95_seconds', 'e2e_p95_seconds', 'gpu_temperature_celsius', 'milvus_search_p99_ms',
             'gateway_p95_seconds', 'kv_cache_usage', 'abort_ratio', 'gpu_idle_ratio', 'milvus_error_ratio',
             'gateway_5xx_ratio')
_NUMERIC_RANGES = {
    'kv_cache_usage': (0.0, 1.0), 'abort_ratio': (0.0, 1.0), 'gpu_idle_ratio': (0.0, 1.0),
    'milvus_error_ratio': (0.0, 1.0), 'gateway_5xx_ratio': (0.0, 1.0),
}


class AlertRulesError(Exception):
    """Bad input; the message names the variable to fix."""


def _alert(name, component, scope, severity, for_, expr, summary, description, fire, quiet, tasks=TASKS):
    return dict(name=name, component=component, scope=scope, severity=severity, for_=for_, expr=expr,
                summary=summary, description=description, fire=fire, quiet=quiet, tasks=tasks)


# Series notation is promtool's (interval 1m). In fire/quiet cases %(model_name)s is the model's
# metric label value, %(hpa)s its HPA; `labels` are the labels the alert must carry besides
# alertname, severity, component and model.
CATALOGUE = [
    # ---------------------------------------------------------------- vLLM, one rule per model
    _alert('VLLMQueueBacklog', 'vllm', 'model', 'warning', '5m',
           'sum by (namespace, model_name) (vllm:num_requests_waiting{model_name="%(model_name)s"})'
           ' > %(waiting_requests)s',
           'vLLM queue backlog for {{ $labels.model_name }}',
           'More than %(waiting_requests)s requests have waited in the vLLM queue of model '
           '{{ $labels.model_name }} (namespace {{ $labels.namespace }}) for 5 minutes: replicas are saturated '
           'or cannot scale.',
           fire={'series': [('vllm:num_requests_waiting{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                             '%(waiting_high)sx20')],
                 'eval': '15m', 'labels': {'namespace': 'ai', 'model_name': '%(model_name)s'}},
           quiet={'series': [('vllm:num_requests_waiting{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '%(waiting_low)sx20')], 'eval': '15m'}),
    _alert('VLLMKVCacheSaturated', 'vllm', 'model', 'warning', '10m',
           'max by (namespace, pod, model_name) (vllm:kv_cache_usage_perc{model_name="%(model_name)s"})'
           ' > %(kv_cache_usage)s',
           'vLLM KV cache saturated on {{ $labels.pod }}',
           'The KV cache of model {{ $labels.model_name }} in pod {{ $labels.namespace }}/{{ $labels.pod }} has '
           'been above %(kv_cache_pct)s%% full for 10 minutes; requests will queue and be preempted.',
           fire={'series': [('vllm:kv_cache_usage_perc{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                             '%(kv_high)sx30')],
                 'eval': '20m', 'labels': {'namespace': 'ai', 'pod': 'p0', 'model_name': '%(model_name)s'}},
           quiet={'series': [('vllm:kv_cache_usage_perc{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '%(kv_low)sx30')], 'eval': '20m'}),
    _alert('VLLMPreemptions', 'vllm', 'model', 'warning', '10m',
           'sum by (namespace, model_name) (rate(vllm:num_preemptions_total{model_name="%(model_name)s"}[5m]))'
           ' > %(preemptions_per_second)s',
           'vLLM preempting requests of {{ $labels.model_name }}',
           'vLLM has preempted requests of model {{ $labels.model_name }} (namespace {{ $labels.namespace }}) '
           'for 10 minutes (more than %(preemptions_per_second)s per second): the KV cache is too small for '
           'the load. Lower max_num_seqs or max_model_len, or give the model more memory.',
           fire={'series': [('vllm:num_preemptions_total{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                             '0+%(preempt_step)sx30')],
                 'eval': '20m', 'labels': {'namespace': 'ai', 'model_name': '%(model_name)s'}},
           quiet={'series': [('vllm:num_preemptions_total{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '7x30')], 'eval': '20m'}),
    _alert('VLLMTimeToFirstTokenHigh', 'vllm', 'model', 'warning', '10m',
           'histogram_quantile(0.95, sum by (le, namespace, model_name) '
           '(rate(vllm:time_to_first_token_seconds_bucket{model_name="%(model_name)s"}[5m])))'
           ' > %(ttft_p95_seconds)s',
           'vLLM time to first token p95 high for {{ $labels.model_name }}',
           'The 95th percentile time to first token of model {{ $labels.model_name }} (namespace '
           '{{ $labels.namespace }}) has been above %(ttft_p95_seconds)s s for 10 minutes.',
           fire={'histogram': ('vllm:time_to_first_token_seconds_bucket', 'ttft_p95_seconds', True),
                 'eval': '20m', 'labels': {'namespace': 'ai', 'model_name': '%(model_name)s'}},
           quiet={'histogram': ('vllm:time_to_first_token_seconds_bucket', 'ttft_p95_seconds', False),
                  'eval': '20m'},
           tasks=('generate',)),
    _alert('VLLMEndToEndLatencyHigh', 'vllm', 'model', 'warning', '10m',
           'histogram_quantile(0.95, sum by (le, namespace, model_name) '
           '(rate(vllm:e2e_request_latency_seconds_bucket{model_name="%(model_name)s"}[5m])))'
           ' > %(e2e_p95_seconds)s',
           'vLLM end-to-end latency p95 high for {{ $labels.model_name }}',
           'The 95th percentile end-to-end request latency of model {{ $labels.model_name }} (namespace '
           '{{ $labels.namespace }}) has been above %(e2e_p95_seconds)s s for 10 minutes.',
           fire={'histogram': ('vllm:e2e_request_latency_seconds_bucket', 'e2e_p95_seconds', True),
                 'eval': '20m', 'labels': {'namespace': 'ai', 'model_name': '%(model_name)s'}},
           quiet={'histogram': ('vllm:e2e_request_latency_seconds_bucket', 'e2e_p95_seconds', False),
                  'eval': '20m'}),
    _alert('VLLMAbortedRequestsHigh', 'vllm', 'model', 'warning', '10m',
           'sum by (namespace, model_name) '
           '(rate(vllm:request_success_total{model_name="%(model_name)s",finished_reason="abort"}[5m]))'
           ' / sum by (namespace, model_name) (rate(vllm:request_success_total{model_name="%(model_name)s"}[5m]))'
           ' > %(abort_ratio)s',
           'vLLM aborting requests of {{ $labels.model_name }}',
           'More than %(abort_pct)s%% of the requests of model {{ $labels.model_name }} (namespace '
           '{{ $labels.namespace }}) finished aborted over the last 10 minutes (client timeouts or '
           'disconnects, usually caused by latency).',
           fire={'series': [('vllm:request_success_total{namespace="ai",pod="p0",model_name="%(model_name)s",'
                             'finished_reason="stop"}', '0+60x30'),
                            ('vllm:request_success_total{namespace="ai",pod="p0",model_name="%(model_name)s",'
                             'finished_reason="abort"}', '0+30x30')],
                 'eval': '20m', 'labels': {'namespace': 'ai', 'model_name': '%(model_name)s'}},
           quiet={'series': [('vllm:request_success_total{namespace="ai",pod="p0",model_name="%(model_name)s",'
                              'finished_reason="stop"}', '0+600x30'),
                             ('vllm:request_success_total{namespace="ai",pod="p0",model_name="%(model_name)s",'
                              'finished_reason="abort"}', '0+1x30')], 'eval': '20m'}),
    _alert('VLLMThroughputStalled', 'vllm', 'model', 'critical', '10m',
           '(sum by (namespace, model_name) '
           '(rate(vllm:generation_tokens_total{model_name="%(model_name)s"}[10m])) == 0)'
           ' and (sum by (namespace, model_name) (vllm:num_requests_running{model_name="%(model_name)s"}) > 0)',
           'vLLM generates no tokens for {{ $labels.model_name }}',
           'Model {{ $labels.model_name }} (namespace {{ $labels.namespace }}) has running requests but has '
           'generated no token for 10 minutes: the engine is stuck.',
           fire={'series': [('vllm:generation_tokens_total{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                             '500x40'),
                            ('vllm:num_requests_running{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                             '4x40')],
                 'eval': '30m', 'labels': {'namespace': 'ai', 'model_name': '%(model_name)s'}},
           quiet={'series': [('vllm:generation_tokens_total{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '0+300x40'),
                             ('vllm:num_requests_running{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '4x40')], 'eval': '30m'},
           tasks=('generate',)),
    _alert('VLLMModelMetricsAbsent', 'vllm', 'model', 'critical', '15m',
           'absent(vllm:num_requests_running{model_name="%(model_name)s"})',
           'No vLLM metrics for {{ $labels.model_name }}',
           'Prometheus has no vllm:num_requests_running series for model {{ $labels.model_name }} '
           '(from cnai_models) for 15 minutes: no replica runs, or its PodMonitor is not selected by '
           'Prometheus (release label), so every other vLLM alert of this model is blind.',
           # every other model of cnai_models is present in both cases (their own rules stay quiet)
           fire={'series': [('vllm:num_requests_running{namespace="ai",pod="p0",model_name="not-in-cnai-models"}',
                             '1x30')], 'others': ('vllm:num_requests_running{namespace="ai",pod="p1",'
                                                  'model_name="%s"}', '1x30'),
                 'eval': '20m', 'labels': {'model_name': '%(model_name)s'}},
           quiet={'series': [('vllm:num_requests_running{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '1x30')], 'others': ('vllm:num_requests_running{namespace="ai",pod="p1",'
                                                   'model_name="%s"}', '1x30'), 'eval': '20m'}),
    _alert('VLLMAtMaxReplicasWithQueue', 'capacity', 'model', 'warning', '15m',
           '(max by (namespace, horizontalpodautoscaler) '
           '(kube_horizontalpodautoscaler_status_current_replicas{horizontalpodautoscaler=~"%(hpa_regex)s"})'
           ' >= max by (namespace, horizontalpodautoscaler) '
           '(kube_horizontalpodautoscaler_spec_max_replicas{horizontalpodautoscaler=~"%(hpa_regex)s"}))'
           ' and on (namespace) (sum by (namespace) (vllm:num_requests_waiting{model_name="%(model_name)s"}) > 0)',
           'Model %(model)s is at maxReplicaCount with a queue',
           'The autoscaler {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} of model '
           '%(model)s has been at its maximum replica count for 15 minutes while requests wait: '
           'raise replicas.max in cnai_models (and re-plan the MIG layout) or add GPUs.',
           fire={'series': [('kube_horizontalpodautoscaler_status_current_replicas{namespace="ai",'
                             'horizontalpodautoscaler="%(hpa)s"}', '3x30'),
                            ('kube_horizontalpodautoscaler_spec_max_replicas{namespace="ai",'
                             'horizontalpodautoscaler="%(hpa)s"}', '3x30'),
                            ('vllm:num_requests_waiting{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                             '6x30')],
                 'eval': '20m', 'labels': {'namespace': 'ai', 'horizontalpodautoscaler': '%(hpa)s'}},
           quiet={'series': [('kube_horizontalpodautoscaler_status_current_replicas{namespace="ai",'
                              'horizontalpodautoscaler="%(hpa)s"}', '2x30'),
                             ('kube_horizontalpodautoscaler_spec_max_replicas{namespace="ai",'
                              'horizontalpodautoscaler="%(hpa)s"}', '3x30'),
                             ('vllm:num_requests_waiting{namespace="ai",pod="p0",model_name="%(model_name)s"}',
                              '6x30')], 'eval': '20m'}),
    # ---------------------------------------------------------------- vLLM, cluster-wide
    _alert('VLLMTargetDown', 'vllm', 'global', 'critical', '5m',
           'up{job=~"%(vllm_job_regex)s"} == 0',
           'vLLM target {{ $labels.namespace }}/{{ $labels.pod }} is down',
           'Prometheus has failed to scrape the vLLM endpoint {{ $labels.instance }} (job {{ $labels.job }}) '
           'for 5 minutes: the pod is not serving /metrics.',
           fire={'series': [('up{job="%(vllm_job_example)s",namespace="ai",pod="p0",instance="10.0.0.1:8000"}',
                             '0x20')],
                 'eval': '10m', 'labels': {'job': '%(vllm_job_example)s', 'namespace': 'ai', 'pod': 'p0',
                                           'instance': '10.0.0.1:8000'}},
           quiet={'series': [('up{job="%(vllm_job_example)s",namespace="ai",pod="p0",instance="10.0.0.1:8000"}',
                              '1x20'),
                             ('up{job="monitoring/node-exporter",instance="10.0.0.2:9100"}', '0x20')],
                  'eval': '10m'}),
    # ---------------------------------------------------------------- GPUs (DCGM exporter)
    _alert('GPUXidError', 'gpu', 'global', 'critical', '1m',
           'DCGM_FI_DEV_XID_ERRORS > 0',
           'GPU XID error on {{ $labels.Hostname }}{{ $labels.hostname }} GPU {{ $labels.gpu }}',
           'GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on {{ $labels.Hostname }}{{ $labels.hostname }} reported '
           'an XID error (the value of DCGM_FI_DEV_XID_ERRORS is the last XID code): look it up in the runbook.',
           fire={'series': [('DCGM_FI_DEV_XID_ERRORS{Hostname="gpu-0",gpu="3",UUID="GPU-3"}', '0 0 79x10')],
                 'eval': '8m', 'labels': {'Hostname': 'gpu-0', 'gpu': '3', 'UUID': 'GPU-3'}},
           quiet={'series': [('DCGM_FI_DEV_XID_ERRORS{Hostname="gpu-0",gpu="3",UUID="GPU-3"}', '0x10')],
                  'eval': '8m'}),
    _alert('GPUTemperatureHigh', 'gpu', 'global', 'warning', '5m',
           'DCGM_FI_DEV_GPU_TEMP > %(gpu_temperature_celsius)s',
           'GPU {{ $labels.gpu }} on {{ $labels.Hostname }}{{ $labels.hostname }} is hot',
           'GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on {{ $labels.Hostname }}{{ $labels.hostname }} has been '
           'above %(gpu_temperature_celsius)s C for 5 minutes; it will throttle.',
           fire={'series': [('DCGM_FI_DEV_GPU_TEMP{Hostname="gpu-0",gpu="1",UUID="GPU-1"}', '%(temp_high)sx20')],
                 'eval': '10m', 'labels': {'Hostname': 'gpu-0', 'gpu': '1', 'UUID': 'GPU-1'}},
           quiet={'series': [('DCGM_FI_DEV_GPU_TEMP{Hostname="gpu-0",gpu="1",UUID="GPU-1"}', '%(temp_low)sx20')],
                  'eval': '10m'}),
    _alert('GPURowRemapFailure', 'gpu', 'global', 'critical', '1m',
           'DCGM_FI_DEV_ROW_REMAP_FAILURE > 0',
           'GPU {{ $labels.gpu }} on {{ $labels.Hostname }}{{ $labels.hostname }} failed to remap rows',
           'GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on {{ $labels.Hostname }}{{ $labels.hostname }} could not '
           'remap a memory row: the GPU must be drained and serviced.',
           fire={'series': [('DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="gpu-0",gpu="2",UUID="GPU-2"}', '1x10')],
                 'eval': '5m', 'labels': {'Hostname': 'gpu-0', 'gpu': '2', 'UUID': 'GPU-2'}},
           quiet={'series': [('DCGM_FI_DEV_ROW_REMAP_FAILURE{Hostname="gpu-0",gpu="2",UUID="GPU-2"}', '0x10')],
                  'eval': '5m'}),
    _alert('GPUUncorrectableECCErrors', 'gpu', 'global', 'warning', '1m',
           'increase(DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS[1h]) > 0',
           'Uncorrectable ECC errors on GPU {{ $labels.gpu }} of {{ $labels.Hostname }}{{ $labels.hostname }}',
           'GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on {{ $labels.Hostname }}{{ $labels.hostname }} remapped '
           'rows for uncorrectable (double-bit) ECC errors in the last hour; a reset is pending.',
           fire={'series': [('DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{Hostname="gpu-0",gpu="0",UUID="GPU-0"}',
                             '0x5 1x10')],
                 'eval': '10m', 'labels': {'Hostname': 'gpu-0', 'gpu': '0', 'UUID': 'GPU-0'}},
           quiet={'series': [('DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{Hostname="gpu-0",gpu="0",UUID="GPU-0"}',
                              '2x20')], 'eval': '10m'}),
    _alert('GPUAllocatedButIdle', 'gpu', 'global', 'info', '30m',
           'avg_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE{pod!=""}[30m]) < %(gpu_idle_ratio)s',
           'GPU instance held by {{ $labels.namespace }}/{{ $labels.pod }} is idle',
           'Pod {{ $labels.namespace }}/{{ $labels.pod }} holds GPU {{ $labels.gpu }} (MIG instance '
           '{{ $labels.GPU_I_PROFILE }} id {{ $labels.GPU_I_ID }}) on {{ $labels.Hostname }}{{ $labels.hostname }} '
           'but its graphics engine was less than %(idle_pct)s%% active over 30 minutes (for 30 more): '
           'scale the model down or give the slice to another model.',
           fire={'series': [('DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="gpu-0",gpu="0",GPU_I_PROFILE="1g.18gb",'
                             'GPU_I_ID="7",namespace="ai",pod="p0"}', '0x90'),
                            ('DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="gpu-0",gpu="0",GPU_I_PROFILE="1g.18gb",'
                             'GPU_I_ID="8",namespace="",pod=""}', '0x90')],
                 'eval': '70m', 'labels': {'Hostname': 'gpu-0', 'gpu': '0', 'GPU_I_PROFILE': '1g.18gb',
                                           'GPU_I_ID': '7', 'namespace': 'ai', 'pod': 'p0'}},
           quiet={'series': [('DCGM_FI_PROF_GR_ENGINE_ACTIVE{Hostname="gpu-0",gpu="0",GPU_I_PROFILE="1g.18gb",'
                              'GPU_I_ID="7",namespace="ai",pod="p0"}', '0.6x90')], 'eval': '70m'}),
    # ---------------------------------------------------------------- MIG rollout (kube-state-metrics)
    _alert('MIGConfigFailed', 'mig', 'global', 'critical', '1m',
           'max by (node) (kube_node_labels{label_nvidia_com_mig_config_state="failed"}) == 1',
           'MIG reconfiguration failed on {{ $labels.node }}',
           'The NVIDIA MIG manager set nvidia.com/mig.config.state=failed on node {{ $labels.node }}: the node '
           'does not have the layout the plan expects.',
           fire={'series': [('kube_node_labels{node="gpu-0",label_nvidia_com_mig_config="all-1g.18gb",'
                             'label_nvidia_com_mig_config_state="failed"}', '1x10')],
                 'eval': '5m', 'labels': {'node': 'gpu-0'}},
           quiet={'series': [('kube_node_labels{node="gpu-0",label_nvidia_com_mig_config="all-1g.18gb",'
                              'label_nvidia_com_mig_config_state="success"}', '1x10')], 'eval': '5m'}),
    _alert('MIGConfigPendingTooLong', 'mig', 'global', 'warning', '%(mig_pending_minutes)sm',
           'max by (node) (kube_node_labels{label_nvidia_com_mig_config_state="pending"}) == 1',
           'MIG reconfiguration of {{ $labels.node }} is stuck pending',
           'Node {{ $labels.node }} has been in nvidia.com/mig.config.state=pending for %(mig_pending_minutes)s '
           'minutes: the MIG manager cannot apply the layout (GPU processes still running, or the manager is '
           'down).',
           fire={'series': [('kube_node_labels{node="gpu-0",label_nvidia_com_mig_config_state="pending"}',
                             '1x%(pending_steps)s')],
                 'eval': '%(pending_eval)sm', 'labels': {'node': 'gpu-0'}},
           quiet={'series': [('kube_node_labels{node="gpu-0",label_nvidia_com_mig_config_state="pending"}',
                              '1x%(pending_short)s'),
                             ('kube_node_labels{node="gpu-0",label_nvidia_com_mig_config_state="success"}',
                              '_x%(pending_short)s 1x%(pending_steps)s')],
                  'eval': '%(pending_eval)sm'}),
    # ---------------------------------------------------------------- Milvus
    _alert('MilvusSearchLatencyHigh', 'milvus', 'global', 'warning', '10m',
           'histogram_quantile(0.99, sum by (le, namespace) '
           '(rate(milvus_proxy_sq_latency_bucket{query_type="search"}[5m]))) > %(milvus_search_p99_ms)s',
           'Milvus search p99 latency high in {{ $labels.namespace }}',
           'The 99th percentile search latency of the Milvus proxies in namespace {{ $labels.namespace }} has '
           'been above %(milvus_search_p99_ms)s ms for 10 minutes.',
           fire={'histogram': ('milvus_proxy_sq_latency_bucket', 'milvus_search_p99_ms', True),
                 'eval': '20m', 'labels': {'namespace': 'ai'}},
           quiet={'histogram': ('milvus_proxy_sq_latency_bucket', 'milvus_search_p99_ms', False), 'eval': '20m'}),
    _alert('MilvusErrorRatioHigh', 'milvus', 'global', 'warning', '10m',
           'sum by (namespace) (rate(milvus_proxy_req_count{status="fail"}[10m]))'
           ' / sum by (namespace) (rate(milvus_proxy_req_count{status="total"}[10m])) > %(milvus_error_ratio)s',
           'Milvus proxy errors in {{ $labels.namespace }}',
           'More than %(milvus_error_pct)s%% of the Milvus proxy requests in namespace {{ $labels.namespace }} '
           'failed over 10 minutes.',
           fire={'series': [('milvus_proxy_req_count{namespace="ai",node_id="1",function_name="Search",'
                             'status="total"}', '0+100x30'),
                            ('milvus_proxy_req_count{namespace="ai",node_id="1",function_name="Search",'
                             'status="success"}', '0+80x30'),
                            ('milvus_proxy_req_count{namespace="ai",node_id="1",function_name="Search",'
                             'status="fail"}', '0+20x30')],
                 'eval': '25m', 'labels': {'namespace': 'ai'}},
           quiet={'series': [('milvus_proxy_req_count{namespace="ai",node_id="1",function_name="Search",'
                              'status="total"}', '0+1000x30'),
                             ('milvus_proxy_req_count{namespace="ai",node_id="1",function_name="Search",'
                              'status="success"}', '0+999x30'),
                             ('milvus_proxy_req_count{namespace="ai",node_id="1",function_name="Search",'
                              'status="fail"}', '0+1x30')], 'eval': '25m'}),
    # ---------------------------------------------------------------- AI gateway (Spring Boot / Micrometer)
    _alert('GatewayHighErrorRatio', 'gateway', 'global', 'critical', '5m',
           'sum by (namespace, job) (rate(http_server_requests_seconds_count{job=~"%(gateway_job_regex)s",'
           'status=~"5.."}[5m])) / sum by (namespace, job) '
           '(rate(http_server_requests_seconds_count{job=~"%(gateway_job_regex)s"}[5m])) > %(gateway_5xx_ratio)s',
           'AI gateway {{ $labels.job }} answers 5xx',
           'More than %(gateway_5xx_pct)s%% of the requests to the AI gateway {{ $labels.namespace }}/{{ $labels.job }} '
           'answered 5xx for 5 minutes.',
           fire={'series': [('http_server_requests_seconds_count{namespace="ai",job="ai-gateway",uri="/v1/chat",'
                             'status="200",outcome="SUCCESS"}', '0+50x20'),
                            ('http_server_requests_seconds_count{namespace="ai",job="ai-gateway",uri="/v1/chat",'
                             'status="502",outcome="SERVER_ERROR"}', '0+50x20')],
                 'eval': '15m', 'labels': {'namespace': 'ai', 'job': 'ai-gateway'}},
           quiet={'series': [('http_server_requests_seconds_count{namespace="ai",job="ai-gateway",uri="/v1/chat",'
                              'status="200",outcome="SUCCESS"}', '0+500x20'),
                             ('http_server_requests_seconds_count{namespace="ai",job="ai-gateway",uri="/v1/chat",'
                              'status="404",outcome="CLIENT_ERROR"}', '0+500x20'),
                             ('http_server_requests_seconds_count{namespace="ai",job="ai-gateway",uri="/v1/chat",'
                              'status="500",outcome="SERVER_ERROR"}', '0+1x20')], 'eval': '15m'}),
    _alert('GatewayLatencyHigh', 'gateway', 'global', 'warning', '10m',
           'histogram_quantile(0.95, sum by (le, namespace, job) '
           '(rate(http_server_requests_seconds_bucket{job=~"%(gateway_job_regex)s"}[5m])))'
           ' > %(gateway_p95_seconds)s',
           'AI gateway {{ $labels.job }} is slow',
           'The 95th percentile latency of the AI gateway {{ $labels.namespace }}/{{ $labels.job }} has been '
           'above %(gateway_p95_seconds)s s for 10 minutes (needs the percentiles histogram of '
           'http.server.requests enabled in the gateway).',
           fire={'histogram': ('http_server_requests_seconds_bucket', 'gateway_p95_seconds', True),
                 'eval': '20m', 'labels': {'namespace': 'ai', 'job': 'ai-gateway'}},
           quiet={'histogram': ('http_server_requests_seconds_bucket', 'gateway_p95_seconds', False),
                  'eval': '20m'}),
    # ---------------------------------------------------------------- KEDA
    _alert('KEDAScalerErrors', 'keda', 'global', 'warning', '10m',
           'sum by (exported_namespace, scaledObject, scaler) (rate(keda_scaler_detail_errors_total[5m])) > 0',
           'KEDA scaler of {{ $labels.exported_namespace }}/{{ $labels.scaledObject }} fails',
           'The {{ $labels.scaler }} scaler of ScaledObject {{ $labels.exported_namespace }}/'
           '{{ $labels.scaledObject }} has been failing to read its metric for 10 minutes: the model does not '
           'autoscale (KEDA falls back to its fallback replicas, if any).',
           fire={'series': [('keda_scaler_detail_errors_total{namespace="keda",exported_namespace="ai",'
                             'scaledObject="vllm-qwen",scaler="prometheusScaler",type="scaledobject"}', '0+2x30')],
                 'eval': '20m', 'labels': {'exported_namespace': 'ai', 'scaledObject': 'vllm-qwen',
                                           'scaler': 'prometheusScaler'}},
           quiet={'series': [('keda_scaler_detail_errors_total{namespace="keda",exported_namespace="ai",'
                              'scaledObject="vllm-qwen",scaler="prometheusScaler",type="scaledobject"}', '3x30')],
                  'eval': '20m'}),
]

COMPONENTS = ('vllm', 'capacity', 'gpu', 'mig', 'milvus', 'gateway', 'keda')
ALERT_NAMES = tuple(a['name'] for a in CATALOGUE)


def _num(value, var):
    if isinstance(value, bool):
        raise AlertRulesError('%s: must be a number, not %r' % (var, value))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AlertRulesError('%s: must be a number, not %r' % (var, value))


def _fmt_num(value):
    """A threshold as PromQL writes it (no trailing .0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _check_thresholds(values, defaults, var):
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise AlertRulesError('%s: must be a dict of threshold -> value, not %r' % (var, values))
    out = {}
    for key, value in values.items():
        if key not in defaults:
            raise AlertRulesError('%s.%s: unknown threshold; known: %s' % (var, key, ', '.join(sorted(defaults))))
        if isinstance(defaults[key], str):
            if not isinstance(value, str):
                raise AlertRulesError('%s.%s: must be a string, not %r' % (var, key, value))
            if key.endswith('_regex'):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise AlertRulesError('%s.%s: not a valid regular expression: %s' % (var, key, exc))
            if '"' in value or '\\' in value:
                raise AlertRulesError('%s.%s: must not contain quotes or backslashes: %r' % (var, key, value))
            out[key] = value
            continue
        num = _num(value, '%s.%s' % (var, key))
        if num < 0:
            raise AlertRulesError('%s.%s: must be >= 0, not %r' % (var, key, value))
        if key in _POSITIVE and num <= 0:
            raise AlertRulesError('%s.%s: must be > 0, not %r' % (var, key, value))
        low, high = _NUMERIC_RANGES.get(key, (0.0, None))
        if high is not None and num >= high:
            raise AlertRulesError('%s.%s: is a ratio between %s and %s (exclusive), not %r' % (var, key, low, high, value))
        if key == 'mig_pending_minutes' and (num < 1 or not num.is_integer()):
            raise AlertRulesError('%s.%s: must be a whole number of minutes >= 1, not %r' % (var, key, value))
        out[key] = num
    return out


def normalize_models(models, var='cnai_models'):
    """The metric identity of each model: name, model_name label value (served name), task, HPA name."""
    if models is None:
        models = []
    if not isinstance(models, list):
        raise AlertRulesError('%s: must be a list of models, not %s' % (var, type(models).__name__))
    out = []
    seen = set()
    for index, model in enumerate(models):
        where = '%s[%d]' % (var, index)
        if not isinstance(model, dict):
            raise AlertRulesError('%s: must be a dict, not %r' % (where, model))
        name = model.get('name')
        if not isinstance(name, str) or not DNS_LABEL.match(name):
            raise AlertRulesError('%s.name: must be a DNS label (lower case, digits, -), not %r' % (where, name))
        where = '%s (%s)' % (where, name)
        if name in seen:
            raise AlertRulesError('%s.name: %r is listed twice' % (where, name))
        seen.add(name)
        served = model.get('served_name') or model.get('model')
        if not isinstance(served, str) or not served.strip():
            raise AlertRulesError(
                '%s: has no metrics identity: set served_name (vLLM labels its metrics model_name=<served '
                'name>) or model' % where)
        if '"' in served or '\\' in served or '\n' in served:
            raise AlertRulesError('%s.served_name: must not contain quotes, backslashes or newlines: %r'
                                  % (where, served))
        task = model.get('task', 'generate')
        if task not in TASKS:
            raise AlertRulesError('%s.task: must be one of %s, not %r (no vLLM metric set is known for it)'
                                  % (where, ', '.join(TASKS), task))
        out.append({'name': name, 'model_name': served, 'task': task})
    return out


def resolve(models=None, thresholds=None, model_thresholds=None, severities=None, disabled=None,
            components=None):
    """Validate every input; return (models, global thresholds, {model: thresholds}, severities, enabled)."""
    norm = normalize_models(models)
    names = [m['name'] for m in norm]
    glob = dict(GLOBAL_THRESHOLDS)
    model_defaults = dict(MODEL_THRESHOLDS)
    given = _check_thresholds(thresholds, dict(GLOBAL_THRESHOLDS, **MODEL_THRESHOLDS),
                              'observability_alert_thresholds')
    if 'scaled_object' in given:
        raise AlertRulesError('observability_alert_thresholds.scaled_object: is per model; set it in '
                              'observability_model_alert_thresholds.<model>')
    for key, value in given.items():
        (glob if key in GLOBAL_THRESHOLDS else model_defaults)[key] = value
    if model_thresholds is None:
        model_thresholds = {}
    if not isinstance(model_thresholds, dict):
        raise AlertRulesError('observability_model_alert_thresholds: must be a dict model -> thresholds')
    for model in model_thresholds:
        if model not in names:
            raise AlertRulesError('observability_model_alert_thresholds.%s: no such model in cnai_models (has: %s)'
                                  % (model, ', '.join(names) or 'none'))
    per_model = {}
    for m in norm:
        values = dict(model_defaults)
        values.update(_check_thresholds(model_thresholds.get(m['name']), MODEL_THRESHOLDS,
                                        'observability_model_alert_thresholds.%s' % m['name']))
        if not values['scaled_object']:
            values['scaled_object'] = m['name']
        if not DNS_LABEL.match(values['scaled_object']):
            raise AlertRulesError('observability_model_alert_thresholds.%s.scaled_object: must be a DNS label, '
                                  'not %r' % (m['name'], values['scaled_object']))
        per_model[m['name']] = values
    if severities is None:
        severities = {}
    if not isinstance(severities, dict):
        raise AlertRulesError('observability_alert_severities: must be a dict alert -> severity')
    sev = {}
    for alert, value in severities.items():
        if alert not in ALERT_NAMES:
            raise AlertRulesError('observability_alert_severities.%s: unknown alert; known: %s'
                                  % (alert, ', '.join(ALERT_NAMES)))
        if value not in SEVERITIES:
            raise AlertRulesError('observability_alert_severities.%s: unknown severity %r; use one of %s'
                                  % (alert, value, ', '.join(SEVERITIES)))
        sev[alert] = value
    for alert in disabled or []:
        if alert not in ALERT_NAMES:
            raise AlertRulesError('observability_alerts_disabled: unknown alert %r; known: %s'
                                  % (alert, ', '.join(ALERT_NAMES)))
    if components is None:
        components = list(COMPONENTS)
    for comp in components:
        if comp not in COMPONENTS:
            raise AlertRulesError('observability_alert_components: unknown component %r; known: %s'
                                  % (comp, ', '.join(COMPONENTS)))
    enabled = [a for a in CATALOGUE if a['name'] not in (disabled or []) and a['component'] in components]
    if not glob['vllm_job_regex']:
        # role vllm's PodMonitors are named after the models: Prometheus sets job=<namespace>/<name>
        names = '|'.join(m['name'] for m in norm)  # DNS labels: no regex metacharacters
        glob['vllm_job_regex'] = '.+/(%s)' % names if names else '.*vllm.*'
    glob['vllm_job_example'] = 'ai/%s' % (norm[0]['name'] if norm else 'vllm')
    return norm, glob, per_model, sev, enabled


def _params(glob, model=None, model_values=None):
    p = {}
    for key, value in glob.items():
        p[key] = _fmt_num(value) if not isinstance(value, str) else value
    p['gpu_temperature_celsius'] = _fmt_num(glob['gpu_temperature_celsius'])
    p['mig_pending_minutes'] = str(int(glob['mig_pending_minutes']))
    p['idle_pct'] = _fmt_num(round(glob['gpu_idle_ratio'] * 100, 6))
    p['milvus_error_pct'] = _fmt_num(round(glob['milvus_error_ratio'] * 100, 6))
    p['gateway_5xx_pct'] = _fmt_num(round(glob['gateway_5xx_ratio'] * 100, 6))
    if model is not None:
        for key, value in model_values.items():
            p[key] = _fmt_num(value) if not isinstance(value, str) else value
        p['model_name'] = model['model_name']
        p['model'] = model['name']
        # KEDA names the HPA keda-hpa-<ScaledObject>; role vllm names ScaledObjects <model> or
        # <model>-<product>-... when a model spans GPU products
        p['hpa'] = 'keda-hpa-%s' % model_values['scaled_object']
        p['hpa_regex'] = 'keda-hpa-%s(-.+)?' % model_values['scaled_object']
        p['kv_cache_pct'] = _fmt_num(round(model_values['kv_cache_usage'] * 100, 6))
        p['abort_pct'] = _fmt_num(round(model_values['abort_ratio'] * 100, 6))
    return p


def _runbook(base, name):
    return '%s#%s' % (base, name.lower())


def _rule(alert, params, severity, runbook_base, model=None):
    labels = {'severity': severity, 'component': alert['component']}
    if model is not None:
        labels['model'] = model['name']
    return {
        'alert': alert['name'],
        'expr': alert['expr'] % params,
        'for': alert['for_'] % params,
        'labels': labels,
        'annotations': {
            'summary': alert['summary'] % params,
            'description': alert['description'] % params,
            'runbook_url': _runbook(runbook_base, alert['name']),
        },
    }


def build_rules(models=None, thresholds=None, model_thresholds=None, severities=None, disabled=None,
                components=None, runbook_base='docs/runbooks.md', group_prefix='cnai'):
    """PrometheusRule ``spec.groups``: one group per component, per-model rules in model order."""
    norm, glob, per_model, sev, enabled = resolve(models, thresholds, model_thresholds, severities,
                                                  disabled, components)
    groups = []
    for comp in COMPONENTS:
        rules = []
        for alert in [a for a in enabled if a['component'] == comp]:
            severity = sev.get(alert['name'], alert['severity'])
            if alert['scope'] == 'global':
                rules.append(_rule(alert, _params(glob), severity, runbook_base))
                continue
            for m in norm:
                if m['task'] not in alert['tasks']:
                    continue
                rules.append(_rule(alert, _params(glob, m, per_model[m['name']]), severity, runbook_base, m))
        if rules:
            groups.append({'name': '%s.%s' % (group_prefix, comp), 'rules': rules})
    return groups


# ------------------------------------------------------------------------------ promtool unit tests
def _histogram_series(metric, threshold, fire, extra):
    """Bucket series whose p95/p99 lands clearly above (fire) or below (quiet) the threshold."""
    edges = sorted(set([threshold / 4.0, threshold / 2.0, threshold * 2.0, threshold * 4.0]))
    # fire: 90% of the observations above 2x threshold; quiet: all below threshold/2
    per_min = 60
    series = []
    for le in edges + ['+Inf']:
        if le == '+Inf':
            count = per_min
        elif fire:
            count = per_min // 10 if le < threshold else per_min
        else:
            count = per_min if le >= threshold / 2.0 else 0
        le_txt = le if le == '+Inf' else _fmt_num(le)
        series.append(('%s{%s,le="%s"}' % (metric, extra, le_txt), '0+%dx30' % count))
    return series


def _expand(text, labels):
    return _LABEL_REF.sub(lambda m: labels.get(m.group(1), ''), text)


def _test_case(alert, rule, params, case, fire, model=None, others=()):
    extra = 'namespace="ai",pod="p0"'
    if model is not None:
        extra += ',model_name="%s"' % params['model_name']
    if 'histogram' in case:
        metric, key = case['histogram'][:2]
        if metric.startswith('milvus'):
            extra = 'namespace="ai",node_id="1",query_type="search"'
        elif metric.startswith('http_server'):
            extra = 'namespace="ai",job="ai-gateway",uri="/v1/chat",status="200"'
        series = _histogram_series(metric, float(params[key]), fire, extra)
    else:
        series = [(s % params, v % params) for s, v in case['series']]
    if 'others' in case:
        series += [(case['others'][0] % other, case['others'][1]) for other in others]
    test = {
        'interval': '1m',
        'input_series': [{'series': s, 'values': v} for s, v in series],
        'alert_rule_test': [{'eval_time': case['eval'] % params, 'alertname': alert['name'], 'exp_alerts': []}],
    }
    if fire:
        labels = dict((k, v % params) for k, v in case['labels'].items())
        # templates see only the expression's labels, not the rule's static ones
        annotations = dict((k, _expand(v, labels)) for k, v in rule['annotations'].items())
        labels.update(rule['labels'])
        test['alert_rule_test'][0]['exp_alerts'] = [{'exp_labels': labels, 'exp_annotations': annotations}]
    return test


def _case_params(params, glob, model_values):
    p = dict(params)
    if model_values is not None:
        w = model_values['waiting_requests']
        p['waiting_high'] = _fmt_num(w + 5)
        p['waiting_low'] = _fmt_num(max(w - 5, 0) if w >= 5 else 0)
        p['preempt_step'] = _fmt_num(max(model_values['preemptions_per_second'] * 120, 1))
        p['kv_high'] = _fmt_num(round((model_values['kv_cache_usage'] + 1) / 2.0, 6))
        p['kv_low'] = _fmt_num(round(model_values['kv_cache_usage'] / 2.0, 6))
    t = glob['gpu_temperature_celsius']
    p['temp_high'] = _fmt_num(t + 5)
    p['temp_low'] = _fmt_num(t - 20 if t >= 20 else 0)
    minutes = int(glob['mig_pending_minutes'])
    p['pending_steps'] = str(minutes + 20)
    p['pending_eval'] = str(minutes + 10)
    p['pending_short'] = str(max(minutes // 2, 1))
    return p


def build_rule_tests(rule_files, models=None, thresholds=None, model_thresholds=None, severities=None,
                     disabled=None, components=None, runbook_base='docs/runbooks.md'):
    """A ``promtool test rules`` document: a firing and a quiet case for every generated rule."""
    norm, glob, per_model, sev, enabled = resolve(models, thresholds, model_thresholds, severities,
                                                  disabled, components)
    groups = build_rules(models, thresholds, model_thresholds, severities, disabled, components, runbook_base)
    by_key = {}
    for group in groups:
        for rule in group['rules']:
            by_key[(rule['alert'], rule['labels'].get('model'))] = rule
    tests = []
    for alert in enabled:
        targets = [(None, None)] if alert['scope'] == 'global' else [
            (m, per_model[m['name']]) for m in norm if m['task'] in alert['tasks']]
        for model, values in targets:
            params = _case_params(_params(glob, model, values), glob, values)
            rule = by_key[(alert['name'], model['name'] if model else None)]
            others = [m['model_name'] for m in norm if model is not None and m['name'] != model['name']]
            tests.append(_test_case(alert, rule, params, alert['fire'], True, model, others))
            tests.append(_test_case(alert, rule, params, alert['quiet'], False, model, others))
    return {'rule_files': list(rule_files), 'evaluation_interval': '1m', 'tests': tests}


def alert_index(groups):
    """[(alert, model or None, severity)] of a rule set: what the report and the runbook check list."""
    out = []
    for group in groups:
        for rule in group['rules']:
            out.append((rule['alert'], rule['labels'].get('model'), rule['labels']['severity']))
    return out


def catalogue_copy():
    return copy.deepcopy(CATALOGUE)
