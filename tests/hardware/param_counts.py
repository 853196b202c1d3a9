#!/usr/bin/env python3
"""Exact parameter counts of the built-in architectures, from transformers on the meta device.

Run on a host with torch and transformers (no weights are downloaded, no network is needed):

    python3 tests/hardware/param_counts.py > tests/unit/fixtures/model_sizing/param_counts.json

Every entry of plugins/module_utils/model_sizing_data.py (and the extra config variants below, which
exercise branches of the formula the table does not) is built with
``AutoConfig.for_model(model_type, **config)`` and ``AutoModelForCausalLM.from_config`` (``task:
generate``) or ``AutoModel.from_config`` (``task: embed``; encoder models without the pooler, as vLLM loads
them) under ``torch.device('meta')``, and ``sum(p.numel() for p in model.parameters())`` is recorded
(tied parameters count once). tests/unit/plugins/module_utils/test_model_sizing_params.py compares the
collection's formula with these numbers. Model types transformers does not ship (nomic_bert needs remote
code) are recorded with ``params: null`` and the reason.
"""
import importlib.util
import json
import os
import platform
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'plugins', 'module_utils', 'model_sizing_data.py')

# Configs that are not in the table but take other branches of the formula.
VARIANTS = {
    'variant/llama-attention-and-mlp-bias': {'task': 'generate', 'config': {
        'model_type': 'llama', 'hidden_size': 1024, 'intermediate_size': 2816, 'num_hidden_layers': 4,
        'num_attention_heads': 16, 'num_key_value_heads': 4, 'attention_bias': True, 'mlp_bias': True,
        'vocab_size': 32000, 'tie_word_embeddings': False, 'max_position_embeddings': 4096}},
    'variant/mistral-no-head-dim-tied': {'task': 'generate', 'config': {
        'model_type': 'mistral', 'hidden_size': 2048, 'intermediate_size': 5632, 'num_hidden_layers': 6,
        'num_attention_heads': 16, 'num_key_value_heads': 16, 'vocab_size': 32000,
        'tie_word_embeddings': True, 'max_position_embeddings': 8192}},
    'variant/qwen3-moe-sparse-step-2-mlp-only': {'task': 'generate', 'config': {
        'model_type': 'qwen3_moe', 'hidden_size': 1024, 'intermediate_size': 3072, 'moe_intermediate_size': 256,
        'head_dim': 64, 'num_hidden_layers': 6, 'num_attention_heads': 16, 'num_key_value_heads': 4,
        'num_experts': 16, 'num_experts_per_tok': 4, 'decoder_sparse_step': 2, 'mlp_only_layers': [3],
        'vocab_size': 151936, 'tie_word_embeddings': False, 'max_position_embeddings': 40960}},
    'variant/deepseek-v3-no-q-lora-2-shared': {'task': 'generate', 'config': {
        'model_type': 'deepseek_v3', 'hidden_size': 2048, 'intermediate_size': 10944,
        'moe_intermediate_size': 1408, 'num_hidden_layers': 5, 'num_attention_heads': 16,
        'num_key_value_heads': 16, 'n_shared_experts': 2, 'n_routed_experts': 64, 'num_experts_per_tok': 6,
        'first_k_dense_replace': 1, 'moe_layer_freq': 1, 'n_group': 1, 'topk_group': 1, 'q_lora_rank': None,
        'kv_lora_rank': 512, 'qk_nope_head_dim': 128, 'qk_rope_head_dim': 64, 'v_head_dim': 128,
        'vocab_size': 102400, 'tie_word_embeddings': False, 'max_position_embeddings': 163840}},
    'variant/qwen3-embedding-untied': {'task': 'embed', 'config': {
        'model_type': 'qwen3', 'hidden_size': 1024, 'intermediate_size': 3072, 'head_dim': 128,
        'num_hidden_layers': 4, 'num_attention_heads': 16, 'num_key_value_heads': 8, 'vocab_size': 151669,
        'tie_word_embeddings': False, 'max_position_embeddings': 32768}},
}


def load_table():
    spec = importlib.util.spec_from_file_location('model_sizing_data', DATA)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ARCHITECTURES


def count(entry):
    cfg = dict(entry['config'])
    cfg.pop('quantization_config', None)     # from_config never quantizes; keep the build plain
    model_type = cfg.pop('model_type')
    config = AutoConfig.for_model(model_type, **cfg)
    kwargs = {}
    if entry['task'] == 'embed':
        cls = AutoModel
        if model_type in ('bert', 'xlm-roberta', 'roberta'):
            kwargs['add_pooling_layer'] = False
    else:
        cls = AutoModelForCausalLM
    with torch.device('meta'):
        model = cls.from_config(config, **kwargs)
    return sum(p.numel() for p in model.parameters()), type(model).__name__


def main():
    table = load_table()
    out = {
        'command': 'python3 tests/hardware/param_counts.py > tests/unit/fixtures/model_sizing/param_counts.json',
        'host': platform.node(),
        'python': platform.python_version(),
        'torch': torch.__version__,
        'transformers': transformers.__version__,
        'generated_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'models': {},
    }
    for name, entry in sorted(list(table.items()) + list(VARIANTS.items())):
        rec = {'task': entry['task'], 'config': entry['config']}
        t0 = time.time()
        try:
            params, cls = count(entry)
            rec.update(params=params, model_class=cls)
        except Exception as exc:  # record why, keep going: the unit test says which entries lack a count
            rec.update(params=None, error='%s: %s' % (type(exc).__name__, str(exc).splitlines()[0][:300]))
        rec['seconds'] = round(time.time() - t0, 2)
        out['models'][name] = rec
        print('%-50s %s' % (name, rec.get('params', rec.get('error'))), file=sys.stderr)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
