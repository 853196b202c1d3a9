# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the collection finds its executables and writes its outputs (pure, unit-tested).

- ``resolve_binary``: a bare name (``helm``) is looked up on ``PATH``, a path (``/opt/helm/helm``,
  ``~/bin/helm``, ``./bin/helm``) is taken as it is; either way the result is an absolute path to an
  executable file, or ``BinaryError`` naming the variable to set. Every role and module that calls helm or
  kustomize resolves through here (filter ``cnai.platform.binary_path``, ``kustomize_render``,
  ``cluster_preflight``).
- ``output_dir``: the directory the playbooks write to (``cnai_output_dir``): given, or ``cnai-output`` in
  the current directory (the project ``ansible-playbook`` runs from), never inside the installed collection.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

DEFAULT_OUTPUT_DIR = 'cnai-output'


class BinaryError(Exception):
    """An executable the collection needs cannot be found or run; the message names the variable to set."""


def resolve_binary(binary, variable, default_name=None, path=None, hint=None):
    """Absolute path of an executable.

    ``binary``: a bare name (looked up on ``path``, default ``$PATH``) or a path (``~`` expanded; a relative
    path is relative to the current directory). Empty: ``default_name`` on ``PATH``.
    ``variable``: the inventory variable(s) to name in the error, e.g. ``cnai_helm_binary``.
    """
    name = (binary or '').strip() if binary is not None else ''
    if not name:
        name = default_name or ''
    if not name:
        raise BinaryError('%s is empty: set it to an executable name on PATH or an absolute path' % variable)
    if os.sep in name or name.startswith('~'):
        candidate = os.path.abspath(os.path.expanduser(name))
        where = 'the path'
    else:
        candidate = shutil.which(name, path=path)
        where = 'PATH (%s)' % (path if path is not None else os.environ.get('PATH', ''))
    if not candidate or not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
        raise BinaryError(
            '%s: %r is not an executable file (looked it up on %s). Set %s to the executable\'s absolute '
            'path, or to a name found on PATH%s'
            % (variable, name, where, variable, ('; ' + hint) if hint else ''))
    return candidate


def output_dir(value=None, sub=None, cwd=None):
    """Absolute output directory: ``value`` (``cnai_output_dir``; ``~`` expanded, relative to ``cwd``) or
    ``<cwd>/cnai-output``; ``sub`` (e.g. ``plan``, ``render``) joined when given."""
    base = (value or '').strip() if isinstance(value, str) else (str(value) if value else '')
    base = os.path.expanduser(base or DEFAULT_OUTPUT_DIR)
    if not os.path.isabs(base):
        base = os.path.join(cwd or os.getcwd(), base)
    base = os.path.normpath(base)
    return os.path.join(base, sub) if sub else base
