/**
 * The step-through page (index.html): settings and prompt in, each SPACE step drawn from its trace line
 * (steps.ts), AR's text beside SPACE's. The engine runs in a worker (worker.ts); a `--trace` file written
 * by the CLI replays through the same drawing code.
 *
 * The page exposes its state to tests only through the DOM: #status[data-state] (idle, loading, running,
 * done, error), #timeline .chip[data-step][data-accepted][data-emitted], and the token spans of
 * #space-text and #ar-text (data-id, class "acc" for tokens from accepted candidates).
 */
import { acceptedFlags, parseTrace, picture, runningStats, type StepPicture, type StepRecord } from "../steps.js";
import type { GenerationStats, LayoutChoice } from "../../api/index.js";
import type { ModelInfo, WebDecoder } from "../session.js";
import type { FromWorker, ToWorker } from "./protocol.js";

interface Run {
  steps: StepRecord[];
  tokens: number[] | null; // the run's output once done (it may stop inside a step)
  stats: GenerationStats | null;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const runs: Partial<Record<WebDecoder, Run>> = {};
let primary: WebDecoder = "space";
let texts: string[] | null = null;
let info: ModelInfo | null = null;
let loadedKey = "";
let current = 0;
let follow = true;
let timer: ReturnType<typeof setInterval> | null = null;
let waiting: { until: (m: FromWorker) => boolean; resolve: () => void; reject: (e: Error) => void } | null = null;
let drawQueued = false;
let parallelCalls = 0;

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case "loaded":
      info = m.info;
      texts = m.texts;
      break;
    case "start":
      runs[m.decoder] = { steps: [], tokens: null, stats: null };
      break;
    case "step": {
      const run = runs[m.decoder]!;
      run.steps.push(m.step);
      if (m.decoder === primary && follow) current = run.steps.length - 1;
      break;
    }
    case "done": {
      const run = runs[m.decoder]!;
      run.tokens = m.tokens;
      run.stats = m.stats;
      parallelCalls = m.parallelCalls;
      break;
    }
    case "error":
      waiting?.reject(new Error(`${m.code}: ${m.message}`));
      waiting = null;
      return;
  }
  queueDraw();
  if (waiting?.until(m)) {
    waiting.resolve();
    waiting = null;
  }
};
worker.onerror = (e) => {
  // A module that failed to load gives an ErrorEvent without a message.
  const why = e.message || "its modules did not load (see the browser console)";
  waiting?.reject(new Error(`the engine worker failed: ${why}`));
  waiting = null;
  setStatus("error", `the engine worker failed: ${why}`);
};

function request(msg: ToWorker, until: (m: FromWorker) => boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    waiting = { until, resolve, reject };
    worker.postMessage(msg);
  });
}

function setStatus(state: string, text: string): void {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

const radio = () => (document.querySelector('input[name="source"]:checked') as HTMLInputElement).value;
const fileOf = (id: string) => $<HTMLInputElement>(id).files?.[0];

async function ensureLoaded(): Promise<void> {
  const simd = $<HTMLSelectElement>("simd").value as "auto" | "plain" | "relaxed";
  const threads = Number($<HTMLSelectElement>("threads").value);
  const modelFile = radio() === "files" ? fileOf("model-file") : undefined;
  if (radio() === "files" && !modelFile) throw new Error("choose a model file (GGUF), or the embedded model");
  const adapterFile = fileOf("adapter-file");
  const storeFile = fileOf("store-file");
  const key = JSON.stringify([simd, threads, modelFile?.name, modelFile?.size, adapterFile?.name, adapterFile?.size, storeFile?.name, storeFile?.size]);
  if (key === loadedKey) return;
  const extras = [adapterFile?.name, storeFile?.name].filter((n) => n !== undefined);
  setStatus("loading", `loading ${modelFile?.name ?? "the embedded model"}${extras.length ? ` with ${extras.join(" and ")}` : ""}...`);
  const base = document.baseURI;
  const msg: ToWorker = {
    type: "load",
    wasm: { plain: new URL("build/space-plain.wasm", base).href, relaxed: new URL("build/space-relaxed.wasm", base).href },
    simd,
    threads,
    model: modelFile ? { blob: modelFile, name: modelFile.name } : { url: new URL("models/space-tiny.gguf", base).href },
    ...(adapterFile ? { adapter: { blob: adapterFile, name: adapterFile.name } } : {}),
    ...(storeFile ? { store: { blob: storeFile, name: storeFile.name } } : {}),
  };
  loadedKey = "";
  await request(msg, (m) => m.type === "loaded");
  loadedKey = key;
}

async function onGenerate(): Promise<void> {
  stop();
  try {
    await ensureLoaded();
    const prompt = $<HTMLTextAreaElement>("prompt").value;
    if (prompt === "") throw new Error("type a prompt first");
    const decoders: WebDecoder[] = info!.k === null ? ["ar"] : ["space", "ar"];
    primary = decoders[0];
    delete runs.space;
    delete runs.ar;
    current = 0;
    follow = true;
    const layout = $<HTMLSelectElement>("layout").value as LayoutChoice;
    setStatus("running", `${info!.name}: ${decoders.join(" then ")} on ${info!.threads} thread(s), ${info!.build} SIMD...`);
    await request(
      { type: "run", prompt, chat: $<HTMLInputElement>("chat").checked, maxTokens: Number($<HTMLInputElement>("max-tokens").value), layout, decoders },
      (m) => m.type === "done" && m.decoder === "ar",
    );
    const store = info!.store === null ? "" : info!.copyingLayouts.includes(layout) ? `, drafts from ${info!.store}` : ` (the n-gram store drafts for ${info!.copyingLayouts.join(" and ")} only)`;
    const note = info!.k === null ? " (this model has no SPACE mask: AR only)" : store;
    draw(); // now, not at the next frame: "done" promises a complete picture
    const split = info!.threads > 1 ? ` (${parallelCalls} kernel calls split across the threads)` : "";
    if ($("status").dataset.state !== "error") setStatus("done", `${info!.name}: done on ${info!.threads} thread(s)${split}, ${info!.build} SIMD${note}.`);
  } catch (e) {
    setStatus("error", (e as Error).message);
  }
  queueDraw();
}

async function onTrace(file: File): Promise<void> {
  stop();
  try {
    const { steps } = parseTrace(await file.text(), file.name);
    steps.forEach(picture); // refuse a trace this page cannot draw before showing any of it
    primary = steps[0].decoder === "ar" ? "ar" : "space";
    delete runs.space;
    delete runs.ar;
    runs[primary] = { steps, tokens: null, stats: null };
    current = 0;
    follow = false;
    draw();
    setStatus("done", `replaying ${file.name}: ${steps.length} steps of ${steps[0].decoder}${texts ? " (token text from the loaded model)" : " (token ids: generate once to load a model's vocabulary)"}.`);
  } catch (e) {
    setStatus("error", `${file.name}: ${(e as Error).message}`);
  }
  queueDraw();
}

// ---- drawing ----

const visibleText = (s: string) => s.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5").replace(/\t/g, "\u2192");
const label = (id: number) => (texts && id < texts.length ? visibleText(texts[id]) : `#${id}`);

function el(tag: string, cls = "", text = ""): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function queueDraw(): void {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

function draw(): void {
  const run = runs[primary];
  const steps = run?.steps ?? [];
  const scrub = $<HTMLInputElement>("scrub");
  scrub.max = String(Math.max(0, steps.length - 1));
  scrub.value = String(current);
  $("where").textContent = steps.length ? `step ${current + 1} of ${steps.length}` : "";
  $("isolation").textContent = self.crossOriginIsolated ? "cross-origin isolated: threads available" : "not cross-origin isolated: one thread";
  drawTimeline(steps);
  drawStats(steps);
  if (steps.length === 0) {
    for (const id of ["block", "verdict", "mask", "step-head"]) $(id).replaceChildren();
  } else {
    let pic: StepPicture;
    try {
      pic = picture(steps[current]);
    } catch (e) {
      setStatus("error", (e as Error).message);
      return;
    }
    drawBlock(pic);
    drawMask(pic);
  }
  drawTexts();
}

function drawTimeline(steps: readonly StepRecord[]): void {
  const tl = $("timeline");
  while (tl.children.length > steps.length) tl.lastChild!.remove();
  for (let i = tl.children.length; i < steps.length; i++) {
    const s = steps[i];
    const chip = el("div", "chip");
    chip.dataset.step = String(s.step);
    chip.dataset.accepted = String(s.accepted);
    chip.dataset.emitted = s.emitted.join(",");
    chip.title = `step ${s.step}: ${s.accepted} of ${s.candidates.length} candidates accepted, ${s.emitted.length} token(s)`;
    const bar = el("div", "bar");
    bar.style.height = `${s.candidates.length ? (100 * s.accepted) / Math.max(...steps.map((x) => x.candidates.length), 1) : 0}%`;
    chip.append(bar);
    chip.onclick = () => seek(i);
    tl.append(chip);
  }
  for (let i = 0; i < tl.children.length; i++) tl.children[i].classList.toggle("current", i === current);
}

function drawStats(steps: readonly StepRecord[]): void {
  const st = $("stats");
  st.replaceChildren();
  if (steps.length === 0) return;
  const r = runningStats(steps, current);
  const all = runningStats(steps, steps.length - 1);
  const add = (text: string) => st.append(el("b", "", text));
  add(`${primary}: tau ${r.tau.toFixed(2)} (${r.tokens} tokens / ${r.steps} steps${steps.length > r.steps ? `; whole run ${all.tau.toFixed(2)}` : ""})`);
  add(`${r.tokensPerSecond.toFixed(0)} tok/s so far`);
  const ar = runs.ar;
  if (primary !== "ar" && ar?.stats) add(`ar: ${ar.stats.tokensPerSecond.toFixed(0)} tok/s, ${ar.stats.forwardPasses} forward passes`);
}

function drawBlock(p: StepPicture): void {
  const s = p.step;
  const masks = p.rows.filter((r) => r.kind === "mask").length;
  const pending = p.rows.filter((r) => r.kind === "pending").length;
  $("step-head").textContent = `step ${s.step}: ${s.cached} cached rows; a block of ${s.tokens.length} rows: ${pending} pending, ${s.candidates.length} candidate(s), ${masks} mask row(s); ${s.ms.toFixed(1)} ms`;
  const block = $("block");
  block.replaceChildren();
  for (const r of p.rows) {
    const kept = p.keptRows.includes(r.row);
    const box = el("div", `tok ${r.kind} ${r.fate}${kept ? " kept" : ""}`);
    box.dataset.row = String(r.row);
    const what = r.kind === "candidate" ? `c_${r.index} (${r.fate})` : r.kind === "mask" ? `mask group ${r.index}` : "pending";
    box.title = `row ${r.row}: ${what}, token ${r.token}, position ${r.position}${kept ? ", KV row kept" : ""}`;
    box.append(el("span", "t", r.kind === "mask" ? "[M]" : label(r.token)), el("span", "p", `pos ${r.position}`));
    block.append(box);
  }
  const v = $("verdict");
  v.replaceChildren();
  const line = (...parts: (string | Node)[]) => {
    const d = el("div");
    d.append(...parts);
    v.append(d);
  };
  const chips = (ids: readonly number[]) => {
    const span = el("span");
    ids.forEach((id, i) => span.append(...(i ? [" "] : []), el("span", "tokchip", label(id))));
    return span;
  };
  if (s.candidates.length) line(`accepted ${s.accepted} of ${s.candidates.length} candidates: `, chips(s.candidates.slice(0, s.accepted)));
  if (s.accepted < s.candidates.length) line(`rejected c_${s.accepted + 1}: `, chips([s.candidates[s.accepted]]));
  if (p.corrected) line(`${p.corrected.kind === "corrected" ? "corrected token (the model's own choice)" : s.candidates.length ? "bonus token (all candidates accepted)" : "next token"}: `, chips([p.corrected.token]));
  else line("an accepted end-of-generation token ended the run");
  if (s.new_candidates) line("new candidates for the next step (from the mask group after the last accepted token): ", chips(s.new_candidates));
  line(`KV rows kept: ${p.keptRows.join(", ")} (pending + c_1..c_${s.accepted}); the cache grows from ${s.cached} to ${s.cached + p.keptRows.length} rows`);
}

function drawMask(p: StepPicture): void {
  const T = p.rows.length;
  $("cached-n").textContent = String(p.step.cached);
  const grid = $("mask");
  grid.replaceChildren();
  grid.style.gridTemplateColumns = `70px 22px repeat(${T}, 15px)`;
  grid.append(el("div"), el("div", "h", "C"));
  for (let c = 0; c < T; c++) grid.append(el("div", "h", String(c)));
  for (let r = 0; r < T; r++) {
    const row = p.rows[r];
    grid.append(el("div", "lab", row.kind === "mask" ? "[M]" : label(row.token)), el("div", "c cached"));
    for (let c = 0; c < T; c++) {
      const cell = el("div", `c ${p.rows[c].kind}${p.visible[r][c] ? " on" : ""}`);
      cell.title = `row ${r} ${p.visible[r][c] ? "sees" : "does not see"} row ${c}`;
      grid.append(cell);
    }
  }
}

/** Output tokens of a run up to its end (a run may stop inside a step), with accepted-candidate flags. */
function outputOf(run: Run): { ids: number[]; flags: boolean[]; stepOf: number[] } {
  const ids: number[] = [];
  const stepOf: number[] = [];
  run.steps.forEach((s, i) => s.emitted.forEach((id) => (ids.push(id), stepOf.push(i))));
  const n = run.tokens ? run.tokens.length : ids.length;
  return { ids: ids.slice(0, n), flags: acceptedFlags(run.steps, n), stepOf: stepOf.slice(0, n) };
}

function drawTokens(target: HTMLElement, run: Run | undefined, upToStep: number | null): void {
  target.replaceChildren();
  if (!run) return;
  const { ids, flags, stepOf } = outputOf(run);
  ids.forEach((id, i) => {
    const cls = [flags[i] ? "acc" : "", upToStep !== null && stepOf[i] > upToStep ? "future" : "", upToStep !== null && stepOf[i] === upToStep ? "cur" : ""].join(" ").trim();
    const span = el("span", cls, texts && id < texts.length ? texts[id] : `#${id} `);
    span.dataset.id = String(id);
    target.append(span);
  });
}

function drawTexts(): void {
  drawTokens($("space-text"), runs.space, primary === "space" ? current : null);
  drawTokens($("ar-text"), runs.ar, primary === "ar" ? current : null);
  const a = runs.space?.tokens, b = runs.ar?.tokens;
  $("identical").textContent = a && b ? (a.length === b.length && a.every((t, i) => t === b[i]) ? "identical to SPACE: yes" : "DIFFERS from SPACE") : "";
}

// ---- controls ----

function seek(i: number): void {
  const n = runs[primary]?.steps.length ?? 0;
  current = Math.max(0, Math.min(n - 1, i));
  follow = current === n - 1 && !runs[primary]?.tokens;
  queueDraw();
}

function stop(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  $("play").textContent = "\u25B6 play";
}

function play(): void {
  if (timer !== null) return stop();
  const n = runs[primary]?.steps.length ?? 0;
  if (current >= n - 1) seek(0);
  $("play").textContent = "\u23F8 pause";
  timer = setInterval(() => {
    if (current >= (runs[primary]?.steps.length ?? 0) - 1) stop();
    else seek(current + 1);
  }, 700);
}

$("generate").onclick = () => void onGenerate();
$("trace-file").onchange = () => {
  const input = $<HTMLInputElement>("trace-file");
  const f = input.files?.[0];
  input.value = ""; // choosing the same (rewritten) file again is a change too
  if (f) void onTrace(f);
};
$("first").onclick = () => seek(0);
$("back").onclick = () => seek(current - 1);
$("step").onclick = () => seek(current + 1);
$("last").onclick = () => seek(Number.MAX_SAFE_INTEGER);
$("play").onclick = play;
$<HTMLInputElement>("scrub").oninput = () => seek(Number($<HTMLInputElement>("scrub").value));
document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLInputElement) return;
  if (e.key === "ArrowLeft") seek(current - 1);
  else if (e.key === "ArrowRight") seek(current + 1);
  else if (e.key === " ") {
    e.preventDefault();
    play();
  }
});
if (!self.crossOriginIsolated) $<HTMLSelectElement>("threads").disabled = true;
draw();
