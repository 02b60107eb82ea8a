/** Public surface of the tokenizer module. */
export { type Tokenizer, type EncodeOptions, type DecodeOptions, tokenizerFromMetadata } from "./tokenizer.js";
export { type MetadataGetter } from "./metadata.js";
export { TokenType } from "./vocab.js";
export { Gpt2Tokenizer } from "./gpt2.js";
export { StreamDecoder, type StreamDecoderOptions } from "./stream.js";
export {
  type ChatRole,
  type ChatMessage,
  type ChatOptions,
  type EncodeChatOptions,
  SMOLLM2_DEFAULT_SYSTEM,
  formatChat,
  encodeChat,
  userPromptIds,
  chatTemplateInfo,
} from "./chat.js";
export { decodeUtf8Strict, decodeUtf8Lossy, findInvalidUtf8, assertWellFormed, type Utf8Problem } from "./utf8.js";
export { preTokenizerFor, SUPPORTED_PRE_TYPES, type PreTokenizer } from "./pretokenize.js";
export { BYTE_TO_CHAR, bytesToByteLevel, byteLevelToBytes } from "./bytelevel.js";
