# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the elasticsearch role. The logic lives in ``plugins/module_utils/elasticsearch.py`` (pure,
unit-tested); these wrappers only turn its errors into filter errors."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import elasticsearch as es


def elasticsearch_manifests(options, base_environment='production'):
    """``render()``: ``{resources, overlays, namespaces, nodes}`` for cnai.platform.kustomize_render."""
    try:
        return es.render(options, base_environment)
    except es.ElasticsearchError as exc:
        raise AnsibleFilterError('elasticsearch: %s' % exc)


def elasticsearch_index_template(options):
    """Body of ``PUT _index_template/<name>`` (text + dense_vector)."""
    try:
        return es.index_template(options)
    except es.ElasticsearchError as exc:
        raise AnsibleFilterError('elasticsearch: %s' % exc)


def elasticsearch_template_differences(desired, get_response, name):
    """What differs between the desired template and the one ``GET _index_template/<name>`` returned."""
    return es.template_differences(desired, es.current_template(get_response, name))


def elasticsearch_endpoint(name, namespace, user, secret_name, secret_key='password', extra=None):
    """The ``elasticsearch_endpoint`` fact other roles read (CONTRACTS)."""
    return es.endpoint(name, namespace, user, secret_name, secret_key, extra=extra)


def elasticsearch_roles(role, index_patterns, index_privileges, cluster_privileges=None):
    """``{role: {cluster, indices}}`` for the roles.yml of ECK's ``spec.auth.roles`` Secret."""
    try:
        return es.roles_yaml_data(role, index_patterns, index_privileges, cluster_privileges)
    except es.ElasticsearchError as exc:
        raise AnsibleFilterError('elasticsearch: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'elasticsearch_manifests': elasticsearch_manifests,
            'elasticsearch_index_template': elasticsearch_index_template,
            'elasticsearch_template_differences': elasticsearch_template_differences,
            'elasticsearch_endpoint': elasticsearch_endpoint,
            'elasticsearch_roles': elasticsearch_roles,
        }
