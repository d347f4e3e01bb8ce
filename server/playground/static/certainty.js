// The certainty chip: a tier, the calibrated value as a percentage, and (on hover, focus or click)
// what the value means, the raw adapter score if the answer has one, the timing and the tokens.

//: certainty_error codes, as a person reads them.
const NOT_SCORED = {
  truncated: "not scored: the answer was cut off",
  tool_calls: "not scored: the answer is a tool call",
  empty_content: "not scored: the answer has no text",
  scoring_busy: "not scored: the server was too busy to score it",
};

let chipCount = 0;

/** The tier of a certainty, with the page's thresholds: low below `medium`, high from `high`. */
export function tier(value, tiers) {
  if (value >= tiers.high) return "high";
  if (value >= tiers.medium) return "medium";
  return "low";
}

/** A certainty in [0, 1] as a whole percentage (the precision the chip shows). */
export function percent(value) {
  return Math.round(value * 100);
}

/** What a certainty_error means, in words ("not scored: the answer was cut off"). */
export function notScored(error) {
  if (!error) return "not scored";
  return NOT_SCORED[error.code] || `not scored: ${error.message || error.code}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

function timingText(timing) {
  if (!timing || timing.certaintyMs == null) return null;
  const { answerMs, certaintyMs } = timing;
  if (answerMs === undefined) return `certainty call ${seconds(certaintyMs)}`;
  if (timing.together || answerMs === null) {
    return `answer and certainty together at ${seconds(certaintyMs)} (the guard holds an answer until it is scored)`;
  }
  return `answer: ${seconds(answerMs)} to its last token\ncertainty: ${seconds(certaintyMs - answerMs)} more (at ${seconds(certaintyMs)})`;
}

function tokensText(breakdown) {
  if (!breakdown) return null;
  const parts = [];
  for (const [part, u] of Object.entries(breakdown)) {
    if (!u || !u.total_tokens) continue;
    parts.push(`${part}: ${u.total_tokens} (${u.prompt_tokens} prompt + ${u.completion_tokens} completion)`);
  }
  return parts.length ? parts.join("\n") : null;
}

function details(rows) {
  const list = el("dl");
  for (const [term, value] of rows) {
    if (value === null || value === undefined) continue;
    list.append(el("dt", {}, term), el("dd", {}, String(value)));
  }
  return list;
}

/** Close every opened chip but `keep` (a click elsewhere or Escape closes them, as a popup does). */
function closeChips(keep = null) {
  for (const wrap of document.querySelectorAll(".chip-wrap.open")) {
    if (wrap === keep) continue;
    wrap.classList.remove("open");
    wrap.querySelector(".chip").setAttribute("aria-expanded", "false");
  }
}

document.addEventListener("click", (event) => closeChips(event.target.closest?.(".chip-wrap") ?? null));
document.addEventListener("keydown", (event) => event.key === "Escape" && closeChips());

function toggle(button, info) {
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  info.parentElement.classList.toggle("open", open);
}

/**
 * The chip of one scored (or unscored) answer. `info`: `certainty` (number or null), `error`
 * (certainty_error), `rawScore`, `timing` ({answerMs, certaintyMs}), `usage` (usage.breakdown).
 */
export function chip(info, tiers) {
  const id = `chip-info-${++chipCount}`;
  const scored = typeof info.certainty === "number";
  const name = scored ? tier(info.certainty, tiers) : "none";
  const button = el(
    "button",
    { type: "button", class: `chip tier-${name}`, "aria-expanded": "false", "aria-controls": id, "data-tier": name },
    ...(scored
      ? [el("span", { class: "chip-tier" }, `${name[0].toUpperCase()}${name.slice(1)} certainty`), " ", el("span", { class: "chip-value" }, `${percent(info.certainty)} %`)]
      : [el("span", { class: "chip-tier" }, notScored(info.error))]),
  );
  if (scored) button.dataset.certainty = String(info.certainty);
  const p = percent(info.certainty ?? 0);
  const meaning = scored
    ? `Calibrated certainty ${info.certainty.toFixed(4)}: of answers given ${p} %, about ${p} % are right.`
    : info.error?.message || "The answer has no certainty.";
  const rows = [
    ["Raw adapter score", info.rawScore ?? null],
    ["Timing (measured by this page)", timingText(info.timing)],
    ["Tokens (usage.breakdown)", tokensText(info.usage)],
  ];
  const infoBox = el("div", { class: "chip-info", id, role: "note" }, el("p", {}, meaning), details(rows));
  button.addEventListener("click", () => toggle(button, infoBox));
  return el("div", { class: "chip-wrap" }, button, infoBox);
}
