#!/usr/bin/env python3
"""Writes tiny random-weight models of each supported family with Hugging Face transformers,
and the reference outputs Tessera's model tests compare against.

Each family gets the architecture options of its real models (GQA, biases, tied embeddings,
rope scaling, fused projections, sliding window, q/k norm) at tiny sizes and a 512-token
vocabulary, so the files stay small. For every family this writes OUT/<family>/:
  config.json, generation_config.json, model.safetensors   (save_pretrained, fp32)
  reference.json   {"transformers": version, "prompts": [{"tokens": [...],
                    "last_logits": [...vocab], "greedy": [...16 ids]}]}
Run on a machine with torch and transformers (the GPU machine has both):
  python3 tests/data/hf_tiny/make_reference_models.py OUT
"""
import json
import pathlib
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

VOCAB = 512
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
              bos_token_id=1, eos_token_id=2, torch_dtype="float32")

FAMILIES = {
    # Llama 3.2 style: GQA, theta 500000, llama3 rope scaling, tied embeddings.
    "llama3": dict(model_type="llama", max_position_embeddings=4096, rope_theta=500000.0,
                   tie_word_embeddings=True,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 64}),
    # Qwen2.5-0.5B style: q/k/v biases, GQA, tied embeddings, theta 1e6.
    "qwen2": dict(model_type="qwen2", max_position_embeddings=4096, rope_theta=1000000.0,
                  tie_word_embeddings=True),
    # Qwen3 style: q/k RMSNorm per head, head_dim independent of hidden_size.
    "qwen3": dict(model_type="qwen3", head_dim=32, max_position_embeddings=4096,
                  rope_theta=1000000.0, tie_word_embeddings=True),
    # Mistral 7B style: sliding-window attention (small here, so prompts cross it).
    "mistral": dict(model_type="mistral", max_position_embeddings=4096, rope_theta=10000.0,
                    sliding_window=8, tie_word_embeddings=False),
    # Phi-3-mini-4k style: fused qkv_proj and gate_up_proj.
    "phi3": dict(model_type="phi3", max_position_embeddings=4096, rope_theta=10000.0,
                 tie_word_embeddings=False, pad_token_id=0),
    # Phi-3-mini-128k style: LongRoPE; a small original context so long prompts use long_factor.
    "phi3_longrope": dict(model_type="phi3", max_position_embeddings=512,
                          original_max_position_embeddings=32, rope_theta=10000.0,
                          tie_word_embeddings=False, pad_token_id=0,
                          rope_scaling={"type": "longrope",
                                        "short_factor": [1.0 + 0.1 * i for i in range(8)],
                                        "long_factor": [1.0 + 0.5 * i for i in range(8)]}),
}

PROMPTS = [
    [1, 17, 250, 33],
    [1] + [(7 * i + 3) % VOCAB for i in range(23)],   # longer than the sliding window
    [1] + [(13 * i + 5) % VOCAB for i in range(47)],  # past phi3_longrope's original context
]
GREEDY_TOKENS = 16


def greedy(model, tokens):
    """Greedy continuation, each token from a full forward pass over the whole sequence so far.

    Not generate(): for Phi-3 with LongRoPE it drops its KV cache when the sequence first passes
    original_max_position_embeddings and the recomputed step disagrees with the model's own full
    forward pass; a full pass each step is the unambiguous definition (for every other family it
    equals cached decoding)."""
    sequence = list(tokens)
    for _ in range(GREEDY_TOKENS):
        logits = model(torch.tensor([sequence])).logits[0, -1]
        sequence.append(int(logits.argmax()))
    return sequence[len(tokens):]


def main():
    out = pathlib.Path(sys.argv[1])
    for seed, (family, options) in enumerate(FAMILIES.items()):
        torch.manual_seed(1000 + seed)
        options = {**COMMON, **options}
        config = AutoConfig.for_model(options.pop("model_type"), **options)
        config._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
        # Random init gives near-uniform logits; widen the weights so greedy decoding is decisive.
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.15)
                elif "norm" in name:
                    p.uniform_(0.8, 1.2)
                else:
                    p.normal_(0.0, 0.1)
        model = model.float().eval()
        directory = out / family
        model.save_pretrained(directory, safe_serialization=True)
        cases = []
        with torch.no_grad():
            for tokens in PROMPTS:
                logits = model(torch.tensor([tokens])).logits[0, -1].tolist()
                cases.append({"tokens": tokens, "last_logits": logits,
                              "greedy": greedy(model, tokens)})
        (directory / "reference.json").write_text(json.dumps(
            {"transformers": transformers.__version__, "torch": torch.__version__,
             "family": family, "prompts": cases}))
        print(family, "ok", flush=True)


if __name__ == "__main__":
    main()
