// Shared by every page: texts, API calls with the CSRF header, the live change feed, dialogs,
// formatting. Pages render data only through these helpers so the language and the role rules
// apply everywhere.

const boot = JSON.parse(document.getElementById("boot").textContent);
export const lang = boot.lang;
export const caps = boot.caps;          // {"meetings": bool, "devices": bool}
const texts = boot.texts;

/** The text for `key` in the page language, with {name} placeholders filled. */
export function t(key, values = {}) {
  const text = texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** The translated state word, or the word itself when the catalogue has none. */
export function stateText(state) {
  const key = `state.${state}`;
  return key in texts ? texts[key] : state;
}

/** A state word ("connected", "down") as a coloured pill. */
export function pill(state, label) {
  const span = el("span", { class: `pill s-${state || "unknown"}`, "data-state": state || "unknown" });
  span.textContent = label ?? stateText(state || "unknown");
  return span;
}

/** Create an element: el("a", {href: "/x", class: "y"}, "text", childNode...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

// -- time -------------------------------------------------------------------------------------
const dateTime = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(lang, { timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(lang, { weekday: "short", month: "numeric", day: "numeric" });

export function fmtTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : t("common.never");
}
export function fmtClock(iso) {
  return iso ? timeOnly.format(new Date(iso)) : "";
}
export function fmtDay(date) {
  return dayFormat.format(date);
}
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  const u = (n, unit) => `${n}${t(`unit.${unit}`)}`;
  if (s < 60) return u(s, "s");
  if (s < 3600) return `${u(Math.floor(s / 60), "m")} ${u(s % 60, "s")}`;
  if (s < 86400) return `${u(Math.floor(s / 3600), "h")} ${u(Math.floor((s % 3600) / 60), "m")}`;
  return `${u(Math.floor(s / 86400), "d")} ${u(Math.floor((s % 86400) / 3600), "h")}`;
}
/** "5m ago" from an ISO time. */
export function fmtAgo(iso) {
  if (!iso) return t("common.never");
  return t("common.ago", { n: fmtDuration((Date.now() - new Date(iso).getTime()) / 1000) });
}

/** The site's display name in the page language. */
export function siteName(site) {
  if (!site) return "";
  if (lang === "zh-CN" && site.name_zh) return site.name_zh;
  return site.name || site.id;
}

// -- API ---------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.body = body;        // the whole error body: some errors carry fields beside the detail
  }
  /** What to show the user. */
  get message_for_user() {
    if (this.status === 403) return t("common.forbidden");
    if (this.status === 404) return t("error.not_found");
    return t("common.refused", { reason: this.message });
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, "not signed in");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) {
    const detail = data && typeof data === "object" && "detail" in data ? data.detail : data;
    throw new ApiError(response.status, detail ?? response.statusText, data);
  }
  return data;
}
export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});

/** Lists come back either bare or wrapped ({"items": [...]} or {"<name>": [...]}). */
export function items(data, name) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && name && Array.isArray(data[name])) return data[name];
  return [];
}

// -- notices -------------------------------------------------------------------------------------
export function notice(text, kind = "info") {
  const box = document.getElementById("notices");
  const item = el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.prepend(item);
  if (kind !== "error") setTimeout(() => item.remove(), 5000);
  while (box.children.length > 3) box.lastElementChild.remove();
  return item;
}

export function showError(err) {
  notice(err instanceof ApiError ? err.message_for_user : String(err), "error");
}

// -- confirmation dialog -------------------------------------------------------------------------
/** Ask before acting; resolves true on confirm. `body` may be a node shown under the question. */
export function confirmAction(question, { confirmLabel, danger = false, body = null } = {}) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "confirm", "aria-label": question });
    const ok = el("button", { class: danger ? "danger" : "primary", "data-action": "confirm" },
      confirmLabel || t("common.confirm"));
    const cancel = el("button", { "data-action": "cancel" }, t("common.cancel"));
    dialog.append(el("p", {}, question), body ?? "", el("div", { class: "actions" }, cancel, ok));
    document.body.append(dialog);
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); done(false); });
    dialog.showModal();
  });
}

// -- live updates ----------------------------------------------------------------------------------
const liveListeners = new Set();

/** Call `refresh(change)` whenever the server reports a change in one of `topics`. */
export function onChange(topics, refresh) {
  const wanted = new Set(topics);
  liveListeners.add((change) => {
    if (change.topics.some((topic) => wanted.has(topic))) refresh(change);
  });
}

function startLive() {
  const dot = document.getElementById("live");
  const source = new EventSource("/api/v1/stream");
  let opened = 0;
  source.addEventListener("open", () => {
    if (dot) { dot.dataset.live = "on"; dot.textContent = t("live.connected"); }
    // After a reconnect, changes made while the stream was down were not announced: refresh all.
    opened += 1;
    if (opened > 1) {
      const everything = { topics: ["sites", "devices", "faults", "selftests", "meetings", "commands", "relocations", "audit"] };
      for (const listener of liveListeners) listener(everything);
    }
  });
  source.addEventListener("error", () => {
    if (dot) { dot.dataset.live = "off"; dot.textContent = t("live.reconnecting"); }
  });
  source.addEventListener("change", (event) => {
    const change = JSON.parse(event.data);
    for (const listener of liveListeners) listener(change);
  });
}

/** Re-run `render` at most once at a time; a change arriving mid-render schedules one more run. */
export function serialised(render) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await render(); } while (again);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 401)) showError(err);
      } finally {
        running = null;
      }
    })();
    return running;
  };
  return run;
}

// -- language switch and sign out (every page) ----------------------------------------------------------
export function setLanguage(next) {
  localStorage.setItem("roomops_lang", next);
  document.cookie = `roomops_lang=${encodeURIComponent(next)}; path=/; max-age=31536000; samesite=lax`;
  window.location.reload();
}

async function logout() {
  await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin" });
  window.location.assign("/login");
}

function wireChrome() {
  const out = document.querySelector('[data-action="logout"]');
  if (out) out.addEventListener("click", logout);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  // The cookie may have been cleared while localStorage still remembers the choice.
  const remembered = localStorage.getItem("roomops_lang");
  if (remembered && remembered !== lang && !document.cookie.includes("roomops_lang=")) setLanguage(remembered);
}

wireChrome();
if (boot.live) startLive();
