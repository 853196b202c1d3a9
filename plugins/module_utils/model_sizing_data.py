# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built-in architecture table for ``cnai.platform.model_sizing``.

Each entry is the subset of the model's Hugging Face ``config.json`` that sizing reads, with the keys
spelled as in ``config.json`` (so the same parser reads this table and a user's file), plus:

- ``task``: ``generate`` (a causal LM) or ``embed`` (a pooling model; decoder-based embedders such as
  e5-mistral and Qwen3-Embedding are loaded without ``lm_head``);
- ``aliases``: other hub ids with the same architecture (instruct/chat variants, distills, quantized
  checkpoints are matched by suffix stripping in model_sizing.lookup, not listed here).

Pure data, no imports: ``tests/hardware/param_counts.py`` loads this file on the GPU host to build each
architecture with ``transformers`` on the meta device, and ``tests/unit/fixtures/model_sizing/`` keeps the
counts it printed. Values are the published ``config.json`` of the first hub id (checked on 2026-11-29
against configs quoted in public code; where a checkpoint family varies, e.g. Qwen2.5 base vs instruct
``max_position_embeddings``, the instruct value is used).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type


def _qwen2(hidden, inter, layers, heads, kv, vocab, tie, max_pos=32768):
    return {'model_type': 'qwen2', 'hidden_size': hidden, 'intermediate_size': inter,
            'num_hidden_layers': layers, 'num_attention_heads': heads, 'num_key_value_heads': kv,
            'vocab_size': vocab, 'tie_word_embeddings': tie, 'max_position_embeddings': max_pos,
            'torch_dtype': 'bfloat16'}


def _qwen3(hidden, inter, layers, heads, kv, vocab, tie, max_pos=40960):
    return {'model_type': 'qwen3', 'hidden_size': hidden, 'intermediate_size': inter, 'head_dim': 128,
            'num_hidden_layers': layers, 'num_attention_heads': heads, 'num_key_value_heads': kv,
            'attention_bias': False, 'vocab_size': vocab, 'tie_word_embeddings': tie,
            'max_position_embeddings': max_pos, 'torch_dtype': 'bfloat16'}


def _qwen3_moe(hidden, inter, moe_inter, layers, heads, kv, experts, top_k):
    return {'model_type': 'qwen3_moe', 'hidden_size': hidden, 'intermediate_size': inter,
            'moe_intermediate_size': moe_inter, 'head_dim': 128, 'num_hidden_layers': layers,
            'num_attention_heads': heads, 'num_key_value_heads': kv, 'num_experts': experts,
            'num_experts_per_tok': top_k, 'decoder_sparse_step': 1, 'mlp_only_layers': [],
            'attention_bias': False, 'vocab_size': 151936, 'tie_word_embeddings': False,
            'max_position_embeddings': 40960, 'torch_dtype': 'bfloat16'}


def _llama(hidden, inter, layers, heads, kv, tie, head_dim=128, vocab=128256, max_pos=131072):
    return {'model_type': 'llama', 'hidden_size': hidden, 'intermediate_size': inter,
            'num_hidden_layers': layers, 'num_attention_heads': heads, 'num_key_value_heads': kv,
            'head_dim': head_dim, 'attention_bias': False, 'mlp_bias': False, 'vocab_size': vocab,
            'tie_word_embeddings': tie, 'max_position_embeddings': max_pos, 'torch_dtype': 'bfloat16',
            'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
                             'high_freq_factor': 4.0, 'original_max_position_embeddings': 8192}}


def _mistral(vocab, sliding_window=None, dtype='bfloat16'):
    return {'model_type': 'mistral', 'hidden_size': 4096, 'intermediate_size': 14336, 'num_hidden_layers': 32,
            'num_attention_heads': 32, 'num_key_value_heads': 8, 'head_dim': 128, 'vocab_size': vocab,
            'tie_word_embeddings': False, 'max_position_embeddings': 32768, 'sliding_window': sliding_window,
            'torch_dtype': dtype}


def _bert(hidden, layers, heads, inter, max_pos=512, vocab=30522, dtype='float32'):
    return {'model_type': 'bert', 'hidden_size': hidden, 'num_hidden_layers': layers,
            'num_attention_heads': heads, 'intermediate_size': inter, 'vocab_size': vocab,
            'max_position_embeddings': max_pos, 'type_vocab_size': 2, 'torch_dtype': dtype}


def _xlm_roberta(max_pos):
    return {'model_type': 'xlm-roberta', 'hidden_size': 1024, 'num_hidden_layers': 24, 'num_attention_heads': 16,
            'intermediate_size': 4096, 'vocab_size': 250002, 'max_position_embeddings': max_pos,
            'type_vocab_size': 1, 'pad_token_id': 1, 'torch_dtype': 'float32'}


ARCHITECTURES = {
    # Qwen2.5 (qkv bias, no o bias; 0.5B-3B tie embeddings)
    'Qwen/Qwen2.5-0.5B': {'task': 'generate', 'config': _qwen2(896, 4864, 24, 14, 2, 151936, True)},
    'Qwen/Qwen2.5-1.5B': {'task': 'generate', 'config': _qwen2(1536, 8960, 28, 12, 2, 151936, True)},
    'Qwen/Qwen2.5-3B': {'task': 'generate', 'config': _qwen2(2048, 11008, 36, 16, 2, 151936, True)},
    'Qwen/Qwen2.5-7B': {'task': 'generate', 'config': _qwen2(3584, 18944, 28, 28, 4, 152064, False)},
    'Qwen/Qwen2.5-14B': {'task': 'generate', 'config': _qwen2(5120, 13824, 48, 40, 8, 152064, False)},
    'Qwen/Qwen2.5-32B': {'task': 'generate', 'config': _qwen2(5120, 27648, 64, 40, 8, 152064, False)},
    'Qwen/Qwen2.5-72B': {'task': 'generate', 'config': _qwen2(8192, 29568, 80, 64, 8, 152064, False)},
    # Qwen3 dense (q/k RMSNorm, explicit head_dim 128) and MoE
    'Qwen/Qwen3-0.6B': {'task': 'generate', 'config': _qwen3(1024, 3072, 28, 16, 8, 151936, True)},
    'Qwen/Qwen3-1.7B': {'task': 'generate', 'config': _qwen3(2048, 6144, 28, 16, 8, 151936, True)},
    'Qwen/Qwen3-4B': {'task': 'generate', 'config': _qwen3(2560, 9728, 36, 32, 8, 151936, True)},
    'Qwen/Qwen3-8B': {'task': 'generate', 'config': _qwen3(4096, 12288, 36, 32, 8, 151936, False)},
    'Qwen/Qwen3-14B': {'task': 'generate', 'config': _qwen3(5120, 17408, 40, 40, 8, 151936, False)},
    'Qwen/Qwen3-32B': {'task': 'generate', 'config': _qwen3(5120, 25600, 64, 64, 8, 151936, False)},
    'Qwen/Qwen3-30B-A3B': {'task': 'generate', 'config': _qwen3_moe(2048, 6144, 768, 48, 32, 4, 128, 8)},
    'Qwen/Qwen3-235B-A22B': {'task': 'generate', 'config': _qwen3_moe(4096, 12288, 1536, 94, 64, 4, 128, 8)},
    # Llama 3.x
    'meta-llama/Llama-3.2-1B': {'task': 'generate', 'config': _llama(2048, 8192, 16, 32, 8, True, head_dim=64)},
    'meta-llama/Llama-3.2-3B': {'task': 'generate', 'config': _llama(3072, 8192, 28, 24, 8, True)},
    'meta-llama/Llama-3.1-8B': {'task': 'generate', 'config': _llama(4096, 14336, 32, 32, 8, False),
                                'aliases': ['deepseek-ai/DeepSeek-R1-Distill-Llama-8B']},
    'meta-llama/Llama-3.1-70B': {'task': 'generate', 'config': _llama(8192, 28672, 80, 64, 8, False),
                                 'aliases': ['meta-llama/Llama-3.3-70B', 'deepseek-ai/DeepSeek-R1-Distill-Llama-70B']},
    'meta-llama/Llama-3.1-405B': {'task': 'generate', 'config': _llama(16384, 53248, 126, 128, 8, False)},
    # Mistral
    'mistralai/Mistral-7B-v0.3': {'task': 'generate', 'config': _mistral(32768),
                                  'aliases': ['mistralai/Mistral-7B-Instruct-v0.3']},
    'mistralai/Mistral-7B-v0.1': {'task': 'generate', 'config': _mistral(32000, sliding_window=4096),
                                  'aliases': ['mistralai/Mistral-7B-Instruct-v0.1', 'mistralai/Mistral-7B-Instruct-v0.2']},
    # DeepSeek-R1 distills on Qwen2.5(-Math) bases: 128k context, the 1.5B does not tie embeddings
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B': {
        'task': 'generate', 'config': _qwen2(1536, 8960, 28, 12, 2, 151936, False, max_pos=131072)},
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B': {
        'task': 'generate', 'config': _qwen2(3584, 18944, 28, 28, 4, 152064, False, max_pos=131072)},
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-14B': {
        'task': 'generate', 'config': _qwen2(5120, 13824, 48, 40, 8, 152064, False, max_pos=131072)},
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-32B': {
        'task': 'generate', 'config': _qwen2(5120, 27648, 64, 40, 8, 152064, False, max_pos=131072)},
    # DeepSeek-V3 / R1: MLA attention, 256 routed + 1 shared expert, first 3 layers dense, FP8 checkpoint
    'deepseek-ai/DeepSeek-V3': {
        'task': 'generate',
        'aliases': ['deepseek-ai/DeepSeek-R1', 'deepseek-ai/DeepSeek-V3-0324', 'deepseek-ai/DeepSeek-R1-0528'],
        'config': {
            'model_type': 'deepseek_v3', 'hidden_size': 7168, 'intermediate_size': 18432,
            'moe_intermediate_size': 2048, 'num_hidden_layers': 61, 'num_attention_heads': 128,
            'num_key_value_heads': 128, 'n_shared_experts': 1, 'n_routed_experts': 256,
            'num_experts_per_tok': 8, 'first_k_dense_replace': 3, 'moe_layer_freq': 1, 'n_group': 8,
            'topk_group': 4, 'q_lora_rank': 1536, 'kv_lora_rank': 512, 'qk_nope_head_dim': 128,
            'qk_rope_head_dim': 64, 'v_head_dim': 128, 'vocab_size': 129280, 'tie_word_embeddings': False,
            'max_position_embeddings': 163840, 'torch_dtype': 'bfloat16',
            'rope_scaling': {'type': 'yarn', 'factor': 40, 'original_max_position_embeddings': 4096,
                             'beta_fast': 32, 'beta_slow': 1, 'mscale': 1.0, 'mscale_all_dim': 1.0},
            'quantization_config': {'quant_method': 'fp8', 'fmt': 'e4m3', 'activation_scheme': 'dynamic',
                                    'weight_block_size': [128, 128]},
        },
    },
    # Embedding models
    'BAAI/bge-m3': {'task': 'embed', 'config': _xlm_roberta(8194)},
    'intfloat/multilingual-e5-large': {'task': 'embed', 'config': _xlm_roberta(514)},
    'BAAI/bge-large-en-v1.5': {'task': 'embed', 'config': _bert(1024, 24, 16, 4096)},
    'BAAI/bge-base-en-v1.5': {'task': 'embed', 'config': _bert(768, 12, 12, 3072)},
    'BAAI/bge-small-en-v1.5': {'task': 'embed', 'config': _bert(384, 12, 12, 1536)},
    'sentence-transformers/all-MiniLM-L6-v2': {'task': 'embed', 'config': _bert(384, 6, 12, 1536)},
    'intfloat/e5-mistral-7b-instruct': {'task': 'embed', 'config': _mistral(32000, sliding_window=4096,
                                                                            dtype='float16')},
    'nomic-ai/nomic-embed-text-v1.5': {
        'task': 'embed',
        'aliases': ['nomic-ai/nomic-embed-text-v1'],
        'config': {'model_type': 'nomic_bert', 'n_embd': 768, 'n_layer': 12, 'n_head': 12, 'n_inner': 3072,
                   'vocab_size': 30528, 'type_vocab_size': 2, 'max_trained_positions': 2048,
                   'n_positions': 8192, 'qkv_proj_bias': False, 'mlp_fc1_bias': False, 'mlp_fc2_bias': False,
                   'activation_function': 'swiglu', 'rotary_emb_fraction': 1.0, 'torch_dtype': 'float32'},
    },
    'Qwen/Qwen3-Embedding-0.6B': {'task': 'embed',
                                  'config': _qwen3(1024, 3072, 28, 16, 8, 151669, True, max_pos=32768)},
    'Qwen/Qwen3-Embedding-4B': {'task': 'embed', 'config': _qwen3(2560, 9728, 36, 32, 8, 151665, True)},
    'Qwen/Qwen3-Embedding-8B': {'task': 'embed', 'config': _qwen3(4096, 12288, 36, 32, 8, 151665, False)},
}
