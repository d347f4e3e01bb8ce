// The current request as code a person can run: curl, and the OpenAI Python SDK. The key itself
// is never written into a snippet: both read it from GRANITE_CERTAINTY_API_KEY when one is set.

import { baseUrl } from "./api.js";

const KEY_VAR = "GRANITE_CERTAINTY_API_KEY";
//: Request fields the SDK's create() takes as arguments; the others go in extra_body.
const SDK_ARGS = new Set(["model", "messages", "stream", "stream_options", "temperature", "max_tokens", "n"]);

const shellQuote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The request as a curl command (streamed answers with -N, so that they print as they come). */
export function curl(body, withKey) {
  const lines = [`curl -s${body.stream ? "N" : ""} ${shellQuote(`${baseUrl()}/chat/completions`)}`];
  lines.push(`-H 'content-type: application/json'`);
  if (withKey) lines.push(`-H "Authorization: Bearer $${KEY_VAR}"`);
  lines.push(`-d ${shellQuote(JSON.stringify(body))}`);
  return lines.join(" \\\n  ");
}

/** A JSON value as a Python literal on one line (JSON's strings are Python's; true, false and null are not). */
function inline(value) {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(", ")}}`;
}

/** A JSON value as a Python literal: on one line where it fits, else one item a line. */
export function pyLiteral(value, indent = "") {
  const flat = inline(value);
  if (typeof value !== "object" || value === null || indent.length + flat.length <= 88) return flat;
  const inner = `${indent}    `;
  const items = Array.isArray(value)
    ? value.map((v) => `${inner}${pyLiteral(v, inner)},`)
    : Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(v, inner)},`);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return `${open}\n${items.join("\n")}\n${indent}${close}`;
}

function readStream() {
  return `for chunk in response:
    for choice in chunk.choices:
        if choice.delta.content:
            print(choice.delta.content, end="", flush=True)
        extra = choice.model_extra or {}
        if "certainty" in extra:
            print(f"\\n[choice {choice.index}: certainty {extra['certainty']}, {extra.get('certainty_error')}]")
        if "intrinsics" in extra:
            print(f"[choice {choice.index}: intrinsics {extra['intrinsics']}, errors {extra.get('intrinsic_errors')}]")
    if chunk.usage:
        print(chunk.usage.model_extra.get("breakdown"))`;
}

function readAnswer(body) {
  if (body.model && body.messages?.at(-1)?.role === "assistant") {
    return `print(json.loads(response.choices[0].message.content)["certainty"])`;
  }
  return `for choice in response.choices:
    print(choice.message.content, choice.model_extra.get("certainty"))`;
}

/** The request as a Python program with the OpenAI SDK (gateway fields go in extra_body). */
export function python(body) {
  const args = Object.entries(body).filter(([k]) => SDK_ARGS.has(k));
  const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !SDK_ARGS.has(k)));
  const lines = args.map(([k, v]) => `    ${k}=${pyLiteral(v, "    ")},`);
  if (Object.keys(extra).length) lines.push(`    extra_body=${pyLiteral(extra, "    ")},`);
  return `import json
import os

import openai

client = openai.OpenAI(
    base_url=${JSON.stringify(baseUrl())},
    api_key=os.environ.get("${KEY_VAR}", "unused"),
)
response = client.chat.completions.create(
${lines.join("\n")}
)
${body.stream ? readStream() : readAnswer(body)}
`;
}
