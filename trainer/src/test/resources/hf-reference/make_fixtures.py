"""Independent numeric reference for the trainer's decoder, run once to make the committed fixtures.

Writes tiny random HF checkpoints (config.json + model.safetensors, HF tensor names and layouts) for
GPT-2, Llama (plain and with Llama 3's rope_scaling), Mistral, Qwen2, Qwen3 and Phi-3, and the logits a plain numpy implementation of HF's formulas computes for a fixed
token sequence. The Java test imports each checkpoint and compares. numpy only; regenerate with
    python3 make_fixtures.py
(another machine's BLAS may change the seventh decimal of the logits; the weights are byte-identical)
"""
import json
import struct

import numpy as np

TOKENS = [1, 17, 42, 3, 250, 99, 7, 128]
rng = np.random.default_rng(20261124)


def save_safetensors(path, tensors, dtype="F32"):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        if dtype == "F32":
            raw = arr.astype("<f4").tobytes()
        else:  # F16: exercises the importer's widening
            raw = arr.astype("<f2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def causal_attention(q, k, v):
    # q [H,T,hd], k/v [H,T,hd]
    t = q.shape[1]
    s = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    s = s + np.triu(np.full((t, t), -1e30), 1)
    return softmax(s) @ v


def gpt2():
    v, d, layers, heads, pos = 300, 16, 2, 4, 32
    w = {}
    r = lambda *s: (rng.standard_normal(s) * 0.2).astype(np.float32)
    # GPT-2's base-model names (no "transformer." prefix), as openai-community/gpt2 ships them.
    w["wte.weight"] = r(v, d)
    w["wpe.weight"] = r(pos, d)
    for i in range(layers):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1 + r(d)
        w[p + "ln_1.bias"] = r(d)
        w[p + "attn.c_attn.weight"] = r(d, 3 * d)
        w[p + "attn.c_attn.bias"] = r(3 * d)
        w[p + "attn.c_proj.weight"] = r(d, d)
        w[p + "attn.c_proj.bias"] = r(d)
        w[p + "ln_2.weight"] = 1 + r(d)
        w[p + "ln_2.bias"] = r(d)
        w[p + "mlp.c_fc.weight"] = r(d, 4 * d)
        w[p + "mlp.c_fc.bias"] = r(4 * d)
        w[p + "mlp.c_proj.weight"] = r(4 * d, d)
        w[p + "mlp.c_proj.bias"] = r(d)
    w["ln_f.weight"] = 1 + r(d)
    w["ln_f.bias"] = r(d)
    w = {k: a.astype(np.float16).astype(np.float32) for k, a in w.items()}  # exactly representable in F16
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": v, "n_embd": d,
              "n_layer": layers, "n_head": heads, "n_positions": pos, "n_inner": None,
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "bos_token_id": 0, "eos_token_id": 1}
    t = len(TOKENS)
    x = w["wte.weight"][TOKENS] + w["wpe.weight"][:t]
    hd = d // heads
    for i in range(layers):
        p = f"h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, vv = np.split(qkv, 3, axis=-1)
        split = lambda a: a.reshape(t, heads, hd).transpose(1, 0, 2)
        a = causal_attention(split(q), split(k), split(vv)).transpose(1, 0, 2).reshape(t, d)
        x = x + a @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        f = h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        f = 0.5 * f * (1 + np.tanh(np.sqrt(2 / np.pi) * (f + 0.044715 * f ** 3)))
        x = x + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], 1e-5)
    logits = x @ w["wte.weight"].T
    return config, w, logits, "F16"


def llama3_inv_freq(inv_freq, s):
    """HF's _compute_llama3_parameters (transformers' modeling_rope_utils), in numpy."""
    factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * np.pi / inv_freq
    inv_freq_llama = np.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return np.where(is_medium, smoothed, inv_freq_llama)


def llama3():
    # head_dim 8 at theta 10000: wavelengths 6.3, 63, 628 and 6283 positions, so with an original
    # context of 64 (low 1, high 4) one frequency is kept, one smoothed and two divided by the factor.
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
    return llama(d=32, rope_scaling=scaling)


def llama(d=16, rope_scaling=None):
    v, layers, heads, kv_heads, hidden, theta, eps = 300, 2, 4, 2, 40, 10000.0, 1e-6
    hd = d // heads
    r = lambda *s: (rng.standard_normal(s) * 0.2).astype(np.float32)
    w = {"model.embed_tokens.weight": r(v, d)}
    for i in range(layers):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + r(d)
        w[p + "self_attn.q_proj.weight"] = r(d, d)
        w[p + "self_attn.k_proj.weight"] = r(kv_heads * hd, d)
        w[p + "self_attn.v_proj.weight"] = r(kv_heads * hd, d)
        w[p + "self_attn.o_proj.weight"] = r(d, d)
        w[p + "post_attention_layernorm.weight"] = 1 + r(d)
        w[p + "mlp.gate_proj.weight"] = r(hidden, d)
        w[p + "mlp.up_proj.weight"] = r(hidden, d)
        w[p + "mlp.down_proj.weight"] = r(d, hidden)
    w["model.norm.weight"] = 1 + r(d)
    w["lm_head.weight"] = r(v, d)
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": v, "hidden_size": d,
              "intermediate_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "max_position_embeddings": 64, "rms_norm_eps": eps,
              "rope_theta": theta, "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1}
    t = len(TOKENS)
    inv_freq = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    if rope_scaling is not None:
        config["rope_scaling"] = rope_scaling
        inv_freq = llama3_inv_freq(inv_freq, rope_scaling)
    freqs = np.outer(np.arange(t), inv_freq)
    emb = np.concatenate([freqs, freqs], -1)
    cos, sin = np.cos(emb), np.sin(emb)

    def rope(a):  # a [H,T,hd], HF's rotate_half
        half = hd // 2
        rot = np.concatenate([-a[..., half:], a[..., :half]], -1)
        return a * cos + rot * sin

    rms = lambda a, g: a / np.sqrt((a ** 2).mean(-1, keepdims=True) + eps) * g
    x = w["model.embed_tokens.weight"][TOKENS]
    for i in range(layers):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(t, heads, hd).transpose(1, 0, 2)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(t, kv_heads, hd).transpose(1, 0, 2)
        vv = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(t, kv_heads, hd).transpose(1, 0, 2)
        q, k = rope(q), rope(k)
        k = np.repeat(k, heads // kv_heads, axis=0)
        vv = np.repeat(vv, heads // kv_heads, axis=0)
        a = causal_attention(q, k, vv).transpose(1, 0, 2).reshape(t, d)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    return config, w, x @ w["lm_head.weight"].T, "F32"


def rotary_family(model_type, seed, head_dim=None, qkv_bias=False, qk_norm=False, fused=False, tied=False,
                  extra=None):
    """HF's Mistral, Qwen2, Qwen3 and Phi-3 forwards, which are Llama's with the differences below:
    Qwen2 adds biases to q/k/v (modeling_qwen2: q_proj = nn.Linear(..., bias=True), o_proj without);
    Qwen3 applies Qwen3RMSNorm(head_dim) to each head of q and k before the rotary embedding and may
    set head_dim apart from hidden_size / heads; Phi-3 stores qkv_proj (rows q, k, v) and gate_up_proj
    (rows gate, up; modeling_phi3's chunk(2) gives gate first)."""
    rng2 = np.random.default_rng(seed)
    v, d, layers, heads, kv_heads, hidden, theta, eps = 300, 16, 2, 4, 2, 40, 1000000.0, 1e-6
    hd = head_dim or d // heads
    r = lambda *s: (rng2.standard_normal(s) * 0.2).astype(np.float32)
    w = {"model.embed_tokens.weight": r(v, d)}
    for i in range(layers):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + r(d)
        q, k, vv = r(heads * hd, d), r(kv_heads * hd, d), r(kv_heads * hd, d)
        if fused:
            w[p + "self_attn.qkv_proj.weight"] = np.concatenate([q, k, vv], 0)
        else:
            w[p + "self_attn.q_proj.weight"], w[p + "self_attn.k_proj.weight"], w[p + "self_attn.v_proj.weight"] = q, k, vv
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = r(heads * hd)
            w[p + "self_attn.k_proj.bias"] = r(kv_heads * hd)
            w[p + "self_attn.v_proj.bias"] = r(kv_heads * hd)
        if qk_norm:
            w[p + "self_attn.q_norm.weight"] = 1 + r(hd)
            w[p + "self_attn.k_norm.weight"] = 1 + r(hd)
        w[p + "self_attn.o_proj.weight"] = r(d, heads * hd)
        w[p + "post_attention_layernorm.weight"] = 1 + r(d)
        gate, up = r(hidden, d), r(hidden, d)
        if fused:
            w[p + "mlp.gate_up_proj.weight"] = np.concatenate([gate, up], 0)
        else:
            w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"] = gate, up
        w[p + "mlp.down_proj.weight"] = r(d, hidden)
    w["model.norm.weight"] = 1 + r(d)
    if not tied:
        w["lm_head.weight"] = r(v, d)
    arch = {"mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
            "phi3": "Phi3ForCausalLM"}[model_type]
    config = {"model_type": model_type, "architectures": [arch], "vocab_size": v, "hidden_size": d,
              "intermediate_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "max_position_embeddings": 64, "rms_norm_eps": eps,
              "rope_theta": theta, "tie_word_embeddings": tied, "bos_token_id": 0, "eos_token_id": 1,
              "hidden_act": "silu"}
    if head_dim:
        config["head_dim"] = head_dim
    config.update(extra or {})
    t = len(TOKENS)
    inv_freq = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    emb = np.concatenate([np.outer(np.arange(t), inv_freq)] * 2, -1)
    cos, sin = np.cos(emb), np.sin(emb)
    rope = lambda a: a * cos + np.concatenate([-a[..., hd // 2:], a[..., :hd // 2]], -1) * sin
    rms = lambda a, g: a / np.sqrt((a ** 2).mean(-1, keepdims=True) + eps) * g
    x = w["model.embed_tokens.weight"][TOKENS]
    for i in range(layers):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"])
        if fused:
            qkv = h @ w[p + "self_attn.qkv_proj.weight"].T
            qa, ka, va = np.split(qkv, [heads * hd, (heads + kv_heads) * hd], -1)
        else:
            qa, ka, va = (h @ w[p + f"self_attn.{n}_proj.weight"].T for n in "qkv")
        if qkv_bias:
            qa, ka, va = qa + w[p + "self_attn.q_proj.bias"], ka + w[p + "self_attn.k_proj.bias"], va + w[p + "self_attn.v_proj.bias"]
        qa, ka, va = qa.reshape(t, heads, hd), ka.reshape(t, kv_heads, hd), va.reshape(t, kv_heads, hd)
        if qk_norm:
            qa, ka = rms(qa, w[p + "self_attn.q_norm.weight"]), rms(ka, w[p + "self_attn.k_norm.weight"])
        q, k, vv = (a.transpose(1, 0, 2) for a in (qa, ka, va))
        q, k = rope(q), rope(k)
        k, vv = np.repeat(k, heads // kv_heads, axis=0), np.repeat(vv, heads // kv_heads, axis=0)
        a = causal_attention(q, k, vv).transpose(1, 0, 2).reshape(t, heads * hd)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        if fused:
            g, u = np.split(h @ w[p + "mlp.gate_up_proj.weight"].T, 2, -1)
        else:
            g, u = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    unembed = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    return config, w, x @ unembed.T, "F32"


FAMILIES = {
    # Mistral-7B-v0.1's sliding window (here 32 of 64 positions): imported with the context capped at it.
    "mistral": lambda: rotary_family("mistral", 1, extra={"sliding_window": 32}),
    # Qwen2.5-0.5B's traits: q/k/v biases, tied embeddings, a sliding window its config turns off.
    "qwen2": lambda: rotary_family("qwen2", 2, qkv_bias=True, tied=True,
                                   extra={"use_sliding_window": False, "sliding_window": 32}),
    # Qwen3-0.6B's: per-head q/k norms and head_dim 8 apart from hidden_size / heads = 4.
    "qwen3": lambda: rotary_family("qwen3", 3, head_dim=8, qk_norm=True, extra={"attention_bias": False}),
    # Phi-3-mini's: fused q/k/v and gate/up projections.
    "phi3": lambda: rotary_family("phi3", 4, fused=True),
}


if __name__ == "__main__":
    import os
    for name, make in (("gpt2", gpt2), ("llama", llama), ("llama3", llama3), *FAMILIES.items()):
        config, weights, logits, dtype = make()
        os.makedirs(name, exist_ok=True)
        with open(f"{name}/config.json", "w") as f:
            json.dump(config, f, indent=1)
        save_safetensors(f"{name}/model.safetensors", weights, dtype)
        with open(f"{name}/expected_logits.json", "w") as f:
            json.dump({"tokens": TOKENS, "logits": np.round(logits.astype(np.float64), 7).tolist()}, f)
        print(name, logits.shape, float(np.abs(logits).max()))
