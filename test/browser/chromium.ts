/**
 * Drives the system's Chromium headless over the DevTools protocol on a pipe (--remote-debugging-pipe:
 * JSON messages ending in NUL on file descriptors 3 and 4), so no WebSocket client and no browser
 * download are needed. The test tier's set-up installs Debian's `chromium` (.ci/run).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The Chromium binary: $CHROMIUM, else the first of the usual paths that exists; null when none. */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void; method: string };

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((m: { method: string; params: any; sessionId?: string }) => void)[] = [];
  private buffer = "";
  readonly logs: string[] = [];

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
  ) {
    const input = proc.stdio[4] as Readable;
    input.setEncoding("utf8");
    input.on("data", (chunk: string) => {
      this.buffer += chunk;
      for (let end; (end = this.buffer.indexOf("\0")) >= 0; ) {
        const msg = JSON.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
          else p?.resolve(msg.result);
        } else for (const l of this.listeners) l(msg);
      }
    });
    proc.on("exit", () => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited during ${p.method}`));
      this.pending.clear();
    });
  }

  static launch(binary: string): Browser {
    const profile = mkdtempSync(join(tmpdir(), "space-chromium-"));
    const args = [
      "--headless",
      "--no-sandbox", // the test tier runs as root in a container
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--remote-debugging-pipe",
      `--user-data-dir=${profile}`,
      "--window-size=1280,1000",
      "about:blank",
    ];
    const proc = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
    const b = new Browser(proc, profile);
    (proc.stderr as Readable).on("data", (d: Buffer) => b.logs.push(d.toString()));
    return b;
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<any> {
    const id = this.nextId++;
    const out = this.proc.stdio[3] as Writable;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
    });
  }

  on(listener: (m: { method: string; params: any; sessionId?: string }) => void): void {
    this.listeners.push(listener);
  }

  /** A new page (tab) attached with its own session. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId, targetId);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 1000, deviceScaleFactor: 1, mobile: false });
    return page;
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.send("Browser.close"), new Promise((r) => setTimeout(r, 3000))]);
    } catch {
      // already gone
    }
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGKILL");
      await exited;
    }
    try {
      rmSync(this.profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {
      // a helper process may still be writing to the profile; it is a temp folder
    }
  }
}

export class Page {
  /** Console messages and uncaught exceptions of the page (and its workers' reports through it). */
  readonly console: string[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
    private readonly targetId: string,
  ) {
    browser.on((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === "Runtime.consoleAPICalled") this.console.push(`${m.params.type}: ${m.params.args.map((a: any) => a.value ?? a.description).join(" ")}`);
      if (m.method === "Runtime.exceptionThrown") this.console.push(`exception: ${m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text}`);
    });
  }

  send(method: string, params: object = {}): Promise<any> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** Closes the tab (and its workers). */
  async close(): Promise<void> {
    await this.browser.send("Target.closeTarget", { targetId: this.targetId });
  }

  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => this.browser.on((m) => m.sessionId === this.sessionId && m.method === "Page.loadEventFired" && resolve()));
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates an expression in the page and returns its value (awaiting promises). */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Polls `expression` until it is truthy, or throws after `timeoutMs` with `describe`'s value. */
  async waitFor(expression: string, timeoutMs: number, describe = "document.getElementById('status')?.textContent"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.eval<boolean>(`Boolean(${expression})`))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}: ${await this.eval(describe)}; console: ${this.console.join(" | ")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Focuses an element and types text into it as keyboard input. */
  async type(selector: string, text: string): Promise<void> {
    await this.eval(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.focus(); e.value = ""; })()`);
    await this.send("Input.insertText", { text });
  }

  async click(selector: string): Promise<void> {
    const box = await this.eval<{ x: number; y: number }>(
      `(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`,
    );
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
    }
  }

  /** The viewport as a PNG, scaled by `scale` (1 = the 1280 x 1000 viewport). */
  async screenshot(scale = 1): Promise<Buffer> {
    const clip = { x: 0, y: 0, width: 1280, height: 1000, scale };
    const { data } = await this.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: false, clip });
    return Buffer.from(data, "base64");
  }
}
