/**
 * Parent side of the bench's processes: each contender (one decoder in one configuration) is a child
 * process (child.ts) driven over Node's IPC channel, one request at a time. The parent only schedules;
 * every timing is taken inside the child, so IPC costs nothing that is measured.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DecoderKind } from "../decode/decoders.js";
import type { SimdChoice } from "../node/engine.js";
import type { CostPoint } from "../decode/cost.js";
import type { RunTiming } from "./decoder.js";
import type { LlamaMode } from "./llama.js";

export type ChildSpec =
  | { engine: "idle" }
  | {
      engine: "ours";
      model: string;
      simd: SimdChoice;
      threads: number;
      weights: string;
      decoder: DecoderKind;
      k: number;
      maskToken?: number; // space without an adapter
      adapter?: string; // space: adapter GGUF (gives k and the mask)
      layout: string;
      store?: string; // space, a copying layout: a distilled JSONL(.gz) to build an n-gram store from
      draftLayers?: number;
      contextTokens: number;
      banned: number[];
    }
  | { engine: "llama"; model: string; threads: number; contextTokens: number; mode: LlamaMode };

export type ChildRequest =
  | { op: "open"; spec: ChildSpec }
  | { op: "run"; prompt: readonly number[]; n: number }
  | { op: "cost"; tokens: readonly number[]; prefix: number; widths: readonly number[]; warmup: number; repeats: number }
  | { op: "rss" }
  | { op: "close" };

export class ChildEngine {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    proc.on("message", (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${name}: ${m.error}`));
    });
    proc.on("exit", (code, signal) => {
      this.exited = new Error(`${name}: process exited (${signal ?? `code ${code}`})`);
      for (const w of this.waiting.values()) w.reject(this.exited);
      this.waiting.clear();
    });
  }

  /** Forks child.js (next to this file) with the parent's execArgv, then opens the engine. */
  static async start(name: string, spec: ChildSpec): Promise<{ child: ChildEngine; info: Record<string, unknown> }> {
    const script = fileURLToPath(new URL("./child.js", import.meta.url));
    const proc = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced" });
    const child = new ChildEngine(name, proc);
    try {
      const info = (await child.request({ op: "open", spec })) as Record<string, unknown>;
      return { child, info };
    } catch (e) {
      child.kill();
      throw e;
    }
  }

  private request(req: ChildRequest): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.send({ id, req });
    });
  }

  run(prompt: readonly number[], n: number): Promise<RunTiming> {
    return this.request({ op: "run", prompt, n }) as Promise<RunTiming>;
  }

  cost(tokens: readonly number[], prefix: number, widths: readonly number[], warmup: number, repeats: number): Promise<CostPoint[]> {
    return this.request({ op: "cost", tokens, prefix, widths, warmup, repeats }) as Promise<CostPoint[]>;
  }

  /** Peak resident set of the child so far, MiB (process.resourceUsage().maxRSS). */
  rssMB(): Promise<number> {
    return this.request({ op: "rss" }) as Promise<number>;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    try {
      await this.request({ op: "close" });
    } catch {
      // already gone
    }
  }

  kill(): void {
    if (!this.exited) this.proc.kill();
  }
}
