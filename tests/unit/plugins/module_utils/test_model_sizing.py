# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""model_sizing: known models with numbers worked out by hand, every quantization, MLA, embed, tensor
parallel, overrides, the mig_plan hand-off, and every bad-input case with its message."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import model_sizing as ms
from ansible_collections.cnai.platform.plugins.module_utils.mig_planner import plan

GIB = 2.0 ** 30
H200, A100 = 'NVIDIA H200', 'NVIDIA A100-SXM4-80GB'
# Qwen2.5-7B by hand: 28 layers, hidden 3584, 28 heads / 4 KV heads of 128, intermediate 18944, vocab 152064,
# untied; q/k/v biases. Embeddings and lm_head 152064*3584 each; norms 2*3584 per layer + final; biases.
Q7_TOTAL = 7615616512
Q7_EMBED = 152064 * 3584
Q7_OTHER = 28 * (2 * 3584 + 3584 + 2 * 512) + 3584
Q7_LINEAR = Q7_TOTAL - 2 * Q7_EMBED - Q7_OTHER
Q7_KV_PER_TOKEN = 2 * 28 * 4 * 128 * 2           # 57,344 bytes


def one(model, products=(H200,), **kw):
    return ms.size([dict(model)], list(products), **kw)['models'][0]


def err(models, products=(H200,)):
    with pytest.raises(ms.SizingError) as exc:
        ms.size(models, list(products))
    return str(exc.value)


# -- known models -------------------------------------------------------------------------------------------
def test_qwen7b_awq_8k_fits_h200_1g18gb():
    """Qwen2.5-7B AWQ, 8k x 8 sequences: weights 5.19 + KV 3.50 + overhead 2.31 = 11.00 GiB / 0.90 = 12.22 GiB,
    which fits H200 1g.18gb (16.00 GiB usable, 3.78 headroom) and A100-80GB 1g.20gb (19.50)."""
    e = one({'name': 'qwen-chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'max_model_len': 8192,
             'replicas': {'min': 2, 'max': 8}}, (H200, A100))
    assert Q7_LINEAR == 6525288448
    weights = Q7_LINEAR * (0.5 + 2.5 / 128) + 2 * (Q7_TOTAL - Q7_LINEAR)
    assert e['weights_gib'] == round(weights / GIB, 2) == 5.19
    assert e['kv_gib'] == round(Q7_KV_PER_TOKEN * 8192 * 8 / GIB, 2) == 3.5
    assert e['kv_gib_per_token_k'] == round(Q7_KV_PER_TOKEN * 1024 / GIB, 4) == 0.0547
    # overhead: context 1.0 + graphs 0.5 + 8192 tokens x (2 x 18944 + 4 x 3584) x 2 B + 8 x 152064 x 8 B
    over = 1.5 + (8192 * (2 * 18944 + 4 * 3584) * 2 + 8 * 152064 * 8) / GIB
    assert e['overhead_gib'] == round(over, 2) == 2.31
    assert e['need_gib'] == round((weights / GIB + 3.5 + over) / 0.9, 2) == 12.22
    assert e['quantization'] == 'awq' and e['vllm_quantization'] is None and e['tensor_parallel'] == 1
    assert e['per_product'] == {H200: {'profile': '1g.18gb', 'usable_gib': 16.0, 'headroom_gib': 3.78},
                                A100: {'profile': '1g.20gb', 'usable_gib': 19.5, 'headroom_gib': 7.28}}
    assert e['workload'] == {'name': 'qwen-chat', 'instances': 8, 'memory_gib': 12.22}
    assert e['workload']['memory_gib'] >= (weights / GIB + 3.5 + over) / 0.9   # rounded up, never down


def test_qwen7b_awq_16_sequences_needs_1g35gb():
    """Twice the sequences: KV 7.00 GiB, need 16.11 GiB > 16.00 of 1g.18gb, so 1g.35gb on H200."""
    e = one({'name': 'q', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'max_num_seqs': 16})
    assert e['kv_gib'] == 7.0 and e['need_gib'] == 16.11
    assert e['per_product'][H200]['profile'] == '1g.35gb'


def test_llama8b_bf16_16k():
    """Llama-3.1-8B BF16 16k x 4: weights 14.96, KV 128 KiB x 16384 x 4 = 8.00 GiB -> 2g.35gb/1g.35gb class."""
    e = one({'name': 'llama8', 'model': 'meta-llama/Llama-3.1-8B-Instruct', 'max_model_len': 16384,
             'max_num_seqs': 4})
    assert e['weights_gib'] == round(8030261248 * 2 / GIB, 2) == 14.96
    assert e['kv_gib'] == 8.0 and e['kv_gib_per_token_k'] == 0.125
    assert e['per_product'][H200]['profile'] == '1g.35gb'
    assert e['vllm_quantization'] is None and e['dtype'] == 'auto'


def test_default_context_is_capped_at_8192_and_model_max():
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct'})['max_model_len'] == 8192
    assert one({'name': 'b', 'model': 'BAAI/bge-large-en-v1.5'})['max_model_len'] == 512


# -- quantizations --------------------------------------------------------------------------------------------
@pytest.mark.parametrize('q,weights,vllm_q,dtype', [
    ('none', Q7_TOTAL * 2, None, 'auto'),
    ('bf16', Q7_TOTAL * 2, None, 'bfloat16'),
    ('fp16', Q7_TOTAL * 2, None, 'float16'),
    ('fp8', Q7_LINEAR + 2 * (Q7_TOTAL - Q7_LINEAR), 'fp8', 'auto'),         # dynamic FP8 from a BF16 checkpoint
    ('int8', Q7_LINEAR + 2 * (Q7_TOTAL - Q7_LINEAR), None, 'auto'),
    ('awq', Q7_LINEAR * (0.5 + 2.5 / 128) + 2 * (Q7_TOTAL - Q7_LINEAR), None, 'auto'),
    ('gptq', Q7_LINEAR * (0.5 + 2.5 / 128) + 2 * (Q7_TOTAL - Q7_LINEAR), None, 'auto'),
])
def test_each_quantization(q, weights, vllm_q, dtype):
    e = one({'name': 'q', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'quantization': q})
    assert e['quantization'] == q
    assert e['weights_gib'] == round(weights / GIB, 2)
    assert e['vllm_quantization'] == vllm_q and e['dtype'] == dtype
    assert ('--quantization' in e['vllm_args']) == (vllm_q is not None)


def test_quantization_order_and_warning_for_awq_on_a_plain_checkpoint():
    w = dict((q, one({'name': 'q', 'model': 'Qwen/Qwen2.5-14B-Instruct', 'quantization': q})['weights_gib'])
             for q in ('none', 'fp8', 'awq'))
    assert w['none'] > w['fp8'] > w['awq'] > w['none'] / 4
    r = ms.size([{'name': 'q', 'model': 'Qwen/Qwen2.5-14B-Instruct', 'quantization': 'awq'}], [H200])
    assert any('cannot quantize to awq while loading' in x for x in r['warnings'])


def test_quantization_from_the_name_and_prequantized_fp8():
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4'})['quantization'] == 'gptq'
    e = one({'name': 'b', 'model': 'RedHatAI/Qwen2.5-7B-Instruct-FP8-dynamic'})
    assert e['quantization'] == 'fp8' and e['vllm_quantization'] is None      # vLLM reads the checkpoint
    assert e['architecture'] == 'Qwen/Qwen2.5-7B'


def test_quantization_from_config_and_conflict():
    cfg = dict(ms.ARCHITECTURES['Qwen/Qwen2.5-7B']['config'],
               quantization_config={'quant_method': 'awq', 'bits': 4, 'group_size': 64, 'zero_point': True})
    e = one({'name': 'a', 'model': '/models/q7', 'config': cfg})
    assert e['quantization'] == 'awq' and e['config_source'] == 'config'
    assert e['weights_gib'] == round((Q7_LINEAR * (0.5 + 2.5 / 64) + 2 * (Q7_TOTAL - Q7_LINEAR)) / GIB, 2)
    msg = err([{'name': 'a', 'model': '/models/q7', 'config': cfg, 'quantization': 'fp8'}])
    assert 'quantization fp8, but the checkpoint config says awq' in msg


def test_compressed_tensors_w8a8_is_int8():
    cfg = dict(ms.ARCHITECTURES['Qwen/Qwen2.5-7B']['config'], quantization_config={
        'quant_method': 'compressed-tensors', 'config_groups': {'group_0': {'weights': {'num_bits': 8, 'type': 'int'}}}})
    assert one({'name': 'a', 'model': 'x/y', 'config': cfg})['quantization'] == 'int8'


# -- MLA / MoE --------------------------------------------------------------------------------------------------
def test_deepseek_r1_mla_on_8_h200():
    """61 layers x (512 + 64) x 2 B = 70,272 B per token; FP8 weights from the checkpoint; the latent cache is
    replicated on all 8 GPUs; 8 x H200 with tensor parallel 8."""
    e = one({'name': 'r1', 'model': 'deepseek-ai/DeepSeek-R1', 'max_model_len': 32768})
    assert e['attention'] == 'mla' and e['model_type'] == 'deepseek_v3'
    assert e['kv_gib_per_token_k'] == round(61 * 576 * 2 * 1024 / GIB, 4)
    assert e['kv_gib'] == round(61 * 576 * 2 * 32768 * 8 / GIB, 2)
    assert e['kv_allocated_gib'] == round(8 * 61 * 576 * 2 * 32768 * 8 / GIB, 2)
    assert e['quantization'] == 'fp8' and e['vllm_quantization'] is None
    assert e['params_b'] == 671.026 and e['active_params_b'] == 37.552
    assert e['tensor_parallel'] == 8 and e['placement'] == 'gpus'
    assert e['per_product'][H200]['gpus'] == 8 and e['need_per_gpu_gib'] < 140.4
    assert 600 < e['weights_gib'] < 640


def test_mla_kv_fp8_halves():
    a = one({'name': 'a', 'model': 'deepseek-ai/DeepSeek-V3', 'max_model_len': 16384})
    b = one({'name': 'a', 'model': 'deepseek-ai/DeepSeek-V3', 'max_model_len': 16384, 'kv_cache_dtype': 'fp8'})
    assert b['kv_gib'] == round(a['kv_gib'] / 2, 2) and '--kv-cache-dtype' in b['vllm_args']


def test_qwen3_moe_active_params():
    e = one({'name': 'moe', 'model': 'Qwen/Qwen3-30B-A3B', 'quantization': 'fp8'})
    assert e['params_b'] == 30.532 and e['active_params_b'] == pytest.approx(3.3, abs=0.1)
    assert e['placement'] == 'mig'


# -- embedding models -----------------------------------------------------------------------------------------
def test_bge_m3_embed():
    e = one({'name': 'bge', 'model': 'BAAI/bge-m3'}, (H200, A100))
    assert e['task'] == 'embed' and e['embedding_dim'] == 1024
    assert e['kv_gib'] == 0 and e['max_model_len'] == 8192 and e['model_max_len'] == 8192
    assert e['per_product'][A100]['profile'] == '1g.10gb' and e['vllm_args'][-2:] == ['--runner', 'pooling']


def test_decoder_embedders_have_kv_and_no_lm_head():
    e = one({'name': 'e', 'model': 'Qwen/Qwen3-Embedding-8B'})
    assert e['embedding_dim'] == 4096 and e['kv_gib'] > 0 and e['params'] == 7567295488
    assert one({'name': 'e', 'model': 'intfloat/e5-mistral-7b-instruct'})['embedding_dim'] == 4096
    assert one({'name': 'n', 'model': 'nomic-ai/nomic-embed-text-v1.5'})['embedding_dim'] == 768


def test_generate_models_have_no_embedding_dim_and_encoders_cannot_generate():
    assert 'embedding_dim' not in one({'name': 'a', 'model': 'Qwen/Qwen2.5-0.5B'})
    assert 'encoder-only model: set task: embed' in err([{'name': 'a', 'model': 'BAAI/bge-m3', 'task': 'generate'}])


# -- tensor parallel and products ------------------------------------------------------------------------------
def test_llama70b_bf16_tensor_parallel_per_product():
    """131.42 GiB of BF16 weights: 2 x H200 (140.40 GiB each) or 4 x A100-80GB (80.00 GiB each)."""
    m = {'name': 'llama70', 'model': 'meta-llama/Llama-3.3-70B-Instruct', 'max_model_len': 16384}
    h = one(m, (H200,))
    a = one(m, (A100,))
    assert h['tensor_parallel'] == 2 and h['workload'] == {'name': 'llama70', 'instances': 1, 'gpus': 2}
    assert a['tensor_parallel'] == 4 and a['per_product'][A100]['gpus'] == 4
    both = ms.size([m], [H200, A100])
    e = both['models'][0]
    # the whole-GPU count differs between products: the smallest count, restricted to the product it fits
    assert both['workloads'] == [{'name': 'llama70', 'instances': 1, 'gpus': 2, 'gpu_product': H200}]
    assert list(e['per_product']) == [H200]
    assert any('A100-SXM4-80GB would need 4' in w for w in both['warnings'])
    assert e['need_gib'] > e['need_per_gpu_gib'] * 2 - 0.01


def test_tensor_parallel_divides_the_heads():
    """Qwen2.5-7B has 28 heads: 8 GPUs cannot be its tensor-parallel size."""
    assert 'it must divide the 28 attention heads' in err([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'gpus': 8}])
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'gpus': 4})['tensor_parallel'] == 4


def test_mig_model_too_big_for_one_products_profiles_goes_to_the_other():
    e = ms.size([{'name': 'q', 'model': 'Qwen/Qwen2.5-32B-Instruct', 'quantization': 'fp8',
                  'max_model_len': 16384}], [H200, A100])
    assert list(e['models'][0]['per_product']) == [H200]
    assert e['models'][0]['per_product'][H200]['profile'] == '7g.141gb'
    assert any('more than any MIG profile of NVIDIA A100-SXM4-80GB' in w for w in e['warnings'])


# -- overrides -----------------------------------------------------------------------------------------------
def test_profile_override():
    e = one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'profile': '3g.71gb'}, (H200, A100))
    assert e['workload'] == {'name': 'a', 'instances': 1, 'profile': '3g.71gb'}
    assert list(e['per_product']) == [H200]                 # A100 has no 3g.71gb
    msg = err([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'profile': '1g.18gb'}])
    assert 'profile 1g.18gb has 16.00 GiB usable on NVIDIA H200 but one replica needs' in msg


def test_gpus_and_gpu_product_override():
    e = one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'gpus': 2, 'gpu_product': A100}, (H200, A100))
    assert e['workload'] == {'name': 'a', 'instances': 1, 'gpus': 2, 'gpu_product': A100}
    assert e['tensor_parallel'] == 2 and list(e['per_product']) == [A100]
    assert '--tensor-parallel-size' in e['vllm_args'] and e['vllm_args'][e['vllm_args'].index('--tensor-parallel-size') + 1] == '2'
    e = one({'name': 'b', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'gpu_product': 'NVIDIA-H200'}, (H200, A100))
    assert e['workload']['gpu_product'] == 'NVIDIA-H200' and list(e['per_product']) == [H200]
    assert 'gpu_product NVIDIA H200 is not in gpu_products' in err(
        [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'gpu_product': H200}], (A100,))


def test_enforce_eager_drops_cuda_graphs():
    a = one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ'})
    b = one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'extra_args': ['--enforce-eager']})
    assert round(a['overhead_gib'] - b['overhead_gib'], 2) == 0.5


def test_passthrough_fields_and_report_mentions_min():
    r = ms.size([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'replicas': {'min': 2, 'max': 6},
                  'spot': True, 'env': {'A': '1'}, 'autoscaling': {'waiting_target': 5}}], [H200])
    e = r['models'][0]
    assert e['spot'] is True and e['env'] == {'A': '1'} and e['autoscaling'] == {'waiting_target': 5}
    assert '    replicas 2..6: the plan reserves max, 6 x 1g.18gb on NVIDIA H200; min alone would need 2 x 1g.18gb ' \
           'on NVIDIA H200' in r['report']


def test_replicas_defaults():
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-0.5B'})['replicas'] == {'min': 1, 'max': 1}
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-0.5B', 'replicas': {'max': 4}})['replicas'] == {'min': 1, 'max': 4}
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-0.5B', 'replicas': {'min': 3}})['replicas'] == {'min': 3, 'max': 3}
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-0.5B', 'replicas': {'min': 0, 'max': 2}})['replicas']['min'] == 0


# -- config files -----------------------------------------------------------------------------------------------
def test_config_path_and_directory(tmp_path):
    cfg = dict(ms.ARCHITECTURES['meta-llama/Llama-3.1-8B']['config'], architectures=['LlamaForCausalLM'])
    (tmp_path / 'config.json').write_text(json.dumps(cfg))
    a = one({'name': 'a', 'model': '/models/mine', 'config': str(tmp_path / 'config.json')})
    b = one({'name': 'b', 'model': '/models/mine', 'config': str(tmp_path)})
    assert a['params'] == b['params'] == 8030261248 and a['config_source'] == 'config'
    assert 'does not exist' in err([{'name': 'a', 'model': 'x', 'config': str(tmp_path / 'nope.json')}])
    (tmp_path / 'bad.json').write_text('{not json')
    assert 'is not readable JSON' in err([{'name': 'a', 'model': 'x', 'config': str(tmp_path / 'bad.json')}])


def test_config_wins_over_the_table_and_unknown_types_warn():
    cfg = dict(ms.ARCHITECTURES['Qwen/Qwen2.5-7B']['config'], num_hidden_layers=14)
    assert one({'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'config': cfg})['params'] < Q7_TOTAL
    r = ms.size([{'name': 'a', 'model': 'x/gemma-like', 'config': dict(
        ms.ARCHITECTURES['meta-llama/Llama-3.1-8B']['config'], model_type='somethingnew')}], [H200])
    assert any('Llama formula' in w for w in r['warnings'])


def test_rope_scaling_extends_the_allowed_context():
    cfg = dict(ms.ARCHITECTURES['Qwen/Qwen2.5-7B']['config'],
               rope_scaling={'type': 'yarn', 'factor': 4.0, 'original_max_position_embeddings': 32768})
    assert one({'name': 'a', 'model': 'x', 'config': cfg, 'max_model_len': 131072, 'max_num_seqs': 1},
               (H200,))['model_max_len'] == 131072


def test_lookup():
    assert ms.lookup('Qwen/Qwen2.5-7B-Instruct-AWQ') == 'Qwen/Qwen2.5-7B'
    assert ms.lookup('qwen2.5-7b-instruct') == 'Qwen/Qwen2.5-7B'
    assert ms.lookup('Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4') == 'Qwen/Qwen2.5-7B'
    assert ms.lookup('meta-llama/Llama-3.3-70B-Instruct') == 'meta-llama/Llama-3.1-70B'
    assert ms.lookup('deepseek-ai/DeepSeek-R1') == 'deepseek-ai/DeepSeek-V3'
    assert ms.lookup('deepseek-ai/DeepSeek-R1-Distill-Llama-8B') == 'meta-llama/Llama-3.1-8B'
    assert ms.lookup('mistralai/Mistral-7B-Instruct-v0.3') == 'mistralai/Mistral-7B-v0.3'
    assert ms.lookup('Qwen/Qwen2.5-Coder-7B-Instruct') is None
    assert ms.lookup('') is None


# -- the hand-off to mig_plan ---------------------------------------------------------------------------------
def test_workloads_plan_with_the_real_planner():
    r = ms.size([
        {'name': 'chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'replicas': {'min': 2, 'max': 7}},
        {'name': 'mid', 'model': 'Qwen/Qwen2.5-14B-Instruct', 'quantization': 'fp8', 'max_num_seqs': 4},
        {'name': 'big', 'model': 'meta-llama/Llama-3.3-70B-Instruct', 'max_model_len': 16384},
        {'name': 'embed', 'model': 'BAAI/bge-m3'},
    ], [H200])
    nodes = [{'name': 'h200-%d' % i, 'gpu_product': H200, 'gpu_count': 8} for i in range(2)]
    p = plan(nodes, r['workloads'], 'mixed')
    by = {}
    for a in p['assignments']:
        by.setdefault(a['workload'], []).append(a)
    assert len(by['chat']) == 7 and set(a['profile'] for a in by['chat']) == {'1g.18gb'}
    assert [len(a['gpu']) for a in by['big']] == [2] and by['big'][0]['profile'] is None
    assert by['mid'][0]['profile'] == r['models'][1]['per_product'][H200]['profile']
    assert by['embed'][0]['resource'] == 'nvidia.com/mig-1g.18gb'


# -- bad input ------------------------------------------------------------------------------------------------
def test_unknown_quantization_lists_the_known():
    assert "quantization 'int4' is not known; use one of none, bf16, fp16, fp8, awq, gptq, int8" in err(
        [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'quantization': 'int4'}])


def test_context_longer_than_the_model_allows():
    assert 'max_model_len 65536 is longer than the model allows (32768, from Qwen/Qwen2.5-7B)' in err(
        [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'max_model_len': 65536}])
    assert 'max_model_len 1024 is longer than the model allows (512' in err(
        [{'name': 'a', 'model': 'BAAI/bge-large-en-v1.5', 'max_model_len': 1024}])


def test_min_greater_than_max():
    assert 'replicas.min 5 is greater than replicas.max 2' in err(
        [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'replicas': {'min': 5, 'max': 2}}])


def test_fits_no_gpu_says_how_much_and_the_largest():
    msg = err([{'name': 'v3', 'model': 'deepseek-ai/DeepSeek-V3', 'quantization': 'fp8', 'max_model_len': 16384}],
              ('NVIDIA A100-SXM4-40GB', A100))
    assert 'model v3 fits no GPU of the fleet: one replica needs' in msg
    assert 'the largest GPU is NVIDIA A100-SXM4-80GB with 80.00 GiB (and 8 per node at most)' in msg


def test_unknown_model_without_config():
    msg = err([{'name': 'a', 'model': 'acme/secret-model-13b'}])
    assert "'acme/secret-model-13b' is not in the built-in table; give config" in msg and 'Qwen/Qwen2.5-7B' in msg


@pytest.mark.parametrize('name', ['Qwen-Chat', 'qwen_chat', '-qwen', 'qwen-', 'a' * 64, 'qwen.chat'])
def test_bad_names(name):
    assert 'name must be a DNS label' in err([{'name': name, 'model': 'Qwen/Qwen2.5-7B'}])


def test_missing_and_unknown_fields_all_reported_at_once():
    msg = err([{'model': 'Qwen/Qwen2.5-7B'}, {'name': 'b'}, {'name': 'c', 'model': 'Qwen/Qwen2.5-7B',
                                                             'max_model_length': 4096},
               {'name': 'b', 'model': 'Qwen/Qwen2.5-7B'}])
    assert msg.startswith('model_sizing: 4 problem(s), nothing was changed')
    assert 'models[0]: name is required' in msg
    assert 'model b: model is required' in msg
    assert 'model c: unknown field(s) max_model_length' in msg
    assert 'model b: duplicate name' in msg


def test_other_bad_values():
    assert 'gpu_memory_utilization must be a number in (0.05, 1.0]' in err(
        [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'gpu_memory_utilization': 1.5}])
    assert 'max_num_seqs must be at least 1, got 0' in err([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'max_num_seqs': 0}])
    assert 'set profile or gpus, not both' in err([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'gpus': 1,
                                                    'profile': '1g.18gb'}])
    assert 'quantization bf16 means dtype bfloat16, but dtype is float16' in err(
        [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'quantization': 'bf16', 'dtype': 'float16'}])
    with pytest.raises(ms.SizingError, match='gpu_products is empty'):
        ms.size([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B'}], [])
    with pytest.raises(ms.SizingError, match='unknown GPU'):
        ms.size([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B'}], ['NVIDIA GeForce RTX 4090'])
    with pytest.raises(ms.SizingError, match='models is empty'):
        ms.size([], [H200])


def test_gpus_override_that_fits_one_product_only_is_pinned_to_it():
    """Llama-3.3-70B BF16 on 2 GPUs: 2 x H200 hold it, 2 x A100-80GB do not; the planner must not get a free hand."""
    r = ms.size([{'name': 'l', 'model': 'meta-llama/Llama-3.3-70B-Instruct', 'gpus': 2}],
                [A100, H200])
    assert r['workloads'] == [{'name': 'l', 'instances': 1, 'gpus': 2, 'gpu_product': H200}]
    assert list(r['models'][0]['per_product']) == [H200]
    assert 'gpus 2 gives each GPU' in err([{'name': 'l', 'model': 'meta-llama/Llama-3.3-70B-Instruct', 'gpus': 2}],
                                          (A100,))


def test_table_quantization_is_a_default_not_a_constraint():
    """The table's DeepSeek-V3 config ships FP8; asking for bf16 (a converted upload) sizes 16-bit with a note,
    while a user's config.json that says fp8 is binding."""
    r = ms.size([{'name': 'v3', 'model': 'deepseek-ai/DeepSeek-V3', 'quantization': 'bf16', 'max_num_seqs': 1,
                  'max_model_len': 4096}], [H200], max_gpus_per_node=16)
    e = r['models'][0]
    assert e['quantization'] == 'bf16' and e['weights_gib'] == round(671026404352 * 2 / GIB, 2)
    assert e['tensor_parallel'] == 16 and any('ships as fp8; sized as bf16' in w for w in r['warnings'])
    cfg = dict(ms.ARCHITECTURES['deepseek-ai/DeepSeek-V3']['config'])
    assert 'checkpoint config says fp8' in err([{'name': 'v3', 'model': 'x/v3', 'config': cfg, 'quantization': 'bf16'}])
    assert 'quant_method' in err([{'name': 'v3', 'model': 'x/v3', 'config': dict(cfg, quantization_config={
        'quant_method': 'bitsandbytes'})}])


def test_name_and_quantization_disagree_warns():
    r = ms.size([{'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'quantization': 'none'}], [H200])
    assert any('suggests awq, but it is sized as none' in w for w in r['warnings'])


def test_embedding_models_dimension_from_the_table_and_from_a_config():
    models = [
        {'name': 'chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'quantization': 'awq'},
        {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'served_name': 'bge-m3'},
        {'name': 'own', 'model': '/models/own', 'task': 'embed',
         'config': {'model_type': 'bert', 'architectures': ['BertModel'], 'hidden_size': 384, 'num_hidden_layers': 6,
                    'num_attention_heads': 12, 'intermediate_size': 1536, 'vocab_size': 30522,
                    'max_position_embeddings': 512, 'type_vocab_size': 2}},
    ]
    out = ms.embedding_models(models)
    assert out == [
        {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'served_name': 'bge-m3', 'dimension': 1024},
        {'name': 'own', 'model': '/models/own', 'served_name': '/models/own', 'dimension': 384},
    ]


def test_embedding_models_reports_bad_models():
    with pytest.raises(ms.SizingError, match='not in the built-in table'):
        ms.embedding_models([{'name': 'x', 'model': 'nobody/unknown-model'}])
    assert ms.embedding_models([]) == []
