// The settings panel: read as one object, kept in this browser's localStorage between visits.

const STORE = "granite-certainty.playground.settings";
const KEY_STORE = "granite-certainty.playground.api-key";

//: form field id → setting name (the API key is kept apart, under its own name).
const FIELDS = {
  temperature: "temperature",
  "max-tokens": "maxTokens",
  n: "n",
  "guard-action": "action",
  "guard-threshold": "threshold",
  "tier-medium": "tierMedium",
  "tier-high": "tierHigh",
};

const $ = (id) => document.getElementById(id);

function number(id, fallback) {
  const raw = $(id).value.trim();
  const value = Number(raw);
  return raw === "" || Number.isNaN(value) ? fallback : value;
}

/** Every setting, as the requests and the certainty chips use them. */
export function current() {
  return {
    apiKey: $("api-key").value.trim(),
    model: $("model").value,
    scorer: $("scorer").value,
    temperature: number("temperature", null),
    maxTokens: number("max-tokens", null),
    n: Math.max(1, Math.round(number("n", 1))),
    action: $("guard-action").value,
    threshold: number("guard-threshold", 0.5),
    tiers: { medium: number("tier-medium", 0.4), high: number("tier-high", 0.7) },
  };
}

function save() {
  const values = {};
  for (const id of Object.keys(FIELDS)) values[FIELDS[id]] = $(id).value;
  try {
    localStorage.setItem(STORE, JSON.stringify(values));
    localStorage.setItem(KEY_STORE, $("api-key").value.trim());
  } catch {
    // storage may be off (private mode): the settings still apply to this visit
  }
}

function restore() {
  let values = {};
  try {
    values = JSON.parse(localStorage.getItem(STORE) || "{}") || {};
    $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  } catch {
    values = {};
  }
  for (const id of Object.keys(FIELDS)) {
    const value = values[FIELDS[id]];
    if (typeof value === "string" && value !== "") $(id).value = value;
  }
}

function showThreshold() {
  $("guard-threshold-value").textContent = Number($("guard-threshold").value).toFixed(2);
  // The threshold means nothing without an action: shown, but not editable then.
  $("guard-threshold").disabled = $("guard-action").value === "none";
}

/**
 * Restore the saved settings and keep saving them; `onKey` runs when the API key changes (the
 * model list depends on it), `onTiers` when a tier threshold does (the chips shown follow it).
 */
export function init({ onKey, onTiers }) {
  restore();
  showThreshold();
  for (const id of Object.keys(FIELDS)) {
    $(id).addEventListener("input", () => {
      showThreshold();
      save();
      if (id.startsWith("tier-")) onTiers(current().tiers);
    });
  }
  $("api-key").addEventListener("change", () => {
    save();
    onKey();
  });
}

/** Fill a <select> with model ids, keeping the current choice (or `preferred`) when it is listed. */
export function fillModels(id, models, preferred) {
  const select = $(id);
  const keep = select.value || preferred;
  select.replaceChildren(
    ...models.map((m) => {
      const option = document.createElement("option");
      option.value = option.textContent = m.id;
      return option;
    }),
  );
  if (models.some((m) => m.id === keep)) select.value = keep;
}
