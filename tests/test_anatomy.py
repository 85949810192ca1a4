"""utils.anatomy and chapter 3's RoPE and KV-cache formulas on tiny random models of both weight layouts: Llama
(separate q/k/v and gate/up projections, the offline SmolLM2) and Phi-3 (fused qkv_proj and gate_up_proj, the book's
model). Every check compares against what the model itself computes."""
import os
import time

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Phi3Config, Phi3ForCausalLM
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_rotary
from transformers.models.phi3.modeling_phi3 import apply_rotary_pos_emb as phi3_rotary

from chapter_code import cell, function
from utils.anatomy import (
    cache_layers,
    embeddings_tied,
    fit_step_cost,
    head_layout,
    machine,
    mlp_weights,
    parameter_counts,
    qkv_weights,
    time_generate,
    tokens_run,
)

# the chapter's own formulas, read from the notebook
apply_rotary = function("ch03", "apply_rotary", {"torch": torch})
kv_cache_bytes = function("ch03", "kv_cache_bytes", {"torch": torch, "head_layout": head_layout})

SMALL = dict(vocab_size=96, hidden_size=64, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=0,
             attn_implementation="eager")
MODELS = {
    "llama-gqa-tied": lambda: LlamaForCausalLM(LlamaConfig(**SMALL, num_key_value_heads=2, tie_word_embeddings=True)),
    "phi3-mha": lambda: Phi3ForCausalLM(Phi3Config(**SMALL, num_key_value_heads=4, tie_word_embeddings=False)),
    "phi3-gqa": lambda: Phi3ForCausalLM(Phi3Config(**SMALL, num_key_value_heads=2, tie_word_embeddings=False)),
}


@pytest.fixture(params=list(MODELS))
def model(request):
    torch.manual_seed(0)
    return MODELS[request.param]().eval()


def ids(n=7):
    return torch.tensor([[1, 5, 17, 33, 8, 61, 40, 22, 9, 71][:n]])


def test_head_layout_reads_the_config(model):
    layout = head_layout(model.config)
    assert layout.heads == 4 and layout.head_dim == 16
    assert layout.kv_heads == model.config.num_key_value_heads and layout.group == 4 // layout.kv_heads


def test_parameter_counts_split_the_model_into_parts_that_sum_to_its_size(model):
    c = model.config
    heads, kv_heads, head_dim, _ = head_layout(c)
    counts = parameter_counts(model)
    assert sum(counts.values()) == model.num_parameters()
    assert counts["embeddings"] == c.vocab_size * c.hidden_size
    assert counts["LM head"] == (0 if c.tie_word_embeddings else c.vocab_size * c.hidden_size)
    assert embeddings_tied(model) == c.tie_word_embeddings
    assert counts["attention"] == c.num_hidden_layers * (c.hidden_size * (heads + 2 * kv_heads) * head_dim
                                                         + heads * head_dim * c.hidden_size)
    assert counts["MLP"] == c.num_hidden_layers * 3 * c.hidden_size * c.intermediate_size
    assert counts["norms"] == (2 * c.num_hidden_layers + 1) * c.hidden_size


def test_parameter_counts_name_the_models_they_cannot_read():
    from transformers import GPT2Config, GPT2LMHeadModel
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=50, n_positions=16))
    with pytest.raises(ValueError, match="does not know which part"):
        parameter_counts(gpt2)


@pytest.mark.parametrize("layer_index", [0, 1])
def test_attention_by_hand_from_the_weights_matches_the_model(model, layer_index):
    """RMSNorm -> q, k, v from qkv_weights -> rotary -> causal softmax per head -> o_proj, against the model's own
    attention weights and attention output."""
    layer = model.model.layers[layer_index]
    heads, kv_heads, head_dim, group = head_layout(model.config)
    captured = {}
    hook = layer.self_attn.register_forward_hook(lambda module, args, out: captured.update(out=out[0]))
    with torch.no_grad():
        out = model(ids(), output_attentions=True, output_hidden_states=True)
    hook.remove()

    with torch.no_grad():
        x = layer.input_layernorm(out.hidden_states[layer_index])[0]              # (seq, hidden)
        w = qkv_weights(layer.self_attn, model.config)
        q = (x @ w.query.T).view(len(x), heads, head_dim).transpose(0, 1)        # (heads, seq, head_dim)
        k = (x @ w.key.T).view(len(x), kv_heads, head_dim).transpose(0, 1)
        v = (x @ w.value.T).view(len(x), kv_heads, head_dim).transpose(0, 1)
        cos, sin = model.model.rotary_emb(x, torch.arange(len(x))[None])
        q, k = apply_rotary(q, cos[0], sin[0]), apply_rotary(k, cos[0], sin[0])
        outputs = []
        for head in range(heads):
            scores = q[head] @ k[head // group].T / head_dim ** 0.5
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
            weights = scores.softmax(-1)
            torch.testing.assert_close(weights, out.attentions[layer_index][0, head])
            outputs.append(weights @ v[head // group])
        by_hand = layer.self_attn.o_proj(torch.cat(outputs, dim=-1))
    torch.testing.assert_close(by_hand, captured["out"][0])


def test_qkv_weights_are_views_of_the_models_parameters(model):
    attention = model.model.layers[0].self_attn
    w = qkv_weights(attention, model.config)
    heads, kv_heads, head_dim, _ = head_layout(model.config)
    assert [t.shape[0] for t in w] == [heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]
    fused = getattr(attention, "qkv_proj", None)
    assert (fused is not None) == isinstance(model, Phi3ForCausalLM)
    if fused is not None:
        assert torch.equal(torch.cat(list(w)), fused.weight)


def test_gated_mlp_by_hand_matches_the_model(model):
    mlp = model.model.layers[1].mlp
    x = torch.randn(3, model.config.hidden_size)
    gate, up, down = mlp_weights(mlp)
    with torch.no_grad():
        torch.testing.assert_close(torch.nn.functional.silu(x @ gate.T) * (x @ up.T) @ down.T, mlp(x))


def test_projection_helpers_refuse_layouts_they_cannot_read():
    with pytest.raises(NotImplementedError, match="neither q_proj"):
        qkv_weights(torch.nn.Module(), LlamaConfig(**SMALL))
    with pytest.raises(NotImplementedError, match="not a gated MLP"):
        mlp_weights(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)))
    biased = LlamaForCausalLM(LlamaConfig(**SMALL, attention_bias=True))
    with pytest.raises(NotImplementedError, match="has a bias"):
        qkv_weights(biased.model.layers[0].self_attn, biased.config)


@pytest.mark.parametrize("library_rotary", [llama_rotary, phi3_rotary], ids=["llama", "phi3"])
def test_apply_rotary_matches_the_library(library_rotary):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**SMALL))
    q, k = torch.randn(1, 4, 9, 16), torch.randn(1, 2, 9, 16)
    cos, sin = model.model.rotary_emb(q, torch.arange(9)[None])
    expected_q, expected_k = library_rotary(q, k, cos, sin)
    torch.testing.assert_close(apply_rotary(q, cos[:, None], sin[:, None]), expected_q)
    torch.testing.assert_close(apply_rotary(k, cos[:, None], sin[:, None]), expected_k)


def test_apply_rotary_leaves_the_dimensions_beyond_a_partial_rotary_alone():
    torch.manual_seed(0)
    q, k = torch.randn(1, 2, 5, 16), torch.randn(1, 2, 5, 16)
    angles = torch.arange(5.0)[:, None] * torch.tensor([1.0, 0.1, 0.01, 0.001])
    cos, sin = torch.cat([angles, angles], -1).cos()[None], torch.cat([angles, angles], -1).sin()[None]
    rotated = apply_rotary(q, cos[:, None], sin[:, None])
    torch.testing.assert_close(rotated, phi3_rotary(q, k, cos, sin)[0])
    assert torch.equal(rotated[..., 8:], q[..., 8:]) and not torch.equal(rotated[..., :8], q[..., :8])


def test_the_cache_after_generate_holds_keys_and_values_of_the_predicted_size(model):
    prompt = ids(5)
    with torch.no_grad():
        out = model.generate(prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False,
                             return_dict_in_generate=True, pad_token_id=0)
    layers = cache_layers(out.past_key_values)
    _, kv_heads, head_dim, _ = head_layout(model.config)
    tokens = prompt.shape[1] + 4 - 1          # the last new token has not been fed through the model yet
    assert len(layers) == model.config.num_hidden_layers
    assert all(k.shape == v.shape == (1, kv_heads, tokens, head_dim) for k, v in layers)
    real = sum(k.nbytes + v.nbytes for k, v in layers)
    assert real == kv_cache_bytes(model.config, tokens, dtype=torch.float32)
    full_mha = kv_cache_bytes(model.config, tokens, dtype=torch.float32, kv_heads=model.config.num_attention_heads)
    assert full_mha == real * head_layout(model.config).group
    with pytest.raises(TypeError, match="Cache object"):
        cache_layers(((torch.zeros(1),),))


@pytest.mark.parametrize("use_cache", [True, False])
def test_time_generate_times_one_greedy_call_of_exactly_n_tokens(model, use_cache, monkeypatch):
    calls, real = [], model.generate
    def generate(**kwargs):
        calls.append(kwargs)
        time.sleep(0.05)                                   # the clock must include the call
        return real(**kwargs)
    monkeypatch.setattr(model, "generate", generate)
    timing = time_generate(model, {"input_ids": ids(4)}, 6, use_cache=use_cache)
    assert timing.seconds >= 0.05 and len(timing.steps) == 6 and sum(timing.steps) <= timing.seconds
    assert timing.steps[0] >= 0.05                         # the first step holds what came before it
    call, = calls
    assert (call["max_new_tokens"], call["min_new_tokens"], call["do_sample"], call["use_cache"]) == (6, 6, False,
                                                                                                      use_cache)


def test_time_generate_clocks_every_step(model, monkeypatch):
    real = model.forward
    def slow_forward(*args, **kwargs):
        time.sleep(0.02)                                   # every forward pass, i.e. every step, takes 20 ms more
        return real(*args, **kwargs)
    monkeypatch.setattr(model, "forward", slow_forward)
    timing = time_generate(model, {"input_ids": ids(4)}, 5, use_cache=True)
    assert len(timing.steps) == 5 and all(step >= 0.02 for step in timing.steps)
    assert timing.seconds >= sum(timing.steps) >= 0.1


def test_time_generate_refuses_a_short_generation(model, monkeypatch):
    monkeypatch.setattr(model, "generate", lambda **kwargs: torch.zeros(1, 4 + 2, dtype=torch.long))
    with pytest.raises(RuntimeError, match="made 2 tokens instead of 6"):
        time_generate(model, {"input_ids": ids(4)}, 6, use_cache=True)


def test_time_generate_fills_in_a_pad_token_from_a_list_of_end_tokens(model, monkeypatch):
    model.generation_config.pad_token_id = None
    model.generation_config.eos_token_id = [2, 3]
    pads = []
    monkeypatch.setattr(model, "generate", lambda **kw: pads.append(kw["pad_token_id"]) or torch.zeros(1, 6))
    time_generate(model, {"input_ids": ids(3)}, 3, use_cache=True)
    assert pads == [2]


@pytest.mark.parametrize("use_cache", [True, False])
def test_time_generate_returns_the_ids_that_greedy_generate_makes(model, use_cache):
    timing = time_generate(model, {"input_ids": ids(4)}, 6, use_cache=use_cache)
    with torch.no_grad():
        direct = model.generate(ids(4), max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=0)
    assert timing.ids == direct[0, 4:].tolist() and len(timing.ids) == 6


def test_tokens_run_counts_the_tokens_each_step_feeds_the_model():
    assert tokens_run(21, 4, use_cache=True).tolist() == [21, 1, 1, 1]
    assert tokens_run(21, 4, use_cache=False).tolist() == [21, 22, 23, 24]
    assert tokens_run(26, 100, use_cache=False).sum() == 7550 and tokens_run(26, 100, use_cache=True).sum() == 125
    assert tokens_run(5, 1, use_cache=False).tolist() == [5]
    with pytest.raises(ValueError, match="at least one new token"):
        tokens_run(5, 0, use_cache=True)


@pytest.mark.parametrize("use_cache", [True, False])
def test_fit_step_cost_recovers_the_fixed_and_the_per_token_cost(use_cache):
    tokens = tokens_run(21, 30, use_cache)
    noise = np.random.default_rng(0).normal(0, 0.2, len(tokens))
    fit = fit_step_cost(tokens, 60 + 2.5 * tokens + noise)
    assert fit.fixed == pytest.approx(60, abs=1) and fit.per_token == pytest.approx(2.5, abs=0.1)


def test_fit_step_cost_needs_two_different_token_counts():
    with pytest.raises(ValueError, match="at least two different token counts"):
        fit_step_cost([1, 1, 1], [5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match="one time per step"):
        fit_step_cost([1, 2, 3], [5.0, 6.0])


def test_machine_names_the_cores_the_threads_and_the_load():
    line = machine()
    assert f"{os.cpu_count()} cores" in line and f"{torch.get_num_threads()} thread(s)" in line
    assert ("load average" in line) == hasattr(os, "getloadavg")


def test_chapter_3_checks_the_books_dimensions_on_phi3_mini_only():
    torch.manual_seed(0)
    check = cell("ch03", "is_book_model = ")
    for name, generation_model in [("phi3-mha", "offline:smollm2-135m-instruct"),       # not the book's id
                                   ("llama-gqa-tied", "microsoft/Phi-3-mini-4k-instruct")]:  # the rehearsal's stand-in
        tiny = MODELS[name]()
        ns = {"config": tiny.config, "model": tiny, "first_block": tiny.model.layers[0],
              "generation_model": generation_model}
        exec(check, ns)
        assert ns["is_book_model"] is False
    tiny_phi3 = MODELS["phi3-mha"]()                 # Phi-3's layout under the book's id, but not the book's sizes
    ns = {"config": tiny_phi3.config, "model": tiny_phi3, "first_block": tiny_phi3.model.layers[0],
          "generation_model": "microsoft/Phi-3-mini-4k-instruct"}
    with pytest.raises(AssertionError):
        exec(check, ns)
