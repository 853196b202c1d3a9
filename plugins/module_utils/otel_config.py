# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values for the upstream ``opentelemetry-collector`` chart: the platform's collector pipeline.

OTLP in (gRPC 4317, HTTP 4318) -> ``memory_limiter`` -> ``k8s_attributes`` (the chart's
``kubernetesAttributes`` preset adds it and its RBAC) -> ``batch`` ->

* traces: ``otlp`` (gRPC) to Tempo;
* logs: ``otlphttp`` to Loki's native OTLP endpoint (``<loki>/otlp``; the exporter appends ``/v1/logs``).
  The old ``loki`` exporter was removed from the collector in 2025;
* metrics: ``otlphttp`` to Prometheus's OTLP receiver (``<prometheus>/api/v1/otlp``; Prometheus needs
  ``--web.enable-otlp-receiver``, which the role sets through kube-prometheus-stack's
  ``prometheus.prometheusSpec.enableOTLPReceiver``).

``otlp``/``otlphttp`` are the names the chart's collector (0.158) and the validation binary (0.165,
``tools/otelcol``) both accept (0.165 calls them ``otlp_grpc``/``otlp_http`` and keeps these as
aliases). The chart's default receivers (jaeger, zipkin, prometheus) and the ``debug`` exporter are set
to null so the running configuration uses exactly the components ``tools/otelcol/manifest.yaml`` builds.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_URL = re.compile(r'^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._/-]*)?$')
_HOSTPORT = re.compile(r'^[A-Za-z0-9.-]+:[0-9]+$')


class OtelConfigError(Exception):
    """Bad input; the message names the variable to fix."""


def _check(value, pattern, var, what):
    if not isinstance(value, str) or not pattern.match(value):
        raise OtelConfigError('%s: must be %s, not %r' % (var, what, value))
    return value


def chart_values(tempo_endpoint, loki_endpoint, prometheus_endpoint, image_repository, image_tag,
                 memory_limit_mib=400, replicas=1, mode='deployment'):
    """The chart values (``mode``, ``image``, ``presets``, ``config``)."""
    _check(tempo_endpoint, _HOSTPORT, 'observability_otel_tempo_endpoint', 'host:port of Tempo\'s OTLP gRPC port')
    _check(loki_endpoint, _URL, 'observability_otel_loki_endpoint', 'an http(s) URL of Loki (without /otlp)')
    _check(prometheus_endpoint, _URL, 'observability_otel_prometheus_endpoint', 'an http(s) URL of Prometheus')
    if mode not in ('deployment', 'daemonset', 'statefulset'):
        raise OtelConfigError('observability_otel_mode: must be deployment, daemonset or statefulset, not %r'
                              % (mode,))
    try:
        memory_limit_mib = int(memory_limit_mib)
    except (TypeError, ValueError):
        raise OtelConfigError('observability_otel_memory_limit_mib: must be an integer')
    if memory_limit_mib < 64:
        raise OtelConfigError('observability_otel_memory_limit_mib: must be >= 64, not %d' % memory_limit_mib)
    processors = ['memory_limiter', 'k8s_attributes', 'batch']
    config = {
        'receivers': {
            'otlp': {'protocols': {'grpc': {'endpoint': '${env:MY_POD_IP}:4317'},
                                   'http': {'endpoint': '${env:MY_POD_IP}:4318'}}},
            'jaeger': None, 'zipkin': None, 'prometheus': None,
        },
        'processors': {
            # limit_mib: hard limit; spike_limit_mib: headroom (the soft limit is their difference)
            # absolute limits; the chart's percentage defaults are removed so only one kind is set
            'memory_limiter': {'check_interval': '1s', 'limit_mib': memory_limit_mib,
                               'spike_limit_mib': max(memory_limit_mib // 5, 16),
                               'limit_percentage': None, 'spike_limit_percentage': None},
            'batch': {'send_batch_size': 8192, 'timeout': '5s'},
        },
        'exporters': {
            'debug': None,
            'otlp/tempo': {'endpoint': tempo_endpoint, 'tls': {'insecure': True}},
            'otlphttp/loki': {'endpoint': loki_endpoint.rstrip('/') + '/otlp'},
            'otlphttp/prometheus': {'metrics_endpoint': prometheus_endpoint.rstrip('/') + '/api/v1/otlp/v1/metrics'},
        },
        'extensions': {'health_check': {'endpoint': '${env:MY_POD_IP}:13133'}},
        'service': {
            'extensions': ['health_check'],
            'pipelines': {
                'traces': {'receivers': ['otlp'], 'processors': processors, 'exporters': ['otlp/tempo']},
                'logs': {'receivers': ['otlp'], 'processors': processors, 'exporters': ['otlphttp/loki']},
                'metrics': {'receivers': ['otlp'], 'processors': processors, 'exporters': ['otlphttp/prometheus']},
            },
        },
    }
    return {
        'mode': mode,
        'replicaCount': int(replicas),
        'image': {'repository': image_repository, 'tag': str(image_tag)},
        'presets': {'kubernetesAttributes': {'enabled': True}},
        'resources': {'limits': {'memory': '%dMi' % (memory_limit_mib + memory_limit_mib // 4)}},
        'ports': {'jaeger-compact': {'enabled': False}, 'jaeger-thrift': {'enabled': False},
                  'jaeger-grpc': {'enabled': False}, 'zipkin': {'enabled': False}},
        'config': config,
    }
