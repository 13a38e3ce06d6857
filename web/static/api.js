// The pages call the API exactly as any outside client does, so they double as a
// living example of the contract (API.md): JSON both ways, errors as {code, message}.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export async function call(method, path, { body, token, adminKey, idempotencyKey } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = "Bearer " + token;
  if (adminKey) headers["X-Admin-Key"] = adminKey;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "NETWORK", "The server cannot be reached.", 2);
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const retry = Number(res.headers.get("Retry-After")) || 1;
    throw new ApiError(res.status, data.code || "HTTP_" + res.status, data.message || res.statusText, retry);
  }
  return data;
}

// newKey names one payment, charge or sign-up attempt, so a retried click cannot
// pay twice or hear that its own email is taken.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export const won = (n) => "₩" + Number(n).toLocaleString("en-US");

export function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m > 0 ? `${m} min ${String(s).padStart(2, "0")} s` : `${s} s`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function say(el, text, kind = "") {
  el.textContent = text;
  el.className = "msg " + kind;
}
