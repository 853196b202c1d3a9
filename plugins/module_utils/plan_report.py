# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG plan as a page people can look at: one self-contained HTML document with an inline SVG per node.

Pure Python, no Ansible import; ``plugins/filter/plan_report.py`` exposes :func:`render` as the
``cnai.platform.plan_report_html`` filter. Input is what ``playbooks/plan.yml`` already has:

* ``plan``: the return of ``cnai.platform.mig_plan`` (``mig_config``, ``node_configs``, ``assignments``,
  ``nodes_changed``, ``gpus_used``, ``gpus_total``, ``lower_bound``, ``optimal``, ``strategy``);
* ``nodes``: the planner's ``nodes`` input (what ``cnai.platform.gpu_planner_nodes`` returns), so that each
  node's GPU model (and the node's own placements from facts) is resolved exactly as the planner did;
* ``sizing``: optional, the ``models`` of ``cnai.platform.model_sizing``.

Each GPU is drawn as its placement grid (the memory slices the catalog places profiles on); each MIG device of
the node's planned config is drawn at its slot range ``[start, start + size)``. Placements come from the catalog
(:func:`gpu_placements`, the same exact placement the planner uses); every assignment's ``start`` must be one of
them, else the plan and the catalog disagree and :class:`ReportError` says so rather than drawing a lie.
Output is linear in the number of nodes, GPUs and instances (no per-node lookups over the whole plan).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from html import escape

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils import mig_planner

DISABLED = 'all-disabled'
SLOT_W = 100          # px per placement unit (memory slice) of the grid
ROW_H = 78            # px per GPU row
LABEL_W = 78          # px for the GPU label column
PAD = 8
# Fills with dark text (contrast >= 7:1 with #111); the workload's name is always written too.
PALETTE = ('#cfe8ff', '#ffe0b3', '#d4f0d0', '#f3d1f0', '#fff3a8', '#d9d4ff', '#ffd4d4', '#c9f2ef',
           '#e8e0d0', '#e0ecc0')
WHOLE_FILL = '#bcd3f5'

CSS = """
:root { color: #111; background: #fff; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 1.5rem; max-width: 80rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1.05rem; margin: 0 0 .3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #888; padding: .25rem .5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.node { border: 1px solid #888; border-radius: 6px; padding: .6rem .8rem; margin: 1rem 0; break-inside: avoid; }
.node.changed { border: 3px solid #b35900; background: #fff8f0; }
.badge { display: inline-block; font-size: .8rem; font-weight: 700; padding: .05rem .4rem; border-radius: 4px;
         border: 1px solid #111; margin-left: .5rem; }
.badge.changed { background: #b35900; color: #fff; border-color: #b35900; }
.node svg { width: 100%; height: auto; max-width: 60rem; display: block; }
.legend span { display: inline-block; margin: 0 1rem .3rem 0; }
.swatch { display: inline-block; width: 1rem; height: 1rem; border: 1px solid #111; vertical-align: middle;
          margin-right: .3rem; }
.summary { font-size: 1.05rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
svg text { font-family: ui-monospace, "DejaVu Sans Mono", monospace; fill: #111; }
@media print {
  body { margin: 0; max-width: none; }
  .node, .node.changed { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


class ReportError(ValueError):
    """The plan, the nodes and the catalog disagree; the message says where."""


def _e(value):
    return escape('' if value is None else str(value), quote=True)


def _gib(value):
    return ('%.2f' % value).rstrip('0').rstrip('.') if isinstance(value, (int, float)) else '-'


def _clip(text, chars):
    return text if len(text) <= chars else text[:chars - 1] + '\u2026'


def gpu_placements(model, layout):
    """Slots of one GPU: ``[(start, profile name)]`` for a MIG layout (dict profile -> count), None when MIG is off.

    The catalog's exact placement (the one the planner checks plans against); ReportError when it does not fit.
    """
    if layout is None:
        return None
    placed = mig_catalog.placement(model, dict(layout))
    if placed is None:
        raise ReportError('%s cannot place %s' % (model.key, ', '.join('%dx %s' % (c, p) for p, c in sorted(layout.items()))))
    return placed


def node_layouts(plan, nodes):
    """``[(Node, config name, [per-GPU layout or None])]`` in the order of ``nodes``, decoded from the plan's document."""
    try:
        parsed = mig_planner.parse_nodes(list(nodes))
        document = mig_planner.parse_document(plan.get('mig_config') or None)
    except mig_planner.PlanError as exc:
        raise ReportError(str(exc))
    configs = plan.get('node_configs') or {}
    out = []
    for node in parsed:
        if node.name not in configs:
            raise ReportError('node %s is not in the plan\'s node_configs (plan and nodes are from different runs?)'
                              % node.name)
        current = node.current_config
        node.current_config = configs[node.name]
        try:
            layout = mig_planner.decode_layout(node, document)
        except mig_planner.PlanError as exc:
            raise ReportError(str(exc))
        node.current_config = current
        out.append((node, configs[node.name], layout or [None] * node.gpu_count))
    return out


def _index_assignments(assignments):
    """(node, gpu, start) -> assignment for MIG devices; (node, gpu) -> (assignment, position, count) for whole GPUs."""
    mig, whole = {}, {}
    for a in assignments:
        gpu = a.get('gpu')
        if isinstance(gpu, list):
            for pos, g in enumerate(gpu):
                whole[(a['node'], g)] = (a, pos, len(gpu))
        else:
            key = (a['node'], gpu, a.get('start'))
            if key in mig:
                raise ReportError('two assignments on node %s GPU %s slot %s' % key)
            mig[key] = a
    return mig, whole


def _colours(plan, sizing):
    names = []
    for m in sizing or []:
        if m.get('name') not in names:
            names.append(m.get('name'))
    for a in plan.get('assignments') or []:
        if a['workload'] not in names:
            names.append(a['workload'])
    return dict((n, PALETTE[i % len(PALETTE)]) for i, n in enumerate(names))


def _text(x, y, lines, size=11, bold_first=True):
    parts = ['<text x="%d" y="%d" font-size="%d">' % (x, y, size)]
    for i, line in enumerate(lines):
        weight = ' font-weight="700"' if i == 0 and bold_first else ''
        parts.append('<tspan x="%d" dy="%d"%s>%s</tspan>' % (x, 0 if i == 0 else size + 3, weight, _e(line)))
    parts.append('</text>')
    return ''.join(parts)


def _node_svg(node, config, layout, mig_index, whole_index, colours, counts):
    """One node's SVG; ``counts`` collects gpus/instances drawn (for the summary and the tests)."""
    model = node.model
    units = model.placement_units
    width = LABEL_W + units * SLOT_W + 2 * PAD
    height = node.gpu_count * (ROW_H + PAD) + PAD + 18
    title_id = 'svg-%s' % _e(node.name)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t" '
           'data-node="%s">' % (width, height, title_id, _e(node.name)),
           '<title id="%s-t">%s: %d %s GPUs, config %s</title>' % (title_id, _e(node.name), node.gpu_count,
                                                                   _e(model.key), _e(config))]
    # Slot numbers above the grid.
    for u in range(units):
        out.append('<text x="%d" y="%d" font-size="10" text-anchor="middle">slice %d</text>'
                   % (PAD + LABEL_W + u * SLOT_W + SLOT_W // 2, 12, u))
    for g in range(node.gpu_count):
        y = 18 + PAD + g * (ROW_H + PAD)
        x0 = PAD + LABEL_W
        placed = gpu_placements(model, layout[g])
        whole = whole_index.get((node.name, g))
        if placed is None:
            state = 'whole' if whole else 'disabled'
        else:
            state = 'mig'
        counts['gpus'] += 1
        out.append('<g class="gpu gpu-%s" data-gpu="%d" data-state="%s">' % (state, g, state))
        out.append('<text x="%d" y="%d" font-size="12" font-weight="700">GPU %d</text>' % (PAD, y + 20, g))
        out.append('<text x="%d" y="%d" font-size="10">%s</text>'
                   % (PAD, y + 36, 'MIG' if state == 'mig' else ('whole' if state == 'whole' else 'MIG off')))
        # The grid: one cell per placement unit (memory slice).
        for u in range(units):
            out.append('<rect class="slot" x="%d" y="%d" width="%d" height="%d" fill="#f4f4f4" stroke="#bbb"/>'
                       % (x0 + u * SLOT_W, y, SLOT_W, ROW_H))
        if state == 'whole':
            a, pos, n = whole
            colour = colours.get(a['workload'], WHOLE_FILL)
            counts['instances'] += 1
            counts['whole'] += 1
            label = '%s (whole GPU%s)' % (a['workload'], ' %d of %d, tensor parallel %d' % (pos + 1, n, n) if n > 1 else '')
            mem = (model.memory_total_mib or 0) / 1024.0
            out.append('<g class="instance whole" data-workload="%s" data-resource="nvidia.com/gpu">'
                       '<title>%s replica %s: nvidia.com/gpu, %s GiB</title>'
                       '<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="#111" stroke-width="2"/>%s</g>'
                       % (_e(a['workload']), _e(label), _e(a.get('instance')), _gib(mem), x0 + 1, y + 1,
                          units * SLOT_W - 2, ROW_H - 2, colour,
                          _text(x0 + 8, y + 18, [_clip(label, units * SLOT_W // 7), 'replica %s' % a.get('instance'),
                                                 'nvidia.com/gpu', '%s GiB' % _gib(mem)])))
        elif state == 'disabled':
            out.append('<text x="%d" y="%d" font-size="11" fill="#444">MIG disabled, unused</text>'
                       % (x0 + 8, y + ROW_H // 2 + 4))
        else:
            for start, pname in placed:
                prof = model.profile(pname)
                a = mig_index.pop((node.name, g, start), None)
                if a is not None and a.get('profile') != pname:
                    raise ReportError('node %s GPU %d slot %d: the plan assigns %s of %s but the config places %s there'
                                      % (node.name, g, start, a.get('profile'), a['workload'], pname))
                counts['instances'] += 1
                w = prof.size * SLOT_W
                x = x0 + start * SLOT_W
                resource = mig_catalog.resource_name(pname)
                if a is None:
                    counts['idle'] += 1
                    lines = ['idle', 'nvidia.com/', resource.split('/', 1)[1], '%s GiB' % _gib(prof.memory_gib)]
                    fill, dash, cls, who = '#ffffff', ' stroke-dasharray="6 4"', 'instance mig idle', ''
                else:
                    lines = ['%s #%s' % (a['workload'], a.get('instance')), 'nvidia.com/', resource.split('/', 1)[1], '%s GiB' % _gib(prof.memory_gib)]
                    fill, dash, cls, who = colours.get(a['workload'], '#ddd'), '', 'instance mig', a['workload']
                chars = max(4, w // 7)
                out.append('<g class="%s" data-workload="%s" data-profile="%s" data-start="%d" data-resource="%s">'
                           '<title>%s: %s (%s, %s compute, slices %d-%d), %s GiB</title>'
                           '<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="#111" stroke-width="1.5"%s/>'
                           '%s</g>'
                           % (cls, _e(who), _e(pname), start, _e(resource),
                              _e(who or 'idle'), _e(resource), _e(pname), prof.compute and '%dg' % prof.compute,
                              start, start + prof.size - 1, _gib(prof.memory_gib),
                              x + 2, y + 2, w - 4, ROW_H - 4, fill, dash,
                              _text(x + 6, y + 17, [_clip(line, chars) for line in lines], size=11)))
        out.append('</g>')
    out.append('</svg>')
    return ''.join(out)


def _sizing_table(sizing):
    if not sizing:
        return ''
    rows = []
    for m in sizing:
        per = m.get('per_product') or {}
        fits = '; '.join('%s: %s (%s GiB usable, headroom %s GiB)'
                         % (p, v.get('profile') or '%s whole GPU%s' % (v.get('gpus'), '' if v.get('gpus') == 1 else 's'),
                            _gib(v.get('usable_gib')), _gib(v.get('headroom_gib')))
                         for p, v in sorted(per.items()))
        rep = m.get('replicas') or {}
        rows.append('<tr><th scope="row">%s</th><td><code>%s</code></td><td>%s</td><td class="num">%s</td>'
                    '<td class="num">%s</td><td class="num">%s</td><td class="num">%s</td><td class="num">%s</td>'
                    '<td class="num">%s</td><td class="num">%s..%s</td><td>%s</td></tr>'
                    % (_e(m.get('name')), _e(m.get('model')), _e(m.get('quantization')), _e(m.get('params_b')),
                       _gib(m.get('weights_gib')), _gib(m.get('kv_gib')), _gib(m.get('overhead_gib')),
                       _gib(m.get('need_gib')), _e(m.get('tensor_parallel')), _e(rep.get('min')), _e(rep.get('max')),
                       _e(fits)))
    return ('<h2 id="sizing">Sizing per model</h2><table class="sizing"><caption>GiB per replica: need = (weights + KV '
            'cache + overhead) / gpu_memory_utilization</caption><thead><tr><th scope="col">Model</th>'
            '<th scope="col">Checkpoint</th><th scope="col">Quantization</th><th scope="col" class="num">Params (B)</th>'
            '<th scope="col" class="num">Weights</th><th scope="col" class="num">KV cache</th>'
            '<th scope="col" class="num">Overhead</th><th scope="col" class="num">Need</th>'
            '<th scope="col" class="num">Tensor parallel</th><th scope="col" class="num">Replicas</th>'
            '<th scope="col">Profile per GPU model</th></tr></thead><tbody>%s</tbody></table>' % ''.join(rows))


def savings(plan):
    """Per workload and in total: replicas, GPUs at one GPU (or N whole GPUs) per replica, against the plan's GPUs."""
    per = {}
    order = []
    for a in plan.get('assignments') or []:
        w = a['workload']
        if w not in per:
            per[w] = {'workload': w, 'replicas': 0, 'one_gpu_each': 0, 'resource': a.get('resource'),
                      'profiles': []}
            order.append(w)
        gpu = a.get('gpu')
        per[w]['replicas'] += 1
        per[w]['one_gpu_each'] += len(gpu) if isinstance(gpu, list) else 1
        prof = a.get('profile') or ('%d whole GPU%s' % (len(gpu), '' if len(gpu) == 1 else 's')
                                    if isinstance(gpu, list) else None)
        if prof not in per[w]['profiles']:
            per[w]['profiles'].append(prof)
    rows = [per[w] for w in order]
    baseline = sum(r['one_gpu_each'] for r in rows)
    used = int(plan.get('gpus_used') or 0)
    return {'workloads': rows, 'one_gpu_each': baseline, 'gpus_used': used, 'saved': baseline - used}


def render(plan, nodes, sizing=None, title='MIG plan'):
    """The HTML page (a string). Raises ReportError when plan, nodes and catalog disagree."""
    if not isinstance(plan, dict) or 'node_configs' not in plan:
        raise ReportError('plan must be the result of cnai.platform.mig_plan (a dict with node_configs), got %r'
                          % type(plan).__name__)
    if not isinstance(nodes, list):
        raise ReportError('nodes must be the list given to cnai.platform.mig_plan, got %r' % type(nodes).__name__)
    sizing = sizing or []
    decoded = node_layouts(plan, nodes)
    mig_index, whole_index = _index_assignments(plan.get('assignments') or [])
    colours = _colours(plan, sizing)
    changed = set(plan.get('nodes_changed') or [])
    counts = {'gpus': 0, 'instances': 0, 'idle': 0, 'whole': 0}
    sections = []
    for node, config, layout in decoded:
        is_changed = node.name in changed
        current = node.current_config or DISABLED
        change = ('<span class="badge changed">CHANGES</span> <span>mig.config <code>%s</code> &#8594; <code>%s</code>'
                  '</span>' % (_e(current), _e(config))) if is_changed else \
            '<span class="badge">unchanged</span> <span>mig.config <code>%s</code></span>' % _e(config)
        svg = _node_svg(node, config, layout, mig_index, whole_index, colours, counts)
        sections.append('<section class="node%s" id="node-%s" data-node="%s" data-changed="%s">'
                        '<h3>%s <small>(%d &#215; %s)</small></h3><p>%s</p>%s</section>'
                        % (' changed' if is_changed else '', _e(node.name), _e(node.name),
                           'true' if is_changed else 'false', _e(node.name), node.gpu_count, _e(node.model.key),
                           change, svg))
    if mig_index:
        key = sorted(mig_index, key=str)[0]
        a = mig_index[key]
        raise ReportError('assignment %s replica %s on node %s GPU %s start %s (%s) is not a slot of the node\'s '
                          'planned config' % (a['workload'], a.get('instance'), key[0], key[1], key[2], a.get('profile')))
    saved = savings(plan)
    legend = ''.join('<span><span class="swatch" style="background:%s"></span>%s</span>' % (c, _e(w))
                     for w, c in colours.items())
    srows = ''.join('<tr><th scope="row">%s</th><td>%s</td><td><code>%s</code></td><td class="num">%d</td>'
                    '<td class="num">%d</td></tr>'
                    % (_e(r['workload']), _e(', '.join(str(p) for p in r['profiles'])), _e(r['resource']),
                       r['replicas'], r['one_gpu_each']) for r in saved['workloads'])
    optimal = 'proven optimal' if plan.get('optimal') else 'not proven optimal (lower bound %s)' % _e(plan.get('lower_bound'))
    head = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width, initial-scale=1"><title>%s</title><style>%s</style></head><body>'
            % (_e(title), CSS))
    summary = ('<h1>%s</h1><p class="summary" id="summary" data-gpus-used="%d" data-gpus-total="%s" '
               'data-one-gpu-each="%d" data-saved="%d">%s strategy: <strong>%d of %s GPUs used</strong> (%s); '
               '<strong>%d of %d nodes change</strong>. One GPU per replica would take %d GPUs: the plan saves '
               '<strong>%d</strong>.</p>'
               % (_e(title), saved['gpus_used'], _e(plan.get('gpus_total')), saved['one_gpu_each'], saved['saved'],
                  _e(plan.get('strategy', 'mixed')), saved['gpus_used'], _e(plan.get('gpus_total')), optimal,
                  len(changed), len(decoded), saved['one_gpu_each'], saved['saved']))
    table = ('<h2 id="replicas">Replicas and GPUs saved</h2><table class="savings"><thead><tr><th scope="col">Workload</th>'
             '<th scope="col">Per replica</th><th scope="col">Resource</th><th scope="col" class="num">Replicas</th>'
             '<th scope="col" class="num">GPUs at one per replica</th></tr></thead><tbody>%s</tbody><tfoot><tr>'
             '<th scope="row">Total</th><td colspan="2">the plan uses %d GPUs</td><td class="num">%d</td>'
             '<td class="num">%d (saved %d)</td></tr></tfoot></table>'
             % (srows, saved['gpus_used'], sum(r['replicas'] for r in saved['workloads']), saved['one_gpu_each'],
                saved['saved']))
    notes = ''
    if plan.get('unconfirmed'):
        notes = ('<h2 id="unconfirmed">Not confirmed by NVIDIA</h2><p>Verify with <code>nvidia-smi mig -lgipp</code> on '
                 'the node:</p><ul>%s</ul>' % ''.join('<li>%s</li>' % _e(n) for n in plan['unconfirmed']))
    nodes_html = ('<h2 id="nodes">Nodes</h2><p class="legend">Each GPU is a row of its memory slices (the placement grid '
                  'of its MIG geometry); each box is a MIG device at the slices it occupies, labelled with the workload, '
                  'the resource its pods request and its usable memory. Dashed boxes are configured but idle. '
                  'Nodes whose <code>nvidia.com/mig.config</code> changes have a thick border and the word CHANGES.</p>'
                  '<p class="legend">%s</p>' % legend)
    foot = ('<p id="counts" data-gpus="%d" data-instances="%d" data-idle="%d" data-whole="%d">Drawn: %d GPUs, %d '
            'instances (%d idle MIG devices, %d whole-GPU slots).</p></body></html>'
            % (counts['gpus'], counts['instances'], counts['idle'], counts['whole'], counts['gpus'],
               counts['instances'], counts['idle'], counts['whole']))
    return ''.join([head, summary, table, _sizing_table(sizing), nodes_html] + sections + [notes, foot])
