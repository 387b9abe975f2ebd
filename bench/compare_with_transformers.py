#!/usr/bin/env python3
"""Tessera against Hugging Face transformers at the real shapes of each supported model family.

For each shape: a random-weight model with the real config (every real dimension, but only
--layers layers so a run takes minutes), saved as bf16 safetensors; transformers' reference in
fp32 (on CUDA when available) from those bf16 weights upcast; then bench/model_logits on the same
directory. Both compute in fp32 from identical weights, so only the order of summation differs:
the last-position logits of each prompt must agree within 1e-3 of the largest logit's magnitude,
and the greedy tokens must be identical.

  python3 bench/compare_with_transformers.py --model-logits build/bench/model_logits \\
      [--shapes llama-3-8b,qwen3-0.6b] [--layers 4] [--out fidelity.json] [--threads N]

Needs torch, transformers and safetensors. Exits 1 when any shape falls outside the tolerance.
"""
import argparse
import json
import pathlib
import random
import subprocess
import tempfile
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

TOLERANCE = 1e-3  # max |logit difference| / max |logit|
PROMPT_LENGTHS = [8, 100, 600]
GREEDY_TOKENS = 8

# The fields of each model's public config.json (huggingface.co/<repo>/blob/main/config.json)
# that define the computation; dropout, initializer range and the like are left at defaults.
LLAMA_3_8B = dict(  # meta-llama/Llama-3.1-8B
    model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=8, hidden_act="silu",
    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    attention_bias=False, mlp_bias=False, tie_word_embeddings=False, vocab_size=128256,
    bos_token_id=128000, eos_token_id=128001)
QWEN2_5_0_5B = dict(  # Qwen/Qwen2.5-0.5B; q/k/v biases are built into Qwen2
    model_type="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
    num_attention_heads=14, num_key_value_heads=2, hidden_act="silu",
    max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
    use_sliding_window=False, sliding_window=32768, max_window_layers=24,
    tie_word_embeddings=True, vocab_size=151936, bos_token_id=151643, eos_token_id=151643)
QWEN3_0_6B = dict(  # Qwen/Qwen3-0.6B
    model_type="qwen3", hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
    num_attention_heads=16, num_key_value_heads=8, head_dim=128, hidden_act="silu",
    max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0,
    attention_bias=False, use_sliding_window=False, sliding_window=None, max_window_layers=28,
    tie_word_embeddings=True, vocab_size=151936, bos_token_id=151643, eos_token_id=151645)
PHI_3_MINI_128K = dict(  # microsoft/Phi-3-mini-128k-instruct (the revision of June 2024)
    model_type="phi3", hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=32, hidden_act="silu",
    max_position_embeddings=131072, original_max_position_embeddings=4096, rms_norm_eps=1e-5,
    rope_theta=10000.0, sliding_window=262144, attention_bias=False, tie_word_embeddings=False,
    vocab_size=32064, bos_token_id=1, eos_token_id=32000, pad_token_id=32000,
    rope_scaling={"type": "longrope", "long_factor": [
        1.0700000524520874, 1.1200000047683716, 1.149999976158142, 1.4199999570846558,
        1.5699999332427979, 1.7999999523162842, 2.129999876022339, 2.129999876022339,
        3.009999990463257, 5.910000324249268, 6.950000286102295, 9.070000648498535,
        9.930000305175781, 10.710000038146973, 11.130000114440918, 14.609999656677246,
        15.409998893737793, 19.809999465942383, 37.279998779296875, 38.279998779296875,
        38.599998474121094, 40.12000274658203, 46.20000457763672, 50.940006256103516,
        53.66000747680664, 54.9373893737793, 56.89738845825195, 57.28738784790039,
        59.98738479614258, 60.86738586425781, 60.887386322021484, 61.71739196777344,
        62.91739273071289, 62.957393646240234, 63.41739273071289, 63.8173942565918,
        63.83739471435547, 63.897396087646484, 63.93739700317383, 64.06739807128906,
        64.11434936523438, 64.12435150146484, 64.15435028076172, 64.19435119628906,
        64.24435424804688, 64.57435607910156, 64.69000244140625, 64.76000213623047],
        "short_factor": [1.1, 1.1, 1.1, 1.3000000000000003, 1.3500000000000003,
                         1.3500000000000003, 1.4000000000000004, 1.5500000000000005]
        + [2.000000000000001] * 17 + [2.0500000000000007] * 6 + [2.1000000000000005] * 2
        + [2.1500000000000004] + [2.25] * 5
        + [2.3999999999999995, 2.4499999999999993, 2.499999999999999, 2.6999999999999984,
           2.6999999999999984, 2.7499999999999982, 2.799999999999998, 2.8999999999999977,
           3.049999999999997]})
MISTRAL_7B = dict(  # mistralai/Mistral-7B-v0.1
    model_type="mistral", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
    num_attention_heads=32, num_key_value_heads=8, hidden_act="silu",
    max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=4096,
    tie_word_embeddings=False, vocab_size=32000, bos_token_id=1, eos_token_id=2)

SHAPES = {
    "llama-3-8b": LLAMA_3_8B,
    "qwen2.5-0.5b": QWEN2_5_0_5B,
    "qwen3-0.6b": QWEN3_0_6B,
    "phi-3-mini-128k": PHI_3_MINI_128K,
    # LongRoPE switches to its long factors past the original context, which no prompt here
    # reaches at 4096: at 104 the 100-token prompt crosses it while decoding (every key is then
    # re-rotated) and the 600-token prompt lies wholly past it.
    "phi-3-mini-128k-original104": dict(PHI_3_MINI_128K, original_max_position_embeddings=104),
    "mistral-7b": MISTRAL_7B,
    # Prompts stay within the real 4096-token window; a 256-token one makes the longest cross it.
    "mistral-7b-window256": dict(MISTRAL_7B, sliding_window=256),
}

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # --device overrides


def synchronize():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def build_model(options, layers, seed, directory):
    """Saves a random-weight model as bf16 safetensors in `directory`; returns it in fp32."""
    torch.manual_seed(seed)
    options = dict(options, num_hidden_layers=layers)
    config = AutoConfig.for_model(options.pop("model_type"), **options)
    config._attn_implementation = "eager"
    with torch.device(DEVICE):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    # Random init gives near-uniform logits; widen the weights so greedy decoding is decisive.
    # make_reference_models.py draws std 0.15 for 64-wide inputs; scaling by sqrt(64 / fan_in)
    # keeps its activation and logit sizes at every real width.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.15 * (64 / p.shape[1]) ** 0.5)
            elif "norm" in name:
                p.uniform_(0.8, 1.2)
            else:
                p.normal_(0.0, 0.1)
            # Rounded to bf16 in place: the fp32 model computes with exactly the saved weights.
            p.copy_(p.to(torch.bfloat16).float())
    # Parameters only: model.to(bfloat16) would also round the rotary inv_freq buffers, and
    # transformers would then rotate with frequencies that are off by up to 2^-9.
    model.save_pretrained(directory, state_dict={k: v.to(torch.bfloat16)
                                                 for k, v in model.state_dict().items()})
    return model.eval()


def last_logits(model, tokens):
    return model(torch.tensor([tokens], device=DEVICE), logits_to_keep=1).logits[0, -1]


def greedy(model, tokens):
    """Each token from a full forward pass over the sequence so far, not generate(): see
    tests/data/hf_tiny/make_reference_models.py (LongRoPE's cache is dropped mid-generation)."""
    sequence = list(tokens)
    for _ in range(GREEDY_TOKENS):
        sequence.append(int(last_logits(model, sequence).argmax()))
    return sequence[len(tokens):]


def run_transformers(model, prompts):
    cases = []
    with torch.no_grad():
        for tokens in prompts:
            synchronize()
            start = time.perf_counter()
            logits = last_logits(model, tokens)
            synchronize()
            cases.append({"prefill_seconds": time.perf_counter() - start,
                          "last_logits": logits.double().cpu(), "greedy": greedy(model, tokens)})
    return cases


def run_tessera(model_logits, directory, prompts, threads):
    prompts_path, out_path = directory / "prompts.json", directory / "tessera.json"
    prompts_path.write_text(json.dumps({"prompts": prompts, "greedy_tokens": GREEDY_TOKENS}))
    command = [model_logits, str(directory), str(prompts_path), str(out_path)]
    if threads:
        command += ["--threads", str(threads)]
    subprocess.run(command, check=True)
    return json.loads(out_path.read_text())["prompts"]


def matching_prefix(a, b):
    """Greedy tokens equal before the first difference; after it the sequences diverge."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def check_shape(name, options, args, seed):
    rng = random.Random(seed)
    prompts = [[rng.randrange(options["vocab_size"]) for _ in range(n)] for n in PROMPT_LENGTHS]
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as temp:
        directory = pathlib.Path(temp)
        model = build_model(options, args.layers, seed, directory)
        reference = run_transformers(model, prompts)
        del model
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
        tessera = run_tessera(args.model_logits, directory, prompts, args.threads)
    errors, greedy_equal = [], []
    for ref, ours in zip(reference, tessera):
        diff = (torch.tensor(ours["last_logits"], dtype=torch.float64) - ref["last_logits"]).abs()
        errors.append(float(diff.max() / ref["last_logits"].abs().max()))
        greedy_equal.append(matching_prefix(ref["greedy"], ours["greedy"]))
    longest = -1  # timings of the longest prompt, after the shorter ones have warmed up
    return {"shape": name, "layers": args.layers, "prompt_lengths": PROMPT_LENGTHS,
            "max_relative_logit_error": max(errors), "relative_logit_errors": errors,
            "greedy_equal": greedy_equal, "greedy_tokens": GREEDY_TOKENS,
            "passed": max(errors) <= TOLERANCE and min(greedy_equal) == GREEDY_TOKENS,
            "tessera_prefill_seconds": tessera[longest]["prefill_seconds"],
            "tessera_decode_seconds_per_token": tessera[longest]["decode_seconds_per_token"],
            "transformers_prefill_seconds": reference[longest]["prefill_seconds"]}


def print_table(rows):
    longest = PROMPT_LENGTHS[-1]
    print(f"\nTessera (CPU) against transformers {transformers.__version__} ({DEVICE}, fp32); "
          f"tolerance {TOLERANCE:g} of max |logit|; timings at {longest} tokens\n")
    print("| shape | layers | max rel. logit error | greedy equal (of "
          f"{GREEDY_TOKENS}, prompts of {'/'.join(map(str, PROMPT_LENGTHS))}) | "
          "Tessera prefill s | Tessera decode s/token | transformers prefill s | ok |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['shape']} | {r['layers']} | {r['max_relative_logit_error']:.2e} | "
              f"{' / '.join(map(str, r['greedy_equal']))} | {r['tessera_prefill_seconds']:.3f} | "
              f"{r['tessera_decode_seconds_per_token']:.4f} | "
              f"{r['transformers_prefill_seconds']:.4f} | {'yes' if r['passed'] else 'NO'} |")


def main():
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-logits", required=True, help="the built bench/model_logits")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help="comma-separated, of: " + ", ".join(SHAPES))
    parser.add_argument("--layers", type=int, default=4, help="layers kept of each real model")
    parser.add_argument("--out", help="where to write the table as JSON")
    parser.add_argument("--threads", type=int, default=0, help="Tessera's CPU threads (0: all)")
    parser.add_argument("--device", help="where transformers computes: cuda (default when there "
                        "is a GPU) or cpu")
    args = parser.parse_args()
    DEVICE = args.device or DEVICE
    names = args.shapes.split(",")
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; known: {list(SHAPES)}")
    torch.backends.cuda.matmul.allow_tf32 = False  # a true fp32 reference
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    for name in names:
        print(f"{name}: {args.layers} layers ...", flush=True)
        seed = list(SHAPES).index(name)  # the same weights and prompts whichever shapes are run
        rows.append(check_shape(name, SHAPES[name], args, seed))
    print_table(rows)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(
            {"transformers": transformers.__version__, "torch": torch.__version__,
             "device": DEVICE, "tolerance": TOLERANCE, "shapes": rows}, indent=1))
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
