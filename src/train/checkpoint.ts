/**
 * Training checkpoints: everything a run needs to continue bit-identically after being killed, as one
 * GGUF file (spec/training.md, "Checkpoints"): the update count, the trainer's RNG state, the
 * hyper-parameters and model config it was made with (a resume with different ones is refused), and
 * per trainable tensor its values and both AdamW moments.
 *
 * Encoding and decoding work on bytes only (browser-safe); src/node/checkpoint.ts writes the files.
 */
import { fail } from "../errors.js";
import { bytesSource } from "../gguf/source.js";
import { readGGUF, metaNumber, metaNumberArray, metaString } from "../gguf/reader.js";
import { writeGGUF, type GGUFTensorSpec } from "../gguf/writer.js";
import { GGML, MetaType, type GGUFMetaValue } from "../gguf/types.js";
import type { ModelConfig } from "../model/config.js";
import type { AdamWConfig, Schedule } from "./optim.js";
import type { ParamStore } from "./params.js";
import type { Rng } from "../util/rng.js";

export const CHECKPOINT_VERSION = 1;

/** The hyper-parameters that determine a run's trajectory (with the data). */
export interface TrainHyper extends Schedule, AdamWConfig {}

export interface TensorState {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array; // [rows, cols]
  readonly m: Float32Array;
  readonly v: Float32Array;
}

export interface TrainState {
  readonly step: number; // optimizer updates done
  readonly rng: Uint32Array; // the trainer's Rng state (4 words)
  readonly hyper: TrainHyper;
  readonly model: ModelConfig;
  readonly tensors: readonly TensorState[];
}

const KEY = "space.checkpoint.";
const MOMENTS = [".adam_m", ".adam_v"] as const;

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export function encodeCheckpoint(s: TrainState): Uint8Array {
  const meta = new Map<string, GGUFMetaValue>([
    [KEY + "version", { type: MetaType.UINT32, value: CHECKPOINT_VERSION }],
    [KEY + "step", { type: MetaType.UINT64, value: BigInt(s.step) }],
    [KEY + "rng", { type: MetaType.ARRAY, itemType: MetaType.UINT32, value: Array.from(s.rng) }],
    [KEY + "hyper", { type: MetaType.STRING, value: JSON.stringify(s.hyper) }],
    [KEY + "model", { type: MetaType.STRING, value: JSON.stringify(s.model) }],
  ]);
  const tensors: GGUFTensorSpec[] = [];
  for (const t of s.tensors) {
    const dims = t.rows === 1 ? [t.cols] : [t.cols, t.rows];
    tensors.push({ name: t.name, type: GGML.F32, dims, data: bytesOf(t.data) });
    tensors.push({ name: t.name + MOMENTS[0], type: GGML.F32, dims, data: bytesOf(t.m) });
    tensors.push({ name: t.name + MOMENTS[1], type: GGML.F32, dims, data: bytesOf(t.v) });
  }
  return writeGGUF({ metadata: meta, tensors });
}

export function decodeCheckpoint(bytes: Uint8Array, name = "checkpoint"): TrainState {
  const src = bytesSource(name, bytes);
  const f = readGGUF(src);
  const version = metaNumber(f, KEY + "version");
  if (version !== CHECKPOINT_VERSION) fail("E_MODEL", `${name}: checkpoint version ${version}, this build reads ${CHECKPOINT_VERSION}`);
  const rng = Uint32Array.from(metaNumberArray(f, KEY + "rng"));
  if (rng.length !== 4) fail("E_MODEL", `${name}: ${KEY}rng must hold 4 words`);
  const json = (key: string) => {
    try {
      return JSON.parse(metaString(f, KEY + key)) as unknown;
    } catch (e) {
      fail("E_MODEL", `${name}: ${KEY}${key} is not valid JSON (${(e as Error).message})`);
    }
  };
  const read = (tname: string): { rows: number; cols: number; data: Float32Array } => {
    const t = f.tensorByName.get(tname);
    if (!t) fail("E_MODEL", `${name}: tensor ${tname} is missing`);
    if (t.type !== GGML.F32 || t.dims.length > 2) fail("E_MODEL", `${name}: tensor ${tname} must be a 1-D or 2-D F32 tensor`);
    const raw = src.read(t.offset, t.byteLength);
    const data = new Float32Array(raw.slice().buffer);
    return { rows: t.dims[1] ?? 1, cols: t.dims[0], data };
  };
  const tensors: TensorState[] = [];
  for (const t of f.tensors) {
    if (MOMENTS.some((s) => t.name.endsWith(s))) continue;
    const p = read(t.name);
    const m = read(t.name + MOMENTS[0]), v = read(t.name + MOMENTS[1]);
    if (m.data.length !== p.data.length || v.data.length !== p.data.length) fail("E_MODEL", `${name}: moments of ${t.name} have the wrong size`);
    tensors.push({ name: t.name, rows: p.rows, cols: p.cols, data: p.data, m: m.data, v: v.data });
  }
  return {
    step: metaNumber(f, KEY + "step"),
    rng,
    hyper: json("hyper") as TrainHyper,
    model: json("model") as ModelConfig,
    tensors,
  };
}

/** A trainer's state as a checkpoint holds it (copies of every parameter and its Adam moments). */
export function captureState(store: ParamStore, step: number, rng: Rng, hyper: TrainHyper, model: ModelConfig): TrainState {
  return {
    step,
    rng: rng.getState(),
    hyper: { ...hyper },
    model: { ...model },
    tensors: store.list.map((p) => ({
      name: p.name, rows: p.rows, cols: p.cols,
      data: store.view(p, "data").slice(), m: store.view(p, "m").slice(), v: store.view(p, "v").slice(),
    })),
  };
}

/**
 * Loads a checkpoint into a trainer made with the same model, trainable tensors and hyper-parameters
 * (anything else is refused, naming what differs); returns the number of updates it had done.
 */
export function restoreState(s: TrainState, store: ParamStore, rng: Rng, hyper: TrainHyper, model: ModelConfig): number {
  const same = (a: object, b: object, what: string) => {
    for (const [key, v] of Object.entries(a)) {
      const w = (b as Record<string, unknown>)[key];
      if (v !== w) fail("E_ARGS", `the checkpoint was made with ${what} ${key} = ${JSON.stringify(w)}, this run has ${JSON.stringify(v)}`);
    }
  };
  same(model, s.model, "model");
  same(hyper, s.hyper, "hyper-parameter");
  const list = store.list;
  const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name).join(", ");
  if (s.tensors.length !== list.length || s.tensors.some((t, i) => t.name !== list[i].name)) {
    fail("E_ARGS", `the checkpoint trains [${names(s.tensors)}], this run trains [${names(list)}]`);
  }
  list.forEach((p, i) => {
    const t = s.tensors[i];
    if (t.rows !== p.rows || t.cols !== p.cols) fail("E_ARGS", `checkpoint tensor ${p.name} is [${t.rows}, ${t.cols}], expected [${p.rows}, ${p.cols}] (rank, targets or k differ?)`);
    store.view(p, "data").set(t.data);
    store.view(p, "m").set(t.m);
    store.view(p, "v").set(t.v);
  });
  rng.setState(s.rng);
  return s.step;
}
