# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metric names the exporters really expose, with their sources. The alert and dashboard tests check
every metric name they use against these lists, so a removed or misspelt name (the seed's
``vllm_num_requests_waiting``, ``vllm:gpu_cache_usage_perc``) fails a test instead of an alert silently
never firing."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

HISTO = ('_bucket', '_sum', '_count')


def _histograms(names):
    return set(n + s for n in names for s in HISTO)


# vLLM v0.2x engine metrics (research/stack-anchors.md section 4.2; vllm/v1/metrics/loggers.py). Counters
# are exposed with _total. Removed names (must NOT appear): see VLLM_REMOVED.
VLLM = set([
    'vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc',
    'vllm:cache_config_info', 'vllm:lora_requests_info',
    'vllm:prompt_tokens_total', 'vllm:generation_tokens_total', 'vllm:request_success_total',
    'vllm:num_preemptions_total', 'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total',
]) | _histograms([
    'vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds',
    'vllm:request_time_per_output_token_seconds', 'vllm:e2e_request_latency_seconds',
    'vllm:request_queue_time_seconds', 'vllm:request_inference_time_seconds',
    'vllm:request_prefill_time_seconds', 'vllm:request_decode_time_seconds',
    'vllm:request_prompt_tokens', 'vllm:request_generation_tokens', 'vllm:request_max_num_generation_tokens',
    'vllm:request_params_n', 'vllm:request_params_max_tokens', 'vllm:iteration_tokens_total',
    'vllm:request_num_preemptions',
])
VLLM_REMOVED = set([
    'vllm:gpu_cache_usage_perc', 'vllm:gpu_prefix_cache_queries', 'vllm:gpu_prefix_cache_hits',
    'vllm:gpu_prefix_cache_queries_total', 'vllm:gpu_prefix_cache_hits_total',
    'vllm:time_per_output_token_seconds_bucket', 'vllm:avg_generation_throughput_toks_per_s',
    'vllm:avg_prompt_throughput_toks_per_s', 'vllm:num_requests_swapped', 'vllm:cpu_cache_usage_perc',
    'vllm:num_preemptions',
])

# dcgm-exporter etc/default-counters.csv (NVIDIA/dcgm-exporter, commit 00d6d344; shipped by the GPU Operator)
# plus the DCP profiling fields research/stack-anchors.md section 4.4 lists as enabled on Volta and newer.
DCGM = set([
    'DCGM_FI_DEV_SM_CLOCK', 'DCGM_FI_DEV_MEM_CLOCK', 'DCGM_FI_DEV_MEMORY_TEMP', 'DCGM_FI_DEV_GPU_TEMP',
    'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_PCIE_TX_THROUGHPUT',
    'DCGM_FI_DEV_PCIE_RX_THROUGHPUT', 'DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'DCGM_FI_DEV_GPU_UTIL',
    'DCGM_FI_DEV_MEM_COPY_UTIL', 'DCGM_FI_DEV_ENC_UTIL', 'DCGM_FI_DEV_DEC_UTIL', 'DCGM_FI_DEV_XID_ERRORS',
    'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL',
    'DCGM_FI_DEV_VGPU_LICENSE_STATUS', 'DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS',
    'DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS', 'DCGM_FI_DEV_ROW_REMAP_FAILURE',
    'DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'DCGM_FI_PROF_DRAM_ACTIVE',
    'DCGM_FI_PROF_PCIE_TX_BYTES', 'DCGM_FI_PROF_PCIE_RX_BYTES',
])

# kube-state-metrics v2.20 (docs/metrics/workload/*.md, docs/metrics/cluster/node-metrics.md): the families
# used here. kube_node_labels carries label_<sanitized> only for labels in --metric-labels-allowlist.
KSM = set([
    'kube_node_labels', 'kube_node_status_allocatable', 'kube_node_status_capacity',
    'kube_pod_container_resource_requests', 'kube_horizontalpodautoscaler_status_current_replicas',
    'kube_horizontalpodautoscaler_status_desired_replicas', 'kube_horizontalpodautoscaler_spec_max_replicas',
    'kube_horizontalpodautoscaler_spec_min_replicas', 'kube_deployment_status_replicas_available',
])

# Prometheus itself: the synthetic per-target series.
PROMETHEUS = set(['up'])

# Milvus 2.6 proxy metrics (milvus-io/milvus pkg/metrics/proxy_metrics.go; research section 4.3/4.5).
MILVUS = set([
    'milvus_proxy_req_count', 'milvus_proxy_search_vectors_count', 'milvus_proxy_insert_vectors_count',
    'milvus_proxy_tt_lag_ms',
]) | _histograms(['milvus_proxy_sq_latency', 'milvus_proxy_req_latency', 'milvus_proxy_mutation_latency'])

# Micrometer's Prometheus registry on Spring Boot actuator (/actuator/prometheus): http.server.requests
# (timer; _bucket with percentiles-histogram enabled), JVM and process binders.
MICROMETER = _histograms(['http_server_requests_seconds']) | set([
    'http_server_requests_seconds_max', 'jvm_memory_used_bytes', 'jvm_memory_max_bytes',
    'jvm_memory_committed_bytes', 'jvm_gc_pause_seconds_count', 'jvm_gc_pause_seconds_sum',
    'jvm_gc_pause_seconds_max', 'jvm_threads_live_threads', 'process_cpu_usage', 'system_cpu_usage',
])

# KEDA 2.20 operator (pkg/metricscollector/prommetrics.go; keda.sh/docs/2.20/integrations/prometheus).
KEDA = set([
    'keda_scaler_detail_errors_total', 'keda_scaled_object_errors_total', 'keda_scaler_active',
    'keda_scaler_metrics_value', 'keda_scaler_metrics_latency_seconds', 'keda_build_info',
])

ALL = VLLM | DCGM | KSM | PROMETHEUS | MILVUS | MICROMETER | KEDA


def metric_names(expr):
    """Metric names of every selector in a parsed PromQL expression (promql_parser)."""
    import promql_parser  # pylint: disable=import-outside-toplevel
    names = []

    def walk(node):
        if node is None:
            return
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                for m in node.matchers.matchers:
                    if m.name == '__name__':
                        name = m.value
            names.append(name)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, (promql_parser.AggregateExpr, promql_parser.ParenExpr, promql_parser.UnaryExpr,
                               promql_parser.SubqueryExpr)):
            walk(node.expr)
    walk(promql_parser.parse(expr))
    return names
