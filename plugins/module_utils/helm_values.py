# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose Helm values the way every chart-installing role of cnai.platform does (design §4, house rule 4).

``compose(owned, layers)``: the layers (site, node group, ...) are merged in order, each over the previous
one (mappings merge key by key, anything else is replaced), and the values the role **owns** go on top:
owned keys always win. A layer that sets an owned key to another value is a conflict, reported before
anything is installed so that the user sets the role's knob instead of a value that would be ignored.

``drift(owned, actual)``: the owned paths whose value in ``actual`` (a release's values) differs.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json


class ValuesError(Exception):
    """Malformed input (a layer that is not a mapping)."""


def merge(base, over):
    """Recursive merge: mappings merge key by key, everything else (lists included) is replaced by ``over``."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return copy.deepcopy(over)
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if k in out else copy.deepcopy(v)
    return out


def _show(value):
    return json.dumps(value, sort_keys=True)


def _conflicts(owned, layer, path):
    out = []
    for k in sorted(owned, key=str):
        if not isinstance(layer, dict) or k not in layer:
            continue
        p = '%s.%s' % (path, k) if path else str(k)
        if isinstance(owned[k], dict) and isinstance(layer[k], dict):
            out.extend(_conflicts(owned[k], layer[k], p))
        elif owned[k] != layer[k]:
            out.append((p, layer[k], owned[k]))
    return out


def compose(owned, layers=None):
    """``{'values': composed, 'conflicts': [message, ...]}``.

    ``layers``: list of ``{'name': <variable name>, 'values': <mapping>}`` (or bare mappings, named
    ``layers[i]``), merged in order under ``owned``."""
    if not isinstance(owned, dict):
        raise ValuesError('owned values must be a mapping, got %s' % type(owned).__name__)
    merged, conflicts = {}, []
    for i, layer in enumerate(layers or []):
        if isinstance(layer, dict) and set(layer) == {'name', 'values'}:
            name, values = layer['name'], layer['values']
        else:
            name, values = 'layers[%d]' % i, layer
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ValuesError('%s must be a mapping of Helm values, got %s' % (name, type(values).__name__))
        merged = merge(merged, values)
        for path, got, want in _conflicts(owned, values, ''):
            conflicts.append('%s sets %s = %s, but that value is owned by the role (%s)'
                             % (name, path, _show(got), _show(want)))
    return {'values': merge(merged, owned), 'conflicts': conflicts}


def drift(owned, actual, path=''):
    """Paths (``a.b.c: want X, got Y``) where ``actual`` does not carry the owned value."""
    out = []
    for k in sorted(owned, key=str):
        p = '%s.%s' % (path, k) if path else str(k)
        has = isinstance(actual, dict) and k in actual
        if isinstance(owned[k], dict) and has and isinstance(actual[k], dict):
            out.extend(drift(owned[k], actual[k], p))
        elif not has or actual[k] != owned[k]:
            out.append('%s: want %s, got %s' % (p, _show(owned[k]), _show(actual[k]) if has else 'nothing'))
    return out
