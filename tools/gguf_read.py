#!/usr/bin/env python3
"""Reads a GGUF file with the `gguf` Python package (llama.cpp's gguf-py) and prints what it sees as JSON,
so tests can check that files written by our writer are read the same by an independent reader.

Development tooling only:  ~/.cache/space/venv/bin/python tools/gguf_read.py FILE.gguf [--only=NAME,NAME...]
(--only: data (hash, dequantised values) for the named tensors only, e.g. `--only=` for none; for large files.)

Encoding, so nothing is lost in JSON: 64-bit integers as decimal strings, FLOAT32 / FLOAT64 as the hex
of their little-endian bytes, tensor data as a sha256 hex digest plus (for types gguf-py can dequantise)
the dequantised float32 values as base64.
"""
import base64
import hashlib
import json
import struct
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType as V
from gguf.quants import dequantize


def scalar(t: V, v):
    if t in (V.UINT64, V.INT64):
        return str(int(v))
    if t == V.FLOAT32:
        return struct.pack("<f", v).hex()
    if t == V.FLOAT64:
        return struct.pack("<d", v).hex()
    if t == V.BOOL:
        return bool(v)
    if t == V.STRING:
        return v
    return int(v)


def main(path: str, only: set[str] | None) -> None:
    r = GGUFReader(path)
    fields = {}
    version = None
    for name, f in r.fields.items():
        if name == "GGUF.version":
            version = int(f.contents())
            continue
        if name.startswith("GGUF."):
            continue
        t = V(f.types[0])
        if t == V.ARRAY:
            # gguf-py leaves an empty array's item type out of f.types; parts[3] holds it as written.
            it = V(int(f.parts[3][0]))
            fields[name] = {"type": int(t), "itemType": int(it), "value": [scalar(it, v) for v in f.contents()]}
        else:
            fields[name] = {"type": int(t), "value": scalar(t, f.contents())}
    tensors = []
    for t in r.tensors:
        entry = {
            "name": t.name,
            "type": int(t.tensor_type),
            "dims": [int(d) for d in t.shape],
            "nElements": int(t.n_elements),
            "byteLength": int(t.n_bytes),
            "offset": int(t.data_offset),
        }
        tensors.append(entry)
        if only is not None and t.name not in only:
            continue
        raw = np.asarray(t.data).view(np.uint8).reshape(-1)
        entry["sha256"] = hashlib.sha256(raw.tobytes()).hexdigest()
        try:
            vals = dequantize(raw.reshape(1, -1) if raw.size else raw, t.tensor_type)
            entry["dequant"] = base64.b64encode(np.asarray(vals, dtype="<f4").tobytes()).decode("ascii")
        except NotImplementedError:
            pass
    json.dump({"version": version, "alignment": int(r.alignment), "dataOffset": int(r.data_offset),
               "fields": fields, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    only = None
    for arg in sys.argv[2:]:
        if arg.startswith("--only="):
            only = {n for n in arg[len("--only="):].split(",") if n}
    main(sys.argv[1], only)
