# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets that are generated once and then kept (issue 9: "generated once when absent").

Shared by every role that needs credentials in a Kubernetes Secret (elasticsearch, milvus, ai_gateway):
the role reads the Secret (``kubernetes.core.k8s_info``, ``no_log``), asks ``secret_data`` which value each
key gets, and applies the result (``kubernetes.core.k8s``, ``no_log``). ``roles/k8s_secret`` does exactly
that. Per key, in this order:

1. a value given by the caller (e.g. from Ansible Vault) wins: that is how a password is rotated;
2. else the value the Secret already holds is kept, byte for byte (so a second run changes nothing);
3. else a random value is generated (``generate: <length>``) from ``secrets.SystemRandom``;
4. else the key has no value: an error naming the key and what to set.

Pure (no Ansible, no cluster). Values are returned base64-encoded, as the ``data`` of a Secret, so the
apply compares like with like (``stringData`` is write-only and would not round-trip).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import secrets as _random

# letters and digits only: the value goes into URLs, shell variables and YAML without quoting trouble
ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
MIN_LENGTH = 16
MAX_LENGTH = 256
_KEY = re.compile(r'^[-._a-zA-Z0-9]+$')


class SecretSpecError(Exception):
    """Bad key specification; the message names the key and what to fix."""


def generate(length=32, alphabet=ALPHABET, rng=None):
    """A random string of ``length`` characters of ``alphabet`` (``secrets.SystemRandom`` by default)."""
    rng = rng or _random.SystemRandom()
    return ''.join(rng.choice(alphabet) for dummy in range(length))


def _b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def _existing_data(existing):
    """The ``data`` of the Secret as read: a Secret mapping, a k8s_info ``resources`` list, or nothing."""
    if isinstance(existing, list):
        existing = existing[0] if existing else None
    if not existing:
        return {}
    if not isinstance(existing, dict):
        raise SecretSpecError('the existing Secret must be a mapping (a k8s_info resource) or a list of them')
    return dict(existing.get('data') or {})


def _spec_entry(key, entry):
    if not isinstance(key, str) or not _KEY.match(key):
        raise SecretSpecError('Secret key %r: keys are made of letters, digits, "-", "_" and "."' % (key,))
    if entry is None or isinstance(entry, str):
        return {'value': entry or '', 'generate': 0}
    if not isinstance(entry, dict) or set(entry) - {'value', 'generate'}:
        raise SecretSpecError('Secret key %s: give a string (a fixed value) or {value: <string, may be empty>, '
                              'generate: <length>}, got %r' % (key, entry if not isinstance(entry, dict)
                                                               else sorted(entry)))
    value = entry.get('value')
    if value is None:
        value = ''
    if not isinstance(value, str):
        raise SecretSpecError('Secret key %s: value must be a string (quote it)' % key)
    gen = entry.get('generate') or 0
    if isinstance(gen, bool) or not isinstance(gen, int):
        try:
            gen = int(gen)
        except (TypeError, ValueError):
            raise SecretSpecError('Secret key %s: generate must be a length (an integer), got %r' % (key, gen))
    if gen and not MIN_LENGTH <= gen <= MAX_LENGTH:
        raise SecretSpecError('Secret key %s: generate must be between %d and %d characters, got %d'
                              % (key, MIN_LENGTH, MAX_LENGTH, gen))
    return {'value': value, 'generate': gen}


def secret_data(existing, spec, rng=None):
    """Decide every key's value.

    ``existing``: the Secret as read (or a k8s_info ``resources`` list; empty: absent).
    ``spec``: ``{key: "<fixed value>" | {value: "<given, may be empty>", generate: <length>}}``.

    Returns ``{data: {key: base64}, given: [...], kept: [...], generated: [...]}`` (key names only in the
    three lists, never values). Keys of the existing Secret that ``spec`` does not name are not returned.
    """
    if not isinstance(spec, dict) or not spec:
        raise SecretSpecError('the Secret needs at least one key: {key: value | {value, generate}}')
    have = _existing_data(existing)
    out = {'data': {}, 'given': [], 'kept': [], 'generated': []}
    for key in sorted(spec):
        entry = _spec_entry(key, spec[key])
        if entry['value']:
            out['data'][key] = _b64(entry['value'])
            out['given'].append(key)
        elif have.get(key):
            out['data'][key] = have[key]
            out['kept'].append(key)
        elif entry['generate']:
            out['data'][key] = _b64(generate(entry['generate'], rng=rng))
            out['generated'].append(key)
        else:
            raise SecretSpecError('Secret key %s has no value: the Secret does not hold it, none was given and '
                                  'generate is not set. Give the value (e.g. from Ansible Vault) or set '
                                  'generate: <length>' % key)
    return out


def secret_manifest(name, namespace, data, secret_type='Opaque', labels=None):
    """The Secret object to apply (``data`` base64, as ``secret_data`` returns it)."""
    meta = {'name': name, 'namespace': namespace}
    if labels:
        meta['labels'] = dict(labels)
    return {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': meta, 'type': secret_type, 'data': dict(data)}
