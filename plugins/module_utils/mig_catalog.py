# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG catalog: which GPU-instance profiles a GPU model has, and where they can be placed.

Pure Python, no Ansible import, so the planner, the modules, the testbed's GPU Operator simulator and
the unit tests all share one source of truth.

Rules this module enforces (see the project's research notes, "tricky rules"):
- GPUs are matched by PCI device id (``0x233510DE``), then by the exact ``nvidia-smi`` name; never by
  substring ("NVIDIA H100" must not match "NVIDIA H100 NVL").
- Placement is exact: an instance occupies ``[start, start + size)`` on the GPU's placement grid, and a
  multiset of profiles fits a GPU only if every instance gets a start from its profile's list with no
  overlap. Sums of slices are not enough (``3g + 3g + 1g`` sums to 7 compute slices and does not fit).
- When a node reports its own profiles and placements (``nvidia-smi mig -lgipp``), those win over the
  table (:func:`model_from_facts`).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.cnai.platform.plugins.module_utils.mig_catalog_data import MODELS

LABEL_VALUE_RE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
PCI_ID_RE = re.compile(r'^(0[xX])?([0-9a-fA-F]{4})([0-9a-fA-F]{4})?$')
NVIDIA_VENDOR = '10DE'


class CatalogError(ValueError):
    """Raised for an unknown GPU, an unknown profile or malformed facts; the message says what to fix."""


class Profile(object):
    """One GPU-instance profile of one GPU model."""

    __slots__ = ('name', 'compute', 'memory_slices', 'size', 'placements', 'max_count', 'memory_gib',
                 'memory_gib_estimated', 'gi_profile_id', 'attributes', 'unconfirmed')

    def __init__(self, name, compute, memory_slices, size, placements, max_count, memory_gib,
                 memory_gib_estimated=False, gi_profile_id=None, attributes=(), unconfirmed=()):
        self.name = name
        self.compute = int(compute)
        self.memory_slices = int(memory_slices)
        self.size = int(size)
        self.placements = tuple(sorted(int(p) for p in placements))
        self.max_count = int(max_count)
        self.memory_gib = float(memory_gib)
        self.memory_gib_estimated = bool(memory_gib_estimated)
        self.gi_profile_id = gi_profile_id
        self.attributes = tuple(attributes)
        self.unconfirmed = tuple(unconfirmed)

    @property
    def is_base(self):
        """True for plain profiles (no +me, +gfx, -me ... variants)."""
        return not self.attributes

    def as_dict(self):
        return dict((k, list(getattr(self, k)) if isinstance(getattr(self, k), tuple) else getattr(self, k))
                    for k in self.__slots__)

    def __repr__(self):
        return 'Profile(%s)' % self.name


class GpuModel(object):
    """A GPU model: its names, PCI ids, placement grid and profiles."""

    def __init__(self, key, names, pci_ids, compute_slices, memory_slices, placement_units, profiles,
                 memory_total_mib=None, unconfirmed=(), source='catalog'):
        self.key = key
        self.names = tuple(names)
        self.pci_ids = tuple(pci_ids)
        self.compute_slices = compute_slices
        self.memory_slices = memory_slices
        self.placement_units = int(placement_units)
        self.profiles = profiles          # name -> Profile, in table order
        self.memory_total_mib = memory_total_mib
        self.unconfirmed = tuple(unconfirmed)
        self.source = source
        self._fit_cache = {}

    @property
    def label(self):
        """A short lower-case name usable inside label values, e.g. ``h200-141gb``."""
        return sanitize_label(self.key.lower())

    def profile(self, name):
        try:
            return self.profiles[name]
        except KeyError:
            raise CatalogError('GPU %s has no MIG profile %r; it has: %s'
                               % (self.key, name, ', '.join(self.profiles)))

    def unconfirmed_notes(self):
        """Everything about this model that NVIDIA has not confirmed, as readable strings."""
        notes = ['%s: %s' % (self.key, u) for u in self.unconfirmed]
        for p in self.profiles.values():
            if p.unconfirmed:
                notes.append('%s %s: %s unconfirmed' % (self.key, p.name, ', '.join(p.unconfirmed)))
            elif p.memory_gib_estimated:
                notes.append('%s %s: usable GiB estimated' % (self.key, p.name))
        return notes

    def __repr__(self):
        return 'GpuModel(%s, source=%s)' % (self.key, self.source)


def normalize_pci_id(value):
    """``0x2335`` / ``233510de`` / ``0x233510DE`` -> ``0x233510DE``; None when it is not a PCI id."""
    if value is None:
        return None
    m = PCI_ID_RE.match(str(value).strip())
    if not m:
        return None
    return '0x' + m.group(2).upper() + (m.group(3) or NVIDIA_VENDOR).upper()


def _build(key, data):
    profiles = {}
    for pname, p in data['profiles'].items():
        profiles[pname] = Profile(pname, p['compute'], p['memory_slices'], p['size'], p['placements'],
                                  p['max_count'], p['memory_gib'], p['memory_gib_estimated'],
                                  p['gi_profile_id'], p['attributes'], p['unconfirmed'])
    return GpuModel(key, data['names'], data['pci_ids'], data['compute_slices'], data['memory_slices'],
                    data['placement_units'], profiles, data['memory_total_mib'], data['unconfirmed'])


_MODELS = dict((k, _build(k, v)) for k, v in MODELS.items())
_BY_PCI = {}
_BY_NAME = {}
for _m in _MODELS.values():
    for _p in _m.pci_ids:
        _BY_PCI[_p] = _m
    for _n in _m.names:
        _BY_NAME[_n] = _m


def models():
    """All catalog models, by key."""
    return dict(_MODELS)


def sanitize_product(name):
    """The value GPU Feature Discovery puts in ``nvidia.com/gpu.product`` (spaces become '-')."""
    return re.sub(r'[^A-Za-z0-9_.-]', '-', str(name).strip().replace(' ', '-'))


def lookup(product=None, pci_device_id=None):
    """Find a model by PCI device id first, then by exact nvidia-smi name (or its GFD label form).

    Raises CatalogError naming what was asked and what is known.
    """
    pci = normalize_pci_id(pci_device_id)
    if pci_device_id is not None and pci is None:
        raise CatalogError('%r is not a PCI device id (expected e.g. 0x233510DE)' % (pci_device_id,))
    if pci and pci in _BY_PCI:
        return _BY_PCI[pci]
    if product is not None:
        as_pci = normalize_pci_id(product)
        if as_pci and as_pci in _BY_PCI:
            return _BY_PCI[as_pci]
        name = str(product).strip()
        if name in _BY_NAME:
            return _BY_NAME[name]
        for known, model in _BY_NAME.items():
            if sanitize_product(known) == name:
                return model
    asked = ', '.join(x for x in ('product %r' % product if product else '',
                                  'PCI id %s' % pci if pci else '') if x)
    raise CatalogError('unknown GPU (%s): not a MIG-capable model this collection knows. Known names: %s. '
                       'Use the exact nvidia-smi name or the PCI device id (nvidia-smi --query-gpu=pci.device_id).'
                       % (asked or 'nothing given', ', '.join(sorted(_BY_NAME))))


def model_from_facts(gpu):
    """A GpuModel for one GPU as ``cnai.platform.gpu_facts`` reported it.

    The node's own ``mig -lgip``/``-lgipp`` data (``mig_profiles``) win over the table; the table fills
    in what the node did not report. A GPU without MIG support gives CatalogError.
    """
    base = None
    try:
        base = lookup(gpu.get('name'), gpu.get('pci_device_id'))
    except CatalogError:
        if not gpu.get('mig_profiles'):
            raise
    reported = gpu.get('mig_profiles') or []
    if not reported:
        return base
    profiles = {}
    units = 0
    for rp in reported:
        name = rp['name']
        starts = rp.get('placements')
        size = rp.get('placement_size')
        if starts is None or size is None:
            if base is None or name not in base.profiles:
                raise CatalogError('GPU %s reports profile %s without placements and the catalog does not know it'
                                   % (gpu.get('name'), name))
            starts, size = base.profiles[name].placements, base.profiles[name].size
        known = base.profiles.get(name) if base else None
        g = re.match(r'^(\d+)g\.', name)
        profiles[name] = Profile(
            name, known.compute if known else int(g.group(1)) if g else 0,
            known.memory_slices if known else size, size, starts,
            rp.get('instances_total') or (known.max_count if known else len(starts)),
            rp.get('memory_gib') if rp.get('memory_gib') is not None else (known.memory_gib if known else 0.0),
            False, rp.get('id', known.gi_profile_id if known else None),
            known.attributes if known else _attributes(name), ())
        units = max(units, max(s + size for s in starts))
    return GpuModel(base.key if base else sanitize_product(gpu.get('name', 'unknown')),
                    base.names if base else (gpu.get('name'),),
                    base.pci_ids if base else tuple(x for x in [normalize_pci_id(gpu.get('pci_device_id'))] if x),
                    base.compute_slices if base else None, base.memory_slices if base else None,
                    units, profiles, gpu.get('memory_total_mib'), (), source='node')


def _attributes(name):
    rest = name.split('gb', 1)[1] if 'gb' in name else ''
    return tuple(a for a in re.split(r'[+,]', rest) if a)


def placement(model, counts):
    """Exact placement of a multiset on one GPU.

    ``counts`` maps profile name -> count. Returns a sorted list of ``(start, profile name)`` or None when
    the multiset cannot be placed on the model's grid. Unknown names raise CatalogError.
    """
    items = []
    for name, n in counts.items():
        if n < 0:
            raise CatalogError('negative count %d for profile %s' % (n, name))
        prof = model.profile(name)
        if n > prof.max_count:
            return None
        items.extend([prof] * n)
    key = tuple(sorted((n, c) for n, c in counts.items() if c))
    if key in model._fit_cache:
        return model._fit_cache[key]
    if sum(p.size for p in items) > model.placement_units:
        model._fit_cache[key] = None
        return None
    # Most constrained first: big sizes, then few start choices. Same profiles take increasing starts.
    items.sort(key=lambda p: (-p.size, len(p.placements), p.name))
    used = [False] * model.placement_units
    out = []

    def place(i, min_start):
        if i == len(items):
            return True
        prof = items[i]
        for s in prof.placements:
            if s < min_start or s + prof.size > model.placement_units:
                continue
            if any(used[s:s + prof.size]):
                continue
            for u in range(s, s + prof.size):
                used[u] = True
            out.append((s, prof.name))
            nxt = items[i + 1] if i + 1 < len(items) else None
            if place(i + 1, s + 1 if nxt is prof else 0):
                return True
            out.pop()
            for u in range(s, s + prof.size):
                used[u] = False
        return False

    result = sorted(out) if place(0, 0) else None
    model._fit_cache[key] = result
    return result


def fits(model, counts):
    """True when the multiset ``counts`` can be placed on one GPU of ``model``."""
    return placement(model, counts) is not None


def feasible_multisets(model, names=None):
    """Every non-empty placeable multiset over ``names`` (default: all profiles), as count tuples.

    Returns ``(names, [counts, ...])`` where each counts tuple is aligned with ``names``.
    """
    names = tuple(names if names is not None else model.profiles)
    found = set()

    def grow(counts):
        for i in range(len(names)):
            nxt = counts[:i] + (counts[i] + 1,) + counts[i + 1:]
            if nxt in found:
                continue
            if fits(model, dict((n, c) for n, c in zip(names, nxt) if c)):
                found.add(nxt)
                grow(nxt)

    grow((0,) * len(names))
    return names, sorted(found)


def maximal_multisets(model, names=None):
    """The placeable multisets over ``names`` to which no further instance of ``names`` can be added."""
    names, all_sets = feasible_multisets(model, names)
    feasible = set(all_sets)
    maximal = [c for c in all_sets
               if not any(c[:i] + (c[i] + 1,) + c[i + 1:] in feasible for i in range(len(names)))]
    return names, maximal


def resource_name(profile_name):
    """The extended resource the device plugin exposes under the mixed strategy."""
    return 'nvidia.com/mig-' + profile_name.replace('+', '.')


def sanitize_label(value):
    """Make ``value`` a valid label value (letters, digits, '-', '_', '.'; <= 63; alnum at both ends)."""
    v = re.sub(r'[^A-Za-z0-9_.-]', '-', value)[:63]
    return v.strip('-_.')


def is_label_value(value):
    return len(value) <= 63 and bool(LABEL_VALUE_RE.match(value))


def predefined_layout(model, config_name):
    """Per-GPU multiset of a GPU Operator predefined config name (``all-disabled``, ``all-1g.18gb``,
    ``all-balanced``...) on ``model``; None for ``all-disabled`` GPUs; raises CatalogError when unknown.
    """
    if config_name == 'all-disabled':
        return None
    if config_name == 'all-enabled':
        return {}
    if config_name == 'all-balanced':
        base = [p for p in model.profiles.values() if p.is_base]
        by_g = {}
        for p in base:
            by_g.setdefault(p.compute, []).append(p)
        counts = {}
        for g, n in ((1, 2), (2, 1), (3, 1)):
            if g in by_g:
                best = sorted(by_g[g], key=lambda p: (-p.max_count, p.size, p.name))[0]
                counts[best.name] = n
        return counts
    if config_name.startswith('all-'):
        wanted = config_name[4:]
        for p in model.profiles.values():
            if p.name.replace('+', '.') == wanted:
                return {p.name: p.max_count}
    raise CatalogError('config %r is not a predefined GPU Operator config for %s' % (config_name, model.key))
