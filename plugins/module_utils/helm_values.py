# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm values a role owns, checked against the layers a site merges over them (pure Python).

A role composes ``owned | combine(layer1, layer2, recursive=True)``. A layer that sets an owned key to
another value would silently change what the role promises (and, before this check, reached the cluster
first). :func:`owned_conflicts` names every such key, the layer that sets it and the knob to use instead,
so that preflight can fail before ``helm upgrade``.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json


def _leaves(value, path=()):
    """(path, value) for every leaf of a nested dict; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        for k in value:
            yield from _leaves(value[k], path + (str(k),))
    else:
        yield path, value


def _get(layer, path):
    """(found, value, path found) for ``path`` in ``layer``; a non-dict on the way is found as that value."""
    node = layer
    for i, key in enumerate(path):
        if not isinstance(node, dict):
            return True, node, path[:i]
        if key not in node:
            return False, None, path[:i]
        node = node[key]
    return True, node, path


def _show(value):
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def owned_conflicts(owned, layers, knobs=None):
    """Messages for every owned key a layer sets to a different value; [] when none.

    ``layers``: ``{layer variable name: dict}`` (or a list of ``[name, dict]`` pairs, in merge order).
    ``knobs``: ``{dotted owned path: knob variable name}``; a path without a knob (or a prefix with one)
    is reported as fixed by the role.
    """
    knobs = knobs or {}
    pairs = list(layers.items()) if isinstance(layers, dict) else [tuple(p) for p in layers]
    out = []
    for name, layer in pairs:
        if layer in (None, ''):
            continue
        if not isinstance(layer, dict):
            out.append('%s must be a dict of Helm values, not %s' % (name, _show(layer)))
            continue
        reported = set()
        for path, value in _leaves(owned):
            found, got, where = _get(layer, path)
            if not found or got == value or where in reported:
                continue
            reported.add(where)
            dotted = '.'.join(path)
            knob = next((knobs['.'.join(path[:i])] for i in range(len(path), 0, -1) if '.'.join(path[:i]) in knobs),
                        None)
            if where != path:
                said = '%s sets %s to %s, which replaces the owned key %s' % (name, '.'.join(where), _show(got), dotted)
            else:
                said = '%s sets %s to %s' % (name, dotted, _show(got))
            fix = ('set %s instead' % knob) if knob else 'the role fixes it'
            out.append('%s; the role owns %s (%s): %s, and remove it from %s'
                       % (said, dotted, _show(value), fix, name))
    return out
