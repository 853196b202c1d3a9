# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one parser and interpreter of mig-parted documents (``version: v1``) in this collection.

Used by the planner (``mig_planner``, for ``current_mig_config``) and by the ``gpu_resources`` filters.
The testbed's GPU simulator (``tools/testbed/gpu_sim.py``) is an independent implementation on purpose
(it plays NVIDIA's side), and agrees with these rules.

Rules, as NVIDIA mig-parted applies them (``api/spec/v1/spec.go``, ``helpers.go``, ``pkg/types/device.go``):

* the document is ``{version: v1, mig-configs: {name: [entry, ...]}}``; any other key is an error, at least
  one config, every config at least one entry;
* an entry has ``devices`` (``all`` or a list of GPU indices) and ``mig-enabled`` (bool), optionally
  ``device-filter`` (a string or a list of strings) and ``mig-devices`` (profile name -> count >= 0, at least
  one count > 0 unless the map is ``{}``); ``mig-enabled: true`` needs ``mig-devices`` (may be ``{}``),
  ``mig-enabled: false`` must not carry any; unknown keys are errors;
* a device filter is ``0xDDDDVVVV`` (PCI device id in the high half, vendor in the low half, as
  ``nvidia-smi --query-gpu=pci.device_id`` prints it) or ``0xDDDDVVVV:0xSSSSVVVV`` (subsystem-qualified):
  an unqualified filter matches on device and vendor only; a qualified one needs all four to match;
* for each GPU index, entries are walked in list order and every entry whose filter and ``devices`` match
  applies; the last one wins. A config that leaves a GPU uncovered never passes ``mig-parted assert``.

One deliberate difference: mig-parted silently ignores a filter it cannot parse (it then matches nothing);
here that is an error, since such an entry can never do what its author meant. When the node's subsystem id
is unknown, a subsystem-qualified filter cannot be decided: that is an error that says what to give.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

VERSION = 'v1'
ENTRY_KEYS = ('device-filter', 'devices', 'mig-enabled', 'mig-devices')
_ID_RE = re.compile(r'^0[xX]([0-9a-fA-F]{4})([0-9a-fA-F]{4})$')
_PROFILE_RE = re.compile(r'^(\d+c\.)?\d+g\.\d+gb([+-][a-z]+(\.[a-z]+)*(,[a-z]+(\.[a-z]+)*)*)?$')
MAX_COUNT = 1024   # no GPU holds more MIG devices; larger numbers are typos, not layouts


class MigPartedError(ValueError):
    """A document that mig-parted would refuse, or a question it cannot answer; the message says where."""


def _describe(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


@dataclass(frozen=True)
class DeviceId:
    """A GPU's PCI id: device and vendor, plus the subsystem device and vendor when known."""
    device: int
    vendor: int
    subsystem_device: Optional[int] = None
    subsystem_vendor: Optional[int] = None

    @property
    def has_subsystem(self):
        return self.subsystem_device is not None

    @property
    def primary(self):
        return DeviceId(self.device, self.vendor)

    def __str__(self):
        text = '0x%04X%04X' % (self.device, self.vendor)
        if self.has_subsystem:
            text += ':0x%04X%04X' % (self.subsystem_device, self.subsystem_vendor)
        return text

    @classmethod
    def parse(cls, text, what='device-filter'):
        """``0xDDDDVVVV`` or ``0xDDDDVVVV:0xSSSSVVVV``; anything else raises MigPartedError."""
        if not isinstance(text, str):
            raise MigPartedError('%s %s is not a string such as 0x233510DE' % (what, _describe(text)))
        parts = text.strip().split(':')
        matches = [_ID_RE.match(p) for p in parts]
        if len(parts) > 2 or not all(matches):
            raise MigPartedError('%s %s is not a PCI id of the form 0xDDDDVVVV or 0xDDDDVVVV:0xSSSSVVVV '
                                 '(device then vendor, as nvidia-smi --query-gpu=pci.device_id prints it)'
                                 % (what, _describe(text)))
        dev, ven = int(matches[0].group(1), 16), int(matches[0].group(2), 16)
        if len(parts) == 2:
            return cls(dev, ven, int(matches[1].group(1), 16), int(matches[1].group(2), 16))
        return cls(dev, ven)

    def matches(self, hardware):
        """Does this filter select ``hardware``? None when the filter names a subsystem the hardware id lacks."""
        if (self.device, self.vendor) != (hardware.device, hardware.vendor):
            return False
        if not self.has_subsystem:
            return True
        if not hardware.has_subsystem:
            return None
        return (self.subsystem_device, self.subsystem_vendor) == (hardware.subsystem_device, hardware.subsystem_vendor)


@dataclass(frozen=True)
class Entry:
    """One item of a config's list."""
    devices: Optional[Tuple[int, ...]]          # None means ``all``
    mig_enabled: bool
    mig_devices: Tuple[Tuple[str, int], ...]    # sorted (profile, count), zero counts kept as written
    device_filter: Tuple[DeviceId, ...] = ()

    def selects_index(self, index):
        return self.devices is None or index in self.devices

    def selects_device(self, gpu_id, where=''):
        """Filter match for one GPU id (None: unknown GPU model, only an empty filter matches)."""
        if not self.device_filter:
            return True
        if gpu_id is None:
            raise MigPartedError('%s has a device-filter but the GPU\'s PCI id is unknown; give the node\'s '
                                 'pci_device_id (or gpu_product)' % where)
        for flt in self.device_filter:
            hit = flt.matches(gpu_id)
            if hit is None:
                raise MigPartedError('%s filters on the subsystem-qualified id %s, but the GPU\'s subsystem id is '
                                     'unknown (only %s is known); give pci_subsystem_id, e.g. 0x18BF10DE from '
                                     'nvidia-smi -q' % (where, flt, gpu_id))
            if hit:
                return True
        return False

    def layout(self):
        """This entry's per-GPU layout: None (MIG disabled) or {profile: count} without zero counts."""
        if not self.mig_enabled:
            return None
        return dict((p, c) for p, c in self.mig_devices if c)


@dataclass(frozen=True)
class Document:
    """A parsed mig-parted document."""
    configs: Dict[str, Tuple[Entry, ...]] = field(default_factory=dict)

    def names(self):
        return sorted(self.configs)

    def layout(self, name, gpu_count, gpu_id=None):
        """Per GPU index, what config ``name`` puts there: None (MIG disabled) or {profile: count}.

        ``gpu_id`` is the node's DeviceId (one GPU model per node). Raises MigPartedError when the name is
        not defined or a GPU is left uncovered.
        """
        if name not in self.configs:
            raise MigPartedError('config %r is not defined in the mig-parted document (defined: %s)'
                                 % (name, ', '.join(self.names()) or 'nothing'))
        layout = [False] * gpu_count
        for i, entry in enumerate(self.configs[name]):
            where = 'mig-configs.%s[%d]' % (name, i)
            if not entry.selects_device(gpu_id, where):
                continue
            indices = range(gpu_count) if entry.devices is None else [d for d in entry.devices if d < gpu_count]
            for d in indices:
                layout[d] = entry.layout()
        missing = [i for i, v in enumerate(layout) if v is False]
        if missing:
            raise MigPartedError('config %r covers no entry for GPU(s) %s%s: mig-parted assert would never pass'
                                 % (name, ', '.join(str(i) for i in missing),
                                    ' (PCI id %s)' % gpu_id if gpu_id is not None else ''))
        return layout

    def layout_for_model(self, name, gpu_count, candidates):
        """``layout`` for a node whose exact PCI id is not known, only its model's ids (``candidates``).

        The ids under which the config resolves must agree; ids under which it does not are taken as not
        being the node's. Raises the first id's error when it resolves under none of them.
        """
        found, first_error = [], None
        for gpu_id in candidates:
            try:
                found.append((gpu_id, self.layout(name, gpu_count, gpu_id)))
            except MigPartedError as exc:
                first_error = first_error or exc
        if not found:
            raise first_error
        if any(layout != found[0][1] for _id, layout in found[1:]):
            raise MigPartedError('config %r selects different layouts for the PCI ids %s of this GPU model; give the '
                                 "node's pci_device_id" % (name, ', '.join(str(i) for i, _l in found)))
        return found[0][1]

    def to_dict(self):
        out = {}
        for name, entries in self.configs.items():
            items = []
            for e in entries:
                item = {'devices': 'all' if e.devices is None else list(e.devices), 'mig-enabled': e.mig_enabled}
                if e.device_filter:
                    item['device-filter'] = [str(f) for f in e.device_filter]
                if e.mig_enabled:
                    item['mig-devices'] = dict(e.mig_devices)
                items.append(item)
            out[name] = items
        return {'version': VERSION, 'mig-configs': out}


def hardware_id(pci_device_id, pci_subsystem_id=None):
    """A node's DeviceId from the forms facts and inventories use (``0x233510DE``, ``233510de``, ``0x2335``)."""
    if pci_device_id is None:
        return None
    text = str(pci_device_id).strip()
    m = re.match(r'^(0[xX])?([0-9a-fA-F]{4})([0-9a-fA-F]{4})?$', text)
    if not m:
        raise MigPartedError('pci_device_id %s is not a PCI id such as 0x233510DE' % _describe(pci_device_id))
    dev, ven = int(m.group(2), 16), int(m.group(3) or '10DE', 16)
    if pci_subsystem_id in (None, ''):
        return DeviceId(dev, ven)
    sub = _ID_RE.match(str(pci_subsystem_id).strip())
    if not sub:
        raise MigPartedError('pci_subsystem_id %s is not a PCI subsystem id such as 0x18BF10DE (nvidia-smi -q)'
                             % _describe(pci_subsystem_id))
    return DeviceId(dev, ven, int(sub.group(1), 16), int(sub.group(2), 16))


def _entry(name, i, raw):
    where = 'mig-configs.%s[%d]' % (name, i)
    if not isinstance(raw, dict):
        raise MigPartedError('%s must be a mapping with devices and mig-enabled, got %s' % (where, _describe(raw)))
    unknown = sorted(str(k) for k in raw if k not in ENTRY_KEYS)
    if unknown:
        raise MigPartedError('%s: unexpected field(s) %s (allowed: %s)' % (where, ', '.join(unknown), ', '.join(ENTRY_KEYS)))
    for key in ('devices', 'mig-enabled'):
        if key not in raw:
            raise MigPartedError('%s: missing required field %s' % (where, key))
    devices = raw['devices']
    if devices == 'all':
        devices = None
    elif (isinstance(devices, list) and devices
          and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < MAX_COUNT for d in devices)):
        devices = tuple(devices)
    else:
        raise MigPartedError('%s: devices must be "all" or a non-empty list of GPU indices (0..%d), got %s'
                             % (where, MAX_COUNT - 1, _describe(devices)))
    enabled = raw['mig-enabled']
    if not isinstance(enabled, bool):
        raise MigPartedError('%s: mig-enabled must be true or false, got %s' % (where, _describe(enabled)))
    flt = raw.get('device-filter')
    if flt is None or flt == '':
        filters = ()
    elif isinstance(flt, str):
        filters = (DeviceId.parse(flt, '%s device-filter' % where),)
    elif isinstance(flt, list):
        filters = tuple(DeviceId.parse(f, '%s device-filter' % where) for f in flt)
    else:
        raise MigPartedError('%s: device-filter must be a string or a list of strings, got %s' % (where, _describe(flt)))
    mig_devices = raw.get('mig-devices')
    if enabled:
        if not isinstance(mig_devices, dict):
            raise MigPartedError('%s: mig-enabled: true needs mig-devices, a mapping of profile to count (may be {}), '
                                 'got %s' % (where, _describe(mig_devices)))
        pairs = []
        for prof, count in mig_devices.items():
            if not isinstance(prof, str) or not _PROFILE_RE.match(prof):
                raise MigPartedError('%s: mig-devices key %s is not a MIG profile name such as 1g.18gb, 1g.10gb+me '
                                     'or 1c.2g.20gb' % (where, _describe(prof)))
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
                raise MigPartedError('%s: mig-devices %s count must be an integer from 0 to %d, got %s'
                                     % (where, prof, MAX_COUNT, _describe(count)))
            pairs.append((prof, count))
        if pairs and not any(c for _p, c in pairs):
            raise MigPartedError('%s: all mig-devices counts are 0 (use {} for MIG mode with no devices)' % where)
        mig = tuple(sorted(pairs))
    else:
        if mig_devices:
            raise MigPartedError('%s: mig-enabled: false must not carry mig-devices' % where)
        mig = ()
    return Entry(devices, enabled, mig, filters)


def parse(doc, what='mig-parted document'):
    """Parse and validate a mig-parted document given as a mapping. Raises MigPartedError naming the place."""
    if not isinstance(doc, dict):
        raise MigPartedError('%s must be a mapping with version: v1 and mig-configs, got %s' % (what, _describe(doc)))
    unknown = sorted(str(k) for k in doc if k not in ('version', 'mig-configs'))
    if unknown:
        raise MigPartedError('%s: unexpected field(s) %s (allowed: version, mig-configs)' % (what, ', '.join(unknown)))
    if doc.get('version') != VERSION:
        raise MigPartedError('%s: version must be v1, got %s' % (what, _describe(doc.get('version'))))
    configs = doc.get('mig-configs')
    if not isinstance(configs, dict) or not configs:
        raise MigPartedError('%s: mig-configs must be a non-empty mapping of config name to entries' % what)
    parsed = {}
    for name, entries in configs.items():
        if not isinstance(name, str) or not name:
            raise MigPartedError('%s: config name %s must be a non-empty string' % (what, _describe(name)))
        if not isinstance(entries, list) or not entries:
            raise MigPartedError('%s: mig-configs.%s must be a non-empty list of entries, got %s'
                                 % (what, name, _describe(entries)))
        parsed[name] = tuple(_entry(name, i, e) for i, e in enumerate(entries))
    return Document(parsed)
