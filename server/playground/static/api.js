// Calls to the gateway's OpenAI-compatible API: JSON requests, server-sent event streams, and
// every failure turned into one readable message (OpenAI's error.message where there is one).

/** The gateway's OpenAI base URL, resolved against the page so that it works at / and /playground. */
export function baseUrl() {
  return new URL("v1", document.baseURI).href;
}

/** An error the page shows as it is: the API's own message, its code and HTTP status. */
export class ApiError extends Error {
  constructor(message, { status = null, code = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

function headers(apiKey) {
  const h = { "content-type": "application/json" };
  if (apiKey) h.authorization = `Bearer ${apiKey}`;
  return h;
}

/** The ApiError of a non-2xx response: the OpenAI error body's message, else the status line and text. */
async function failure(resp) {
  const text = await resp.text();
  try {
    const err = JSON.parse(text).error;
    if (err && typeof err.message === "string") {
      return new ApiError(err.message, { status: resp.status, code: err.code || err.type || null });
    }
  } catch {
    // not JSON (a proxy's HTML page): the text itself, shortened, is what there is to show
  }
  const detail = text.trim().slice(0, 300);
  return new ApiError(`HTTP ${resp.status} ${resp.statusText}${detail ? `: ${detail}` : ""}`, { status: resp.status });
}

async function send(path, { apiKey, method = "GET", body, signal }) {
  let resp;
  try {
    resp = await fetch(`${baseUrl()}/${path}`, {
      method,
      headers: headers(apiKey),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(`Could not reach the gateway: ${exc.message}`);
  }
  if (!resp.ok) throw await failure(resp);
  return resp;
}

/** GET a JSON document from /v1. */
export async function getJson(path, apiKey) {
  const resp = await send(path, { apiKey });
  return resp.json();
}

/** POST a JSON request to /v1 and return its JSON answer. */
export async function postJson(path, body, apiKey, signal) {
  const resp = await send(path, { apiKey, method: "POST", body, signal });
  return resp.json();
}

/**
 * POST a streamed request and yield each event's parsed JSON, in order, until `data: [DONE]`.
 * An error event (`{"error": {...}}`) is thrown as an ApiError: the stream failed mid-way.
 */
export async function* postStream(path, body, apiKey, signal) {
  const resp = await send(path, { apiKey, method: "POST", body, signal });
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    // Events end with a blank line; a chunk of the body may hold several events or part of one.
    const events = buffer.split(/\r?\n\r?\n/);
    buffer = events.pop();
    for (const event of events) {
      const data = dataOf(event);
      if (data === null) continue;
      if (data === "[DONE]") return;
      yield parsed(data);
    }
  }
  throw new ApiError("The stream ended without [DONE]: the answer may be incomplete.");
}

/** The data of one SSE event (its `data:` lines joined), or null for a comment or keep-alive. */
function dataOf(event) {
  const lines = event.split(/\r?\n/).filter((l) => l.startsWith("data:"));
  if (!lines.length) return null;
  return lines.map((l) => l.slice(5).replace(/^ /, "")).join("\n");
}

function parsed(data) {
  let chunk;
  try {
    chunk = JSON.parse(data);
  } catch {
    throw new ApiError(`The stream sent an event that is not JSON: ${data.slice(0, 200)}`);
  }
  if (chunk && chunk.error) {
    const err = chunk.error;
    throw new ApiError(err.message || JSON.stringify(err), { code: err.code || err.type || null });
  }
  return chunk;
}
