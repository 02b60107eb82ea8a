#!/usr/bin/env python3
"""`space verify` input (spec/verify.md) from Hugging Face transformers: fp32 greedy generation on the GGUF's
dequantised weights (tools/hf_logits.py's loader: eager attention, one sequence, KV cache), with the raw
top-n logits of every step. Development tooling only.

Input: a JSON array or JSON lines; a prompt is [ids...] or {"id": any, "ids": [...]}. Token ids are used
as they are (no BOS, no tokenizer). Output: one record per prompt,
  {"id", "engine", "prompt_tokens", "tokens", "logits": [{"ids": [...], "values": [...]}, ...]}
where tokens stop after an end-of-generation token (--eos, default: the model's eos and 0, 2 as llama.cpp's
EOG set for SmolLM2) or at --n tokens.

Usage (from the repository root):
  ~/.cache/space/venv/bin/python tools/verify_hf.py --input prompts.json [--n 64] [--top 8] [--model M.gguf] [--out hf.jsonl]
  space verify --model M.gguf hf.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_logits  # noqa: E402  (the shared loader and input reader)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="prompts: JSON array / JSON lines ('-' = stdin)")
    ap.add_argument("--n", type=int, default=64, help="tokens to generate per prompt (default 64)")
    ap.add_argument("--top", type=int, default=8, help="logits kept per step (default 8)")
    ap.add_argument("--eos", default=None, help="comma-separated stop ids (default: the model's eos plus 0 and 2)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--model", default=hf_logits.DEFAULT_MODEL, help="GGUF path")
    ap.add_argument("--out", help="output JSONL (default stdout); written whole, then renamed")
    args = ap.parse_args(argv)
    if args.n < 0 or args.top < 1:
        raise SystemExit("verify_hf.py: --n must be >= 0 and --top >= 1")

    import torch

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    items = hf_logits.read_items(args.input)
    if not items:
        raise SystemExit("verify_hf.py: no prompts given")
    model, source = hf_logits.load_model(args.model, True)
    vocab = model.config.vocab_size
    eos = {0, 2}
    cfg_eos = model.config.eos_token_id
    eos |= set(cfg_eos if isinstance(cfg_eos, list) else ([cfg_eos] if cfg_eos is not None else []))
    if args.eos:
        eos = {int(x) for x in args.eos.split(",") if x.strip()}
    engine = f"transformers {__import__('transformers').__version__} (fp32, eager attention, torch {torch.__version__})"

    lines = []
    with torch.inference_mode():
        for it in items:
            ids = it["ids"]
            if not ids or any((not isinstance(t, int)) or t < 0 or t >= vocab for t in ids):
                raise SystemExit(f"verify_hf.py: prompt {it['index']}: ids must be a non-empty list of ints in [0, {vocab})")
            tokens, logits = [], []
            out = model(torch.tensor([ids], dtype=torch.long), use_cache=True)
            kv, row = hf_logits.kv_of(out), out.logits[0, -1].float()
            for _ in range(args.n):
                top = torch.topk(row, args.top)  # ties: torch's order; the ids say which is which
                tok = int(torch.argmax(row))
                tokens.append(tok)
                logits.append({"ids": [int(i) for i in top.indices.tolist()], "values": [float(v) for v in top.values.tolist()]})
                if tok in eos or len(tokens) >= args.n:
                    break
                out = model(torch.tensor([[tok]], dtype=torch.long), use_cache=True, **{hf_logits.KV_KWARG: kv})
                kv, row = hf_logits.kv_of(out), out.logits[0, -1].float()
            lines.append(json.dumps({"id": it.get("id", it["index"]), "engine": engine, "prompt_tokens": ids, "tokens": tokens, "logits": logits}))
    text = "\n".join(lines) + "\n"
    if args.out:
        tmp = f"{args.out}.tmp-{os.getpid()}"
        Path(tmp).write_text(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
