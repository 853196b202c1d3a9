# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of tests/artifact (imported by conftest.py and the tests under a unique module name, so that
they do not depend on which conftest.py is imported first).

The collection as users get it: the built tarball, installed into its own collections path, made
read-only, used by FQCN from a separate project directory (no ansible.cfg, no checkout on any path).

``artifact`` (session): builds the tarball (ansible-galaxy collection build), installs it with
``ansible-galaxy collection install --no-deps`` (kubernetes.core and community.general come from the
``ansible`` package, as in requirements.txt), records a checksum of every installed file, and chmods the tree
a-w. The tests run as root here, which writes through a-w: the checksum (and ``ansible-galaxy collection
verify --offline``) is what proves nothing was written into the collection.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import hashlib
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)


def tree_digest(path):
    """sha256 of every file (path, mode, content) under ``path``, plus the list of files."""
    h = hashlib.sha256()
    files = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames) + sorted(dirnames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, path)
            files.append(rel)
            h.update(rel.encode())
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, 'rb') as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest(), sorted(files)


def kustomize_dir():
    """The directory of a kustomize binary: KUSTOMIZE_BINARY, the testbed's build, or PATH."""
    cand = os.environ.get('KUSTOMIZE_BINARY') or ''
    if not cand:
        found = sorted(glob.glob(os.path.join(ROOT, '.cache', 'testbed', 'bin', 'kustomize-*', 'kustomize')))
        cand = found[-1] if found else ''
    if not cand:
        import shutil
        cand = shutil.which('kustomize') or ''
    return os.path.dirname(cand) if cand else ''


class Artifact(object):
    def __init__(self, base):
        self.base = base
        self.tarball = None
        self.collections = os.path.join(base, 'collections')
        self.installed = os.path.join(self.collections, 'ansible_collections', 'cnai', 'platform')
        self.digest = None

    def env(self, extra_path=''):
        """A user's environment: the venv's tools, no checkout settings, the installed collection only."""
        env = dict((k, v) for k, v in os.environ.items()
                   if not k.startswith(('ANSIBLE_', 'K8S_AUTH_', 'CNAI_', 'MOLECULE_')) and
                   k not in ('PYTHONPATH', 'KUBECONFIG', 'TESTBED_DIR'))
        env['PATH'] = os.pathsep.join(p for p in (BIN, extra_path, '/usr/local/bin', '/usr/bin', '/bin') if p)
        env['ANSIBLE_COLLECTIONS_PATH'] = self.collections
        env['ANSIBLE_NOCOLOR'] = '1'
        env['ANSIBLE_FORCE_COLOR'] = '0'
        env['ANSIBLE_RETRY_FILES_ENABLED'] = '0'
        # The tests run as root, which writes through the read-only bits: Python would leave bytecode caches
        # (plugins/filter/__pycache__, as for any collection's filter plugins) that a read-only install (an EE
        # image, a non-root user) goes without. Without this the check below would see them as modifications.
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        return env

    def run(self, args, cwd, extra_path='', check=True, timeout=300):
        proc = subprocess.run(args, cwd=cwd, env=self.env(extra_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError('%s failed (rc %s):\n%s' % (' '.join(args), proc.returncode, proc.stdout[-6000:]))
        return proc
