/**
 * The browser tier (`npm run test:browser`): the step-through page in Debian's Chromium, headless. The
 * test types a prompt, the page fetches and instantiates the WebAssembly core itself (plain SIMD, the
 * paper's full layout) in its worker and generates; what the page shows (each step's accepted count and
 * emitted tokens, the highlighted output tokens, AR's output) must equal the Node engine's trace for the
 * same prompt and settings. It runs served with COOP/COEP (1 and 2 threads) and without (one thread: a
 * shared memory without cross-origin isolation), replays a trace file, and saves a screenshot.
 * A missing Chromium fails the tier (.ci/run installs it), never skips it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Browser, findChromium, type Page } from "./chromium.js";
import { serveWeb, type WebServer } from "../../src/node/web.js";
import { distilledStore, loadModelFile, type Model, type TraceStep } from "../../src/api/node.js";
import { acceptedFlags } from "../../src/web/steps.js";
import { skipWithout } from "../helpers/required.js";

const PROMPT = "interface PromiseLike<T> {";
const MAX_TOKENS = 40;
const SCREENSHOT = join("scratch", "browser", "web-step.png");
const SMOLLM2 = join(homedir(), ".cache", "space", "models", "SmolLM2-135M-Instruct.Q4_1.gguf"); // npm run fetch-models
const ADAPTER = join(__dirname, "..", "..", "models", "smollm2-135m-instruct-space-k5.gguf");

interface Reference {
  steps: TraceStep[];
  ids: number[];
  arIds: number[];
}

let browser: Browser;
let isolated: WebServer;
let plainServer: WebServer;
let reference: Reference;

beforeAll(async () => {
  const binary = findChromium();
  if (binary === null) throw new Error("no Chromium: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM to its path");
  const model: Model = await loadModelFile(undefined, { simd: "plain" });
  try {
    const steps: TraceStep[] = [];
    const space = await model.generate(PROMPT, { decoder: "space", layout: "full", maxTokens: MAX_TOKENS, onStep: (s) => steps.push(s) });
    const ar = await model.generate(PROMPT, { decoder: "ar", maxTokens: MAX_TOKENS });
    reference = { steps, ids: space.ids, arIds: ar.ids };
  } finally {
    model.dispose();
  }
  isolated = await serveWeb({ isolation: true });
  plainServer = await serveWeb({ isolation: false });
  browser = Browser.launch(binary);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await isolated?.close();
  await plainServer?.close();
});

/** Pages opened by the current test, closed after it (with their workers). */
const open: Page[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage();
  open.push(page);
  return page;
}

async function generateIn(url: string, threads: number): Promise<Page> {
  const page = await newPage();
  await page.goto(url);
  await page.eval(`(() => {
    document.getElementById("simd").value = "plain";
    document.getElementById("layout").value = "full";
    document.getElementById("max-tokens").value = "${MAX_TOKENS}";
    const t = document.getElementById("threads"); t.disabled = false; t.value = "${threads}";
  })()`);
  await page.type("#prompt", PROMPT);
  await page.click("#generate");
  await page.waitFor(`["done", "error"].includes(document.getElementById("status").dataset.state)`, 90_000);
  return page;
}

/** The isolated page with these files chosen (input selector -> path), plain SIMD, `settings` run, then one generation. */
async function generateWithFiles(files: Record<string, string>, settings: string, prompt: string, timeoutMs: number): Promise<Page> {
  const page = await newPage();
  await page.goto(isolated.url);
  const { root } = await page.send("DOM.getDocument");
  for (const [selector, file] of Object.entries(files)) {
    const { nodeId } = await page.send("DOM.querySelector", { nodeId: root.nodeId, selector });
    await page.send("DOM.setFileInputFiles", { nodeId, files: [file] });
  }
  await page.eval(`(() => { document.getElementById("simd").value = "plain"; ${settings} })()`);
  await page.type("#prompt", prompt);
  await page.click("#generate");
  await page.waitFor(`["done", "error"].includes(document.getElementById("status").dataset.state)`, timeoutMs);
  return page;
}

interface Shown {
  state: string;
  status: string;
  chips: { step: number; accepted: number; emitted: number[] }[];
  spaceIds: number[];
  spaceAccepted: boolean[];
  arIds: number[];
  identical: string;
  blockRows: number;
}

function shown(page: Page): Promise<Shown> {
  return page.eval<Shown>(`(() => {
    const ids = (sel) => [...document.querySelectorAll(sel + " span[data-id]")].map((s) => Number(s.dataset.id));
    return {
      state: document.getElementById("status").dataset.state,
      status: document.getElementById("status").textContent,
      chips: [...document.querySelectorAll("#timeline .chip")].map((c) => ({
        step: Number(c.dataset.step), accepted: Number(c.dataset.accepted), emitted: c.dataset.emitted.split(",").filter((x) => x !== "").map(Number),
      })),
      spaceIds: ids("#space-text"),
      spaceAccepted: [...document.querySelectorAll("#space-text span[data-id]")].map((s) => s.classList.contains("acc")),
      arIds: ids("#ar-text"),
      identical: document.getElementById("identical").textContent,
      blockRows: document.querySelectorAll("#block .tok").length,
    };
  })()`);
}

function expectMatchesReference(s: Shown): void {
  expect(s.state, s.status).toBe("done");
  expect(s.chips).toEqual(reference.steps.map((t) => ({ step: t.step, accepted: t.accepted, emitted: t.emitted })));
  expect(s.spaceIds).toEqual(reference.ids);
  expect(s.spaceAccepted).toEqual(acceptedFlags(reference.steps, reference.ids.length));
  expect(s.arIds).toEqual(reference.arIds);
  expect(s.identical).toBe("identical to SPACE: yes");
}

describe("the step-through page in Chromium", () => {
  it("the Node trace is a real SPACE run (some candidates accepted, the same output as AR)", () => {
    expect(reference.steps.some((s) => s.accepted > 0)).toBe(true);
    expect(reference.steps.length).toBeLessThan(reference.ids.length);
    expect(reference.ids).toEqual(reference.arIds);
  });

  it("served with COOP/COEP, one thread: shows the Node engine's steps, accept counts and tokens", async () => {
    const page = await generateIn(isolated.url, 1);
    const s = await shown(page);
    expectMatchesReference(s);
    expect(s.status).toContain("1 thread(s), plain SIMD");
    // The step shown last is the run's last: its block as drawn has the trace's rows.
    expect(s.blockRows).toBe(reference.steps[reference.steps.length - 1].tokens.length);
    // Show a step with accepted candidates for the screenshot the README embeds.
    const best = reference.steps.reduce((a, b) => (b.accepted > a.accepted ? b : a));
    await page.eval(`document.querySelectorAll("#timeline .chip")[${best.step - 1}].click()`);
    await page.waitFor(`document.getElementById("where").textContent.startsWith("step ${best.step} ")`, 5_000);
    mkdirSync(join("scratch", "browser"), { recursive: true });
    writeFileSync(SCREENSHOT, await page.screenshot(0.75));
  }, 120_000);

  it("served without COOP/COEP (not cross-origin isolated): one thread still runs, same result", async () => {
    const page = await generateIn(plainServer.url, 1);
    expect(await page.eval("self.crossOriginIsolated")).toBe(false);
    expectMatchesReference(await shown(page));
  }, 120_000);

  it("without COOP/COEP, two threads are refused with a message that names the headers", async () => {
    const page = await generateIn(plainServer.url, 2);
    const s = await shown(page);
    expect(s.state).toBe("error");
    expect(s.status).toContain("Cross-Origin-Embedder-Policy");
  }, 120_000);

  it("cross-origin isolated, two worker threads (asynchronous start): the same steps and tokens", async () => {
    const page = await generateIn(isolated.url, 2);
    const s = await shown(page);
    expectMatchesReference(s);
    expect(s.status).toMatch(/2 thread\(s\) \([1-9]\d* kernel calls split across the threads\)/);
  }, 120_000);

  it("replays a --trace file (with a header line) as the same steps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "space-trace-"));
    try {
      const file = join(dir, "steps.jsonl");
      writeFileSync(file, [JSON.stringify({ trace: "space", version: 1 }), ...reference.steps.map((s) => JSON.stringify(s))].join("\n") + "\n");
      const page = await newPage();
      await page.goto(isolated.url);
      const { root } = await page.send("DOM.getDocument");
      const { nodeId } = await page.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#trace-file" });
      await page.send("DOM.setFileInputFiles", { nodeId, files: [file] });
      await page.waitFor(`document.getElementById("status").textContent.startsWith("replaying")`, 10_000);
      const s = await shown(page);
      expect(s.chips).toEqual(reference.steps.map((t) => ({ step: t.step, accepted: t.accepted, emitted: t.emitted })));
      expect(s.spaceIds).toEqual(reference.steps.flatMap((t) => t.emitted));
      expect(s.blockRows).toBe(reference.steps[0].tokens.length); // a replay starts at step 1
      // step, step, back: the block drawn is step 2's
      const where = () => page.eval<string>(`document.getElementById("where").textContent`);
      await page.click("#step");
      await page.click("#step");
      await page.waitFor(`document.getElementById("where").textContent.startsWith("step 3 ")`, 5_000);
      await page.click("#back");
      await page.waitFor(`document.getElementById("where").textContent.startsWith("step 2 ")`, 5_000);
      expect(await where()).toBe(`step 2 of ${reference.steps.length}`);
      expect((await shown(page)).blockRows).toBe(reference.steps[1].tokens.length);
      // a broken trace is an error naming its line, not a half-drawn replay
      writeFileSync(file, `${JSON.stringify(reference.steps[0])}\n{oops\n`);
      const { nodeId: again } = await page.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#trace-file" });
      await page.send("DOM.setFileInputFiles", { nodeId: again, files: [file] });
      await page.waitFor(`document.getElementById("status").dataset.state === "error"`, 10_000);
      expect((await shown(page)).status).toBe("steps.jsonl: steps.jsonl:2: not JSON");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.skipIf(skipWithout(existsSync(SMOLLM2)))("SmolLM2-135M-Instruct with its SPACE adapter, chosen as files, chat template: the Node API's steps", async () => {
    const question = "Write a Python function that returns the square of a number.";
    const model = await loadModelFile(SMOLLM2, { adapter: ADAPTER, simd: "plain", threads: 1, weights: "native" });
    const steps: TraceStep[] = [];
    let ids: number[];
    try {
      ids = (await model.generate([{ role: "user", content: question }], { decoder: "space", layout: "full", maxTokens: 16, onStep: (s) => steps.push(s) })).ids;
    } finally {
      model.dispose();
    }
    const page = await generateWithFiles({ "#model-file": SMOLLM2, "#adapter-file": ADAPTER }, `
      document.querySelector('input[name="source"][value="files"]').checked = true;
      document.getElementById("chat").checked = true;
      document.getElementById("max-tokens").value = "16";`, question, 240_000);
    const s = await shown(page);
    expect(s.state, s.status).toBe("done");
    expect(s.status).toContain("SmolLM2-135M-Instruct.Q4_1.gguf");
    expect(s.chips).toEqual(steps.map((t) => ({ step: t.step, accepted: t.accepted, emitted: t.emitted })));
    expect(s.spaceIds).toEqual(ids);
    expect(s.arIds).toEqual(ids);
  }, 300_000);

  it("an n-gram store file (.jsonl.gz) drafts for the hybrid layout in the page: the Node API's steps with the same store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "space-store-"));
    try {
      // A distilled file whose response is AR's output: the store drafts it, so hybrid accepts more than without.
      const text = JSON.stringify({ id: "x", split: "train", prompt: [reference.arIds[0]], response: reference.arIds }) + "\n";
      const file = join(dir, "store.jsonl.gz");
      writeFileSync(file, gzipSync(text));
      const model = await loadModelFile(undefined, { simd: "plain" });
      const steps: TraceStep[] = [];
      let without: number;
      try {
        const store = distilledStore(text, "store.jsonl.gz", model.info.vocabSize);
        await model.generate(PROMPT, { decoder: "space", layout: "hybrid", store, maxTokens: MAX_TOKENS, onStep: (st) => steps.push(st) });
        without = (await model.generate(PROMPT, { decoder: "space", layout: "hybrid", maxTokens: MAX_TOKENS })).stats.forwardPasses;
      } finally {
        model.dispose();
      }
      const page = await generateWithFiles({ "#store-file": file }, `
        document.getElementById("layout").value = "hybrid";
        document.getElementById("max-tokens").value = "${MAX_TOKENS}";`, PROMPT, 90_000);
      const s = await shown(page);
      expect(s.state, s.status).toBe("done");
      expect(s.status).toContain("drafts from store.jsonl.gz");
      expect(s.chips).toEqual(steps.map((t) => ({ step: t.step, accepted: t.accepted, emitted: t.emitted })));
      expect(s.arIds).toEqual(reference.arIds);
      expect(s.spaceIds).toEqual(reference.arIds);
      expect(steps.length).toBeLessThan(without); // the store's drafts were used
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("a file that is not a GGUF model is a one-line error in the page", async () => {
    const dir = mkdtempSync(join(tmpdir(), "space-bad-"));
    try {
      const file = join(dir, "notes.gguf");
      writeFileSync(file, "these are not weights\n");
      const page = await newPage();
      await page.goto(isolated.url);
      const { root } = await page.send("DOM.getDocument");
      const { nodeId } = await page.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#model-file" });
      await page.send("DOM.setFileInputFiles", { nodeId, files: [file] });
      await page.eval(`document.querySelector('input[name="source"][value="files"]').checked = true`);
      await page.type("#prompt", "hello");
      await page.click("#generate");
      await page.waitFor(`document.getElementById("status").dataset.state === "error"`, 30_000);
      const s = await shown(page);
      expect(s.status).toMatch(/^E_GGUF: notes\.gguf: /);
      expect(s.status).not.toContain("\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
