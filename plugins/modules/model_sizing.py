#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: model_sizing
short_description: Size the models to serve with vLLM and turn them into the workloads mig_plan takes
version_added: 0.2.0
description:
  - Pure computation on the controller; nothing changes anywhere. Check mode is the same as a run.
  - For each model of O(models) (the C(cnai_models) list) computes what one replica needs, in GiB (2^30 bytes)
    - weights, the parameters times the bytes of the quantization (4-bit AWQ/GPTQ with their fp16 group scales and
    zero points, FP8/INT8 one byte with block scales); embeddings, C(lm_head), norms, biases and MoE routers stay
    16-bit, as quantized checkpoints ship them.
  - KV cache, C(2 x layers x kv_heads x head_dim x kv bytes x max_model_len x max_num_seqs); MLA models
    (DeepSeek-V3/R1) C(layers x [kv_lora_rank + qk_rope_head_dim] x kv bytes) per token, replicated on every GPU
    under tensor parallel; encoder-only embedding models (BERT family) keep no KV cache.
  - Overhead, CUDA context 1.0 GiB (+0.5 GiB NCCL with tensor parallel), CUDA graphs 0.5 GiB for decoders unless
    C(--enforce-eager) is in O(models[].extra_args), and the activation peak at C(max_num_batched_tokens).
  - C(need_gib) = (weights + KV + overhead) / O(models[].gpu_memory_utilization).
  - Architecture numbers come from O(models[].config) (a C(config.json) path, its directory, or a dict; Llama, Qwen2/3,
    Qwen3-MoE, Mistral, DeepSeek-V3 MLA and BERT/XLM-RoBERTa/NomicBERT keys) or from a built-in table of common models
    (Qwen2.5 0.5B-72B, Qwen3 0.6B-32B and 30B-A3B/235B-A22B, Llama 3.1/3.2/3.3, Mistral 7B, DeepSeek-R1 distills,
    DeepSeek-V3/R1, bge-m3, bge-large/base/small-en-v1.5, multilingual-e5-large, all-MiniLM-L6-v2,
    e5-mistral-7b-instruct, nomic-embed-text-v1.5, Qwen3-Embedding). Hub ids are matched case-insensitively with
    instruct/quantized suffixes (C(-Instruct), C(-AWQ), C(-FP8), ...) stripped. Parameter counts equal the exact
    count of C(transformers) for every built-in architecture.
  - Placement per GPU product of O(gpu_products) - a replica that fits a MIG profile gets exactly one MIG instance
    (tensor parallel 1), the smallest base profile whose usable GiB (from the MIG catalog) fits C(need_gib). A
    model that fits no profile of any product gets whole GPUs on one node, tensor parallel = GPU count, the
    smallest power of two that divides the attention heads and fits each GPU's share.
  - The returned RV(workloads) are the input of M(cnai.platform.mig_plan), one per model, C(instances) =
    C(replicas.max) so that autoscaling always has a place to go (the report says what C(replicas.min) needs).
    MIG models give C(memory_gib) (mig_plan picks the same smallest profile per product); whole-GPU models give
    C(gpus). When the whole-GPU count differs between products, the model uses the smallest count and is restricted
    (C(gpu_product)) to the product where that count fits (the first in O(gpu_products) order when several do);
    products where a MIG model fits no profile are left out the same way, and a warning says so.
  - Bad input fails before anything changes and lists every problem with its numbers - unknown quantization,
    context longer than the model allows, C(replicas.min) > C(replicas.max), a model that fits no GPU of the fleet
    (with what it needs and the largest GPU), an unknown model without O(models[].config), names that are not DNS
    labels, missing or unknown fields.
options:
  models:
    description:
      - The models to serve (C(cnai_models)). Fields besides those below (C(spot), C(autoscaling), C(extra_args),
        C(env)) are passed through to RV(models) unchanged; unknown fields are an error.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: DNS label; names the workload, the Deployment and the Service.
        type: str
        required: true
      model:
        description: Hub id (C(Qwen/Qwen2.5-7B-Instruct-AWQ)) or path of the checkpoint vLLM serves.
        type: str
        required: true
      served_name:
        description: Name clients use (vLLM C(--served-model-name)); defaults to O(models[].model).
        type: str
      quantization:
        description:
          - Weight format. Default - the checkpoint's C(quantization_config) when O(models[].config) has one, else
            what the hub id says (C(AWQ), C(GPTQ), C(FP8), C(INT8)/C(W8A8)), else C(none) (16-bit).
          - A value that contradicts the checkpoint's C(quantization_config) is an error.
        type: str
        choices: [none, bf16, fp16, fp8, awq, gptq, int8]
      dtype:
        description: Activation dtype (vLLM C(--dtype)); C(bf16)/C(fp16) quantization imply it.
        type: str
        choices: [auto, bfloat16, float16]
        default: auto
      max_model_len:
        description: Context length; default the smaller of 8192 and what the model allows.
        type: int
      max_num_seqs:
        description: Concurrent sequences; KV cache is reserved for this many full-length sequences. Pass the same to vLLM.
        type: int
        default: 8
      max_num_batched_tokens:
        description: Tokens per scheduler step (activation peak); default 8192 for generate, max(max_model_len, 2048) for embed.
        type: int
      gpu_memory_utilization:
        description: Fraction of the device (MIG instance or GPU) vLLM may use.
        type: float
        default: 0.9
      kv_cache_dtype:
        description: KV cache dtype (vLLM C(--kv-cache-dtype)); C(fp8) halves the KV cache.
        type: str
        choices: [auto, fp8, fp8_e4m3, fp8_e5m2]
        default: auto
      replicas:
        description: C({min, max}); the plan reserves C(max). Default C({min 1, max 1}); C(max) alone sets C(min) to 1.
        type: dict
      task:
        description: C(generate) or C(embed); default from the table, else C(embed) for encoder-only configs.
        type: str
        choices: [generate, embed]
      config:
        description: The model's C(config.json) - a path, its directory, or the parsed dict. Wins over the built-in table.
        type: raw
      profile:
        description: Force this MIG profile (must exist on the product and hold one replica).
        type: str
      gpus:
        description: Force this many whole GPUs per replica (the tensor-parallel size).
        type: int
      gpu_product:
        description: Serve only on this GPU product (one of O(gpu_products)).
        type: str
      spot:
        description: Passed through.
        type: bool
      autoscaling:
        description: Passed through.
        type: dict
      extra_args:
        description: Passed through; C(--enforce-eager) here drops the CUDA-graph share of the overhead.
        type: list
        elements: str
      env:
        description: Passed through.
        type: dict
  gpu_products:
    description:
      - The GPU products of the fleet, as exact C(nvidia-smi) names (C(NVIDIA H200)), GPU Feature Discovery labels
        (C(NVIDIA-H200)) or PCI device ids (C(0x233510DE)); every one must be in the MIG catalog.
    type: list
    elements: str
    required: true
  max_gpus_per_node:
    description: The most whole GPUs one replica may span (all on one node).
    type: int
    default: 8
notes:
  - The overhead terms are estimates; confirm a tight fit with vLLM's startup lines C(Available KV cache memory)
    and C(Maximum concurrency). Whole-GPU usable memory is the C(memory.total) nvidia-smi reports.
seealso:
  - module: cnai.platform.mig_plan
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Size the models to serve
  cnai.platform.model_sizing:
    gpu_products: ["NVIDIA H200", "NVIDIA A100-SXM4-80GB"]
    models:
      - name: qwen-chat
        model: Qwen/Qwen2.5-7B-Instruct-AWQ       # quantization awq from the name
        max_model_len: 8192
        max_num_seqs: 8
        replicas: {min: 2, max: 8}
      - name: qwen32
        model: Qwen/Qwen2.5-32B-Instruct
        quantization: fp8                         # dynamic FP8: vllm_quantization is fp8
        max_model_len: 16384
        max_num_seqs: 4
      - name: llama70
        model: meta-llama/Llama-3.3-70B-Instruct
        max_model_len: 16384
        gpus: 2                                   # tensor parallel 2 on whole GPUs
      - name: embed
        model: BAAI/bge-m3
        task: embed
      - name: private
        model: /models/my-finetune
        config: /models/my-finetune/config.json
  register: sizing

- name: Plan the MIG layout from the models
  cnai.platform.mig_plan:
    nodes: "{{ plan_nodes }}"
    workloads: "{{ sizing.workloads }}"

- name: Show the sizing
  ansible.builtin.debug:
    msg: "{{ sizing.report }}"
'''

RETURN = r'''
models:
  description: One entry per model, in input order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The model's name.
      type: str
    params_b:
      description: Parameters in billions (the exact count divided by 1e9, 3 decimals); RV(models[].params) is the exact count.
      type: float
    params:
      description: The exact parameter count (equal to transformers' for the built-in architectures).
      type: int
    active_params_b:
      description: Parameters used per token, MoE models only.
      type: float
    weights_gib:
      description: Weights in GiB at the quantization.
      type: float
    kv_gib_per_token_k:
      description: KV cache per 1024 tokens of context, GiB (one copy).
      type: float
    kv_gib:
      description: KV cache for C(max_model_len x max_num_seqs), GiB (one copy).
      type: float
    kv_allocated_gib:
      description: KV cache over all GPUs of a replica (MLA latent caches and KV heads fewer than the GPUs are replicated).
      type: float
    overhead_gib:
      description: Context, CUDA graphs and activations, summed over the GPUs of a replica.
      type: float
    need_gib:
      description: (weights + KV + overhead) / gpu_memory_utilization for one replica.
      type: float
    need_per_gpu_gib:
      description: The share of one GPU (equals RV(models[].need_gib) with tensor parallel 1).
      type: float
    tensor_parallel:
      description: 1 on MIG; the GPU count on whole GPUs.
      type: int
    placement:
      description: C(mig) or C(gpus).
      type: str
    max_model_len:
      description: The context length sized (default applied).
      type: int
    quantization:
      description: The quantization sized (default applied).
      type: str
    vllm_quantization:
      description: The value for vLLM's C(--quantization), or null when vLLM must auto-detect it from the checkpoint.
      type: str
    task:
      description: C(generate) or C(embed).
      type: str
    embedding_dim:
      description: Output dimension, C(task=embed) only.
      type: int
    per_product:
      description: Per GPU product the model can use - C(profile) or C(gpus), C(usable_gib), C(headroom_gib) (and C(need_per_gpu_gib) for whole GPUs).
      type: dict
    vllm_args:
      description:
        - The sizing-related vLLM arguments - C(--max-model-len), C(--max-num-seqs), C(--gpu-memory-utilization),
          C(--tensor-parallel-size), and where they apply C(--dtype), C(--quantization), C(--kv-cache-dtype) and
          C(--runner pooling) (embed models, vLLM 0.10.2 and later).
      type: list
      elements: str
    warnings:
      description: What the module decided that the user may not expect.
      type: list
      elements: str
  sample:
    - name: qwen-chat
      params_b: 7.616
      weights_gib: 5.19
      kv_gib_per_token_k: 0.0547
      kv_gib: 3.5
      overhead_gib: 2.31
      need_gib: 12.22
      tensor_parallel: 1
      quantization: awq
      vllm_quantization: null
      per_product: {"NVIDIA H200": {profile: 1g.18gb, usable_gib: 16.0, headroom_gib: 3.78}}
workloads:
  description: The M(cnai.platform.mig_plan) workloads, one per model, C(instances) = C(replicas.max).
  returned: success
  type: list
  elements: dict
  sample: [{name: qwen-chat, instances: 8, memory_gib: 12.22}, {name: llama70, instances: 1, gpus: 2, gpu_product: NVIDIA H200}]
report:
  description: Readable lines - per model the sum, the choice per product, and what replicas.min and max need.
  returned: success
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnai.platform.plugins.module_utils.model_sizing import SizingError, size


def main():
    module = AnsibleModule(
        argument_spec=dict(
            models=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                model=dict(type='str', required=True),
                served_name=dict(type='str'),
                quantization=dict(type='str', choices=['none', 'bf16', 'fp16', 'fp8', 'awq', 'gptq', 'int8']),
                dtype=dict(type='str', default='auto', choices=['auto', 'bfloat16', 'float16']),
                max_model_len=dict(type='int'),
                max_num_seqs=dict(type='int', default=8),
                max_num_batched_tokens=dict(type='int', no_log=False),
                gpu_memory_utilization=dict(type='float', default=0.9),
                kv_cache_dtype=dict(type='str', default='auto', choices=['auto', 'fp8', 'fp8_e4m3', 'fp8_e5m2']),
                replicas=dict(type='dict'),
                task=dict(type='str', choices=['generate', 'embed']),
                config=dict(type='raw'),
                profile=dict(type='str'),
                gpus=dict(type='int'),
                gpu_product=dict(type='str'),
                spot=dict(type='bool'),
                autoscaling=dict(type='dict'),
                extra_args=dict(type='list', elements='str'),
                env=dict(type='dict'),
            ), mutually_exclusive=[('profile', 'gpus')]),
            gpu_products=dict(type='list', elements='str', required=True),
            max_gpus_per_node=dict(type='int', default=8),
        ),
        supports_check_mode=True,
    )
    models = [dict((k, v) for k, v in m.items() if v is not None) for m in module.params['models']]
    try:
        result = size(models, module.params['gpu_products'], module.params['max_gpus_per_node'])
    except SizingError as exc:
        module.fail_json(msg=str(exc))
    for w in result.pop('warnings'):
        module.warn(w)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
