// "Score an answer": a question, an answer and optional documents, scored by the uncertainty
// intrinsic (a model name whose message content is JSON `{"certainty": x}`).

import { ApiError, postJson } from "./api.js";
import { chip } from "./certainty.js";
import { readDocuments } from "./documents.js";

const $ = (id) => document.getElementById(id);

/** The scoring request the form describes now. */
export function scoreRequest(s) {
  const body = {
    model: s.scorer,
    messages: [
      { role: "user", content: $("score-question").value },
      { role: "assistant", content: $("score-answer").value },
    ],
  };
  const documents = readDocuments($("documents"));
  if (documents.length) body.documents = documents;
  return body;
}

/** The certainty in an intrinsic's answer: its message content is JSON `{"certainty": x}`. */
function certaintyOf(result) {
  const content = result?.choices?.[0]?.message?.content;
  let value;
  try {
    value = JSON.parse(content).certainty;
  } catch {
    value = undefined;
  }
  if (typeof value !== "number") throw new ApiError(`The intrinsic's answer has no certainty: ${String(content).slice(0, 200)}`);
  return value;
}

/** Score the form's answer and show its chip (or the API's error) in the result area. */
export async function score(s) {
  const out = $("score-result");
  out.dataset.state = "scoring";
  out.replaceChildren(Object.assign(document.createElement("p"), { className: "turn-meta", textContent: "Scoring…" }));
  const started = performance.now();
  try {
    const result = await postJson("chat/completions", scoreRequest(s), s.apiKey);
    const ms = performance.now() - started;
    const usage = result.usage ? { certainty: result.usage } : null;
    const info = { certainty: certaintyOf(result), timing: { certaintyMs: ms }, usage };
    const meta = Object.assign(document.createElement("p"), { className: "turn-meta", textContent: `${s.scorer} · ${(ms / 1000).toFixed(2)} s` });
    out.replaceChildren(meta, chip(info, s.tiers));
    out.dataset.state = "done";
  } catch (exc) {
    const error = Object.assign(document.createElement("p"), {
      className: "error",
      textContent: exc.code ? `${exc.message} (${exc.code})` : exc.message,
    });
    error.setAttribute("role", "alert");
    out.replaceChildren(error);
    out.dataset.state = "error";
  }
}
