// Chat with the base model: each question is sent streamed with `certainty` (and the documents
// and other intrinsics chosen), the answer streams into the transcript and the conversation
// goes on with the first choice's text.

import { postStream } from "./api.js";
import { Answer } from "./answer.js";

/**
 * The chat request for `messages` with the current settings (what is sent, and what the snippets
 * show); `rag`: the `documents` and `intrinsics` to send, each only when there are some.
 */
export function chatRequest(messages, s, rag = {}) {
  const body = {
    model: s.model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    certainty: s.action === "none" ? true : { threshold: s.threshold, action: s.action },
  };
  if (s.temperature !== null) body.temperature = s.temperature;
  if (s.maxTokens !== null) body.max_tokens = s.maxTokens;
  if (s.n > 1) body.n = s.n;
  if (rag.documents?.length) body.documents = rag.documents;
  if (rag.intrinsics?.length) body.intrinsics = rag.intrinsics;
  return body;
}

function bubble(text) {
  const node = document.createElement("div");
  node.className = "turn user";
  const p = document.createElement("p");
  p.textContent = text;
  node.append(p);
  return node;
}

export class Chat {
  /** `rag()`: the documents and intrinsics chosen now, as chatRequest takes them. */
  constructor(transcript, settings, rag = () => ({})) {
    this.transcript = transcript;
    this.settings = settings;
    this.rag = rag;
    this.history = [];
    this.answers = [];
    this.controller = null;
  }

  /** Show the chips of every answer with new tier thresholds. */
  retier(tiers) {
    for (const answer of this.answers) answer.retier(tiers);
  }

  /** The request a question `text` would send now (the last question's when `text` is empty). */
  request(text) {
    const messages = text ? [...this.history, { role: "user", content: text }] : this.last || this.history;
    return chatRequest(messages, this.settings.current(), this.rag());
  }

  get busy() {
    return this.controller !== null;
  }

  /** Ask `text`; resolves when the answer is complete, failed or stopped. */
  async send(text) {
    const s = this.settings.current();
    const messages = [...this.history, { role: "user", content: text }];
    const body = chatRequest(messages, s, this.rag());
    this.last = messages;
    this.transcript.querySelector(".empty")?.remove();
    this.transcript.append(bubble(text));
    const answer = new Answer(this.transcript, { model: s.model, tiers: s.tiers });
    answer.node.scrollIntoView({ block: "nearest" });
    this.answers.push(answer);
    this.controller = new AbortController();
    try {
      for await (const chunk of postStream("chat/completions", body, s.apiKey, this.controller.signal)) {
        answer.read(chunk);
      }
      answer.finish();
      answer.node.scrollIntoView({ block: "nearest" });
      this.history = [...messages, { role: "assistant", content: answer.text() }];
    } catch (exc) {
      answer.fail(exc.name === "AbortError" ? { message: "Stopped." } : exc);
    } finally {
      this.controller = null;
    }
  }

  /** Stop the answer being streamed (the gateway cancels its work when the connection closes). */
  stop() {
    this.controller?.abort();
  }

  /** Start a new conversation. */
  reset() {
    this.stop();
    this.history = [];
    this.answers = [];
    this.last = null;
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "New conversation: ask a question.";
    this.transcript.replaceChildren(empty);
  }
}
