/**
 * One progress line on stderr: rewritten in place on a terminal, one line per change of phase (at most
 * every few seconds) otherwise, so that logs stay readable. stdout stays for the report.
 */
export class Progress {
  private done = 0;
  private readonly t0 = performance.now();
  private lastPrinted = 0;
  private lastPhase = "";
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = !!out.isTTY;
  }

  /** Marks `units` of work done in `phase` and redraws. */
  tick(phase: string, units = 1): void {
    this.done += units;
    this.show(phase);
  }

  show(phase: string): void {
    const now = performance.now();
    const changed = phase !== this.lastPhase;
    if (!this.tty && !changed && now - this.lastPrinted < 5000) return;
    this.lastPhase = phase;
    this.lastPrinted = now;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const width = 24;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    const line = `[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${((now - this.t0) / 1000).toFixed(0)}s  ${phase}`;
    if (this.tty) this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 120) - 1)}`);
    else this.out.write(`${line}\n`);
  }

  /** Writes a message on its own line without losing the progress line. */
  note(message: string): void {
    if (this.tty) this.out.write("\r\x1b[2K");
    this.out.write(`${message}\n`);
    if (this.tty && this.lastPhase) this.show(this.lastPhase);
  }

  end(what = "done"): void {
    if (this.tty) this.out.write("\r\x1b[2K");
    this.out.write(`bench: ${what} in ${((performance.now() - this.t0) / 1000).toFixed(0)} s\n`);
  }
}
