/**
 * A strict command-line parser: every option is declared with its kind; an unknown option, a missing
 * value or a value of the wrong kind is an E_ARGS error that names the option.
 */
import { fail } from "../errors.js";

export type OptionKind = "string" | "int" | "number" | "flag" | "list";

export interface OptionSpec {
  readonly kind: OptionKind;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
}

export type Parsed = Record<string, string | number | boolean | string[] | undefined>;

export function parseArgs(argv: readonly string[], specs: Record<string, OptionSpec>): { options: Parsed; positional: string[] } {
  const options: Parsed = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) fail("E_ARGS", `unknown option --${name}`);
    if (spec.kind === "flag") {
      if (eq >= 0) fail("E_ARGS", `option --${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) fail("E_ARGS", `option --${name} needs a value`);
      // `--model --prompt hi` is a forgotten value, not a model named "--prompt" (a value that really
      // starts with an option's name can be given as --name=value).
      const next = argv[i + 1];
      if (next.startsWith("--") && specs[next.slice(2).split("=")[0]]) fail("E_ARGS", `option --${name} needs a value (got the option ${next})`);
      value = argv[++i];
    }
    options[name] = convert(name, value, spec, options[name]);
  }
  return { options, positional };
}

function convert(name: string, value: string, spec: OptionSpec, previous: Parsed[string]): Parsed[string] {
  if (spec.choices && !spec.choices.includes(value)) fail("E_ARGS", `--${name} must be one of ${spec.choices.join(", ")} (got "${value}")`);
  if (spec.kind === "string") return value;
  if (spec.kind === "list") return [...((previous as string[] | undefined) ?? []), value];
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) fail("E_ARGS", `--${name} must be a number (got "${value}")`);
  if (spec.kind === "int" && !Number.isInteger(n)) fail("E_ARGS", `--${name} must be an integer (got "${value}")`);
  if (spec.min !== undefined && n < spec.min) fail("E_ARGS", `--${name} must be at least ${spec.min} (got ${value})`);
  if (spec.max !== undefined && n > spec.max) fail("E_ARGS", `--${name} must be at most ${spec.max} (got ${value})`);
  return n;
}

export function usage(specs: Record<string, OptionSpec>): string {
  return Object.entries(specs)
    .map(([name, s]) => `  --${name}${s.kind === "flag" ? "" : ` <${s.choices?.join("|") ?? s.kind}>`}`.padEnd(33) + " " + s.help)
    .join("\n");
}
