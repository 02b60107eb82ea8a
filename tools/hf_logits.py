#!/usr/bin/env python3
"""Reference logits from Hugging Face transformers (fp32, eager attention) for the GGUF model.

Development tooling only (the product never needs Python). transformers dequantises the GGUF to fp32
on load and undoes llama.cpp's q/k row permutation, so this is the "exact maths" reference the engine
and llama.cpp (which quantises activations to 8 bits) are both compared against.

Input: JSON (an array) or JSON lines; each item is a prompt given as token ids, either a bare array
[1, 2, 3] or an object {"id": any, "ids": [...], "continuation": [...]} (a bare array of numbers at
the top level is a single prompt). Token ids are used as they are: no BOS, no tokenizer.

For every sequence it writes to --out:
  last_<i>  [V]        logits at the last prompt position (predicting the next token)
  all_<i>   [T, V]     logits at every prompt position          (with --all-positions)
  tf_<i>    [K+1, V]   teacher-forced: when the item has "continuation" (K tokens), logits at the
                       positions predicting each continuation token, plus the one after the last
                       (rows = positions T-1 .. T+K-1 of ids+continuation), computed in one forward pass
  greedy_<i>[N]        int32 greedy continuation (with --greedy N; pure argmax, KV-cached, stops at EOS)
and prints a small JSON summary on stdout (top-k per sequence, per-step teacher-forced comparison,
greedy tokens, timings).

--out FILE.npz: numpy .npz (np.load(FILE)["last_0"]); --out FILE.json: JSON whose arrays are
{"dtype": "f32le"|"i32le", "shape": [...], "b64": "..."} (little-endian, row-major), readable from Node:
new Float32Array(Buffer.from(b64, "base64").buffer ...).

Usage (from the repository root):
  ~/.cache/space/venv/bin/python tools/hf_logits.py --input seqs.json --out /tmp/hf.npz [--all-positions]
      [--greedy 64] [--eos 0,2] [--top 5] [--threads 1] [--model PATH.gguf] [--no-cache] [--pretty]

The first load parses the GGUF (slow, ~15 s); the dequantised fp32 weights are then cached as
safetensors under ~/.cache/space/hf-fp32/ (outside the repository, ~540 MB) and later loads take ~1-2 s.
--no-cache always loads from the GGUF.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for the Hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

DEFAULT_MODEL = os.environ.get(
    "SPACE_MODEL", str(Path.home() / ".cache" / "space" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
)
CACHE_ROOT = Path.home() / ".cache" / "space" / "hf-fp32"


def log(msg: str) -> None:
    print(f"[hf_logits] {msg}", file=sys.stderr, flush=True)


def read_items(path: str) -> list:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    text = text.strip()
    if not text:
        return []
    try:
        v = json.loads(text)
        items = v if isinstance(v, list) else [v]
    except json.JSONDecodeError:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    if items and all(isinstance(x, int) for x in items):
        items = [items]
    out = []
    for i, x in enumerate(items):
        if isinstance(x, list):
            out.append({"index": i, "ids": x})
        elif isinstance(x, dict):
            ids = x.get("ids", x.get("tokens", x.get("prompt")))
            if not isinstance(ids, list):
                raise SystemExit(f"item {i}: expected an 'ids' array")
            item = {"index": i, "ids": ids}
            if "id" in x:
                item["id"] = x["id"]
            if x.get("continuation") is not None:
                item["continuation"] = x["continuation"]
            out.append(item)
        else:
            raise SystemExit(f"item {i}: expected an array of token ids or an object with 'ids'")
    return out


def cache_dir_for(gguf: Path) -> Path:
    st = gguf.stat()
    return CACHE_ROOT / f"{gguf.stem}-{st.st_size}-{st.st_mtime_ns}"


def load_model(gguf_path: str, use_cache: bool):
    """Returns (model, source) with an fp32, eager-attention LlamaForCausalLM in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    gguf = Path(gguf_path).expanduser().resolve()
    if not gguf.exists():
        raise SystemExit(f"model not found: {gguf} (run `npm run fetch-models`)")
    cdir = cache_dir_for(gguf)
    if use_cache and (cdir / "model.safetensors").exists() and (cdir / "config.json").exists():
        model = AutoModelForCausalLM.from_pretrained(str(cdir), dtype=torch.float32, attn_implementation="eager")
        model.eval()
        return model, f"cache:{cdir}"

    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    if use_cache:
        try:
            from safetensors.torch import save_model as st_save_model

            tmp = cdir.with_name(cdir.name + f".tmp{os.getpid()}")
            tmp.mkdir(parents=True, exist_ok=True)
            cfg = model.config.to_dict()
            cfg.pop("quantization_config", None)
            cfg["dtype"] = "float32"
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2))
            if model.generation_config is not None:
                model.generation_config.save_pretrained(str(tmp))
            st_save_model(model, str(tmp / "model.safetensors"))
            if cdir.exists():
                import shutil

                shutil.rmtree(tmp)
            else:
                tmp.rename(cdir)
            log(f"cached dequantised fp32 weights in {cdir}")
        except Exception as e:  # caching is an optimisation only
            log(f"could not cache weights ({e}); continuing")
    return model, f"gguf:{gguf}"


# transformers 5.x renamed the KV-cache argument/output from past_key_values to cache
KV_KWARG = "cache"


def kv_of(out):
    global KV_KWARG
    kv = getattr(out, "cache", None)
    if kv is None:
        KV_KWARG = "past_key_values"
        kv = out.past_key_values
    return kv


def topk(logits, k: int):
    import torch

    v, i = torch.topk(logits, k)
    return [[int(a), float(b)] for a, b in zip(i.tolist(), v.tolist())]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="-", help="JSON / JSON lines file of sequences ('-' = stdin)")
    ap.add_argument("--ids", help="a single prompt inline, e.g. '[1,9690,198]'")
    ap.add_argument("--out", help="output file: .npz or .json (base64 f32); omitted = summary only")
    ap.add_argument("--format", choices=["npz", "json"], help="default: from --out's extension")
    ap.add_argument("--all-positions", action="store_true", help="also write logits for every prompt position")
    ap.add_argument("--greedy", type=int, default=0, metavar="N", help="also greedy-generate N tokens per prompt")
    ap.add_argument("--eos", help="comma-separated stop ids for --greedy (default: the model's eos, 2; "
                    "llama.cpp stops on its EOG set 0,2)")
    ap.add_argument("--top", type=int, default=5, help="top-k entries in the stdout summary (default 5)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: reproducible)")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="GGUF path")
    ap.add_argument("--no-cache", action="store_true", help="load from the GGUF, do not use/write the fp32 cache")
    ap.add_argument("--pretty", action="store_true", help="indent the JSON summary")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.use_deterministic_algorithms(True, warn_only=True)

    items = read_items(args.input) if args.ids is None else [{"index": 0, "ids": json.loads(args.ids)}]
    if not items:
        raise SystemExit("no sequences given")

    t0 = time.perf_counter()
    model, source = load_model(args.model, not args.no_cache)
    load_s = time.perf_counter() - t0
    vocab = model.config.vocab_size
    eos_ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    if eos_ids is None:
        eos_ids = model.config.eos_token_id
    eos_set = set(eos_ids if isinstance(eos_ids, list) else ([eos_ids] if eos_ids is not None else []))
    if args.eos:
        eos_set = {int(x) for x in args.eos.split(",") if x.strip()}
    log(f"loaded {source} in {load_s:.2f} s (vocab {vocab}, eos {sorted(eos_set)})")

    arrays: dict[str, np.ndarray] = {}
    summary = []
    t1 = time.perf_counter()
    with torch.inference_mode():
        for it in items:
            i, ids = it["index"], it["ids"]
            if not ids or any((not isinstance(t, int)) or t < 0 or t >= vocab for t in ids):
                raise SystemExit(f"sequence {i}: ids must be a non-empty list of ints in [0, {vocab})")
            cont = it.get("continuation") or []
            full = ids + list(cont)
            ts = time.perf_counter()
            out = model(torch.tensor([full], dtype=torch.long), use_cache=False)
            logits = out.logits[0].float()  # [T+K, V]
            fwd_s = time.perf_counter() - ts
            T = len(ids)
            last = logits[T - 1]
            arrays[f"last_{i}"] = last.numpy().astype(np.float32)
            if args.all_positions:
                arrays[f"all_{i}"] = logits[:T].numpy().astype(np.float32)
            rec = {"index": i, **({"id": it["id"]} if "id" in it else {}), "prompt_len": T,
                   "forward_s": round(fwd_s, 4), "last_top": topk(last, args.top), "last_argmax": int(last.argmax())}
            if cont:
                tf = logits[T - 1:]  # K+1 rows
                arrays[f"tf_{i}"] = tf.numpy().astype(np.float32)
                logp = torch.log_softmax(tf, dim=-1)
                steps = []
                for k, tok in enumerate(cont):
                    row = tf[k]
                    top2 = torch.topk(row, 2)
                    steps.append({"k": k, "token": int(tok), "argmax": int(top2.indices[0]),
                                  "logit": float(row[tok]), "logprob": float(logp[k, tok]),
                                  "margin_top1_top2": float(top2.values[0] - top2.values[1])})
                first_mismatch = next((s["k"] for s in steps if s["argmax"] != s["token"]), None)
                rec["teacher_forced"] = {"continuation_len": len(cont), "first_argmax_mismatch": first_mismatch,
                                         "next_top": topk(tf[-1], args.top), "steps": steps}
            if args.greedy > 0:
                gen, margins = [], []
                o = model(torch.tensor([ids], dtype=torch.long), use_cache=True)
                kv, row = kv_of(o), o.logits[0, -1].float()
                for _ in range(args.greedy):
                    top2 = torch.topk(row, 2)
                    tok = int(top2.indices[0])
                    gen.append(tok)
                    margins.append(round(float(top2.values[0] - top2.values[1]), 5))
                    if tok in eos_set or len(gen) >= args.greedy:
                        break
                    o = model(torch.tensor([[tok]], dtype=torch.long), use_cache=True, **{KV_KWARG: kv})
                    kv, row = kv_of(o), o.logits[0, -1].float()
                arrays[f"greedy_{i}"] = np.array(gen, dtype=np.int32)
                eos_at = next((k for k, t in enumerate(gen) if t in eos_set), None)
                rec["greedy"] = {"tokens": gen, "stop": "eos" if eos_at is not None else "length",
                                 "eos_index": eos_at, "margins": margins}
            summary.append(rec)
    compute_s = time.perf_counter() - t1

    meta = {"engine": "transformers (fp32, eager attention, GGUF dequantised on load)",
            "transformers": __import__("transformers").__version__, "torch": torch.__version__,
            "model": str(Path(args.model).expanduser()), "weights_source": source, "vocab_size": vocab,
            "threads": args.threads, "eos": sorted(eos_set), "load_s": round(load_s, 3), "compute_s": round(compute_s, 3)}

    if args.out:
        fmt = args.format or ("json" if args.out.endswith(".json") else "npz")
        outp = Path(args.out)
        outp.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "npz":
            np.savez(outp, meta=np.array(json.dumps(meta)), **arrays)
        else:
            def enc(a: np.ndarray):
                kind = "f32le" if a.dtype == np.float32 else "i32le"
                a = a.astype("<f4" if kind == "f32le" else "<i4", copy=False)
                return {"dtype": kind, "shape": list(a.shape), "b64": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}
            outp.write_text(json.dumps({"meta": meta, "arrays": {k: enc(v) for k, v in arrays.items()}}))
        meta["out"] = str(outp)
        meta["out_format"] = fmt
        meta["arrays"] = {k: list(v.shape) for k, v in arrays.items()}

    json.dump({**meta, "results": summary}, sys.stdout, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
