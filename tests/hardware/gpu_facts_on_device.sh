#!/usr/bin/env bash
# Run cnai.platform.gpu_facts for real on THIS GPU host and check it against nvidia-smi. Read-only.
#
#   bash tests/hardware/gpu_facts_on_device.sh          (from the repository checkout, on the GPU host)
#
# Needs: nvidia-smi, python3, ansible-core importable (e.g. wheels installed into /tmp/site with
# PYTHONPATH=/tmp/site; then `python3 -m ansible adhoc` is used when there is no `ansible` command).
# No internet, no collection install: the collection is linked from this checkout.
# Never changes MIG mode, never resets a GPU, never creates instances: it only runs the module (which only
# reads) and read-only nvidia-smi queries, and it checks that the MIG modes are the same before and after.
#
# Writes, when $OUT is set (7 files): $OUT/gpu_facts.json (the module's result), $OUT/gpu_facts_check.txt
# (the comparison), $OUT/raw/ (the nvidia-smi output compared with: candidates for new fixtures in
# tests/unit/fixtures/nvidia-smi). UUIDs, serial numbers and PDIs are masked in those files afterwards.
#
# Exit status: 0 all matched; 1 the module disagrees with nvidia-smi (or failed, or changed MIG mode);
# 2 setup problem (no nvidia-smi, no ansible); 3 module and nvidia-smi agree but the collection's MIG
# catalog differs from what this GPU reports (update plugins/module_utils/mig_catalog_data.py).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-$(command -v python3 || true)}
[ -n "$PYTHON" ] || { echo "gpu_facts_on_device: python3 not found" >&2; exit 2; }
# Driver containers and some images put nvidia-smi outside PATH (the module looks there too).
if ! command -v nvidia-smi >/dev/null && [ -x /usr/local/nvidia/bin/nvidia-smi ]; then
    PATH="$PATH:/usr/local/nvidia/bin"
fi
command -v nvidia-smi >/dev/null || { echo "gpu_facts_on_device: nvidia-smi not found on PATH" >&2; exit 2; }
# ansible-core refuses to run without a UTF-8 locale.
export LC_ALL="${LC_ALL:-C.UTF-8}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-facts.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RESULTS=${OUT:-$WORK/out}
mkdir -p "$RESULTS/raw" "$WORK/collections/ansible_collections/cnai" "$WORK/home" "$WORK/tmp"
ln -s "$REPO" "$WORK/collections/ansible_collections/cnai/platform"

if command -v ansible >/dev/null && ansible --version >/dev/null 2>&1; then
    ANSIBLE=(ansible)
elif "$PYTHON" -c 'import ansible' 2>/dev/null; then
    ANSIBLE=("$PYTHON" -m ansible adhoc)
else
    echo "gpu_facts_on_device: ansible-core is not importable by $PYTHON (set PYTHONPATH, e.g. /tmp/site)" >&2
    exit 2
fi
export ANSIBLE_COLLECTIONS_PATH="$WORK/collections" ANSIBLE_HOME="$WORK/home" ANSIBLE_LOCAL_TEMP="$WORK/tmp" \
    ANSIBLE_REMOTE_TEMP="$WORK/tmp" ANSIBLE_STDOUT_CALLBACK=oneline ANSIBLE_LOAD_CALLBACK_PLUGINS=1 \
    ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_PYTHON_INTERPRETER="$PYTHON"
unset ANSIBLE_CONFIG
cd "$WORK"   # away from the checkout's ansible.cfg (its inventory is the simulated cluster)

VERSION=$("${ANSIBLE[@]}" --version 2>/dev/null || true)
echo "==> ${VERSION%%$'\n'*}, python $("$PYTHON" -V 2>&1), collection from $REPO"

# Read-only raw captures for the comparison (and as fixtures).
QUERY=index,name,uuid,pci.bus_id,pci.device_id,memory.total,driver_version,compute_cap,mig.mode.current,mig.mode.pending
nvidia-smi --query-gpu=$QUERY --format=csv,noheader,nounits > "$RESULTS/raw/query-gpu.csv"
nvidia-smi --query-gpu=index,mig.mode.current,mig.mode.pending --format=csv,noheader > "$WORK/modes.before"
nvidia-smi -q -x > "$RESULTS/raw/nvidia-smi-q.xml"
nvidia-smi -q > "$RESULTS/raw/nvidia-smi-q.txt"
nvidia-smi mig -lgip > "$RESULTS/raw/lgip.txt" 2>&1 || echo "(nvidia-smi mig -lgip: rc $?)" >> "$RESULTS/raw/lgip.txt"
nvidia-smi mig -lgipp > "$RESULTS/raw/lgipp.txt" 2>&1 || echo "(nvidia-smi mig -lgipp: rc $?)" >> "$RESULTS/raw/lgipp.txt"

run_module() {
    # oneline callback: "localhost | SUCCESS => {json}" (ansible-core only, no json callback needed)
    local rc=0
    "${ANSIBLE[@]}" localhost -i localhost, -c local -m cnai.platform.gpu_facts "$@" > "$WORK/adhoc.out" 2> "$WORK/adhoc.err" || rc=$?
    "$PYTHON" - "$WORK/adhoc.out" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
line = next((ln for ln in text.splitlines() if ln.startswith('localhost |') and '=>' in ln), None)
if line is None:
    sys.stderr.write('no result line in the ansible output:\n' + text)
    sys.exit(1)
print(json.dumps(json.loads(line.split('=>', 1)[1]), indent=2, sort_keys=True))
EOF
    return $rc
}

echo "==> ansible localhost -m cnai.platform.gpu_facts"
if ! run_module > "$RESULTS/gpu_facts.json"; then
    cat "$WORK/adhoc.out" "$WORK/adhoc.err" >&2
    echo "FAIL: the module failed" >&2
    exit 1
fi
echo "==> the same in check mode"
run_module --check > "$WORK/gpu_facts_check_mode.json" || { cat "$WORK/adhoc.out" "$WORK/adhoc.err" >&2; exit 1; }
nvidia-smi --query-gpu=index,mig.mode.current,mig.mode.pending --format=csv,noheader > "$WORK/modes.after"

echo "==> comparing with nvidia-smi"
set +e
PYTHONPATH="$WORK/collections${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" - "$RESULTS" "$WORK" <<'EOF' | tee "$RESULTS/gpu_facts_check.txt"
import csv, json, os, re, sys
import xml.etree.ElementTree as ET

results, work = sys.argv[1], sys.argv[2]
res = json.load(open(os.path.join(results, 'gpu_facts.json')))
chk = json.load(open(os.path.join(work, 'gpu_facts_check_mode.json')))
bad, catalog_bad = [], []


def short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def expect(what, got, want):
    if got == want:
        print('ok        %s: %s' % (what, short(got)))
    else:
        print('MISMATCH  %s: module %s, nvidia-smi %s' % (what, short(got, 2000), short(want, 2000)))
        bad.append(what)


# nvidia-smi, parsed here independently of the module's code
rows = list(csv.reader(open(os.path.join(results, 'raw', 'query-gpu.csv')), skipinitialspace=True))
xml = ET.parse(os.path.join(results, 'raw', 'nvidia-smi-q.xml')).getroot()
placements = {}
for line in open(os.path.join(results, 'raw', 'lgipp.txt')):
    m = re.match(r'GPU\s+(\d+)\s+Profile ID\s+(\d+)\s+Placements?\s*:\s*\{([0-9,]*)\}:(\d+)', line.strip())
    if m:
        placements[(int(m.group(1)), int(m.group(2)))] = ([int(s) for s in m.group(3).split(',') if s], int(m.group(4)))

expect('changed', res.get('changed'), False)
expect('check mode gives the same gpus', chk.get('gpus') == res.get('gpus'), True)
expect('MIG modes before/after', open(os.path.join(work, 'modes.after')).read(), open(os.path.join(work, 'modes.before')).read())
expect('gpu_count', res.get('gpu_count'), len(rows))
expect('driver_version', res.get('driver_version'), xml.findtext('driver_version'))
expect('cuda_version', res.get('cuda_version'), xml.findtext('cuda_version'))
expect('ansible_facts.cnai_gpus == gpus', res.get('ansible_facts', {}).get('cnai_gpus') == res.get('gpus'), True)
gpus = dict((g['index'], g) for g in res.get('gpus', []))
for row in rows:
    idx = int(row[0])
    g = gpus.get(idx, {})
    expect('GPU %d name' % idx, g.get('name'), row[1])
    expect('GPU %d uuid' % idx, g.get('uuid'), row[2])
    expect('GPU %d pci_device_id' % idx, (g.get('pci_device_id') or '').lower(), row[4].lower())
    expect('GPU %d memory_total_mib' % idx, g.get('memory_total_mib'), int(row[5]))
    expect('GPU %d driver_version' % idx, g.get('driver_version'), row[6])
    expect('GPU %d compute_capability' % idx, g.get('compute_capability'), row[7])
    mode = row[8].strip().lower()
    expect('GPU %d mig_mode_current' % idx, g.get('mig_mode_current'), mode if mode in ('enabled', 'disabled') else 'n/a')
    want = dict((pid, p) for (gi, pid), p in placements.items() if gi == idx)
    got = dict((p['id'], (p['placements'], p['placement_size'])) for p in g.get('mig_profiles', []))
    expect('GPU %d placements by profile id' % idx, got, want)
    # the collection's catalog against what this GPU reports
    try:
        from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
        model = mig_catalog.lookup(g.get('name'), g.get('pci_device_id'))
    except Exception as e:  # pylint: disable=broad-except
        print('info      GPU %d: not in the MIG catalog (%s)' % (idx, str(e)[:120]))
        continue
    for p in g.get('mig_profiles', []):
        cat = model.profiles.get(p['name'])
        mine = (cat.gi_profile_id, list(cat.placements), cat.size, cat.max_count, cat.memory_gib) if cat else None
        node = (p['id'], p['placements'], p['placement_size'], p['instances_total'], p['memory_gib'])
        if mine != node:
            catalog_bad.append('GPU %d %s' % (idx, p['name']))
            print('CATALOG   GPU %d %s: catalog %s %r, node %r' % (idx, p['name'], model.key, mine, node))
    missing = sorted(set(model.profiles) - set(p['name'] for p in g.get('mig_profiles', [])))
    if g.get('mig_profiles') and missing:
        catalog_bad.append('GPU %d missing %s' % (idx, missing))
        print('CATALOG   GPU %d: catalog %s lists profiles the node does not: %s' % (idx, model.key, ', '.join(missing)))

if bad:
    print('RESULT: %d mismatch(es) between gpu_facts and nvidia-smi: %s' % (len(bad), ', '.join(bad)))
    sys.exit(1)
if catalog_bad:
    print('RESULT: gpu_facts matches nvidia-smi; the MIG catalog differs for: %s' % ', '.join(catalog_bad))
    sys.exit(3)
print('RESULT: gpu_facts matches nvidia-smi on %d GPU(s); the catalog agrees' % len(rows))
EOF
rc=${PIPESTATUS[0]}
set -e
if [ -n "${OUT:-}" ]; then
    # Like the fixtures in the repository: UUIDs become GPU-0000000N-..., serial numbers and PDIs zeros.
    "$PYTHON" - "$OUT" <<'EOF'
import os, re, sys
files = [os.path.join(d, f) for d, _dirs, fs in os.walk(sys.argv[1]) for f in fs]
uuids = {}
for path in sorted(files):
    for u in re.findall(r'GPU-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', open(path).read()):
        uuids.setdefault(u, 'GPU-%08d-0000-0000-0000-000000000000' % len(uuids))
for path in files:
    text = open(path).read()
    for u, masked in uuids.items():
        text = text.replace(u, masked)
    text = re.sub(r'(<serial>)[^<]*(</serial>)', r'\g<1>0000000000000\g<2>', text)
    text = re.sub(r'(<gpu_pdi>)[^<]*(</gpu_pdi>)', r'\g<1>0x0000000000000000\g<2>', text)
    text = re.sub(r'(Serial Number\s*: )\S+', r'\g<1>0000000000000', text)
    text = re.sub(r'(GPU PDI\s*: )\S+', r'\g<1>0x0000000000000000', text)
    open(path, 'w').write(text)
EOF
    echo "==> results in $OUT: gpu_facts.json gpu_facts_check.txt raw/ (UUIDs, serials, PDIs masked)"
fi
exit "$rc"
