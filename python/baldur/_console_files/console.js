// Baldur's web console: plain DOM, no framework, no build step.
//
// The page holds no data: everything comes from the control API under
// /api/baldur/ with the key the operator typed (kept in sessionStorage, so
// it lives as long as this tab). Every value from the server is put on the
// page as text (textContent), never as HTML: a DLQ argument or a breaker
// name is data, not markup. The server's CSP forbids inline script and
// style, so this file is the only script and classes do all the styling.
"use strict";

(function () {
  const API = "/api/baldur/";
  const REFRESH_MS = 2000;
  // Subsystems change rarely (a deploy turns one on): probed every 5th refresh.
  const SUBSYSTEM_EVERY = 5;
  const KEY = "baldur.key";
  const ACTOR = "baldur.actor";

  // Later subsystems: a panel shows only while its subsystem runs: its route
  // answers neither 404 not_enabled nor an empty list marked "enabled": false.
  const SUBSYSTEMS = [
    ["reports", "Daily reports", "reports/?days=7"],
    ["audit", "Audit trail", "audit/?limit=20"],
    ["bulkheads", "Bulkheads", "bulkheads/"],
    ["rate-limits", "Rate limits", "rate-limits/"],
    ["leader", "Leader", "leader/"],
    ["emergency", "Emergency", "emergency/"],
    ["governance", "Governance", "governance/"],
    ["canary", "Canary rollouts", "canary/"],
  ];

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let busy = false;
  let ticks = 0;
  let again = false;
  let selectedEntry = null;

  // ---- small DOM helpers -------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function fmtTime(seconds) {
    if (seconds === null || seconds === undefined || seconds === "") return "—";
    const date = new Date(Number(seconds) * 1000);
    if (Number.isNaN(date.getTime())) return String(seconds);
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  // A table's timestamp: the time alone today, the date and minute before.
  function fmtShortTime(seconds) {
    const full = fmtTime(seconds);
    if (full === "—" || !full.includes(" ")) return full;
    const [day, time] = full.split(" ");
    return day === fmtTime(Date.now() / 1000).split(" ")[0] ? time : `${day.slice(5)} ${time.slice(0, 5)}`;
  }

  function fmtSeconds(value) {
    if (value === null || value === undefined) return "—";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    return n < 10 ? `${n.toFixed(1)} s` : `${Math.round(n)} s`;
  }

  function fmtValue(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // ---- talking to the server ---------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super(describeError(status, body));
      this.status = status;
      this.body = body;
    }
  }

  // "<what happened> (<status> <code>): <why>", the why in the server's own
  // words when it gives them, else ours.
  function describeError(status, body) {
    const code = body && typeof body === "object" ? body.error : null;
    const detail = body && typeof body === "object" ? (body.detail || body.message || "") : "";
    const known = {
      unauthorized: ["key refused", "check the key and enter it again"],
      forbidden: ["not allowed", "this key may only read: actions need the admin key"],
      locked: ["locked", "start the server with BALDUR_ADMIN_UNLOCK=1 to allow actions"],
      confirm_required: ["not confirmed", "type CONFIRM exactly"],
      origin_not_allowed: ["origin refused", "this page's origin may not act"],
      host_not_allowed: ["host refused", "this host name is not allowed"],
      not_found: ["not found", ""],
      not_enabled: ["not running", "this subsystem is not running here"],
      kill_switch_engaged: ["held back", "Baldur is disabled by the kill switch: enable it first"],
      conflict: ["conflict", ""],
      bad_request: ["bad request", ""],
      unavailable: ["unavailable", "the shared store cannot be reached"],
      unreachable: ["no answer", "the admin server does not answer"],
    }[code];
    const [what, why] = known || [code || "error", ""];
    const because = typeof detail === "string" && detail ? detail : why;
    const where = status ? `${status} ${code || ""}`.trim() : code;
    return because ? `${what} (${where}): ${because}` : `${what} (${where})`;
  }

  async function api(method, path, body) {
    const headers = { "X-Baldur-Key": sessionStorage.getItem(KEY) || "" };
    const actor = sessionStorage.getItem(ACTOR);
    if (actor) headers["X-Baldur-Actor"] = actor;
    const init = { method, headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (error) {
      throw new ApiError(0, { error: "unreachable", message: "no answer from the admin server" });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (data && data.served_by) showServedBy(data.served_by);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // ---- header, banner, sign in -------------------------------------------

  function showServedBy(servedBy) {
    const node = $("served-by");
    const store = servedBy.store;
    const scope = store === "redis" ? "acts on the whole fleet" : "acts on this process only";
    node.textContent = `served by pid ${servedBy.pid}, store ${store} (${scope})`;
    show(node, true);
  }

  // An action's refusal stays until dismissed or the next action; what a
  // refresh could not read is replaced by each refresh.
  function banner(text) {
    $("banner-text").textContent = text || "";
    show($("banner"), Boolean(text));
  }

  function showProblems(text) {
    const node = $("problems");
    node.textContent = text || "";
    show(node, Boolean(text));
  }

  function lastAction(text, ok) {
    const node = $("last-action");
    node.textContent = text;
    node.className = ok ? "ok" : "error";
  }

  function signedIn() {
    return Boolean(sessionStorage.getItem(KEY));
  }

  function showConsole(on) {
    show($("login"), !on);
    show($("console"), on);
    show($("session"), on);
    if (on) {
      const actor = sessionStorage.getItem(ACTOR);
      $("session-who").textContent = actor ? `acting as ${actor}` : "key entered";
    } else {
      show($("served-by"), false);
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    if (timer) clearInterval(timer);
    timer = null;
    ticks = 0;
    clearData();
    showConsole(false);
    const error = $("login-error");
    error.textContent = message || "";
    show(error, Boolean(message));
    banner("");
    showProblems("");
    $("key").focus();
  }

  function clearData() {
    for (const id of ["breakers", "dlq", "health"]) {
      $(id).querySelector("tbody").replaceChildren();
    }
    $("overview").replaceChildren();
    $("subsystems").replaceChildren();
    $("kill-state").textContent = "";
    show($("dlq-detail"), false);
    selectedEntry = null;
  }

  async function signIn(event) {
    event.preventDefault();
    const key = $("key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    const actor = $("actor").value.trim();
    if (actor) sessionStorage.setItem(ACTOR, actor);
    else sessionStorage.removeItem(ACTOR);
    $("key").value = "";
    try {
      await api("GET", "cb/");
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        signOut(error.message);
        return;
      }
    }
    start();
  }

  function start() {
    showConsole(true);
    show($("login-error"), false);
    refresh();
    if (!timer) timer = setInterval(refresh, REFRESH_MS);
  }

  // ---- the CONFIRM prompt ------------------------------------------------

  // Resolves to {confirm, reason} once the operator typed CONFIRM and went
  // ahead, or null. askReason adds an optional reason field (recorded).
  function confirmAction(title, text, askReason) {
    const dialog = $("confirm");
    const input = $("confirm-input");
    const ok = $("confirm-ok");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    show($("confirm-reason-row"), Boolean(askReason));
    $("confirm-reason").value = "";
    input.value = "";
    ok.disabled = true;
    return new Promise((resolve) => {
      const onInput = () => { ok.disabled = input.value !== "CONFIRM"; };
      const onClose = () => {
        input.removeEventListener("input", onInput);
        dialog.removeEventListener("close", onClose);
        const go = dialog.returnValue === "ok" && input.value === "CONFIRM";
        const reason = askReason ? $("confirm-reason").value.trim() : "";
        resolve(go ? { confirm: input.value, reason } : null);
      };
      input.addEventListener("input", onInput);
      dialog.addEventListener("close", onClose);
      dialog.returnValue = "";
      dialog.showModal();
      (askReason ? $("confirm-reason") : input).focus();
    });
  }

  async function act(label, title, text, path, fields, askReason) {
    const typed = await confirmAction(title, text, askReason);
    if (typed === null) {
      lastAction(`${label}: cancelled`, true);
      return null;
    }
    const body = { ...(fields || {}), confirm: typed.confirm };
    if (typed.reason) body.reason = typed.reason;
    try {
      const answer = await api("POST", path, body);
      lastAction(`${label}: done${summarize(answer)}`, true);
      banner("");
      refresh();
      return answer;
    } catch (error) {
      lastAction(`${label}: ${error.message}`, false);
      banner(`${label}: ${error.message}`);
      if (error.status === 401) signOut(error.message);
      return null;
    }
  }

  function summarize(answer) {
    if (!answer || typeof answer !== "object") return "";
    const parts = [];
    for (const name of ["state", "ok", "replayed", "failed", "redriven", "purged", "error"]) {
      if (answer[name] !== undefined && answer[name] !== null) parts.push(`${name} ${fmtValue(answer[name])}`);
    }
    return parts.length ? ` (${parts.join(", ")})` : "";
  }

  // ---- panels ------------------------------------------------------------

  function stateBadge(state) {
    const known = ["closed", "open", "half_open", "forced_open", "forced_closed"];
    const cls = known.includes(state) ? `state-${state}` : "state-unknown";
    return el("span", { class: `badge ${cls}`, text: String(state || "unknown").replace("_", " ") });
  }

  function breakerRows(body) {
    // cb/ may answer {"breakers": [...]} or {"circuits": {name: snapshot}}.
    let rows = body.breakers || body.circuits || body.items || [];
    if (!Array.isArray(rows)) {
      rows = Object.entries(rows).map(([name, snap]) => ({ name, ...snap }));
    }
    return rows.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
  }

  function renderBreakers(body) {
    const rows = breakerRows(body);
    const tbody = $("breakers").querySelector("tbody");
    tbody.replaceChildren(...rows.map((b) => {
      const name = String(b.name);
      const path = `cb/${encodeURIComponent(name)}/`;
      const button = (action, label, cls) => el("button", {
        type: "button", class: cls || null, "data-action": action,
        onclick: () => act(`${action} ${name}`, `${label}: ${name}`,
          describeBreakerAction(action, name), path + action, {}, true),
      }, label);
      const failures = b.failures ?? (b.window && b.window.failures);
      const calls = b.calls ?? (b.window && b.window.calls);
      return el("tr", { "data-name": name },
        el("td", { class: "mono name", text: name }),
        el("td", {}, stateBadge(b.state)),
        el("td", { class: "num", text: fmtValue(calls) }),
        el("td", { class: "num", text: fmtValue(failures) }),
        el("td", { class: "num", text: fmtSeconds(b.retry_after) }),
        el("td", { class: "actions" },
          button("force-open", "Force open", "danger"),
          button("force-close", "Force close"),
          button("reset", "Reset")));
    }));
    $("breakers-count").textContent = rows.length ? String(rows.length) : "";
    show($("breakers-empty"), rows.length === 0);
  }

  function describeBreakerAction(action, name) {
    return {
      "force-open": `Every call to ${name} will fail fast until the breaker is closed or reset.`,
      "force-close": `Every call to ${name} will go through, whatever its failures, until reset.`,
      reset: `${name} goes back to closed with empty counts, under automatic control again.`,
    }[action];
  }

  function dlqQuery() {
    const params = new URLSearchParams();
    const zone = $("dlq-zone").value.trim();
    const state = $("dlq-state").value;
    const type = $("dlq-type").value.trim();
    if (zone) params.set("domain", zone);
    if (state) params.set("state", state);
    if (type) params.set("failure_type", type);
    params.set("limit", "100");
    return params.toString();
  }

  function renderDlq(body) {
    const entries = body.entries || [];
    const tbody = $("dlq").querySelector("tbody");
    tbody.replaceChildren(...entries.map((e) => el("tr", {
      class: e.id === selectedEntry ? "clickable selected" : "clickable",
      "data-id": e.id,
      onclick: () => selectEntry(e.id),
    },
      el("td", { class: "mono", text: String(e.id).slice(0, 10), title: e.id }),
      el("td", { class: "mono clip", text: fmtValue(e.zone), title: e.zone }),
      el("td", { class: "mono clip", text: fmtValue(e.function), title: e.function }),
      el("td", { class: "mono clip", text: String(e.error_type || "—").split(".").pop(), title: e.error_type }),
      el("td", {}, el("span", { class: `badge dlq-${e.state}`, text: fmtValue(e.state) })),
      el("td", { class: "num", text: fmtValue(e.attempts) }),
      el("td", { class: "mono nowrap", text: fmtShortTime(e.created_at), title: fmtTime(e.created_at) }))));
    const more = body.next_cursor ? "+" : "";
    const partial = body.complete === false ? " (partial: shared store unreachable)" : "";
    $("dlq-count").textContent = entries.length ? `${entries.length}${more}${partial}` : partial;
    show($("dlq-empty"), entries.length === 0);
  }

  async function selectEntry(id) {
    selectedEntry = id;
    await refreshEntry();
  }

  async function refreshEntry() {
    if (!selectedEntry) return;
    try {
      renderEntry(await api("GET", `dlq/${encodeURIComponent(selectedEntry)}/`));
    } catch (error) {
      if (error.status === 404) {
        selectedEntry = null;
        show($("dlq-detail"), false);
      } else {
        lastAction(`entry ${selectedEntry}: ${error.message}`, false);
      }
    }
  }

  function renderEntry(body) {
    const entry = body.entry || body;
    $("dlq-detail-id").textContent = entry.id;
    const fields = [
      ["zone", entry.zone], ["function", entry.function], ["state", entry.state],
      ["attempts", entry.attempts], ["replays left", entry.replays_left],
      ["replayable", entry.replayable], ["reason", entry.reason],
      ["created", fmtTime(entry.created_at)], ["updated", fmtTime(entry.updated_at)],
    ];
    $("dlq-fields").replaceChildren(...fields.flatMap(([name, value]) => [
      el("dt", { text: name }), el("dd", { class: "mono", text: fmtValue(value) }),
    ]));
    $("dlq-args").textContent = pretty(entry.arguments);
    let error = `${entry.error_type || ""}: ${entry.error_message || ""}`;
    if (entry.last_replay_error) error += `\n\nlast replay: ${entry.last_replay_error}`;
    $("dlq-error").textContent = error;
    show($("dlq-detail"), true);
  }

  // Arguments are stored as a JSON document in a string: shown indented.
  function pretty(value) {
    if (typeof value === "string") {
      try {
        return JSON.stringify(JSON.parse(value), null, 2);
      } catch (error) {
        return value;
      }
    }
    return JSON.stringify(value, null, 2);
  }

  function renderSummary(body) {
    const verdict = $("verdict");
    verdict.textContent = body.verdict || "unknown";
    verdict.className = `badge verdict-${body.verdict || "unknown"}`;
    const o = body.overview || {};
    const rows = [
      ["calls", o.calls], ["failures", o.failures], ["timeouts", o.timeouts],
      ["rejections", o.rejections], ["fallbacks", o.fallbacks],
      ["open breakers", o.open_breakers], ["DLQ depth", o.dlq_depth],
      ["resolution rate", o.resolution_rate === null || o.resolution_rate === undefined
        ? "—" : `${Math.round(o.resolution_rate * 100)} %`],
    ];
    if (body.unavailable && body.unavailable.length) rows.push(["unavailable", body.unavailable.join(", ")]);
    $("overview").replaceChildren(...rows.flatMap(([name, value]) => [
      el("dt", { text: name }), el("dd", { class: "num", text: fmtValue(value) }),
    ]));
  }

  function renderKill(body) {
    const on = body.enabled !== false;
    const node = $("kill-state");
    node.replaceChildren(
      el("span", { class: `badge ${on ? "kill-on" : "kill-off"}`, text: on ? "enabled" : "DISABLED" }),
      on ? " self-healing is active" :
        ` ${body.reason ? `reason: ${body.reason}` : ""}${body.actor ? ` · by ${body.actor}` : ""}` +
        `${body.disabled_at ? ` · at ${fmtTime(body.disabled_at)}` : ""}`);
    show($("kill-disable"), on);
    show($("kill-enable"), !on);
  }

  function renderHealth(body) {
    const status = $("health-status");
    status.textContent = body.status || "";
    status.className = `badge health-${body.status}`;
    const checks = Object.entries(body.checks || {}).sort(([a], [b]) => a.localeCompare(b));
    $("health").querySelector("tbody").replaceChildren(...checks.map(([name, c]) => el("tr", {},
      el("td", { class: "mono", text: name }),
      el("td", {}, el("span", { class: `badge health-${c.status}`, text: fmtValue(c.status) })),
      el("td", { class: "detail-cell", text: fmtValue(c.detail ?? c.error_type ?? "") }))));
  }

  function renderSubsystem(id, title, body) {
    const holder = $("subsystems");
    let panel = document.getElementById(`sub-${id}`);
    if (!body || body.enabled === false) {
      if (panel) panel.remove();
      return;
    }
    if (!panel) {
      panel = el("section", { class: "panel sub", id: `sub-${id}` });
      holder.append(panel);
      const order = SUBSYSTEMS.map(([name]) => `sub-${name}`);
      [...holder.children]
        .sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id))
        .forEach((child) => holder.append(child));
    }
    const content = { ...body };
    delete content.served_by;
    panel.replaceChildren(el("h2", { text: title }), renderAny(content));
  }

  function renderAny(value) {
    if (Array.isArray(value)) {
      if (value.length === 0) return el("p", { class: "empty", text: "Nothing yet." });
      if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
        const columns = [...new Set(value.flatMap((v) => Object.keys(v)))].slice(0, 6);
        return el("table", { class: "grid" },
          el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { text: c })))),
          el("tbody", {}, ...value.slice(0, 20).map((row) => el("tr", {},
            ...columns.map((c) => el("td", { class: "mono", text: fmtValue(row[c]) }))))));
      }
      return el("p", { class: "mono", text: value.map(fmtValue).join(", ") });
    }
    if (value && typeof value === "object") {
      const entries = Object.entries(value);
      if (entries.length === 1 && typeof entries[0][1] === "object" && entries[0][1] !== null) {
        return renderAny(entries[0][1]);
      }
      return el("dl", { class: "fields compact" }, ...entries.flatMap(([k, v]) => [
        el("dt", { text: k }), el("dd", { class: "mono", text: fmtValue(v) }),
      ]));
    }
    return el("p", { class: "mono", text: fmtValue(value) });
  }

  // ---- refresh -----------------------------------------------------------

  async function refresh() {
    if (!signedIn() || document.hidden) return; // a background tab asks nothing
    if (busy) {
      again = true; // a filter changed mid-refresh: one more round after it
      return;
    }
    busy = true;
    again = false;
    const problems = [];
    const load = async (path, render) => {
      try {
        render(await api("GET", path));
      } catch (error) {
        problems.push({ path, error });
      }
    };
    const subsystem = async ([id, title, path]) => {
      try {
        renderSubsystem(id, title, await api("GET", path));
      } catch (error) {
        const notEnabled = error.status === 404;
        renderSubsystem(id, title, null);
        if (!notEnabled) problems.push({ path, error });
      }
    };
    try {
      await Promise.all([
        load("cb/", renderBreakers),
        load(`dlq/?${dlqQuery()}`, renderDlq),
        load("kill-switch/", renderKill),
        load("dashboard/summary/", renderSummary),
        load("health/", renderHealth),
        refreshEntry(),
        ...(ticks++ % SUBSYSTEM_EVERY === 0 ? SUBSYSTEMS.map(subsystem) : []),
      ]);
    } finally {
      busy = false;
    }
    if (again) setTimeout(refresh, 0);
    const refused = problems.find((p) => p.error.status === 401);
    if (refused) {
      signOut(refused.error.message);
      return;
    }
    // health/ answers 503 when unhealthy: that is news, not an error.
    const real = problems.filter((p) => !(p.path === "health/" && p.error.status === 503));
    for (const p of problems) {
      if (p.path === "health/" && p.error.status === 503 && p.error.body) renderHealth(p.error.body);
    }
    showProblems(real.length ? real.map((p) => `${p.path}: ${p.error.message}`).join(" · ") : "");
    $("refreshed").textContent = `refreshed ${new Date().toLocaleTimeString()}`;
  }

  // ---- wiring ------------------------------------------------------------

  function dlqFilterFields() {
    const fields = {};
    const zone = $("dlq-zone").value.trim();
    const type = $("dlq-type").value.trim();
    const state = $("dlq-state").value;
    if (zone) fields.domain = zone;
    if (type) fields.failure_type = type;
    if (state) fields.state = state;
    return fields;
  }

  function wire() {
    $("login-form").addEventListener("submit", signIn);
    $("session").addEventListener("submit", (event) => {
      event.preventDefault();
      signOut("");
    });
    $("dlq-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      refresh();
    });
    for (const id of ["dlq-zone", "dlq-type"]) $(id).addEventListener("change", refresh);
    $("dlq-state").addEventListener("change", refresh);
    $("dlq-batch").addEventListener("click", () => {
      const fields = dlqFilterFields();
      delete fields.state;
      if (!fields.domain && !fields.failure_type) {
        lastAction("batch replay: choose a zone or a failure type first", false);
        return;
      }
      const what = fields.domain ? `zone ${fields.domain}` : `failure type ${fields.failure_type}`;
      act("batch replay", "Replay matching entries",
        `Replays up to 100 waiting entries of ${what}.`, "dlq/replay", { ...fields, limit: 100 });
    });
    $("dlq-purge").addEventListener("click", () => {
      const fields = dlqFilterFields();
      delete fields.failure_type;
      const what = fields.domain ? `zone ${fields.domain}` : "every zone";
      const state = fields.state ? ` in state ${fields.state}` : "";
      act("purge", "Purge entries", `Deletes for good the entries of ${what}${state}.`,
        "dlq/purge", fields);
    });
    $("dlq-replay").addEventListener("click", () => {
      const id = selectedEntry;
      act(`replay ${id}`, "Replay entry", `Calls the function of entry ${id} again now.`,
        `dlq/${encodeURIComponent(id)}/replay`);
    });
    $("dlq-redrive").addEventListener("click", () => {
      const id = selectedEntry;
      act(`redrive ${id}`, "Redrive entry",
        `Gives entry ${id} a fresh replay budget (after the root cause is fixed).`,
        `dlq/${encodeURIComponent(id)}/redrive`);
    });
    $("banner-close").addEventListener("click", () => banner(""));
    $("confirm-cancel").addEventListener("click", () => $("confirm").close("cancel"));
    $("dlq-close").addEventListener("click", () => {
      selectedEntry = null;
      show($("dlq-detail"), false);
      refresh();
    });
    $("kill-disable").addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = $("kill-reason").value.trim();
      if (!reason) return;
      act("disable Baldur", "Disable Baldur",
        `All self-healing stops, fleet-wide, until someone enables it. Reason: ${reason}`,
        "kill-switch/disable", { reason }).then((answer) => {
        if (answer) $("kill-reason").value = "";
      });
    });
    $("kill-enable").addEventListener("submit", (event) => {
      event.preventDefault();
      act("enable Baldur", "Enable Baldur", "Self-healing starts again.", "kill-switch/enable");
    });
    document.addEventListener("visibilitychange", refresh);
    if (signedIn()) start();
    else showConsole(false);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
