/**
 * Prompts for self-distillation (`space distill`, spec/adapter.md "Training data"): HumanEval-X problems
 * (shipped in data/humaneval-x/, Apache-2.0, see its README; src/node/prompts.ts reads them) and
 * the project's own instruction prompts below. Split by problem: problems 0-119 of each language train,
 * 120-163 are held out for every tau reported.
 */

export const HUMANEVAL_LANGUAGES = ["python", "cpp", "java", "js", "go", "rust"] as const;
export type HumanEvalLanguage = (typeof HUMANEVAL_LANGUAGES)[number];

/** Problems 0..TRAIN_PROBLEMS-1 train; the rest (120-163) are held out. */
export const TRAIN_PROBLEMS = 120;

const LANGUAGE_NAMES: Record<HumanEvalLanguage, [string, string]> = {
  python: ["Python", "python"], cpp: ["C++", "cpp"], java: ["Java", "java"], js: ["JavaScript", "javascript"], go: ["Go", "go"], rust: ["Rust", "rust"],
};

/** The user message for a HumanEval-X problem (the bench's wording, src/bench/prompts.ts). */
export function humanEvalMessage(language: HumanEvalLanguage, code: string): string {
  const [name, fence] = LANGUAGE_NAMES[language];
  return `Complete the following ${name} function.\n\n\`\`\`${fence}\n${code}\`\`\``;
}

/** "train" or "heldout" for a problem number. */
export function splitOf(problem: number): "train" | "heldout" {
  return problem < TRAIN_PROBLEMS ? "train" : "heldout";
}

/** The project's own instruction prompts (training split only). */
export const INSTRUCTION_PROMPTS: readonly string[] = [
  "Explain what a linked list is and when to use one instead of an array.",
  "Write a Python function that reverses the words in a sentence.",
  "What is the difference between a process and a thread?",
  "Write a short poem about the sea at night.",
  "Give three tips for writing readable code.",
  "Explain recursion to a beginner with a simple example.",
  "Write a JavaScript function that removes duplicates from an array.",
  "Summarize the water cycle in a few sentences.",
  "What are the main differences between TCP and UDP?",
  "Write a SQL query that counts the orders of each customer.",
  "Describe how binary search works and give its time complexity.",
  "Write a Rust function that returns the largest element of a slice of integers.",
  "Explain what a hash function is and why collisions happen.",
  "Write a bash command that finds all files larger than 10 MB in a directory.",
  "What is the difference between a list and a tuple in Python?",
  "Write a short story about a robot who learns to paint.",
  "Explain the difference between stack and heap memory.",
  "Write a Go function that checks whether a string is a palindrome.",
  "Give a simple explanation of how a neural network learns.",
  "Write a C++ function that computes the factorial of a number.",
  "What is version control and why is it useful?",
  "Write a Java class representing a bank account with deposit and withdraw methods.",
  "Explain what an API is with an everyday analogy.",
  "Write a Python function that counts the vowels in a string.",
  "List five healthy breakfast ideas.",
  "Explain the difference between supervised and unsupervised learning.",
  "Write a regular expression that matches an email address and explain it.",
  "How does a compiler differ from an interpreter?",
  "Write a Python class for a simple stack with push, pop and peek.",
  "Explain big-O notation with two examples.",
  "Write a JavaScript function that debounces another function.",
  "Describe the steps to make a cup of tea.",
  "What is a deadlock and how can it be avoided?",
  "Write a Python function that merges two sorted lists into one sorted list.",
  "Explain what unit tests are and why they matter.",
  "Write a haiku about autumn leaves.",
  "What is the difference between HTTP GET and POST requests?",
  "Write a function in C++ that swaps two integers using references.",
  "Explain how garbage collection works in a few sentences.",
  "Write a Python function that returns the n-th Fibonacci number iteratively.",
];
