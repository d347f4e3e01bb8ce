// A box of documents (doc_id and text), added and removed by hand: the `documents` of a RAG
// request, in the chat and in "Score an answer" alike.

let documentCount = 0;

function field(tag, id, className, label) {
  const labelNode = document.createElement("label");
  labelNode.htmlFor = id;
  labelNode.textContent = label;
  const input = document.createElement(tag);
  input.id = id;
  input.className = className;
  return [labelNode, input];
}

/** Add one document row (id and text) to `list`, and focus its text. */
export function addDocument(list) {
  const n = ++documentCount;
  const row = document.createElement("div");
  row.className = "document";
  const [idLabel, idInput] = field("input", `doc-id-${n}`, "doc-id", "Document id");
  idInput.value = String(list.querySelectorAll(".document").length + 1);
  const [textLabel, textInput] = field("textarea", `doc-text-${n}`, "doc-text", "Document text");
  textInput.rows = 3;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove-document";
  remove.textContent = "Remove this document";
  remove.addEventListener("click", () => row.remove());
  row.append(idLabel, idInput, textLabel, textInput, remove);
  list.append(row);
  textInput.focus();
}

/** The documents of `list` that have text, as the API takes them: `[{doc_id, text}]`. */
export function readDocuments(list) {
  return [...list.querySelectorAll(".document")]
    .map((row) => ({ doc_id: row.querySelector(".doc-id").value.trim(), text: row.querySelector(".doc-text").value }))
    .filter((d) => d.text.trim() !== "");
}
