# -*- coding: utf-8 -*-
"""The alerts' runbook links lead somewhere real: the default base is docs/runbooks.md in the repository that
galaxy.yml names, and the role's argument spec documents the same default."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def _load(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return yaml.safe_load(f)


def test_default_runbook_base_is_the_repositorys_runbooks():
    repository = _load('galaxy.yml')['repository'].rstrip('/')
    base = _load('roles', 'observability', 'defaults', 'main.yml')['observability_runbook_base_url']
    assert base == repository + '/blob/main/docs/runbooks.md'
    spec = _load('roles', 'observability', 'meta', 'argument_specs.yml')
    assert spec['argument_specs']['main']['options']['observability_runbook_base_url']['default'] == base
    assert os.path.exists(os.path.join(ROOT, 'docs', 'runbooks.md'))
