// One answer in the transcript: its choices side by side, each streaming in, then its certainty
// chip, the guard's badge, (where the guard replaced it) the original answer, and the results
// of the other intrinsics asked for (spans highlighted in the answer, badges, errors).

import { chip } from "./certainty.js";
import { badges, highlight } from "./intrinsics.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The guard's verdict on a scored choice, as a badge's class and text (null: nothing to say). */
function badge(fields, model) {
  if (fields.abstained) return ["abstained", "abstained: certainty below the threshold"];
  if (fields.fallback_error) return ["fallback-failed", `fallback failed: ${fields.fallback_error.message}`];
  if (fields.answered_by && fields.answered_by !== model) return ["fallback", `fallback: answered by ${fields.answered_by}`];
  if (fields.low_certainty === true) return ["flagged", "flagged: low certainty"];
  return null;
}

let detailCount = 0;

class Choice {
  constructor(index, started) {
    this.index = index;
    this.started = started;
    this.text = "";
    this.chunks = 0;
    this.fields = null;
    this.answerMs = null;
    this.certaintyMs = null;
    this.node = el("article", "choice");
    this.node.dataset.index = String(index);
    this.node.dataset.state = "streaming";
    this.label = el("h3", "choice-label", `Choice ${index + 1}`);
    this.body = el("div", "answer-text");
    this.extra = el("div", "choice-extra");
    // What the intrinsics say of the highlighted part of the answer hovered over or focused.
    this.detail = el("div", "span-detail");
    this.detail.id = `span-detail-${++detailCount}`;
    this.detail.setAttribute("aria-live", "polite");
    this.detail.hidden = true;
    this.node.append(this.label, this.body, this.detail, this.extra);
  }

  /** Append a delta's content; whether it had any. */
  read(delta, now) {
    const content = delta?.content;
    if (typeof content !== "string" || content === "") return false;
    this.text += content;
    this.chunks += 1;
    this.answerMs = now - this.started;
    this.body.textContent = this.text;
    this.node.dataset.chunks = String(this.chunks);
    return true;
  }

  /** Take the certainty fields; `together`: they came in the answer's own chunk (a guarded answer). */
  score(fields, now, together) {
    this.fields = fields;
    this.together = together;
    this.certaintyMs = now - this.started;
    this.node.dataset.state = "done";
  }

  render(tiers, usage, model) {
    if (!this.fields) return;
    const f = this.fields;
    const info = {
      certainty: f.certainty,
      error: f.certainty_error,
      rawScore: f.raw_score ?? f.score ?? null,
      timing: { answerMs: this.answerMs, certaintyMs: this.certaintyMs, together: this.together },
      usage,
    };
    const parts = [chip(info, tiers)];
    const verdict = badge(f, model);
    if (verdict) parts.push(el("span", `badge badge-${verdict[0]}`, verdict[1]));
    let judged = this.body;
    if (typeof f.original_content === "string") {
      const original = el("details", "original");
      judged = el("p", "original-text", f.original_content);
      original.append(el("summary", "", "Original answer"), judged);
      parts.push(original);
    }
    if (f.intrinsics) {
      // The intrinsics judged the answer the model gave: the original one where the guard replaced it.
      const text = typeof f.original_content === "string" ? f.original_content : this.text;
      this.body.textContent = this.text;
      this.node.dataset.spans = String(highlight(judged, text, f.intrinsics, this.detail));
      parts.push(...badges(f.intrinsics, f.intrinsic_errors));
    }
    this.extra.replaceChildren(...parts);
  }
}

/** An answer being streamed into the transcript; fed chunk by chunk by the chat. */
export class Answer {
  constructor(container, { model, tiers }) {
    this.model = model;
    this.tiers = tiers;
    this.started = performance.now();
    this.choices = new Map();
    this.usage = null;
    this.node = el("div", "turn assistant");
    this.node.dataset.state = "streaming";
    this.meta = el("p", "turn-meta", `${model} · answering…`);
    this.grid = el("div", "choices");
    this.node.append(this.meta, this.grid);
    container.append(this.node);
  }

  choice(index) {
    if (!this.choices.has(index)) {
      const c = new Choice(index, this.started);
      this.choices.set(index, c);
      this.grid.append(c.node);
      this.grid.classList.toggle("several", this.choices.size > 1);
    }
    return this.choices.get(index);
  }

  /** Take in one chunk of the stream (content, finish, certainty or usage). */
  read(chunk) {
    const now = performance.now();
    for (const c of chunk.choices || []) {
      const choice = this.choice(c.index ?? 0);
      const content = choice.read(c.delta, now);
      if (c.finish_reason) choice.node.dataset.state = "scoring";
      // The certainty chunk (or, for a guarded answer, the one chunk) carries the certainty fields,
      // and the other intrinsics' results.
      if ("certainty" in c || "intrinsics" in c) {
        choice.score(c, now, content);
        choice.render(this.tiers, this.usage, this.model);
      }
    }
    if (chunk.usage) {
      this.usage = chunk.usage.breakdown || { answer: chunk.usage };
      for (const choice of this.choices.values()) choice.render(this.tiers, this.usage, this.model);
    }
  }

  /** Show every chip again with new tier thresholds. */
  retier(tiers) {
    this.tiers = tiers;
    for (const choice of this.choices.values()) choice.render(this.tiers, this.usage, this.model);
  }

  /** The stream ended with [DONE]. */
  finish() {
    const total = ((performance.now() - this.started) / 1000).toFixed(2);
    this.meta.textContent = `${this.model} · ${total} s`;
    this.node.dataset.state = "done";
  }

  /** The request or the stream failed: say so in the answer, plainly. */
  fail(error) {
    const text = error.code ? `${error.message} (${error.code})` : error.message;
    const node = el("p", "error", text);
    node.setAttribute("role", "alert");
    this.node.append(node);
    this.meta.textContent = `${this.model} · failed`;
    this.node.dataset.state = "error";
  }

  /** The first choice's text, as the conversation goes on with it. */
  text() {
    return this.choices.get(0)?.text ?? "";
  }
}
