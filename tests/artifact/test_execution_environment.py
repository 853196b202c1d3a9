# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Execution Environment: `ansible-builder create` of examples/execution-environment/ with the built tarball
gives a complete build context (the image build itself needs a registry for the base image: not here)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess

import yaml

from artifact_lib import BIN, ROOT


def test_collection_declares_its_ee_dependencies(artifact):
    meta = yaml.safe_load(open(os.path.join(artifact.installed, 'meta', 'execution-environment.yml')))
    assert meta['dependencies'] == {'python': 'meta/ee-requirements.txt', 'system': 'meta/bindep.txt'}
    reqs = [ln.split('#')[0].strip() for ln in open(os.path.join(artifact.installed, 'meta', 'ee-requirements.txt'))]
    reqs = [r for r in reqs if r]
    assert {r.split('>')[0].split('<')[0].split('=')[0] for r in reqs} >= {'kubernetes', 'PyYAML', 'highspy',
                                                                        'tomlkit'}
    for r in reqs:
        assert '==' not in r and '>=' in r, 'a range, not a pin: %s' % r
    bindep = [ln.split()[0] for ln in open(os.path.join(artifact.installed, 'meta', 'bindep.txt'))
              if ln.strip() and not ln.startswith('#')]
    assert 'git' in bindep


def test_ansible_builder_create_makes_the_build_context(artifact, tmp_path):
    build = tmp_path / 'ee'
    shutil.copytree(os.path.join(ROOT, 'examples', 'execution-environment'), str(build))
    shutil.copy(artifact.tarball, str(build / 'cnai-platform.tar.gz'))
    (build / 'bin').mkdir()
    for name in ('helm', 'kustomize'):
        (build / 'bin' / name).write_text('#!/bin/sh\necho %s stand-in for the build context\n' % name)
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', 'execution-environment.yml',
                           '-c', 'context', '--output-filename', 'Containerfile'],
                          cwd=str(build), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    ctx = build / 'context'
    containerfile = (ctx / 'Containerfile').read_text()
    assert 'COPY _build/cnai/cnai-platform.tar.gz /tmp/cnai/cnai-platform.tar.gz' in containerfile
    assert 'COPY _build/cnai/bin/helm /usr/local/bin/helm' in containerfile
    assert 'COPY _build/cnai/bin/kustomize /usr/local/bin/kustomize' in containerfile
    assert 'ARG EE_BASE_IMAGE="quay.io/ansible/awx-ee:latest"' in containerfile
    assert (ctx / '_build' / 'cnai' / 'cnai-platform.tar.gz').is_file()
    assert (ctx / '_build' / 'cnai' / 'bin' / 'helm').is_file()
    galaxy = yaml.safe_load((ctx / '_build' / 'requirements.yml').read_text())
    names = [c['name'] for c in galaxy['collections']]
    assert names == ['/tmp/cnai/cnai-platform.tar.gz', 'kubernetes.core', 'community.general']
    # the tarball in the context is the one built, unchanged
    assert open(artifact.tarball, 'rb').read() == (ctx / '_build' / 'cnai' / 'cnai-platform.tar.gz').read_bytes()
