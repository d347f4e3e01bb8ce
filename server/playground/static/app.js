// The playground page: loads the models, wires the settings, the chat, the scoring form and the
// snippets, and shows every failure as a message (the API's own words), never a blank page.

import { getJson } from "./api.js";
import { Chat } from "./chat.js";
import { addDocument, readDocuments } from "./documents.js";
import { askedIntrinsics, fillIntrinsics } from "./intrinsics.js";
import { score, scoreRequest } from "./score.js";
import * as settings from "./settings.js";
import { curl, python } from "./snippets.js";

const $ = (id) => document.getElementById(id);

function showBanner(message) {
  const banner = $("banner");
  banner.textContent = message || "";
  banner.hidden = !message;
}

/** Fill the model pickers from /v1/models: base models (no parent, not an intrinsic) and intrinsics. */
async function loadModels() {
  try {
    const { data } = await getJson("models", settings.current().apiKey);
    const base = data.filter((m) => !m.parent && m.kind !== "intrinsic");
    const intrinsics = data.filter((m) => m.kind === "intrinsic" || m.parent);
    settings.fillModels("model", base);
    settings.fillModels("scorer", intrinsics, "uncertainty");
    fillIntrinsics($("chat-intrinsics"), intrinsics);
    showBanner(base.length ? "" : "The gateway lists no base model.");
    document.body.dataset.ready = "true";
  } catch (exc) {
    const hint = exc.status === 401 ? " Enter the gateway's API key in Settings." : "";
    showBanner(`Could not list the models: ${exc.message}${hint}`);
    document.body.dataset.ready = "false";
    if (exc.status === 401) $("api-key").focus();
  }
}

function selectTab(name) {
  for (const tab of ["chat", "score"]) {
    const selected = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
    $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`${tab}-panel`).hidden = !selected;
  }
  document.body.dataset.mode = name;
}

function wireTabs() {
  const tabs = ["chat", "score"];
  for (const name of tabs) {
    const tab = $(`tab-${name}`);
    tab.addEventListener("click", () => selectTab(name));
    // Arrow keys move between tabs, as a tab list is used from the keyboard.
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const next = tabs[(tabs.indexOf(name) + 1) % tabs.length];
      selectTab(next);
      $(`tab-${next}`).focus();
    });
  }
}

function wireChat(chat) {
  const question = $("question");
  const busy = (on) => {
    $("send").disabled = on;
    $("stop").disabled = !on;
  };
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text || chat.busy) return;
    question.value = "";
    busy(true);
    await chat.send(text);
    busy(false);
    question.focus();
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => chat.stop());
  $("chat-add-document").addEventListener("click", () => addDocument($("chat-documents")));
  $("new-chat").addEventListener("click", () => {
    chat.reset();
    question.focus();
  });
}

function wireScore() {
  $("add-document").addEventListener("click", () => addDocument($("documents")));
  $("score-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("score-send").disabled = true;
    await score(settings.current());
    $("score-send").disabled = false;
  });
}

/** Put `text` on the clipboard where the browser allows it; it is shown in the page in any case. */
async function copy(text, what) {
  const snippet = $("snippet");
  snippet.textContent = text;
  snippet.hidden = false;
  snippet.dataset.kind = what;
  let copied = false;
  try {
    // The clipboard exists only in a secure context (https, localhost); elsewhere, select and copy by hand.
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      copied = true;
    }
  } catch {
    copied = false;
  }
  $("copied").textContent = copied ? `Copied as ${what}.` : `Shown below as ${what}: select it to copy.`;
}

function wireSnippets(chat) {
  const current = () => {
    const s = settings.current();
    const body = document.body.dataset.mode === "score" ? scoreRequest(s) : chat.request($("question").value.trim());
    return { body, withKey: Boolean(s.apiKey) };
  };
  $("copy-curl").addEventListener("click", () => {
    const { body, withKey } = current();
    copy(curl(body, withKey), "curl");
  });
  $("copy-python").addEventListener("click", () => copy(python(current().body), "OpenAI SDK (Python)"));
}

function main() {
  // Enter in a settings field applies them (the key above all), never reloads the page.
  $("settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadModels();
  });
  // The chat's documents and the intrinsics ticked, read when a request is made.
  const rag = () => {
    const documents = readDocuments($("chat-documents"));
    return { documents, intrinsics: askedIntrinsics($("chat-intrinsics"), documents) };
  };
  const chat = new Chat($("transcript"), settings, rag);
  settings.init({ onKey: loadModels, onTiers: (tiers) => chat.retier(tiers) });
  wireTabs();
  wireChat(chat);
  wireScore();
  wireSnippets(chat);
  selectTab("chat");
  loadModels();
  $("question").focus();
}

main();
