# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of tests/artifact: ``artifact`` (session; see artifact_lib.py) and ``project`` (a user's project
directory)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import subprocess

import pytest

from artifact_lib import BIN, ROOT, Artifact, tree_digest


@pytest.fixture(scope='session')
def artifact(tmp_path_factory):
    base = str(tmp_path_factory.mktemp('artifact'))
    art = Artifact(base)
    out = os.path.join(base, 'dist')
    art.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', out, ROOT], cwd=base)
    (art.tarball,) = glob.glob(os.path.join(out, 'cnai-platform-*.tar.gz'))
    art.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--no-deps', '--offline',
             '-p', art.collections, art.tarball], cwd=base)
    assert os.path.isfile(os.path.join(art.installed, 'MANIFEST.json'))
    art.digest = tree_digest(art.installed)
    subprocess.check_call(['chmod', '-R', 'a-w', art.installed])
    yield art
    subprocess.call(['chmod', '-R', 'u+w', base])


@pytest.fixture()
def project(tmp_path):
    """A user's project directory: an inventory, nothing else."""
    return tmp_path
