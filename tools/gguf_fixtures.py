#!/usr/bin/env python3
"""Writes test/fixtures/dequant.json: reference (de)quantisation results from the `gguf` Python package
(llama.cpp's gguf-py) and numpy, independent of our TypeScript code.

Development tooling only. Run with the project venv:
    ~/.cache/space/venv/bin/python tools/gguf_fixtures.py

  dequant: for every supported type, random raw blocks (f16 scales forced finite) and what
           gguf.quants.dequantize makes of them (float32, little-endian).
  quant:   random float32 inputs and the bytes gguf.quants.quantize produces (the reference quantisers
           for Q8_0, Q4_0, Q4_1, Q5_0; round-to-nearest-even for F16 and BF16).
All byte arrays are base64. Deterministic (fixed seed).
"""
import base64
import json
import os
import sys

import numpy as np
import gguf
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

SEED = 20240611
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "dequant.json")


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def random_f16(rng: np.random.Generator, n: int, lo_exp: int = -20, hi_exp: int = 2) -> np.ndarray:
    """Finite f16 values as raw little-endian bytes, spread over exponents, both signs, some subnormal."""
    mag = np.exp2(rng.uniform(lo_exp, hi_exp, n)).astype(np.float16)
    sign = np.where(rng.random(n) < 0.5, -1, 1).astype(np.float16)
    v = mag * sign
    v[rng.random(n) < 0.05] = 0
    assert np.all(np.isfinite(v))
    return v.astype("<f2").view(np.uint8).reshape(n, 2)


def random_blocks(rng: np.random.Generator, qtype: T, n_blocks: int) -> np.ndarray:
    block, size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if qtype in (T.Q8_0, T.Q4_0):
        raw[:, 0:2] = random_f16(rng, n_blocks)
    elif qtype in (T.Q4_1, T.Q4_K):
        raw[:, 0:2] = random_f16(rng, n_blocks)  # d
        raw[:, 2:4] = random_f16(rng, n_blocks)  # m / dmin
    elif qtype == T.Q6_K:
        raw[:, 208:210] = random_f16(rng, n_blocks)
    else:
        raise ValueError(qtype)
    return raw


def special_f32() -> np.ndarray:
    return np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38,
                     -3.4028235e38, 65504.0, 65520.0, 6.1e-5, 5.96e-8, 2.98e-8, 1.0009765625, 0.1], dtype=np.float32)


def main() -> None:
    rng = np.random.default_rng(SEED)
    dequant = []

    def add_dequant(qtype: T, raw: np.ndarray, note: str) -> None:
        raw = np.ascontiguousarray(raw, dtype=np.uint8)
        vals = dequantize(raw, qtype).astype(np.float32).reshape(-1)
        dequant.append({"type": qtype.name, "typeId": int(qtype.value), "nElements": int(vals.size), "note": note,
                        "raw": b64(raw), "expected": b64(vals.astype("<f4"))})

    # F32: specials plus random bit patterns (NaNs included; compared as NaN).
    f32 = np.concatenate([special_f32(), rng.integers(0, 2**32, 110, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    add_dequant(T.F32, f32.astype("<f4").view(np.uint8), "specials and random bit patterns")
    # F16: every exponent, random mantissas, plus all subnormal/inf/nan boundaries.
    h = np.concatenate([np.array([0, 0x8000, 1, 0x8001, 0x3ff, 0x400, 0x7bff, 0x7c00, 0xfc00, 0x7c01, 0x7e00, 0x3c00], dtype=np.uint16),
                        rng.integers(0, 2**16, 500, dtype=np.uint16)])
    add_dequant(T.F16, h.astype("<u2").view(np.uint8), "boundaries and random bit patterns")
    b = np.concatenate([np.array([0, 0x8000, 1, 0x7f80, 0xff80, 0x7fc0, 0x3f80], dtype=np.uint16),
                        rng.integers(0, 2**16, 249, dtype=np.uint16)])
    add_dequant(T.BF16, b.astype("<u2").view(np.uint8), "boundaries and random bit patterns")

    for qtype, n in ((T.Q4_0, 24), (T.Q4_1, 24), (T.Q8_0, 24), (T.Q4_K, 12), (T.Q6_K, 12)):
        add_dequant(qtype, random_blocks(rng, qtype, n), "random bytes, finite f16 scales")

    # Realistic blocks: quantised from gaussian data, then dequantised (types with a Python quantiser).
    for qtype in (T.Q4_0, T.Q4_1, T.Q8_0):
        x = (rng.standard_normal(32 * 16) * 0.05).astype(np.float32)
        add_dequant(qtype, quantize(x, qtype).reshape(-1, GGML_QUANT_SIZES[qtype][1]), "quantised gaussian data")

    quant = []
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.F16, T.BF16):
        parts = [
            (rng.standard_normal(32 * 24) * np.exp2(rng.integers(-12, 4, 32 * 24))).astype(np.float32),
            np.zeros(32, dtype=np.float32),  # all-zero block
            np.full(32, 0.375, dtype=np.float32),  # constant block
            np.tile(np.array([-1.0, 1.0, 0.5, -0.5], dtype=np.float32), 8),  # exact ties
            np.round(rng.standard_normal(32) * 8).astype(np.float32) / 8,
        ]
        x = np.concatenate(parts).astype(np.float32)
        q = quantize(x, qtype)
        quant.append({"type": qtype.name, "typeId": int(qtype.value), "input": b64(x.astype("<f4")),
                      "expected": b64(np.asarray(q).view(np.uint8))})

    doc = {
        "generator": "tools/gguf_fixtures.py (gguf-py quants + numpy; not our code)",
        "seed": SEED,
        "gguf": getattr(gguf, "__version__", None) or _pkg_version("gguf"),
        "numpy": np.__version__,
        "dequant": dequant,
        "quant": quant,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


def _pkg_version(name: str) -> str:
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
