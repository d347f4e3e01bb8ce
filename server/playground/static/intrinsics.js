// Other intrinsics with the answer (the chat request's `intrinsics`): the checkboxes of the ones
// the server serves, and their results shown with the answer: span records (citations,
// hallucination_detection) highlighted in the answer's text at their offsets, labels
// (answerability, query_rewrite, ...) as badges, and a failed intrinsic as its error. Model text
// is untrusted: every node is built with textContent, never parsed as HTML.

//: The intrinsics a chat can ask for with its answer, as served names, in the order offered
//: (those that judge the question, then those that judge the answer). `uncertainty` is not
//: among them: it is the certainty chip, always asked for.
export const JUDGES = [
  "answerability",
  "query_rewrite",
  "query_clarification",
  "context_relevance",
  "citations",
  "hallucination_detection",
  "context-attribution",
];

//: Intrinsics whose instruction takes an argument, made from the request's documents.
const ARGUMENTS = {
  context_relevance: (documents) => (documents.length ? { document_content: documents[0].text } : null),
};

//: The field of the answer's choice that has the certainty chip's value, not a badge of its own.
const CERTAINTY = "certainty";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Offer a checkbox for each intrinsic of JUDGES that `models` (/v1/models) lists; keeps the ticks. */
export function fillIntrinsics(box, models) {
  const served = new Set(models.map((m) => m.id));
  const ticked = new Set(checked(box));
  const offered = JUDGES.filter((name) => served.has(name));
  box.replaceChildren(
    ...offered.map((name) => {
      const label = el("label", "intrinsic-option");
      const input = el("input");
      input.type = "checkbox";
      input.value = name;
      input.name = "intrinsic";
      input.checked = ticked.has(name);
      label.append(input, ` ${name}`);
      return label;
    }),
  );
  if (!offered.length) box.append(el("p", "hint", "This server serves no intrinsic to ask for with the answer."));
}

function checked(box) {
  return [...box.querySelectorAll("input[type=checkbox]:checked")].map((input) => input.value);
}

/** The request's `intrinsics` for the ticked boxes (an intrinsic with arguments as {name, kwargs}). */
export function askedIntrinsics(box, documents) {
  return checked(box).map((name) => {
    const kwargs = ARGUMENTS[name]?.(documents);
    return kwargs ? { name, kwargs } : name;
  });
}

/** Whether a result is a list of span records (offsets into the answer), as citations' are. */
function isSpanList(value) {
  return (
    Array.isArray(value) &&
    value.every((r) => r && typeof r === "object" && Number.isInteger(r.response_begin) && Number.isInteger(r.response_end))
  );
}

/**
 * The spans of `results` to draw on a text of `length` characters: {key, name, record, begin,
 * end}, `key` being "<intrinsic>:<index in its list>"; a span outside the text is left out.
 */
export function spansOf(results, length) {
  const spans = [];
  for (const [name, value] of Object.entries(results || {})) {
    if (!isSpanList(value)) continue;
    value.forEach((record, i) => {
      const { response_begin: begin, response_end: end } = record;
      if (begin >= 0 && end <= length && begin < end) spans.push({ key: `${name}:${i}`, name, record, begin, end });
    });
  }
  return spans;
}

/** The pieces of a text cut at every span's ends: [begin, end, spans covering it]. */
export function segments(length, spans) {
  const cuts = [...new Set([0, length, ...spans.flatMap((s) => [s.begin, s.end])])].sort((a, b) => a - b);
  const pieces = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [begin, end] = [cuts[i], cuts[i + 1]];
    pieces.push([begin, end, spans.filter((s) => s.begin <= begin && s.end >= end)]);
  }
  return pieces;
}

/** What one span record says, for the detail box: a title and lines. */
function describe(span) {
  const r = span.record;
  const title = el("p", "span-title", span.name);
  const lines = [];
  if ("citation_text" in r || "citation_doc_id" in r) {
    const source = el("blockquote", "span-source", String(r.citation_text ?? ""));
    lines.push(el("p", "span-doc", `Document ${r.citation_doc_id ?? "?"} says:`), source);
  }
  if ("faithfulness" in r) lines.push(el("p", `span-faith faith-${r.faithfulness}`, `faithfulness: ${r.faithfulness}`));
  if (typeof r.explanation === "string" && r.explanation) lines.push(el("p", "span-explanation", r.explanation));
  const known = new Set(["response_begin", "response_end", "response_text", "citation_text", "citation_doc_id", "faithfulness", "explanation"]);
  for (const [k, v] of Object.entries(r)) {
    if (!known.has(k) && !k.startsWith("citation_")) lines.push(el("p", "span-field", `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`));
  }
  const node = el("div", "span-record");
  node.dataset.span = span.key;
  node.append(title, ...lines);
  return node;
}

const HINT = "Hover over or focus a highlighted part of the answer to see what the intrinsics say of it.";

function showDetail(detail, covering) {
  detail.replaceChildren(...covering.map(describe));
}

/**
 * Write `text` into `node` with the span records of `results` highlighted at their offsets
 * (counted in characters, as the server counts them, never found again by searching the text);
 * hovering over or focusing a highlight shows its records in `detail`. Returns how many spans
 * were drawn.
 */
export function highlight(node, text, results, detail) {
  const chars = Array.from(text); // by code point: the server's offsets count characters, not UTF-16 units
  const spans = spansOf(results, chars.length);
  if (!spans.length) {
    node.textContent = text;
    detail.hidden = true;
    return 0;
  }
  const children = segments(chars.length, spans).map(([begin, end, covering]) => {
    const piece = chars.slice(begin, end).join("");
    if (!covering.length) return document.createTextNode(piece);
    const mark = el("mark", "span", piece);
    mark.dataset.spans = covering.map((s) => s.key).join(" ");
    if (covering.some((s) => "citation_doc_id" in s.record || "citation_text" in s.record)) mark.classList.add("cited");
    const faith = covering.find((s) => typeof s.record.faithfulness === "string")?.record.faithfulness;
    if (faith) {
      mark.classList.add(`faith-${faith}`);
      mark.dataset.faithfulness = faith;
    }
    mark.tabIndex = 0;
    if (detail.id) mark.setAttribute("aria-describedby", detail.id);
    const show = () => showDetail(detail, covering);
    mark.addEventListener("mouseenter", show);
    mark.addEventListener("focus", show);
    return mark;
  });
  node.replaceChildren(...children);
  detail.replaceChildren(el("p", "hint", HINT));
  detail.hidden = false;
  return spans.length;
}

function valueText(value) {
  if (value === null || value === undefined) return "no result";
  if (typeof value !== "object") return String(value);
  const entries = Object.entries(value);
  if (!Array.isArray(value) && entries.length === 1 && typeof entries[0][1] !== "object") return String(entries[0][1]);
  return JSON.stringify(value);
}

/** One badge per intrinsic asked for (certainty aside): its label, its spans' count, or its error. */
export function badges(results, errors) {
  const out = [];
  for (const [name, value] of Object.entries(results || {})) {
    if (name === CERTAINTY) continue;
    const error = errors?.[name];
    let node;
    if (error) {
      const why = error.code ? `${error.message} (${error.code})` : error.message || error.code;
      node = el("span", "badge badge-intrinsic-error", `${name} failed: ${why}`);
    } else if (value !== null && isSpanList(value)) {
      const n = value.length;
      node = el("span", "badge badge-intrinsic", `${name}: ${n ? `${n} span${n === 1 ? "" : "s"}` : "none"}`);
    } else {
      node = el("span", "badge badge-intrinsic", `${name}: ${valueText(value)}`);
    }
    node.dataset.intrinsic = name;
    out.push(node);
  }
  return out;
}
