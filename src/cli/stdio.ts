/**
 * The command's standard output and error when their reader goes away or the disk fills:
 *  - EPIPE (`space generate ... | head`): stop quietly, as Unix tools do when their reader has gone;
 *  - any other write error (ENOSPC on `> /dev/full`, EIO): one line on stderr, exit status 1.
 * Node reports these as 'error' events on the stream; unhandled, each prints a stack trace.
 */
function onStdoutError(e: NodeJS.ErrnoException): void {
  if (e.code === "EPIPE") process.exit(0);
  try {
    process.stderr.write(`space: E_IO: standard output: cannot write (${e.code === "ENOSPC" ? "no space left on device (ENOSPC)" : e.message})\n`);
  } catch {
    // stderr is gone too
  }
  process.exit(1);
}

function onStderrError(e: NodeJS.ErrnoException): void {
  process.exit(e.code === "EPIPE" ? 0 : 1);
}

/** Installs the handlers once per process (main() may run several times in one process: tests). */
export function stopQuietlyOnClosedOutput(): void {
  if (!process.stdout.listeners("error").includes(onStdoutError)) process.stdout.on("error", onStdoutError);
  if (!process.stderr.listeners("error").includes(onStderrError)) process.stderr.on("error", onStderrError);
}

/** Resolves at the first SIGTERM or SIGINT (and stops listening for both): how `serve` and `web` wait to stop. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      resolve();
    };
    process.on("SIGTERM", done);
    process.on("SIGINT", done);
  });
}
