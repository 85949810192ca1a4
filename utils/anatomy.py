"""Read the parts of a real decoder LLM, whichever way its weights are laid out.

Llama-style models (SmolLM2, Llama, Mistral, Qwen) keep separate `q_proj`/`k_proj`/`v_proj` and `gate_proj`/`up_proj`
layers; Phi-3 fuses them into one `qkv_proj` and one `gate_up_proj`. These helpers hide only that difference, so
that a notebook can do the maths itself on either, and time generation as a reader's machine runs it."""
import os
import platform
import time
from collections import namedtuple

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

HeadLayout = namedtuple("HeadLayout", "heads kv_heads head_dim group")
QKV = namedtuple("QKV", "query key value")
GatedMLP = namedtuple("GatedMLP", "gate up down")
Timing = namedtuple("Timing", "seconds steps ids")
StepCost = namedtuple("StepCost", "fixed per_token")
PARTS = ("embeddings", "attention", "MLP", "norms", "LM head")


def head_layout(config):
    """Query heads, key/value heads, the width of one head, and how many query heads share one key/value head."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return HeadLayout(heads, kv_heads, head_dim, heads // kv_heads)


def _part(name):
    if "embed_tokens" in name:
        return "embeddings"
    if "lm_head" in name:
        return "LM head"
    if ".self_attn." in name:
        return "attention"
    if ".mlp." in name:
        return "MLP"
    if "norm" in name:
        return "norms"
    raise ValueError(f"parameter_counts does not know which part {name!r} belongs to: it reads decoder-only models "
                     "with embed_tokens, self_attn, mlp, *norm and lm_head modules (Llama, Phi-3, Qwen, Mistral, ...).")


def parameter_counts(model):
    """Parameters per part (embeddings, attention, MLP, norms, LM head), counting a shared tensor once: with tied
    embeddings the LM head reuses the embedding matrix and adds 0. The counts sum to `model.num_parameters()`."""
    counts = dict.fromkeys(PARTS, 0)
    for name, parameter in model.named_parameters():   # named_parameters() lists a tied tensor only once
        counts[_part(name)] += parameter.numel()
    return counts


def embeddings_tied(model):
    """True when the LM head multiplies by the very same matrix that embeds the input tokens."""
    return model.get_output_embeddings().weight is model.get_input_embeddings().weight


def _weight(linear):
    if getattr(linear, "bias", None) is not None:
        raise NotImplementedError(f"{linear} has a bias; these helpers return weights only (bias-free Llama/Phi-3 "
                                  "layers). Add the bias yourself: x @ W.T + b.")
    return linear.weight


def qkv_weights(attention, config):
    """The query, key and value weight matrices of one attention module, each (out_features, hidden_size), from
    separate `q_proj`/`k_proj`/`v_proj` or from a fused `qkv_proj` (rows: all queries, then keys, then values)."""
    if hasattr(attention, "qkv_proj"):
        heads, kv_heads, head_dim, _ = head_layout(config)
        return QKV(*_weight(attention.qkv_proj).split([heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]))
    if all(hasattr(attention, n) for n in ("q_proj", "k_proj", "v_proj")):
        return QKV(_weight(attention.q_proj), _weight(attention.k_proj), _weight(attention.v_proj))
    raise NotImplementedError(f"{type(attention).__name__} has neither q_proj/k_proj/v_proj nor qkv_proj; "
                              "read its projection weights by hand (print(model) shows their names).")


def mlp_weights(mlp):
    """Gate, up and down weight matrices of a gated (SwiGLU) MLP, from separate `gate_proj`/`up_proj` or a fused
    `gate_up_proj` (first half of its rows: gate, second half: up, as Phi-3 splits them)."""
    if hasattr(mlp, "gate_up_proj"):
        gate, up = _weight(mlp.gate_up_proj).chunk(2, dim=0)
        return GatedMLP(gate, up, _weight(mlp.down_proj))
    if all(hasattr(mlp, n) for n in ("gate_proj", "up_proj", "down_proj")):
        return GatedMLP(_weight(mlp.gate_proj), _weight(mlp.up_proj), _weight(mlp.down_proj))
    raise NotImplementedError(f"{type(mlp).__name__} is not a gated MLP with gate_proj/up_proj or gate_up_proj.")


def cache_layers(cache):
    """(keys, values) per layer of a transformers cache (DynamicCache), each (batch, kv_heads, tokens, head_dim)."""
    if not hasattr(cache, "layers"):
        raise TypeError(f"expected a transformers Cache object (e.g. DynamicCache), got {type(cache).__name__}")
    return [(layer.keys, layer.values) for layer in cache.layers]


class _StepClock(StoppingCriteria):
    """A stopping criterion that never stops: it notes the time at which each new token was chosen."""

    def __init__(self, synchronize):
        self.synchronize, self.times = synchronize, []

    def __call__(self, input_ids, scores, **kwargs):
        self.synchronize()
        self.times.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def time_generate(model, inputs, new_tokens, use_cache):
    """One greedy `model.generate` call that makes exactly `new_tokens` tokens, with the KV cache on or off, timed:
    Timing(seconds, steps, ids), where steps[i] is the time to choose new token i + 1 (steps[0] includes the prompt's
    pass) and ids the new token ids (of the first sequence). GPU work is waited for before each reading of the
    clock."""
    pad = model.generation_config.pad_token_id
    if pad is None:   # generate would pick the end-of-text token itself, with a warning
        eos = model.generation_config.eos_token_id
        pad = eos[0] if isinstance(eos, (list, tuple)) else eos
    synchronize = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    clock = _StepClock(synchronize)
    synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             use_cache=use_cache, pad_token_id=pad, stopping_criteria=StoppingCriteriaList([clock]))
    synchronize()
    seconds = time.perf_counter() - start
    made = out.shape[1] - inputs["input_ids"].shape[1]
    if made != new_tokens:
        raise RuntimeError(f"generate made {made} tokens instead of {new_tokens}")
    steps = [later - earlier for earlier, later in zip([start] + clock.times, clock.times, strict=False)]
    return Timing(seconds, steps, out[0, inputs["input_ids"].shape[1]:].tolist())


def tokens_run(prompt_tokens, new_tokens, use_cache):
    """How many tokens go through the model at each step of a generation of `new_tokens` tokens: the prompt at the
    first step; after it one token per step with the KV cache, the prompt and every token made so far without it."""
    if prompt_tokens < 1 or new_tokens < 1:
        raise ValueError(f"tokens_run needs a prompt and at least one new token, got {prompt_tokens} and {new_tokens}")
    later = np.ones(new_tokens - 1, dtype=int) if use_cache else prompt_tokens + np.arange(1, new_tokens)
    return np.concatenate([[prompt_tokens], later])


def fit_step_cost(tokens, step_times):
    """The least-squares line step time = fixed + per_token x tokens through the model, over the steps of a
    generation: StepCost(fixed, per_token), in the unit of `step_times`."""
    tokens, step_times = np.asarray(tokens, dtype=float), np.asarray(step_times, dtype=float)
    if tokens.shape != step_times.shape or len(set(tokens.tolist())) < 2:
        raise ValueError("fit_step_cost needs one time per step and at least two different token counts; "
                         f"got {tokens.shape[0]} counts ({len(set(tokens.tolist()))} different), "
                         f"{step_times.shape[0]} times")
    per_token, fixed = np.polyfit(tokens, step_times, 1)
    return StepCost(float(fixed), float(per_token))


def machine():
    """What a timing depends on, in one line: the processor, its cores, torch's threads and the load average (the
    number of processes running or waiting for a core, over 1, 5 and 15 minutes; above the core count, other work
    competes for the cores). Load averages are missing on Windows."""
    name = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            name = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), name)
    load = (", load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"
            if hasattr(os, "getloadavg") else "")
    return f"CPU {name}, {os.cpu_count()} cores, torch uses {torch.get_num_threads()} thread(s){load}"
