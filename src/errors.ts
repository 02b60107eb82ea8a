/**
 * One error type for everything a user can get wrong: a bad file, a bad option, a prompt that does not
 * fit. `code` is stable and machine-readable (the CLI prints it in `--json` mode); `message` names the
 * file, field, tensor or option at fault.
 */
export type ErrorCode =
  | "E_GGUF" // malformed, truncated or oversized GGUF
  | "E_UNSUPPORTED" // a valid file using something this engine does not implement (tensor type, architecture)
  | "E_MODEL" // a GGUF whose tensors or metadata do not describe a usable model
  | "E_TOKENIZER" // tokenizer metadata missing or inconsistent
  | "E_UTF8" // invalid UTF-8 input
  | "E_CONTEXT" // prompt (+ generation) longer than the context
  | "E_ARGS" // nonsense option values
  | "E_WASM" // the WebAssembly core could not be loaded
  | "E_IO" // a file could not be read or written
  | "E_STATE" // misuse of an object's lifecycle: a closed engine, a disposed or busy decoding context
  | "E_TRAIN"; // training cannot go on (a non-finite loss: diverged)

export class SpaceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SpaceError";
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new SpaceError(code, message);
}
