/**
 * ChatML, as SmolLM2's GGUF `tokenizer.chat_template` renders it:
 *
 *   {% for message in messages %}
 *     {% if loop.first and messages[0]['role'] != 'system' %}<|im_start|>system\n{DEFAULT}<|im_end|>\n{% endif %}
 *     <|im_start|>{role}\n{content}<|im_end|>\n
 *   {% endfor %}
 *   {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}
 *
 * (DEFAULT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"; the template adds nothing else,
 * no BOS, no trailing newline after the generation prompt.)
 *
 * encodeChat tokenizes the markers as control tokens but the message contents as ordinary text unless the caller
 * asks for parseSpecial, so a user typing "<|im_start|>" cannot forge a turn.
 */
import { SpaceError } from "../errors.js";
import type { Tokenizer } from "./tokenizer.js";
import { TokenType } from "./vocab.js";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatOptions {
  /** End with `<|im_start|>assistant\n` so the model answers next. */
  addGenerationPrompt: boolean;
  /**
   * System prompt inserted when the first message is not a system message. Default: SmolLM2's
   * (SMOLLM2_DEFAULT_SYSTEM); null inserts none (unlike the template).
   */
  defaultSystem?: string | null;
}

export interface EncodeChatOptions extends ChatOptions {
  /** Parse control-token text inside message contents (default false: contents are plain text). */
  parseSpecial?: boolean;
  /** Prepend BOS (default: the tokenizer's addBos; SmolLM2: false, as HF's apply_chat_template). */
  addBos?: boolean;
}

export const SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

const IM_START = "<|im_start|>";
const IM_END = "<|im_end|>";
const ROLES: ReadonlySet<string> = new Set(["system", "user", "assistant"]);

/** One piece of a rendered conversation: template markup or text (role line + content, or newlines). */
type Part = { marker: string } | { text: string; content: boolean };

function render(messages: readonly ChatMessage[], opts: ChatOptions): Part[] {
  const parts: Part[] = [];
  const defaultSystem = opts.defaultSystem === undefined ? SMOLLM2_DEFAULT_SYSTEM : opts.defaultSystem;
  messages.forEach((m, i) => {
    if (!ROLES.has(m.role)) throw new SpaceError("E_ARGS", `chat message ${i}: unknown role ${JSON.stringify(m.role)}`);
    if (typeof m.content !== "string") throw new SpaceError("E_ARGS", `chat message ${i}: content must be a string`);
    if (i === 0 && m.role !== "system" && defaultSystem !== null) {
      parts.push({ marker: IM_START }, { text: "system\n" + defaultSystem, content: false }, { marker: IM_END }, { text: "\n", content: false });
    }
    // Role line and content form one text run: the tokenizer sees "user\nHello" whole, as it does in the full string.
    parts.push({ marker: IM_START }, { text: m.role + "\n" + m.content, content: true }, { marker: IM_END }, { text: "\n", content: false });
  });
  if (opts.addGenerationPrompt) parts.push({ marker: IM_START }, { text: "assistant\n", content: false });
  return parts;
}

/** The prompt string the GGUF's jinja template renders for `messages`. */
export function formatChat(messages: readonly ChatMessage[], opts: ChatOptions): string {
  return render(messages, opts)
    .map((p) => ("marker" in p ? p.marker : p.text))
    .join("");
}

/**
 * Token ids of formatChat(messages, opts): markers as their control tokens, text through encode() with special
 * parsing only where the caller allows it (contents) — equal to encode(formatChat(...), {parseSpecial: true})
 * whenever no content contains control-token text.
 */
export function encodeChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], opts: EncodeChatOptions): number[] {
  const out: number[] = [];
  if (opts.addBos ?? tokenizer.addBos) {
    if (tokenizer.bos === null) throw new SpaceError("E_TOKENIZER", "addBos requested but tokenizer.ggml.bos_token_id is missing");
    out.push(tokenizer.bos);
  }
  for (const p of render(messages, opts)) {
    if ("marker" in p) {
      // The marker must be a whole-matched token (control or user-defined), as encode() with parseSpecial sees it.
      const id = tokenizer.tokenToId(p.marker);
      if (id === undefined || tokenizer.tokenType(id) === TokenType.NORMAL) {
        throw new SpaceError("E_TOKENIZER", `the vocabulary has no control token ${p.marker}: it cannot use the ChatML template`);
      }
      out.push(id);
    } else {
      const ids = tokenizer.encode(p.text, { addBos: false, parseSpecial: p.content ? (opts.parseSpecial ?? false) : false });
      for (const id of ids) out.push(id);
    }
  }
  return out;
}

/**
 * One user message as a prompt: the default system prompt, the message as plain text (no control-token
 * parsing), then the generation prompt. The one wrapping that `space distill` trains on, `space train`
 * evaluates tau on and `space bench` times, so that a problem is the same token ids in all three.
 */
export function userPromptIds(tokenizer: Tokenizer, message: string): number[] {
  return encodeChat(tokenizer, [{ role: "user", content: message }], { addGenerationPrompt: true, parseSpecial: false });
}

/**
 * What this module can do with a GGUF `tokenizer.chat_template`: null when it is not ChatML; otherwise the default
 * system prompt it inserts (null when it inserts none). Recognises the SmolLM2 shape; anything else that merely
 * mentions <|im_start|> is reported as ChatML with no default system prompt.
 */
export function chatTemplateInfo(template: string | undefined): { kind: "chatml"; defaultSystem: string | null } | null {
  if (template === undefined || !template.includes(IM_START) || !template.includes(IM_END)) return null;
  const m = /'<\|im_start\|>system(?:\n|\\n)([^'\\]*)<\|im_end\|>(?:\n|\\n)'/.exec(template);
  return { kind: "chatml", defaultSystem: m ? m[1]! : null };
}
