# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model sizing: from ``cnai_models`` to what one replica needs and to the workloads ``mig_plan`` takes.

Pure Python, no Ansible import; ``plugins/modules/model_sizing.py`` is a thin wrapper and the unit tests
call :func:`size` directly.

Per replica (GiB = 2**30 bytes)::

    weights   = linear params x bytes of the quantization (+ group/block scales)
              + embeddings, lm_head, norms, biases, MoE routers x 2 bytes (kept 16-bit, as checkpoints ship)
    kv        = 2 x layers x kv_heads x head_dim x kv bytes x max_model_len x max_num_seqs       (GQA/MHA)
              = layers x (kv_lora_rank + qk_rope_head_dim) x kv bytes x max_model_len x max_num_seqs  (MLA)
              = 0 for encoder-only embedding models (BERT family: vLLM keeps no KV cache for them)
    overhead  = CUDA context 1.0 (+0.5 NCCL with tensor parallel) + CUDA graphs 0.5 (decoders, unless
                --enforce-eager) + activation peak at max_num_batched_tokens
                (tokens x (2 x intermediate / TP + 4 x hidden) x 2 bytes + logits max_num_seqs x vocab x 8 bytes)
    need      = (weights + kv + overhead) / gpu_memory_utilization

With tensor parallel N on whole GPUs each GPU holds weights/N, KV/min(N, kv_heads) (an MLA latent cache is
replicated on every GPU) and its own overhead; a GPU count fits a product when that per-GPU need is at most
the GPU's memory. Parameter counts come from the architecture (embeddings, attention with GQA or MLA, dense
MLP or MoE experts, norms, tied embeddings) and equal transformers' exact count for every built-in
architecture (tests/unit/fixtures/model_sizing/param_counts.json).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import os
import re

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils.model_sizing_data import ARCHITECTURES

GIB = float(1 << 30)
QUANTIZATIONS = ('none', 'bf16', 'fp16', 'fp8', 'awq', 'gptq', 'int8')
DTYPES = ('auto', 'bfloat16', 'float16')
TASKS = ('generate', 'embed')
KV_CACHE_DTYPES = ('auto', 'fp8', 'fp8_e4m3', 'fp8_e5m2')
DEFAULTS = {'max_model_len': 8192, 'max_num_seqs': 8, 'gpu_memory_utilization': 0.90,
            'generate_batched_tokens': 8192, 'max_gpus_per_node': 8}
CONTEXT_GIB = 1.0
NCCL_GIB = 0.5
CUDA_GRAPHS_GIB = 0.5
MODEL_FIELDS = ('name', 'model', 'served_name', 'quantization', 'dtype', 'max_model_len', 'max_num_seqs',
                'gpu_memory_utilization', 'replicas', 'task', 'config', 'profile', 'gpus', 'gpu_product', 'spot',
                'autoscaling', 'extra_args', 'env', 'kv_cache_dtype', 'max_num_batched_tokens')
DNS_LABEL_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
ENCODERS = ('bert', 'roberta', 'xlm-roberta', 'nomic_bert')
DECODERS = ('llama', 'mistral', 'qwen2', 'qwen3', 'qwen3_moe', 'deepseek_v3', 'deepseek_v2')
# Suffixes of hub ids that name a variant of a table architecture (instruct tunes, quantized checkpoints).
VARIANT_SUFFIX_RE = re.compile(
    r'-(instruct|chat|it|hf|base|awq|gptq|gptq-int4|gptq-int8|int4|int8|fp8|fp8-dynamic|fp8-block|w8a8|w4a16|'
    r'w8a16|dynamic|quantized\.w8a8|quantized\.w4a16|2407|2501|0324|0528)$', re.I)
QUANT_HINTS = (('awq', re.compile(r'awq', re.I)), ('gptq', re.compile(r'gptq|w4a16', re.I)),
               ('fp8', re.compile(r'fp8', re.I)), ('int8', re.compile(r'int8|w8a8', re.I)))


class SizingError(ValueError):
    """Bad input or a model that fits nothing; the message says what to change."""


def _by_lower():
    out = {}
    for key, entry in ARCHITECTURES.items():
        out[key.lower()] = key
        for alias in entry.get('aliases', ()):
            out[alias.lower()] = key
    return out


_LOWER = _by_lower()


def lookup(model_id):
    """The table key for a hub id (case-insensitive, instruct/quantized suffixes stripped), or None."""
    if not model_id:
        return None
    cand = str(model_id).strip().rstrip('/')
    for _attempt in range(4):
        low = cand.lower()
        if low in _LOWER:
            return _LOWER[low]
        tail = low.rsplit('/', 1)[-1]
        hits = sorted(set(v for k, v in _LOWER.items() if k.rsplit('/', 1)[-1] == tail))
        if len(hits) == 1:
            return hits[0]
        stripped = VARIANT_SUFFIX_RE.sub('', cand)
        if stripped == cand:
            break
        cand = stripped
    return None


def load_config(config):
    """A config.json as a dict, from a dict, a file path or a directory holding config.json."""
    if isinstance(config, dict):
        return dict(config)
    if not isinstance(config, str) or not config:
        raise SizingError('config must be a config.json path or a dictionary, got %r' % (config,))
    path = os.path.expanduser(config)
    if os.path.isdir(path):
        path = os.path.join(path, 'config.json')
    if not os.path.isfile(path):
        raise SizingError('config %s does not exist (give the path of a config.json, or its directory)' % config)
    try:
        with open(path) as f:
            data = json.load(f)
    except (IOError, OSError, ValueError) as exc:
        raise SizingError('config %s is not readable JSON: %s' % (config, exc))
    if not isinstance(data, dict):
        raise SizingError('config %s must hold a JSON object' % config)
    return data


def _get(cfg, *keys, **kw):
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    if 'default' in kw:
        return kw['default']
    raise SizingError('config has no %s' % ' / '.join(keys))


class Arch(object):
    """The numbers sizing needs, read from a config.json (or the table)."""

    def __init__(self, cfg, task):
        if isinstance(cfg.get('text_config'), dict) and not cfg.get('hidden_size'):
            cfg = dict(cfg['text_config'])
        self.cfg = cfg
        self.model_type = str(cfg.get('model_type') or '').lower()
        arches = cfg.get('architectures') or []
        self.warnings = []
        self.encoder = self.model_type in ENCODERS or any(re.search(r'^(Bert|XLMRoberta|Roberta|NomicBert)', a)
                                                          for a in arches)
        if task is None:
            task = 'embed' if self.encoder else 'generate'
        if self.encoder and task != 'embed':
            raise SizingError('model_type %s is an encoder-only model: set task: embed' % (self.model_type or arches))
        self.task = task
        self.hidden = int(_get(cfg, 'hidden_size', 'n_embd', 'd_model'))
        self.layers = int(_get(cfg, 'num_hidden_layers', 'n_layer', 'num_layers'))
        self.heads = int(_get(cfg, 'num_attention_heads', 'n_head'))
        self.kv_heads = int(_get(cfg, 'num_key_value_heads', default=self.heads) or self.heads)
        self.head_dim = int(_get(cfg, 'head_dim', default=self.hidden // self.heads))
        self.inter = int(_get(cfg, 'intermediate_size', 'n_inner', default=4 * self.hidden))
        self.vocab = int(_get(cfg, 'vocab_size'))
        self.tie = bool(cfg.get('tie_word_embeddings', False))
        self.mla = cfg.get('kv_lora_rank') is not None
        self.experts = int(cfg.get('num_experts') or cfg.get('n_routed_experts') or 0)
        self.top_k = int(cfg.get('num_experts_per_tok') or 0)
        self.moe_inter = int(cfg.get('moe_intermediate_size') or 0)
        self.max_len = self._max_len()
        if not self.encoder and self.model_type not in DECODERS:
            self.warnings.append('model_type %r is not one this collection checks against transformers; its '
                                 'parameters were counted with the Llama formula' % (self.model_type or None))
        self.params = self._count()

    def _max_len(self):
        cfg = self.cfg
        if self.model_type == 'nomic_bert':
            return int(_get(cfg, 'max_trained_positions', 'n_positions', default=2048))
        base = int(_get(cfg, 'max_position_embeddings', 'n_positions', 'max_seq_len', 'seq_length', default=2048))
        if self.model_type in ('roberta', 'xlm-roberta'):
            return base - int(cfg.get('pad_token_id', 1)) - 1
        rope = cfg.get('rope_scaling') or {}
        if isinstance(rope, dict) and rope.get('factor'):
            kind = rope.get('rope_type') or rope.get('type')
            if kind == 'yarn':
                orig = rope.get('original_max_position_embeddings') or base
                return max(base, int(orig * float(rope['factor'])))
            if kind in ('linear', 'dynamic'):
                return int(base * float(rope['factor']))
        return base

    # -- parameter count -------------------------------------------------------------------------------
    def _count(self):
        if self.encoder:
            return self._count_encoder()
        cfg, h, hd = self.cfg, self.hidden, self.head_dim
        mt = self.model_type
        linear = other = expert_params = moe_layers = 0
        for i in range(self.layers):
            if self.mla:
                nope, rope = int(cfg['qk_nope_head_dim']), int(cfg['qk_rope_head_dim'])
                v, kvl, ql = int(cfg['v_head_dim']), int(cfg['kv_lora_rank']), cfg.get('q_lora_rank')
                bias = bool(cfg.get('attention_bias'))
                if ql:
                    linear += h * ql + ql * self.heads * (nope + rope)
                    other += ql + (ql if bias else 0)
                else:
                    linear += h * self.heads * (nope + rope)
                linear += h * (kvl + rope) + kvl * self.heads * (nope + v) + self.heads * v * h
                other += kvl + ((kvl + rope) + h if bias else 0)
            else:
                q, kv = self.heads * hd, self.kv_heads * hd
                linear += h * q + 2 * h * kv + q * h
                if mt == 'qwen2':
                    other += q + 2 * kv
                elif mt in ('llama', 'qwen3', 'qwen3_moe') and cfg.get('attention_bias'):
                    other += q + 2 * kv + h
                if mt in ('qwen3', 'qwen3_moe'):
                    other += 2 * hd
            other += 2 * h                                     # input and post-attention norms
            if self._sparse(i):
                moe_layers += 1
                experts = self.experts * 3 * h * self.moe_inter
                expert_params = 3 * h * self.moe_inter
                linear += experts
                other += self.experts * h                     # router
                shared = int(cfg.get('n_shared_experts') or 0)
                linear += 3 * h * self.moe_inter * shared
            else:
                linear += 3 * h * self.inter
                if mt == 'llama' and cfg.get('mlp_bias'):
                    other += 2 * self.inter + h
        other += h                                             # final norm
        embed = self.vocab * h
        lm_head = 0 if (self.tie or self.task == 'embed') else self.vocab * h
        total = linear + other + embed + lm_head
        active = total - moe_layers * max(0, self.experts - self.top_k) * expert_params
        return {'total': total, 'linear': linear, 'other': other, 'embed': embed, 'lm_head': lm_head,
                'active': active}

    def _sparse(self, i):
        cfg = self.cfg
        if self.experts <= 0 or not self.moe_inter:
            return False
        if self.model_type in ('deepseek_v3', 'deepseek_v2'):
            return i >= int(cfg.get('first_k_dense_replace') or 0) and i % int(cfg.get('moe_layer_freq') or 1) == 0
        step = int(cfg.get('decoder_sparse_step') or 1)
        return i not in (cfg.get('mlp_only_layers') or []) and (i + 1) % step == 0

    def _count_encoder(self):
        cfg, h, inter = self.cfg, self.hidden, self.inter
        types = int(cfg.get('type_vocab_size', 2) or 0)
        embed = self.vocab * h
        other = types * h + 2 * h
        linear = 0
        if self.model_type == 'nomic_bert':
            if not float(cfg.get('rotary_emb_fraction') or 0):
                other += int(_get(cfg, 'n_positions', 'max_position_embeddings')) * h
            qkv_bias = bool(cfg.get('qkv_proj_bias', True))
            swiglu = str(cfg.get('activation_function', 'swiglu')) in ('swiglu', 'geglu')
            per = 3 * h * h + h * h + (2 if swiglu else 1) * h * inter + inter * h
            per_other = (4 * h if qkv_bias else 0) + 4 * h
            if cfg.get('mlp_fc1_bias', True):
                per_other += (2 if swiglu else 1) * inter
            if cfg.get('mlp_fc2_bias', True):
                per_other += h
        else:
            other += int(_get(cfg, 'max_position_embeddings')) * h
            per = 4 * h * h + 2 * h * inter
            per_other = 4 * h + 2 * h + inter + h + 2 * h
        linear = self.layers * per
        other += self.layers * per_other
        total = embed + linear + other
        return {'total': total, 'linear': linear, 'other': other, 'embed': embed, 'lm_head': 0, 'active': total}

    def kv_bytes_per_token(self, kv_bytes):
        """KV bytes per token for the whole model (one copy), 0 for encoder-only models."""
        if self.encoder:
            return 0
        if self.mla:
            return self.layers * (int(self.cfg['kv_lora_rank']) + int(self.cfg['qk_rope_head_dim'])) * kv_bytes
        return 2 * self.layers * self.kv_heads * self.head_dim * kv_bytes

    def effective_intermediate(self):
        if self.experts and self.moe_inter:
            moe = self.moe_inter * (self.top_k + int(self.cfg.get('n_shared_experts') or 0))
            dense = self.inter if (self.model_type.startswith('deepseek')
                                   and self.cfg.get('first_k_dense_replace')) else 0
            return max(moe, dense)
        return self.inter

    def checkpoint_quantization(self):
        """(method, details) from quantization_config, method mapped to our names; (None, {}) when absent."""
        qc = self.cfg.get('quantization_config')
        if not isinstance(qc, dict):
            return None, {}
        method = str(qc.get('quant_method') or '').lower()
        if method in ('awq', 'gptq', 'fp8'):
            return method, qc
        if method in ('awq_marlin', 'gptq_marlin'):
            return method.split('_', maxsplit=1)[0], qc
        if method == 'compressed-tensors':
            for group in (qc.get('config_groups') or {}).values():
                w = (group or {}).get('weights') or {}
                bits, kind = int(w.get('num_bits') or 0), str(w.get('type') or 'int')
                if bits == 8:
                    return ('fp8' if kind == 'float' else 'int8'), dict(qc, bits=8)
                if bits == 4:
                    return 'gptq', dict(qc, bits=4, group_size=w.get('group_size') or 128)
        raise SizingError('config quantization_config.quant_method %r is not one sizing knows (%s)'
                          % (method, ', '.join(QUANTIZATIONS)))


def weight_bytes(params, quantization, qc=None):
    """Bytes of the weights; embeddings, lm_head, norms, biases and routers stay 16-bit."""
    qc = qc or {}
    rest = (params['total'] - params['linear']) * 2.0
    if quantization in ('none', 'bf16', 'fp16'):
        return params['total'] * 2.0
    if quantization in ('fp8', 'int8'):
        block = qc.get('weight_block_size')
        scale = 4.0 / (block[0] * block[1]) if block else 0.0
        return params['linear'] * (1.0 + scale) + rest
    bits = int(qc.get('bits') or qc.get('w_bit') or 4)
    group = int(qc.get('group_size') or qc.get('q_group_size') or 128)
    if group <= 0:
        group = 4096                                           # per-channel
    return params['linear'] * (bits / 8.0 + (2.0 + bits / 8.0) / group) + rest


# -- validation ------------------------------------------------------------------------------------------
def _int(m, key, lo, default, errors, name):
    v = m.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
        try:
            v = int(str(v))
        except ValueError:
            errors.append('model %s: %s must be an integer, got %r' % (name, key, m.get(key)))
            return default
    if v < lo:
        errors.append('model %s: %s must be at least %d, got %s' % (name, key, lo, v))
        return default
    return int(v)


def _resolve_products(gpu_products):
    if not gpu_products:
        raise SizingError('gpu_products is empty: list the GPU products of the fleet (nvidia-smi names or PCI ids)')
    out = []
    seen = set()
    for p in gpu_products:
        try:
            model = mig_catalog.lookup(str(p))
        except mig_catalog.CatalogError as exc:
            raise SizingError('gpu_products: %s' % exc)
        if model.key in seen:
            continue
        seen.add(model.key)
        whole = (model.memory_total_mib / 1024.0 if model.memory_total_mib
                 else max(x.memory_gib for x in model.profiles.values()))
        out.append({'name': str(p), 'model': model, 'whole_gib': whole})
    return out


def _smallest_profile(model, need):
    """Same rule as the planner: the smallest base profile whose usable GiB fits."""
    fits = [p for p in model.profiles.values() if p.is_base and p.memory_gib >= need]
    if not fits:
        return None
    return min(fits, key=lambda p: (p.memory_gib, p.size, p.compute, -len(p.placements), p.name))


def _tp_ok(arch, n):
    return arch.heads % n == 0 and (arch.kv_heads % n == 0 or n % arch.kv_heads == 0 or arch.mla)


def _quant_from_name(model_id):
    for q, rx in QUANT_HINTS:
        if rx.search(str(model_id).rsplit('/', 1)[-1]):
            return q
    return None


def _normalize(m, index, errors, names):
    if not isinstance(m, dict):
        errors.append('models[%d] must be a dictionary, got %r' % (index, m))
        return None
    name = m.get('name')
    label = 'models[%d]' % index
    if not name or not isinstance(name, str):
        errors.append('%s: name is required (a DNS label such as qwen-chat)' % label)
        return None
    if len(name) > 63 or not DNS_LABEL_RE.match(name):
        errors.append('model %r: name must be a DNS label (lower-case letters, digits and -, at most 63, '
                      'starting and ending alphanumeric)' % name)
    if name in names:
        errors.append('model %s: duplicate name' % name)
    names.add(name)
    unknown = sorted(set(m) - set(MODEL_FIELDS))
    if unknown:
        errors.append('model %s: unknown field(s) %s; known: %s' % (name, ', '.join(unknown), ', '.join(MODEL_FIELDS)))
    if not m.get('model') or not isinstance(m.get('model'), str):
        errors.append('model %s: model is required (a hub id such as Qwen/Qwen2.5-7B-Instruct-AWQ, or a path)' % name)
    q = m.get('quantization')
    if q is not None and q not in QUANTIZATIONS:
        errors.append('model %s: quantization %r is not known; use one of %s' % (name, q, ', '.join(QUANTIZATIONS)))
    for key, choices in (('dtype', DTYPES), ('task', TASKS), ('kv_cache_dtype', KV_CACHE_DTYPES)):
        if m.get(key) is not None and m[key] not in choices:
            errors.append('model %s: %s %r is not one of %s' % (name, key, m[key], ', '.join(choices)))
    util = m.get('gpu_memory_utilization', DEFAULTS['gpu_memory_utilization'])
    try:
        util = float(util)
        if not 0.05 <= util <= 1.0:
            raise ValueError
    except (TypeError, ValueError):
        errors.append('model %s: gpu_memory_utilization must be a number in (0.05, 1.0], got %r'
                      % (name, m.get('gpu_memory_utilization')))
        util = DEFAULTS['gpu_memory_utilization']
    rep = m.get('replicas') if m.get('replicas') is not None else {}
    if not isinstance(rep, dict):
        errors.append('model %s: replicas must be a dictionary {min, max}, got %r' % (name, rep))
        rep = {}
    rmin = _int(rep, 'min', 0, None, errors, name)
    rmax = _int(rep, 'max', 1, None, errors, name)
    if rmin is None and rmax is None:
        rmin = rmax = 1
    elif rmax is None:
        rmax = max(rmin, 1)
    elif rmin is None:
        rmin = min(1, rmax)
    if rmin > rmax:
        errors.append('model %s: replicas.min %d is greater than replicas.max %d' % (name, rmin, rmax))
    if m.get('profile') is not None and m.get('gpus') is not None:
        errors.append('model %s: set profile or gpus, not both' % name)
    for key, typ in (('extra_args', list), ('env', dict), ('autoscaling', dict)):
        if m.get(key) is not None and not isinstance(m[key], typ):
            errors.append('model %s: %s must be a %s' % (name, key, typ.__name__))
    out = dict(m)
    out.update(gpu_memory_utilization=util, replicas={'min': rmin, 'max': rmax})
    out['max_num_seqs'] = _int(m, 'max_num_seqs', 1, DEFAULTS['max_num_seqs'], errors, name)
    out['max_model_len'] = _int(m, 'max_model_len', 1, None, errors, name)
    out['max_num_batched_tokens'] = _int(m, 'max_num_batched_tokens', 1, None, errors, name)
    out['gpus'] = _int(m, 'gpus', 1, None, errors, name)
    return out


def _architecture(m, errors):
    """(Arch, source, table key) for a normalized model; errors appended, (None, ..) on failure."""
    name = m['name']
    key = lookup(m.get('model'))
    try:
        if m.get('config') is not None:
            cfg, source = load_config(m['config']), 'config'
        elif key:
            cfg, source = dict(ARCHITECTURES[key]['config']), 'table'
        else:
            errors.append('model %s: %r is not in the built-in table; give config (a config.json path or dict). '
                          'Known: %s' % (name, m.get('model'), ', '.join(sorted(ARCHITECTURES))))
            return None, None, None
        task = m.get('task') or (ARCHITECTURES[key]['task'] if key and source == 'table' else None)
        return Arch(cfg, task), source, key
    except SizingError as exc:
        errors.append('model %s: %s' % (name, exc))
    except (TypeError, ValueError, KeyError) as exc:
        errors.append('model %s: config is missing or has a bad value for %s' % (name, exc))
    return None, None, None


def _size_one(m, arch, source, key, products, max_gpus, errors):
    name = m['name']
    warnings = ['model %s: %s' % (name, w) for w in arch.warnings]
    try:
        ckpt_q, qc = arch.checkpoint_quantization()
    except SizingError as exc:
        errors.append('model %s: %s' % (name, exc))
        return None
    if source == 'table' and str(m['model']).lower() not in _LOWER:
        ckpt_q, qc = None, {}          # a variant of the table's architecture (an AWQ upload, a fine-tune)
    q = m.get('quantization')
    if q is None:
        q = ckpt_q or _quant_from_name(m['model']) or 'none'
    elif ckpt_q and q != ckpt_q:
        if source == 'config':
            errors.append('model %s: quantization %s, but the checkpoint config says %s (quantization_config); set '
                          'quantization: %s or use another checkpoint' % (name, q, ckpt_q, ckpt_q))
            return None
        warnings.append('model %s: %s ships as %s; sized as %s as asked' % (name, m['model'], ckpt_q, q))
        ckpt_q, qc = None, {}
    name_q = _quant_from_name(m['model'])
    prequantized = bool(ckpt_q) or name_q == q
    if q in ('awq', 'gptq', 'int8') and not prequantized:
        warnings.append('model %s: vLLM cannot quantize to %s while loading; %s must be a %s checkpoint'
                        % (name, q, m['model'], q.upper()))
    if name_q and q != name_q and not ckpt_q:
        warnings.append('model %s: the name %s suggests %s, but it is sized as %s' % (name, m['model'], name_q, q))
    vllm_q = 'fp8' if (q == 'fp8' and not prequantized) else None
    implied = {'bf16': 'bfloat16', 'fp16': 'float16'}.get(q)
    dtype = m.get('dtype') or 'auto'
    if implied and dtype not in ('auto', implied):
        errors.append('model %s: quantization %s means dtype %s, but dtype is %s' % (name, q, implied, dtype))
        return None
    dtype = implied or dtype

    task = arch.task
    max_len = m.get('max_model_len')
    if max_len is None:
        max_len = min(DEFAULTS['max_model_len'], arch.max_len)
    elif max_len > arch.max_len:
        errors.append('model %s: max_model_len %d is longer than the model allows (%d, from %s)'
                      % (name, max_len, arch.max_len, 'its config' if source == 'config' else key))
        return None
    seqs = m['max_num_seqs']
    extra = [str(a) for a in (m.get('extra_args') or [])]
    eager = '--enforce-eager' in extra
    kv_dtype = m.get('kv_cache_dtype') or 'auto'
    kv_bytes = 1 if kv_dtype.startswith('fp8') else 2
    batched = m.get('max_num_batched_tokens') or (
        DEFAULTS['generate_batched_tokens'] if task == 'generate' else max(max_len, 2048))

    w_bytes = weight_bytes(arch.params, q, qc)
    kv_tok = arch.kv_bytes_per_token(kv_bytes)
    kv_total = kv_tok * max_len * seqs
    util = m['gpu_memory_utilization']

    def per_gpu(n):
        if arch.mla:
            kv = kv_total
        else:
            kv = kv_total / min(n, arch.kv_heads) if kv_total else 0.0
        act = batched * (2.0 * arch.effective_intermediate() / n + 4.0 * arch.hidden) * 2.0
        if task == 'generate':
            act += seqs * arch.vocab * 8.0
        over = (CONTEXT_GIB + (NCCL_GIB if n > 1 else 0.0)
                + (CUDA_GRAPHS_GIB if not (arch.encoder or eager) else 0.0)) * GIB + act
        return {'weights': w_bytes / n, 'kv': kv, 'overhead': over,
                'need': (w_bytes / n + kv + over) / util}

    one = per_gpu(1)
    need1 = one['need'] / GIB

    only = m.get('gpu_product')
    candidates = products
    if only:
        try:
            want = mig_catalog.lookup(str(only))
        except mig_catalog.CatalogError as exc:
            errors.append('model %s: gpu_product: %s' % (name, exc))
            return None
        candidates = [p for p in products if p['model'].key == want.key]
        if not candidates:
            errors.append('model %s: gpu_product %s is not in gpu_products (%s)'
                          % (name, only, ', '.join(p['name'] for p in products)))
            return None

    tp_choices = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= max_gpus and _tp_ok(arch, n)]

    def gpus_needed(prod):
        for n in tp_choices:
            if per_gpu(n)['need'] / GIB <= prod['whole_gib']:
                return n
        return None

    per_product = {}
    workload = {'name': name, 'instances': m['replicas']['max']}
    kind = None
    tp = 1
    if m.get('profile'):
        prof_name = str(m['profile'])
        for p in candidates:
            prof = p['model'].profiles.get(prof_name)
            if prof is None:
                continue
            if prof.memory_gib < need1:
                errors.append('model %s: profile %s has %.2f GiB usable on %s but one replica needs %.2f GiB; '
                              'choose a larger profile or lower max_model_len/max_num_seqs'
                              % (name, prof_name, prof.memory_gib, p['name'], need1))
                return None
            per_product[p['name']] = {'profile': prof_name, 'usable_gib': _r(prof.memory_gib),
                                      'headroom_gib': _r(prof.memory_gib - need1)}
        if not per_product:
            errors.append('model %s: profile %s exists on none of %s' % (name, prof_name,
                                                                         ', '.join(p['name'] for p in candidates)))
            return None
        workload['profile'] = prof_name
        kind = 'mig'
    elif m.get('gpus'):
        n = m['gpus']
        if not _tp_ok(arch, n):
            errors.append('model %s: gpus %d cannot be the tensor-parallel size: it must divide the %d attention '
                          'heads (and the %d KV heads, or be a multiple of them)' % (name, n, arch.heads, arch.kv_heads))
            return None
        pg = per_gpu(n)
        for p in candidates:
            if pg['need'] / GIB <= p['whole_gib']:
                per_product[p['name']] = {'gpus': n, 'usable_gib': _r(p['whole_gib']),
                                          'headroom_gib': _r(p['whole_gib'] - pg['need'] / GIB),
                                          'need_per_gpu_gib': _r(pg['need'] / GIB)}
        if not per_product:
            errors.append('model %s: gpus %d gives each GPU %.2f GiB to hold, more than %s offers (%s)'
                          % (name, n, pg['need'] / GIB, ' or '.join(p['name'] for p in candidates),
                             ', '.join('%.2f GiB' % p['whole_gib'] for p in candidates)))
            return None
        if len(per_product) < len(candidates):
            keep = [p['name'] for p in candidates if p['name'] in per_product][0]
            for prod in list(per_product):
                if prod != keep:
                    del per_product[prod]
            workload['gpu_product'] = keep
            warnings.append('model %s: gpus %d fits %s, not every product of the fleet; its replicas go to %s only'
                            % (name, n, keep, keep))
        workload['gpus'] = n
        kind, tp = 'gpus', n
    else:
        for p in candidates:
            prof = _smallest_profile(p['model'], need1)
            if prof is not None:
                per_product[p['name']] = {'profile': prof.name, 'usable_gib': _r(prof.memory_gib),
                                          'headroom_gib': _r(prof.memory_gib - need1)}
        if per_product:
            workload['memory_gib'] = math.ceil(need1 * 100.0) / 100.0
            kind = 'mig'
            for p in candidates:
                if p['name'] not in per_product:
                    warnings.append('model %s: needs %.2f GiB per replica, more than any MIG profile of %s; its '
                                    'replicas go to %s only' % (name, need1, p['name'], ', '.join(per_product)))
        else:
            counts = dict((p['name'], gpus_needed(p)) for p in candidates)
            fit = [c for c in counts.values() if c]
            if not fit:
                biggest = max(candidates, key=lambda p: p['whole_gib'])
                top = tp_choices[-1] if tp_choices else 1
                errors.append(
                    'model %s fits no GPU of the fleet: one replica needs %.2f GiB (weights %.2f + KV %.2f + '
                    'overhead %.2f GiB, / %.2f), with tensor parallel %d still %.2f GiB per GPU; the largest GPU '
                    'is %s with %.2f GiB (and %d per node at most). Lower max_model_len/max_num_seqs, quantize, or '
                    'add larger GPUs' % (name, need1, w_bytes / GIB, kv_total / GIB, one['overhead'] / GIB, util, top,
                                         per_gpu(top)['need'] / GIB, biggest['name'], biggest['whole_gib'], max_gpus))
                return None
            n = min(fit)
            tp = n
            pg = per_gpu(n)
            chosen = [p for p in candidates if counts[p['name']] == n]
            for p in chosen:
                per_product[p['name']] = {'gpus': n, 'usable_gib': _r(p['whole_gib']),
                                          'headroom_gib': _r(p['whole_gib'] - pg['need'] / GIB),
                                          'need_per_gpu_gib': _r(pg['need'] / GIB)}
            if len(chosen) < len(candidates):
                if len(chosen) > 1:
                    # mig_plan takes one gpu_product per workload: keep the first in gpu_products order
                    for p in chosen[1:]:
                        del per_product[p['name']]
                    chosen = chosen[:1]
                workload['gpu_product'] = chosen[0]['name']
                for p in candidates:
                    if p['name'] not in per_product:
                        warnings.append(
                            'model %s: %s GPUs per replica on %s; %s would need %s, so its replicas go to %s only'
                            % (name, n, chosen[0]['name'], p['name'],
                               counts[p['name']] or 'more than %d' % max_gpus, chosen[0]['name']))
            workload['gpus'] = n
            kind = 'gpus'
    if only and 'gpu_product' not in workload:
        workload['gpu_product'] = only

    pg = per_gpu(tp)
    weights_gib = w_bytes / GIB
    overhead_gib = pg['overhead'] * tp / GIB
    kv_alloc_gib = pg['kv'] * tp / GIB
    need = (w_bytes + pg['kv'] * tp + pg['overhead'] * tp) / util / GIB
    entry = {
        'name': name, 'model': m['model'], 'served_name': m.get('served_name') or m['model'],
        'architecture': key, 'config_source': source, 'model_type': arch.model_type or None,
        'params_b': _r(arch.params['total'] / 1e9, 3), 'params': arch.params['total'],
        'quantization': q, 'vllm_quantization': vllm_q, 'dtype': dtype, 'kv_cache_dtype': kv_dtype,
        'task': task, 'max_model_len': max_len, 'model_max_len': arch.max_len, 'max_num_seqs': seqs,
        'max_num_batched_tokens': batched, 'gpu_memory_utilization': util,
        'weights_gib': _r(weights_gib), 'kv_gib_per_token_k': _r(kv_tok * 1024 / GIB, 4),
        'kv_gib': _r(kv_total / GIB), 'kv_allocated_gib': _r(kv_alloc_gib), 'overhead_gib': _r(overhead_gib),
        'need_gib': _r(need), 'need_per_gpu_gib': _r(pg['need'] / GIB), 'tensor_parallel': tp,
        'placement': kind, 'per_product': per_product, 'replicas': m['replicas'], 'workload': workload,
        'vllm_args': _vllm_args(max_len, seqs, tp, util, vllm_q, dtype, kv_dtype, task),
    }
    if arch.experts:
        entry['active_params_b'] = _r(arch.params['active'] / 1e9, 3)
    if arch.mla:
        entry['attention'] = 'mla'
    if task == 'embed':
        entry['embedding_dim'] = arch.hidden
    for k in ('spot', 'autoscaling', 'extra_args', 'env'):
        if m.get(k) is not None:
            entry[k] = m[k]
    entry['warnings'] = warnings
    return entry


def _vllm_args(max_len, seqs, tp, util, vllm_q, dtype, kv_dtype, task):
    args = ['--max-model-len', str(max_len), '--max-num-seqs', str(seqs), '--gpu-memory-utilization', str(util),
            '--tensor-parallel-size', str(tp)]
    if dtype != 'auto':
        args += ['--dtype', dtype]
    if vllm_q:
        args += ['--quantization', vllm_q]
    if kv_dtype != 'auto':
        args += ['--kv-cache-dtype', kv_dtype]
    if task == 'embed':
        args += ['--runner', 'pooling']
    return args


def _r(x, nd=2):
    return round(float(x), nd)


def _report(entries, warnings):
    lines = []
    for e in entries:
        lines.append('%s: %s (%s, %sB params%s, %s%s) %s tokens x %d seqs: weights %.2f + KV %.2f + overhead %.2f GiB'
                     ' / %.2f = %.2f GiB per replica%s'
                     % (e['name'], e['model'], e['model_type'], e['params_b'],
                        ', %sB active' % e['active_params_b'] if 'active_params_b' in e else '',
                        e['quantization'], ', MLA' if e.get('attention') == 'mla' else '', e['max_model_len'],
                        e['max_num_seqs'], e['weights_gib'], e['kv_allocated_gib'], e['overhead_gib'],
                        e['gpu_memory_utilization'], e['need_gib'],
                        ' (%.2f per GPU, tensor parallel %d)' % (e['need_per_gpu_gib'], e['tensor_parallel'])
                        if e['tensor_parallel'] > 1 else ''))
        for prod, pp in e['per_product'].items():
            what = pp['profile'] if 'profile' in pp else '%d whole GPU(s)' % pp['gpus']
            lines.append('    %s: %s (%.2f GiB usable, headroom %.2f GiB)'
                         % (prod, what, pp['usable_gib'], pp['headroom_gib']))
        rep = e['replicas']

        def need(n):
            if e['placement'] == 'gpus':
                return '%d whole GPU(s)' % (n * e['tensor_parallel'])
            return ' or '.join('%d x %s on %s' % (n, pp['profile'], prod) for prod, pp in e['per_product'].items())
        lines.append('    replicas %d..%d: the plan reserves max, %s; min alone would need %s'
                     % (rep['min'], rep['max'], need(rep['max']), need(rep['min']) if rep['min'] else 'nothing'))
    lines.extend('warning: ' + w for w in warnings)
    return lines


def size(models, gpu_products, max_gpus_per_node=None):
    """Size every model. Returns {'models', 'workloads', 'report', 'warnings'}; raises SizingError listing
    every problem found when any input is bad or a model fits nothing."""
    if not isinstance(models, list) or not models:
        raise SizingError('models is empty: give at least one model (cnai_models)')
    max_gpus = max_gpus_per_node or DEFAULTS['max_gpus_per_node']
    if isinstance(max_gpus, bool) or not isinstance(max_gpus, int) or max_gpus < 1:
        raise SizingError('max_gpus_per_node must be a positive integer, got %r' % (max_gpus_per_node,))
    products = _resolve_products(gpu_products)
    errors, names, normalized = [], set(), []
    for i, m in enumerate(models):
        before = len(errors)
        n = _normalize(m, i, errors, names)
        if n is not None and len(errors) == before:
            normalized.append(n)
    entries = []
    # size every model whose own fields are valid, so that one run reports every problem
    for m in normalized:
        arch, source, key = _architecture(m, errors)
        if arch is None:
            continue
        e = _size_one(m, arch, source, key, products, max_gpus, errors)
        if e is not None:
            entries.append(e)
    if errors:
        raise SizingError('model_sizing: %d problem(s), nothing was changed:\n- %s' % (len(errors), '\n- '.join(errors)))
    warnings = [w for e in entries for w in e['warnings']]
    return {'models': entries, 'workloads': [e['workload'] for e in entries],
            'report': _report(entries, warnings), 'warnings': warnings}


def embedding_models(models):
    """The embedding models of ``cnai_models`` (task embed, given or implied by an encoder architecture):
    ``[{name, model, served_name, dimension}]`` in input order. The dimension is the architecture's hidden
    size (what vLLM's pooling returns), from the built-in table or the model's ``config``. Needs no GPU
    products, so the RAG roles can read it without sizing. Raises SizingError listing every problem."""
    if not isinstance(models, list):
        raise SizingError('models must be a list (cnai_models), got %r' % (models,))
    errors, names, out = [], set(), []
    for i, m in enumerate(models):
        before = len(errors)
        n = _normalize(m, i, errors, names)
        if n is None or len(errors) != before:
            continue
        arch, _source, _key = _architecture(n, errors)
        if arch is None or arch.task != 'embed':
            continue
        out.append({'name': n['name'], 'model': n['model'], 'served_name': n.get('served_name') or n['model'],
                    'dimension': arch.hidden})
    if errors:
        raise SizingError('cnai_models: %d problem(s):\n- %s' % (len(errors), '\n- '.join(errors)))
    return out
