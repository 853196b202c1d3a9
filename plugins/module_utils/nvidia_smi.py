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

Parsing is strict: a table row with columns the header does not name (or a header naming columns this
module does not know), a value of the wrong shape, an unknown MIG mode, a duplicate or negative GPU index,
or a placement that does not fit the GPU's placement grid is an :class:`NvidiaSmiError` quoting what was
read. A guess would reach the MIG planner as a wrong fact. Every command runs under a time limit
(:func:`run_with_timeout`): a hung ``nvidia-smi`` is the usual sign of a wedged GPU or driver.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import os
import re
import signal
import subprocess

from ansible_collections.cnai.platform.plugins.module_utils.mig_catalog import (
    CatalogError,
    lookup,
    models,
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

# The -lgip table: first header line, second header line (units and the continuation columns). A row has
# the first line's columns; a continuation line (two-line layout) has the second line's columns less the units.
LGIP_COLUMNS = ('GPU', 'Name', 'ID', 'Instances', 'Memory', 'P2P', 'SM', 'DEC', 'ENC')
LGIP_SUB_COLUMNS = ('CE', 'JPEG', 'OFA')
_LGIP_UNITS = ('Free/Total', 'GiB')
_PROFILE_NAME = re.compile(r'^\d+g\.\d+gb(?:[+.\-][A-Za-z0-9.+\-]*)?$')
_INT = re.compile(r'^-?\d+$')
_FLOAT = re.compile(r'^\d+(?:\.\d+)?$')
_FREE_TOTAL = re.compile(r'^(\d+)/(\d+)$')
MIG_MODES = ('enabled', 'disabled')
DEFAULT_TIMEOUT = 30
_LGIPP_ROW = re.compile(
    r'^\s*GPU\s+(?P<gpu>\d+)\s+Profile\s+ID\s+(?P<id>\d+)\s+Placements?\s*:\s*'
    r'\{\s*(?P<starts>\d+(?:\s*,\s*\d+)*)\s*\}\s*:\s*(?P<size>\d+)\s*$')
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


class NvidiaSmiTimeout(NvidiaSmiError):
    """An nvidia-smi call did not finish in time (it was killed)."""

    def __init__(self, command, timeout):
        self.command = command
        self.timeout = timeout
        NvidiaSmiError.__init__(self, timeout_message(command, timeout))


def timeout_message(command, timeout):
    """What to say when ``command`` did not finish within ``timeout`` seconds."""
    return ('%s did not finish within %s s (option timeout) and was killed: the GPU or the NVIDIA driver may be '
            'wedged. A hung nvidia-smi usually means a GPU that fell off the bus, an Xid error or a driver call '
            'stuck in the kernel: look for NVRM/Xid lines in dmesg and run nvidia-smi by hand on the node; a '
            'GPU reset or a reboot of the node usually clears it. Raise timeout only when the node is merely '
            'slow (many GPUs without persistence mode).' % (command, timeout))


def run_with_timeout(argv, timeout, environ_update=None):
    """Run ``argv`` and return ``(rc, stdout, stderr)`` as text; raise :class:`NvidiaSmiTimeout` after ``timeout`` s.

    The command runs in its own session so that a timeout kills it and anything it started. A process stuck
    in the kernel (D state) cannot be killed; it is left behind rather than waited for.
    """
    env = dict(os.environ)
    env.update(environ_update or {})
    command = ' '.join(['nvidia-smi'] + [str(a) for a in argv[1:]])
    try:
        proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as e:
        raise NvidiaSmiError('%s could not be started: %s' % (argv[0], e))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # uninterruptible: do not hang on it a second time
        for pipe in (proc.stdout, proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        raise NvidiaSmiTimeout(command, timeout)
    return proc.returncode, _text(out), _text(err)


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


def _quote(line):
    return repr(line.strip()[:300])


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


def normalize_mig_mode(value, what='MIG mode'):
    """``Enabled`` -> ``enabled``, ``Disabled`` -> ``disabled``, ``[N/A]``/None -> ``n/a``.

    Anything else is an :class:`NvidiaSmiError`: a mode this module does not know must not be guessed.
    """
    v = _none_if_na(value)
    if v is None:
        return 'n/a'
    if v.lower() in MIG_MODES:
        return v.lower()
    raise NvidiaSmiError('nvidia-smi reported %s %r, which this module does not know (expected Enabled, Disabled '
                         'or N/A). Check the driver version and report the nvidia-smi output.' % (what, value))


def _header_name(column):
    """``memory.total [MiB]`` -> ``memory.total``."""
    return re.sub(r'\s*\[[^\]]*\]\s*$', '', column.strip())


def parse_query_csv(text, fields=QUERY_FIELDS):
    """Rows of a ``--query-gpu`` CSV as dicts keyed by query field name (values stripped, N/A -> None).

    Accepts ``noheader,nounits`` output for ``fields`` and, too, ``--format=csv`` output with a header and
    units (any columns, any order, each named once, ``index`` among them): the header names the columns then.
    A row with more or fewer columns than asked for is an error quoting the line.
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
        dup = sorted(set(n for n in names if names.count(n) > 1))
        if dup:
            raise NvidiaSmiError('nvidia-smi --query-gpu printed a header naming %s twice: %s'
                                 % (', '.join(dup), _quote(lines[0])))
        rows, lines = rows[1:], lines[1:]
    out = []
    for line, row in zip(lines, rows):
        if len(row) != len(names):
            raise NvidiaSmiError('nvidia-smi --query-gpu printed %d columns where %d were asked for (%s): %s'
                                 % (len(row), len(names), ', '.join(names), _quote(line)))
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


def _lgip_error(what, line):
    return NvidiaSmiError('nvidia-smi mig -lgip: %s. The line: %s' % (what, _quote(line)))


def _lgip_header(tokens, line, known, ignore=()):
    names = tuple(t for t in tokens if t not in ignore)
    unknown = [t for t in names if t not in known]
    if unknown:
        raise _lgip_error('the table has column(s) %s that this module does not know (known: %s); refusing to guess '
                          'which value is which' % (', '.join(unknown), ', '.join(known)), line)
    return names


def _lgip_row(tokens, columns, line):
    """One profile row (``MIG`` prefix already dropped) as a profile dict; strict on count and shapes."""
    if len(tokens) != len(columns):
        raise _lgip_error('a profile row has %d columns where the header has %d (%s)'
                          % (len(tokens), len(columns), ', '.join(columns)), line)
    cell = dict(zip(columns, tokens))
    for col in ('GPU', 'Name', 'ID', 'Instances', 'Memory', 'SM'):
        if col not in cell:
            raise _lgip_error('the table has no %s column' % col, line)
    gpu, name, pid, inst, mem, sm = (cell[c] for c in ('GPU', 'Name', 'ID', 'Instances', 'Memory', 'SM'))
    if not _INT.match(gpu):
        raise _lgip_error('GPU index %r is not a number' % gpu, line)
    if int(gpu) < 0:
        raise _lgip_error('negative GPU index %s' % gpu, line)
    if not _PROFILE_NAME.match(name):
        raise _lgip_error('%r is not a MIG profile name (like 1g.18gb)' % name, line)
    if not re.match(r'^\d+$', pid):
        raise _lgip_error('profile ID %r is not a number' % pid, line)
    ft = _FREE_TOTAL.match(inst)
    if not ft:
        raise _lgip_error('instances %r is not free/total' % inst, line)
    if not _FLOAT.match(mem):
        raise _lgip_error('memory %r is not a number of GiB' % mem, line)
    if not re.match(r'^\d+$', sm):
        raise _lgip_error('SM count %r is not a number' % sm, line)
    return int(gpu), dict(name=name, id=int(pid), instances_free=int(ft.group(1)), instances_total=int(ft.group(2)),
                          memory_gib=float(mem), sm_count=int(sm))


def parse_lgip(text):
    """``nvidia-smi mig -lgip`` -> ``{gpu index: [profile, ...]}`` in the order printed.

    Each profile has name, id, instances_free, instances_total, memory_gib, sm_count (the
    :data:`PROFILE_KEYS` minus placements, which come from ``-lgipp``). The header lines name the columns
    (:data:`LGIP_COLUMNS` when no header was printed); a header naming a column this module does not know,
    a row or continuation line with another number of columns, a malformed value, a negative GPU index or a
    profile listed twice for one GPU is an :class:`NvidiaSmiError` quoting the line.
    """
    result = {}
    columns, sub = LGIP_COLUMNS, LGIP_SUB_COLUMNS
    after_row = False
    for line in _text(text).splitlines():
        s = line.strip()
        if not s.startswith('|'):
            after_row = False   # '+----+' separators, messages such as "No MIG-supported devices found."
            continue
        inner = s[1:-1] if s.endswith('|') and len(s) > 1 else s[1:]
        tokens = inner.split()
        if not tokens or set(inner.strip()) <= set('=-'):
            continue
        if tokens[0] == 'GPU' and 'Name' in tokens:
            columns = _lgip_header(tokens, line, LGIP_COLUMNS)
            continue
        if _LGIP_UNITS[0] in tokens:
            sub = _lgip_header(tokens, line, LGIP_SUB_COLUMNS, _LGIP_UNITS)
            continue
        if _INT.match(tokens[0]) and len(tokens) > 1 and (tokens[1] == 'MIG' or not _INT.match(tokens[1])):
            if tokens[1] == 'MIG':
                tokens = tokens[:1] + tokens[2:]
            gpu, profile = _lgip_row(tokens, columns, line)
            if any(p['id'] == profile['id'] for p in result.get(gpu, [])):
                raise _lgip_error('GPU %d lists profile ID %d twice' % (gpu, profile['id']), line)
            result.setdefault(gpu, []).append(profile)
            after_row = True
            continue
        if all(_INT.match(t) or t.lower() in _NA for t in tokens):
            if not after_row:
                raise _lgip_error('a line of numbers that follows no profile row', line)
            if len(tokens) != len(sub):
                raise _lgip_error('a continuation line has %d columns where the header has %d (%s)'
                                  % (len(tokens), len(sub), ', '.join(sub)), line)
            after_row = False
            continue
        # other text inside the box: the "GPU instance profiles:" title
    return result


def parse_lgipp(text):
    """``nvidia-smi mig -lgipp`` -> ``{gpu index: {profile id: (starts list, size)}}``.

    A line that starts with ``GPU`` and is not a placement line, an empty or repeated start, a size of 0 or a
    profile listed twice for one GPU is an :class:`NvidiaSmiError` quoting the line.
    """
    result = {}
    for line in _text(text).splitlines():
        m = _LGIPP_ROW.match(line)
        if not m:
            if re.match(r'^\s*GPU\b', line):
                raise NvidiaSmiError('nvidia-smi mig -lgipp printed a line this module cannot read (expected '
                                     '"GPU <n> Profile ID <id> Placements: {<starts>}:<size>"): %s' % _quote(line))
            continue
        starts = [int(x) for x in m.group('starts').replace(' ', '').split(',')]
        gpu, pid, size = int(m.group('gpu')), int(m.group('id')), int(m.group('size'))
        if size < 1 or len(set(starts)) != len(starts):
            raise NvidiaSmiError('nvidia-smi mig -lgipp: %s: %s' % (
                'placement size 0' if size < 1 else 'a start listed twice', _quote(line)))
        per_gpu = result.setdefault(gpu, {})
        if pid in per_gpu:
            raise NvidiaSmiError('nvidia-smi mig -lgipp lists profile ID %d of GPU %d twice: %s' % (pid, gpu, _quote(line)))
        per_gpu[pid] = (sorted(starts), size)
    return result


def catalog_key(name, pci_device_id):
    """The mig_catalog key for a GPU, or None when the catalog does not know it (no MIG, or a new model)."""
    try:
        return lookup(name, pci_device_id).key
    except CatalogError:
        return None


def _max_disjoint(starts, size):
    """Most instances of one profile that fit at once: greedy on start order (equal-length intervals)."""
    count, free_from = 0, None
    for s in sorted(starts):
        if free_from is None or s >= free_from:
            count += 1
            free_from = s + size
    return count


def check_profiles(gpu, warnings):
    """Check one GPU's reported profiles against its placement grid; raise NvidiaSmiError, or add warnings.

    The grid is the catalog model's (``placement_units``); for a GPU the catalog does not know, the largest
    grid of any catalog model. Physical impossibilities are errors (a placement past the grid, more
    instances than the placements allow, more free than total, more memory than the GPU has); a profile
    that the node places differently from the catalog is a warning, and the node's placements are kept.
    """
    model = None
    if gpu['catalog_model']:
        model = models().get(gpu['catalog_model'])
    units = model.placement_units if model else max(m.placement_units for m in models().values())
    grid = '%d-slot placement grid of %s' % (units, model.key if model else 'any GPU this collection knows')
    total_gib = gpu['memory_total_mib'] / 1024.0 if gpu['memory_total_mib'] else None
    where = 'GPU %d (%s)' % (gpu['index'], gpu['name'])
    for p in gpu['mig_profiles']:
        what = '%s profile %s (ID %d)' % (where, p['name'], p['id'])
        if p['instances_free'] > p['instances_total']:
            raise NvidiaSmiError('%s: nvidia-smi mig -lgip reports %d free of %d instances'
                                 % (what, p['instances_free'], p['instances_total']))
        if total_gib is not None and p['memory_gib'] > total_gib + 0.5:
            raise NvidiaSmiError('%s: %.2f GiB per instance is more than the GPU\'s %.2f GiB'
                                 % (what, p['memory_gib'], total_gib))
        if p['placements'] is None:
            continue
        bad = [s for s in p['placements'] if s + p['placement_size'] > units]
        if bad:
            raise NvidiaSmiError('%s: nvidia-smi mig -lgipp places it at {%s}:%d, which runs past the %s'
                                 % (what, ','.join(str(s) for s in p['placements']), p['placement_size'], grid))
        most = _max_disjoint(p['placements'], p['placement_size'])
        if p['instances_total'] > most:
            raise NvidiaSmiError('%s: %d instances reported, but its placements {%s}:%d hold at most %d'
                                 % (what, p['instances_total'], ','.join(str(s) for s in p['placements']),
                                    p['placement_size'], most))
        known = model.profiles.get(p['name']) if model else None
        if known and (list(known.placements) != p['placements'] or known.size != p['placement_size']):
            warnings.append('%s: the node places it at {%s}:%d, the catalog at {%s}:%d; the node\'s placements are '
                            'used (update plugins/module_utils/mig_catalog_data.py if the node is right)'
                            % (what, ','.join(str(s) for s in p['placements']), p['placement_size'],
                               ','.join(str(s) for s in known.placements), known.size))


def build_gpus(rows, cuda_version=None, lgip=None, lgipp=None, driver_version=None, warnings=None):
    """Per-GPU facts (keys :data:`GPU_KEYS`) from parsed query rows and parsed ``-lgip``/``-lgipp`` output.

    Raises :class:`NvidiaSmiError` on a missing, malformed, negative or duplicate GPU index, an unknown MIG
    mode, a malformed memory size, MIG tables naming GPUs the query did not list and placements that do not
    fit the grid (:func:`check_profiles`); ``warnings`` (a list) receives what is only suspicious.
    """
    lgip = lgip or {}
    lgipp = lgipp or {}
    warnings = warnings if warnings is not None else []
    gpus = []
    seen = set()
    for row in rows:
        raw = row.get('index')
        if raw is None:
            raise NvidiaSmiError('nvidia-smi --query-gpu printed a row without a GPU index: %r' % (row,))
        if not _INT.match(raw):
            raise NvidiaSmiError('nvidia-smi --query-gpu printed GPU index %r, not a number, in the row %r' % (raw, row))
        index = int(raw)
        if index < 0:
            raise NvidiaSmiError('nvidia-smi --query-gpu printed a negative GPU index (%d) in the row %r' % (index, row))
        if index in seen:
            raise NvidiaSmiError('nvidia-smi --query-gpu printed GPU index %d twice (second row %r); the GPU list '
                                 'cannot be trusted' % (index, row))
        seen.add(index)
        memory = row.get('memory.total')
        if memory is not None and not re.match(r'^\d+(\s*MiB)?$', memory):
            raise NvidiaSmiError('nvidia-smi --query-gpu printed memory.total %r for GPU %d, not a number of MiB'
                                 % (memory, index))
        name = row.get('name')
        pci = normalize_pci_id(row.get('pci.device_id')) or row.get('pci.device_id')
        current = normalize_mig_mode(row.get('mig.mode.current'), 'GPU %d current MIG mode' % index)
        pending = normalize_mig_mode(row.get('mig.mode.pending'), 'GPU %d pending MIG mode' % index)
        profiles = []
        placements = lgipp.get(index, {})
        for p in lgip.get(index, []):
            starts, size = placements.get(p['id'], (None, None))
            prof = dict(p)
            prof['placements'] = starts
            prof['placement_size'] = size
            profiles.append(dict((k, prof[k]) for k in PROFILE_KEYS))
        gpu = dict(
            index=index,
            name=name,
            uuid=row.get('uuid'),
            pci_bus_id=row.get('pci.bus_id'),
            pci_device_id=pci,
            memory_total_mib=_int(memory),
            driver_version=row.get('driver_version') or driver_version,
            cuda_version=cuda_version,
            compute_capability=row.get('compute_cap'),
            mig_mode_current=current,
            mig_mode_pending=pending,
            mig_capable=current != 'n/a' or bool(profiles),
            catalog_model=catalog_key(name, pci),
            mig_profiles=profiles,
        )
        check_profiles(gpu, warnings)
        gpus.append(gpu)
    for table, listed in (('mig -lgip', lgip), ('mig -lgipp', lgipp)):
        stray = sorted(set(listed) - seen)
        if stray:
            raise NvidiaSmiError('nvidia-smi %s lists GPU(s) %s that nvidia-smi --query-gpu did not list (%s); the '
                                 'outputs disagree, run the task again or check the node'
                                 % (table, ', '.join(str(g) for g in stray), ', '.join(str(g) for g in sorted(seen))))
    gpus.sort(key=lambda g: g['index'])
    return gpus


def gather(run, include_mig_profiles=True):
    """Run the read-only nvidia-smi commands through ``run(args) -> (rc, stdout, stderr)`` and build facts.

    ``run`` may raise :class:`NvidiaSmiTimeout` (see :func:`run_with_timeout`); it propagates.
    Returns ``dict(gpus, driver_version, cuda_version, gpu_count, warnings, commands)``; raises
    :class:`NvidiaSmiError` when nvidia-smi is unusable, finds no GPU or prints what cannot be read strictly.
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
    capable = [r for r in rows if _none_if_na(r.get('mig.mode.current')) is not None]
    if include_mig_profiles and capable:
        rc, out, err = call(LGIP_ARGS)
        if rc != 0:
            warnings.append('%s; MIG profiles are not reported' % diagnose(rc, out, err, 'nvidia-smi mig -lgip'))
        else:
            lgip = parse_lgip(out)
            if not lgip:
                warnings.append('nvidia-smi mig -lgip printed no profile row this module can read; MIG profiles are '
                                'not reported. It printed: %s' % ' '.join(out.split())[:300])
        if lgip:
            rc, out, err = call(LGIPP_ARGS)
            if rc != 0:
                warnings.append('%s; MIG placements are not reported (the catalog table applies)'
                                % diagnose(rc, out, err, 'nvidia-smi mig -lgipp'))
            else:
                lgipp = parse_lgipp(out)
        missing = [r['index'] for r in capable if _int(r['index']) not in lgip]
        if lgip and missing:
            warnings.append('nvidia-smi mig -lgip listed no profiles for MIG-capable GPU(s) %s'
                            % ', '.join(str(i) for i in missing))

    gpus = build_gpus(rows, cuda, lgip, lgipp, driver, warnings)
    return dict(gpus=gpus, driver_version=driver, cuda_version=cuda, gpu_count=len(gpus),
                warnings=warnings, commands=commands)


# Every nvidia-smi argument list gather() may use; anything else would not be read-only.
READ_ONLY_COMMANDS = (tuple(query_args()), tuple(query_args([f for f in QUERY_FIELDS if f not in OPTIONAL_FIELDS])),
                      Q_ARGS, BANNER_ARGS, LGIP_ARGS, LGIPP_ARGS)
