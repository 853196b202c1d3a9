# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only parsing of ``nvidia-smi`` output into the facts ``cnai.platform.gpu_facts`` returns.

Pure Python, no Ansible import: the module passes a ``run(args) -> (rc, stdout, stderr)`` callable to
:func:`gather`, the unit tests pass fixtures. Only read-only ``nvidia-smi`` invocations are ever made
(:data:`READ_ONLY_COMMANDS`): the query, ``-q``, the banner, ``mig -lgip`` and ``mig -lgipp``.

Formats handled (real captures are in tests/unit/fixtures/nvidia-smi/):

- ``--query-gpu=... --format=csv,noheader,nounits`` (also with a header line and units, as ``--format=csv``
  prints it; ``[N/A]``, ``N/A`` and ``[Not Supported]`` become None).
- ``nvidia-smi -q`` (text or ``-x`` XML) and the plain ``nvidia-smi`` banner, for the CUDA version.
- ``nvidia-smi mig -lgip``: one table row per profile, usually two text lines (``SM DEC ENC`` then
  ``CE JPEG OFA``), rows of several GPUs interleaved, column widths that differ between driver branches,
  ``Free/Total`` free instances that drop once MIG is enabled and instances exist.
- ``nvidia-smi mig -lgipp``: ``GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1`` and
  ``GPU  0 Profile ID  5 Placement : {0}:4``.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import re

from ansible_collections.cnai.platform.plugins.module_utils.mig_catalog import (
    CatalogError,
    lookup,
    normalize_pci_id,
)

QUERY_FIELDS = ('index', 'name', 'uuid', 'pci.bus_id', 'pci.device_id', 'memory.total', 'driver_version',
                'compute_cap', 'mig.mode.current', 'mig.mode.pending')
# Fields an older driver may not know (compute_cap arrived with R510); the query is retried without them.
OPTIONAL_FIELDS = ('compute_cap',)
CSV_FORMAT = '--format=csv,noheader,nounits'
LGIP_ARGS = ('mig', '-lgip')
LGIPP_ARGS = ('mig', '-lgipp')
Q_ARGS = ('-q',)
BANNER_ARGS = ()

GPU_KEYS = ('index', 'name', 'uuid', 'pci_bus_id', 'pci_device_id', 'memory_total_mib', 'driver_version',
            'cuda_version', 'compute_capability', 'mig_mode_current', 'mig_mode_pending', 'mig_capable',
            'catalog_model', 'mig_profiles')
PROFILE_KEYS = ('name', 'id', 'instances_free', 'instances_total', 'memory_gib', 'sm_count', 'placements',
                'placement_size')

_NA = ('', 'n/a', '[n/a]', '[not supported]', 'not supported', '[unknown error]', '[insufficient permissions]',
       '[gpu requires reset]', '[gpu is lost]')

# One -lgip profile row: GPU, [MIG] name, ID, free/total, memory GiB, P2P, SM, then DEC, ENC (or whatever
# columns a driver adds: they are not used).
_LGIP_ROW = re.compile(
    r'^\|\s*(?P<gpu>\d+)\s+(?:MIG\s+)?(?P<name>\d+g\.\S+)\s+(?P<id>\d+)\s+(?P<free>\d+)\s*/\s*(?P<total>\d+)'
    r'\s+(?P<mem>\S+)\s+(?P<p2p>\S+)\s+(?P<sm>\S+)(?:\s+[^\s|]+)*\s*\|\s*$')
_LGIPP_ROW = re.compile(
    r'^\s*GPU\s+(?P<gpu>\d+)\s+Profile\s+ID\s+(?P<id>\d+)\s+Placements?\s*:\s*'
    r'\{(?P<starts>[\d,\s]*)\}\s*:\s*(?P<size>\d+)\s*$')
_CUDA_TEXT = re.compile(r'CUDA Version\s*:\s*(?P<v>\d+(?:\.\d+)*)')
_CUDA_XML = re.compile(r'<cuda_version>\s*(?P<v>\d+(?:\.\d+)*)\s*</cuda_version>')
_DRIVER_TEXT = re.compile(r'Driver Version\s*:\s*(?P<v>\d+(?:\.\d+)*)')
_INVALID_FIELD = re.compile(r'Field "(?P<field>[^"]+)" is not a valid field to query', re.I)

# Known failure texts of nvidia-smi / NVML and what the operator should do about each.
_FAILURES = (
    (re.compile(r"couldn'?t communicate with the NVIDIA driver", re.I),
     'the NVIDIA driver is not loaded (nvidia-smi could not communicate with it). Install the driver for the '
     'running kernel (role cnai.platform.nvidia_driver), check that the nvidia kernel module loads '
     '(modprobe nvidia; dmesg; Secure Boot may block an unsigned module) or reboot after an install.'),
    (re.compile(r'Driver/library version mismatch', re.I),
     'the loaded NVIDIA kernel module and the user-space driver differ (Driver/library version mismatch), '
     'typically after a driver upgrade without a reboot. Reboot the node or reload the nvidia modules.'),
    (re.compile(r'No devices were found', re.I),
     'no NVIDIA GPU was found (nvidia-smi: "No devices were found"). Check lspci, the PCI passthrough and the '
     'driver log (dmesg).'),
    (re.compile(r'Insufficient Permissions', re.I),
     'nvidia-smi reported insufficient permissions; run the task with become: true.'),
    (re.compile(r'Failed to initialize NVML', re.I),
     'NVML could not be initialised (the NVIDIA driver is not usable).'),
)


class NvidiaSmiError(Exception):
    """nvidia-smi is unusable or its output cannot be read; the message says what to do."""


def _text(value):
    if value is None:
        return ''
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value


def _none_if_na(value):
    if value is None:
        return None
    v = value.strip()
    return None if v.lower() in _NA else v


def _int(value):
    v = _none_if_na(value)
    if v is None:
        return None
    m = re.match(r'^(-?\d+)', v)
    return int(m.group(1)) if m else None


def _float(value):
    v = _none_if_na(value)
    if v is None:
        return None
    m = re.match(r'^(-?\d+(?:\.\d+)?)', v)
    return float(m.group(1)) if m else None


def diagnose(rc, stdout, stderr, command='nvidia-smi'):
    """A readable message for a failed nvidia-smi run, naming the cause when it is a known one."""
    out = (_text(stdout) + '\n' + _text(stderr)).strip()
    said = ' '.join(out.split())[:400] or '(no output)'
    for pattern, message in _FAILURES:
        if pattern.search(out):
            return '%s: %s nvidia-smi said: %s' % (command, message, said)
    return '%s failed (rc=%s): %s' % (command, rc, said)


def query_args(fields=QUERY_FIELDS):
    """The arguments of the CSV query for ``fields``."""
    return ['--query-gpu=' + ','.join(fields), CSV_FORMAT]


def normalize_mig_mode(value):
    """``Enabled`` -> ``enabled``, ``Disabled`` -> ``disabled``, ``[N/A]``/None -> ``n/a``."""
    v = _none_if_na(value)
    if v is None:
        return 'n/a'
    v = v.lower()
    if v in ('enabled', 'disabled'):
        return v
    return 'n/a'


def _header_name(column):
    """``memory.total [MiB]`` -> ``memory.total``."""
    return re.sub(r'\s*\[[^\]]*\]\s*$', '', column.strip())


def parse_query_csv(text, fields=QUERY_FIELDS):
    """Rows of a ``--query-gpu`` CSV as dicts keyed by query field name (values stripped, N/A -> None).

    Accepts ``noheader,nounits`` output for ``fields`` and, too, ``--format=csv`` output with a header and
    units (any columns, any order): the header names the columns then.
    """
    lines = [ln for ln in _text(text).splitlines() if ln.strip()]
    if not lines:
        return []
    try:
        rows = list(csv.reader(lines, skipinitialspace=True))
    except csv.Error as e:
        raise NvidiaSmiError('nvidia-smi --query-gpu printed something that is not CSV (%s): %r' % (e, lines[0][:200]))
    names = list(fields)
    if rows and rows[0] and _header_name(rows[0][0]) == 'index' and 'name' in [_header_name(c) for c in rows[0]]:
        names = [_header_name(c) for c in rows[0]]
        rows = rows[1:]
    out = []
    for row in rows:
        if len(row) != len(names):
            raise NvidiaSmiError('nvidia-smi --query-gpu printed %d columns where %d were asked for: %r'
                                 % (len(row), len(names), ', '.join(row)))
        out.append(dict((n, _none_if_na(v)) for n, v in zip(names, row)))
    return out


def parse_cuda_version(text):
    """The CUDA version from ``nvidia-smi -q`` (text or XML) or the ``nvidia-smi`` banner; None if absent."""
    t = _text(text)
    m = _CUDA_TEXT.search(t) or _CUDA_XML.search(t)
    return m.group('v') if m else None


def parse_driver_version(text):
    """The driver version from ``nvidia-smi -q`` or the banner; None if absent."""
    m = _DRIVER_TEXT.search(_text(text))
    return m.group('v') if m else None


def parse_lgip(text):
    """``nvidia-smi mig -lgip`` -> ``{gpu index: [profile, ...]}`` in the order printed.

    Each profile has name, id, instances_free, instances_total, memory_gib, sm_count (the
    :data:`PROFILE_KEYS` minus placements, which come from ``-lgipp``).
    """
    result = {}
    for line in _text(text).splitlines():
        m = _LGIP_ROW.match(line.rstrip())
        if not m:
            continue  # headers, separators, the CE/JPEG/OFA continuation line, messages
        gpu = int(m.group('gpu'))
        result.setdefault(gpu, []).append(dict(
            name=m.group('name'),
            id=int(m.group('id')),
            instances_free=int(m.group('free')),
            instances_total=int(m.group('total')),
            memory_gib=_float(m.group('mem')),
            sm_count=_int(m.group('sm')),
        ))
    return result


def parse_lgipp(text):
    """``nvidia-smi mig -lgipp`` -> ``{gpu index: {profile id: (starts list, size)}}``."""
    result = {}
    for line in _text(text).splitlines():
        m = _LGIPP_ROW.match(line)
        if not m:
            continue
        starts = sorted(int(s) for s in m.group('starts').replace(' ', '').split(',') if s)
        result.setdefault(int(m.group('gpu')), {})[int(m.group('id'))] = (starts, int(m.group('size')))
    return result


def catalog_key(name, pci_device_id):
    """The mig_catalog key for a GPU, or None when the catalog does not know it (no MIG, or a new model)."""
    try:
        return lookup(name, pci_device_id).key
    except CatalogError:
        return None


def build_gpus(rows, cuda_version=None, lgip=None, lgipp=None, driver_version=None):
    """Per-GPU facts (keys :data:`GPU_KEYS`) from parsed query rows and parsed ``-lgip``/``-lgipp`` output."""
    lgip = lgip or {}
    lgipp = lgipp or {}
    gpus = []
    for row in rows:
        index = _int(row.get('index'))
        if index is None:
            raise NvidiaSmiError('nvidia-smi --query-gpu printed a row without a GPU index: %r' % (row,))
        name = row.get('name')
        pci = normalize_pci_id(row.get('pci.device_id')) or row.get('pci.device_id')
        current = normalize_mig_mode(row.get('mig.mode.current'))
        pending = normalize_mig_mode(row.get('mig.mode.pending'))
        profiles = []
        placements = lgipp.get(index, {})
        for p in lgip.get(index, []):
            starts, size = placements.get(p['id'], (None, None))
            prof = dict(p)
            prof['placements'] = starts
            prof['placement_size'] = size
            profiles.append(dict((k, prof[k]) for k in PROFILE_KEYS))
        gpus.append(dict(
            index=index,
            name=name,
            uuid=row.get('uuid'),
            pci_bus_id=row.get('pci.bus_id'),
            pci_device_id=pci,
            memory_total_mib=_int(row.get('memory.total')),
            driver_version=row.get('driver_version') or driver_version,
            cuda_version=cuda_version,
            compute_capability=row.get('compute_cap'),
            mig_mode_current=current,
            mig_mode_pending=pending,
            mig_capable=current != 'n/a' or bool(profiles),
            catalog_model=catalog_key(name, pci),
            mig_profiles=profiles,
        ))
    gpus.sort(key=lambda g: g['index'])
    return gpus


def gather(run, include_mig_profiles=True):
    """Run the read-only nvidia-smi commands through ``run(args) -> (rc, stdout, stderr)`` and build facts.

    Returns ``dict(gpus, driver_version, cuda_version, gpu_count, warnings, commands)``; raises
    :class:`NvidiaSmiError` when nvidia-smi is unusable or finds no GPU.
    """
    warnings = []
    commands = []

    def call(args):
        commands.append(' '.join(['nvidia-smi'] + list(args)))
        rc, out, err = run(list(args))
        return rc, _text(out), _text(err)

    fields = list(QUERY_FIELDS)
    while True:
        rc, out, err = call(query_args(fields))
        if rc == 0:
            break
        bad = _INVALID_FIELD.search(out + '\n' + err)
        if bad and bad.group('field') in OPTIONAL_FIELDS and bad.group('field') in fields:
            fields.remove(bad.group('field'))
            warnings.append('this driver does not know the query field %s; it is reported as null'
                            % bad.group('field'))
            continue
        raise NvidiaSmiError(diagnose(rc, out, err, 'nvidia-smi --query-gpu'))
    rows = parse_query_csv(out, fields)
    if not rows:
        raise NvidiaSmiError('nvidia-smi --query-gpu listed no GPU. Check lspci, the driver log (dmesg) and '
                             'that the GPUs are not hidden from this host (CUDA_VISIBLE_DEVICES has no effect here).')

    driver = next((r.get('driver_version') for r in rows if r.get('driver_version')), None)
    rc, out, err = call(Q_ARGS)
    cuda = parse_cuda_version(out) if rc == 0 else None
    driver = driver or (parse_driver_version(out) if rc == 0 else None)
    if cuda is None:
        rc_b, out_b, err_b = call(BANNER_ARGS)
        cuda = parse_cuda_version(out_b) if rc_b == 0 else None
        driver = driver or (parse_driver_version(out_b) if rc_b == 0 else None)
        if cuda is None:
            warnings.append('nvidia-smi reported no CUDA version (neither -q nor the banner); cuda_version is null')

    lgip, lgipp = {}, {}
    capable = [r for r in rows if normalize_mig_mode(r.get('mig.mode.current')) != 'n/a']
    if include_mig_profiles and capable:
        rc, out, err = call(LGIP_ARGS)
        lgip = parse_lgip(out)
        if rc != 0 and not lgip:
            warnings.append('%s; MIG profiles are not reported' % diagnose(rc, out, err, 'nvidia-smi mig -lgip'))
        elif not lgip:
            warnings.append('nvidia-smi mig -lgip printed no profile row this module can read (an unknown table '
                            'layout?); MIG profiles are not reported. It printed: %s' % ' '.join(out.split())[:300])
        if lgip:
            rc, out, err = call(LGIPP_ARGS)
            lgipp = parse_lgipp(out)
            if rc != 0 and not lgipp:
                warnings.append('%s; MIG placements are not reported (the catalog table applies)'
                                % diagnose(rc, out, err, 'nvidia-smi mig -lgipp'))
        missing = [r['index'] for r in capable if _int(r['index']) not in lgip]
        if lgip and missing:
            warnings.append('nvidia-smi mig -lgip listed no profiles for MIG-capable GPU(s) %s'
                            % ', '.join(str(i) for i in missing))

    gpus = build_gpus(rows, cuda, lgip, lgipp, driver)
    return dict(gpus=gpus, driver_version=driver, cuda_version=cuda, gpu_count=len(gpus),
                warnings=warnings, commands=commands)


# Every nvidia-smi argument list gather() may use; anything else would not be read-only.
READ_ONLY_COMMANDS = (tuple(query_args()), tuple(query_args([f for f in QUERY_FIELDS if f not in OPTIONAL_FIELDS])),
                      Q_ARGS, BANNER_ARGS, LGIP_ARGS, LGIPP_ARGS)
