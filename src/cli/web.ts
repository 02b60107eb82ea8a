/**
 * `space web`: the step-through page (src/web/page/) on http://127.0.0.1, sent with the COOP/COEP
 * headers that let it use worker threads; `space web --out DIR` writes the same files to a new folder
 * for any static server instead.
 */
import { fail } from "../errors.js";
import type { OptionSpec, Parsed } from "../util/args.js";
import { buildWebFolder, serveWeb } from "../node/web.js";
import { untilSignal } from "./stdio.js";

export const WEB_OPTIONS: Record<string, OptionSpec> = {
  host: { kind: "string", help: "address to listen on (default 127.0.0.1)" },
  port: { kind: "int", min: 0, max: 65535, help: "port (default 8080; 0 = any free port)" },
  out: { kind: "string", help: "write the page to this new folder and exit, instead of serving it" },
  dir: { kind: "string", help: "serve a folder written by --out instead of this package's files" },
  "no-isolation": { kind: "flag", help: "leave out the COOP/COEP headers (the page then runs on one thread)" },
};

export const WEB_SUMMARY = "space web [--port N] [--out DIR]    the step-through page: SPACE in the browser, one step at a time";

/** Serves until `untilStopped` resolves (default: the first SIGINT or SIGTERM). */
export async function runWeb(o: Parsed, write: (s: string) => void, untilStopped: () => Promise<void> = untilSignal): Promise<number> {
  if (o.out !== undefined) {
    for (const other of ["host", "port", "dir", "no-isolation"]) if (o[other] !== undefined) fail("E_ARGS", `--out writes files and serves nothing: drop --${other}`);
    const { files, bytes } = buildWebFolder(o.out as string);
    write(`space web: wrote ${files} files (${(bytes / 1048576).toFixed(1)} MiB) to ${o.out as string}; serve them with COOP/COEP headers for worker threads (one thread works without)\n`);
    return 0;
  }
  const server = await serveWeb({
    host: (o.host as string | undefined) ?? "127.0.0.1",
    port: (o.port as number | undefined) ?? 8080,
    isolation: !o["no-isolation"],
    ...(o.dir !== undefined ? { dir: o.dir as string } : {}),
  });
  write(`space web: the step-through page is at ${server.url} (${o["no-isolation"] ? "no COOP/COEP: one thread" : "cross-origin isolated: threads available"}); Ctrl-C stops\n`);
  await untilStopped();
  await server.close();
  return 0;
}

