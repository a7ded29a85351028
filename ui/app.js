/* The cutover dashboard: a single page over the REST API (no build step).
 *
 * Everything it shows comes from the documented API, so a portal can copy
 * it: runs are listed per project, a run is read with GET /v1/runs/{id} and
 * followed live with its Server-Sent Events stream, the cutover readiness
 * with GET /v1/runs/{id}/readiness, whose ETag the approve button sends in
 * If-Match. With a tokens file the page signs in once (POST /v1/sessions)
 * and then relies on the HttpOnly session cookie; requests that change
 * anything carry the session's CSRF token in X-CSRF-Token.
 */
"use strict";

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
const RUN_STATES = ["pending", "running", "paused", "awaiting_approval", "succeeded",
  "failed", "cancelled"];
const TERMINAL = new Set(["succeeded", "cancelled"]);
const CHART_WINDOW_S = 15 * 60;
const TAIL = 40;

const S = {
  who: null,        // GET /v1/sessions/current
  csrf: null,
  es: null,         // the open EventSource
  timers: [],
  chart: null,
  view: null,       // state of the current view
  plans: {},        // plan id -> plan (step titles)
};

/* ------------------------------------------------------------ helpers */

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function badge(state) {
  return h("span", { class: "badge s-" + state, "data-state": state }, state.replace(/_/g, " "));
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { hour12: false });
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function bar(percent, cls) {
  const p = Math.max(0, Math.min(100, percent || 0));
  return h("div", { class: "bar " + (cls || ""), title: p.toFixed(0) + " %" },
    h("span", { style: "width:" + p + "%" }));
}

function canOperate() {
  return S.who && ROLE_RANK[S.who.role] >= ROLE_RANK.operator;
}

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    this.problem = problem;
  }
}

/* One API call. Returns {status, data, headers}; throws ApiError for 4xx/5xx
 * (and shows the sign-in form on 401). */
async function api(method, path, opts) {
  opts = opts || {};
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && S.csrf) headers["X-CSRF-Token"] = S.csrf;
  const r = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const ct = r.headers.get("Content-Type") || "";
  const data = ct.includes("json") ? await r.json() : null;
  if (!r.ok) {
    if (r.status === 401 && !opts.noSignIn) showSignIn();
    throw new ApiError(r.status, data);
  }
  return { status: r.status, data, headers: r.headers };
}

/* Every item of a paged list. */
async function listAll(path) {
  const out = [];
  let token = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const q = token ? `${sep}limit=200&page_token=${encodeURIComponent(token)}` : `${sep}limit=200`;
    const r = await api("GET", path + q);
    out.push(...r.data.items);
    token = r.data.next_page_token;
  } while (token);
  return out;
}

/* Asks in the #confirm dialog; resolves true when the user confirms. One
 * showing at a time: a dialog's "close" event is dispatched as a task after
 * it closes, so one that arrives while the dialog is open again belongs to
 * an earlier showing and is ignored, and a showing still pending when the
 * next starts resolves with the answer its dialog closed with. */
let confirmPending = null;

function confirmAction(title, text) {
  const dlg = document.getElementById("confirm");
  if (!dlg.dataset.wired) {
    dlg.dataset.wired = "1";
    dlg.addEventListener("close", () => {
      if (dlg.open || !confirmPending) return;
      const resolve = confirmPending;
      confirmPending = null;
      resolve(dlg.returnValue === "ok");
    });
  }
  if (confirmPending) {
    const resolve = confirmPending;
    confirmPending = null;
    resolve(!dlg.open && dlg.returnValue === "ok");
  }
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  dlg.returnValue = "";
  return new Promise((resolve) => {
    confirmPending = resolve;
    dlg.showModal();
  });
}

function notice(el, kind, text) {
  el.replaceChildren(h("div", { class: "notice " + kind, role: "status" }, text));
}

function stopLive() {
  if (S.es) { S.es.close(); S.es = null; }
  S.timers.forEach(clearInterval);
  S.timers = [];
  if (S.chart) { S.chart.destroy(); S.chart = null; }
  S.view = null;
}

/* ------------------------------------------------------------ sign-in */

async function whoAmI() {
  try {
    const r = await api("GET", "/v1/sessions/current", { noSignIn: true });
    S.who = r.data;
    S.csrf = r.data.csrf_token;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

function renderWho() {
  const who = document.getElementById("who");
  const out = document.getElementById("signout");
  if (!S.who) { who.textContent = ""; out.hidden = true; return; }
  who.textContent = S.who.auth === "none" ? "no sign-in (loopback)"
    : `${S.who.principal} · ${S.who.role}`;
  who.dataset.role = S.who.role;
  out.hidden = S.who.auth !== "session";
}

function showSignIn() {
  stopLive();
  S.who = null;
  S.csrf = null;
  renderWho();
  const msg = h("div");
  const input = h("input", { type: "password", id: "token", autocomplete: "off",
    placeholder: "token" });
  const form = h("form", { class: "panel signin", id: "signin", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/v1/sessions", { body: { token: input.value }, noSignIn: true });
      input.value = "";
      await whoAmI();
      renderWho();
      route();
    } catch (e) {
      notice(msg, "error", e.status === 401 ? "That token is not known." : e.message);
    }
  } },
  h("h2", {}, "Sign in"),
  h("p", { class: "muted" }, "Paste a token once; the browser keeps a session cookie."),
  input, h("button", { class: "primary", type: "submit" }, "Sign in"), msg);
  document.getElementById("main").replaceChildren(form);
  input.focus();
}

async function signOut() {
  try { await api("DELETE", "/v1/sessions/current", { noSignIn: true }); } catch (e) { /* gone */ }
  showSignIn();
}

/* ------------------------------------------------------------ runs list */

async function allRuns() {
  const projects = await listAll("/v1/projects");
  const names = Object.fromEntries(projects.map((p) => [p.id, p.name]));
  const lists = await Promise.all(projects.map((p) => listAll(`/v1/projects/${p.id}/runs`)));
  const runs = lists.flat();
  runs.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  return { runs, names };
}

async function viewRuns(params) {
  const state = params.get("state") || "";
  const main = document.getElementById("main");
  const select = h("select", { id: "state-filter", onchange: () => {
    location.hash = "#/runs" + (select.value ? "?state=" + select.value : "");
  } }, h("option", { value: "" }, "every state"),
  RUN_STATES.map((s) => h("option", { value: s, selected: s === state }, s.replace(/_/g, " "))));
  const inbox = h("div");
  const table = h("div");
  main.replaceChildren(
    h("h1", {}, "Runs"),
    h("section", { class: "panel inbox", id: "inbox" }, h("h2", {}, "Awaiting approval"), inbox),
    h("section", { class: "panel" },
      h("div", { class: "filters" }, h("label", { for: "state-filter" }, "State"), select),
      table));

  async function refresh() {
    const { runs, names } = await allRuns();
    const waiting = runs.filter((r) => r.state === "awaiting_approval");
    inbox.replaceChildren(waiting.length
      ? h("ul", {}, waiting.map((r) => h("li", {},
        h("a", { href: "#/run/" + r.id }, r.id), " · ", names[r.project_id] || r.project_id,
        " · waits at ", h("b", {}, r.current_step))))
      : h("p", { class: "muted" }, "Nothing waits for an approval."));
    const shown = state ? runs.filter((r) => r.state === state) : runs;
    table.replaceChildren(shown.length ? h("table", { id: "runs" },
      h("thead", {}, h("tr", {}, ["Run", "Project", "Plan", "Engine", "State", "Step",
        "Progress", "Created"].map((t) => h("th", {}, t)))),
      h("tbody", {}, shown.map((r) => h("tr", { "data-run": r.id },
        h("td", {}, h("a", { href: "#/run/" + r.id, class: "mono" }, r.id)),
        h("td", {}, names[r.project_id] || r.project_id),
        h("td", {}, r.plan), h("td", {}, r.engine), h("td", {}, badge(r.state)),
        h("td", {}, r.current_step || ""),
        h("td", {}, bar(r.progress_percent, r.state === "succeeded" ? "done" : "")),
        h("td", {}, fmtTime(r.created_at))))))
      : h("p", { class: "muted" }, state ? `No run is ${state.replace(/_/g, " ")}.` : "No runs yet."));
  }
  await refresh();
  S.timers.push(setInterval(() => refresh().catch(() => {}), 5000));
}

/* ------------------------------------------------------------ one run */

async function plan(id) {
  if (!S.plans[id]) S.plans[id] = (await api("GET", "/v1/plans/" + id)).data;
  return S.plans[id];
}

function eventSummary(e) {
  const d = e.data || {};
  switch (e.type) {
    case "run.state": return `run ${d.from || "-"} → ${d.to}` + (d.actor ? ` by ${d.actor}` : "");
    case "step.state": return `${d.step}: ${d.from || "-"} → ${d.to}` + (d.error ? ` (${d.error})` : "");
    case "step.retry": return `${d.step}: retry ${d.attempt || ""} ${d.error || ""}`;
    case "step.progress": return `${d.step}: ${d.percent !== undefined ? d.percent.toFixed(0) + " %" : ""} ${d.detail || ""}`;
    case "table.statistics": return `${(d.tables || []).length} tables` +
      (d.task_stats && d.task_stats.FullLoadProgressPercent !== undefined
        ? `, full load ${Number(d.task_stats.FullLoadProgressPercent).toFixed(0)} %` : "");
    case "engine.status": return [d.Status, d.StopReason,
      d.CDCLatencyTarget !== undefined ? `latency ${d.CDCLatencyTarget} s` : null,
      d.BytesBehind !== undefined ? `${fmtBytes(d.BytesBehind)} behind` : null]
      .filter(Boolean).join(", ");
    case "artifact.created": return d.name || "";
    case "step.waiting": return `${d.step || ""}: waiting for ${d.what || ""}${d.detail ? " (" + d.detail + ")" : ""}`;
    case "validation.progress": return `validation: ${d.chunks_pending} chunks left, ` +
      `${(d.tables || []).reduce((n, t) => n + (Array.isArray(t.mismatches) ? t.mismatches.length : t.mismatches || 0), 0)} mismatches`;
    default: return JSON.stringify(d).slice(0, 120);
  }
}

function renderSteps(v) {
  const run = v.run;
  const titles = Object.fromEntries((v.plan.steps || []).map((s) => [s.id, s.title || s.id]));
  const now = Date.now();
  v.el.steps.replaceChildren(h("ol", { class: "steps", id: "steps" }, run.steps.map((s) => {
    const dur = s.state === "running" || s.state === "waiting"
      ? (s.started_at ? now - Date.parse(s.started_at) : null) : s.duration_ms;
    return h("li", { "data-step": s.id, "data-state": s.state,
      class: s.id === run.current_step ? "current" : "" },
    h("span", { class: "dot s-" + s.state }),
    h("div", {},
      h("div", { class: "title" }, titles[s.id] || s.id, " ", h("span", { class: "muted mono" }, s.id)),
      h("div", { class: "meta" },
        [s.attempts ? `attempts ${s.attempts}` : null, dur ? fmtDuration(dur) : null,
          s.progress_percent !== null && s.progress_percent < 100 && s.state !== "pending"
            ? `${s.progress_percent.toFixed(0)} %` : null,
          s.approved_by ? `approved by ${s.approved_by}` : null].filter(Boolean).join(" · ")),
      s.last_error ? h("div", { class: "err" }, s.last_error) : null),
    badge(s.state));
  })));
}

function renderHeader(v) {
  const r = v.run;
  v.el.head.replaceChildren(
    h("h1", {}, "Run ", h("span", { class: "mono" }, r.id), " ", badge(r.state)),
    h("dl", { class: "kv" },
      h("dt", {}, "Plan"), h("dd", {}, r.plan), h("dt", {}, "Engine"), h("dd", {}, r.engine),
      h("dt", {}, "Current step"), h("dd", { id: "current-step" }, r.current_step || "—"),
      r.waiting_for ? h("dt", {}, "Waiting for") : null,
      r.waiting_for ? h("dd", { id: "waiting-for" }, r.waiting_for.what,
        r.waiting_for.detail ? ` (${r.waiting_for.detail})` : "",
        r.waiting_for.since ? h("span", { class: "muted" }, ` since ${fmtTime(r.waiting_for.since)}`) : "") : null,
      h("dt", {}, "Progress"), h("dd", { class: "progress" }, bar(r.progress_percent, r.state === "succeeded" ? "done" : ""),
        ` ${r.progress_percent.toFixed(0)} %`),
      h("dt", {}, "Project"), h("dd", {}, h("a", { href: "#/project/" + r.project_id }, r.project_id)),
      h("dt", {}, "Created"), h("dd", {}, `${fmtTime(r.created_at)} by ${r.created_by}`),
      r.error ? h("dt", {}, "Error") : null, r.error ? h("dd", { class: "err" }, r.error) : null));
  renderActions(v);
}

/* Operator actions: shown only to roles that may use them. */
function renderActions(v) {
  const r = v.run;
  v.el.actions.replaceChildren();
  if (!canOperate()) return;
  const btns = [];
  const act = (label, title, text, path, cls) => h("button", { class: cls || "", "data-action": label,
    onclick: async () => {
      if (!(await confirmAction(title, text))) return;
      try {
        await api("POST", `/v1/runs/${r.id}${path}`);
        notice(v.el.msg, "ok", `${title}: done.`);
        scheduleReload(v);
      } catch (e) { notice(v.el.msg, "error", `${title}: ${e.message}`); }
    } }, label);
  if (["pending", "running", "awaiting_approval"].includes(r.state))
    btns.push(act("Pause", "Pause the run", "The current step finishes its attempt; nothing else starts until you resume.", "/pause"));
  if (r.state === "paused")
    btns.push(act("Resume", "Resume the run", "The run goes on from its current step.", "/resume", "primary"));
  if (r.state === "awaiting_approval" && r.current_step !== "cutover_gate")
    btns.push(act("Approve " + r.current_step, "Approve " + r.current_step,
      `Step ${r.current_step} succeeds and the run goes on.`, `/steps/${r.current_step}/approve`, "primary"));
  const failed = r.steps.find((s) => s.state === "failed");
  if (r.state === "failed" && failed)
    btns.push(act("Retry " + failed.id, "Retry " + failed.id,
      `Step ${failed.id} runs again with its attempts reset.`, `/steps/${failed.id}/retry`, "primary"));
  if (!TERMINAL.has(r.state))
    btns.push(act("Cancel", "Cancel the run", "The run stops for good and its replication objects are removed.", "/cancel", "danger"));
  v.el.actions.replaceChildren(h("div", { class: "actions", id: "actions" }, btns));
}

/* The cutover readiness and, for operators, the approve button that sends
 * the ETag of the checks shown. */
async function loadReadiness(v) {
  const r = v.run;
  if (!r.steps.some((s) => s.id === "cutover_gate")) { v.el.ready.hidden = true; return; }
  v.el.ready.hidden = false;
  const res = await api("GET", `/v1/runs/${r.id}/readiness`);
  v.readiness = res.data;
  v.readinessEtag = res.headers.get("ETag");
  const rd = res.data;
  const msg = h("div", { id: "readiness-msg" });
  const gate = r.steps.find((s) => s.id === "cutover_gate");
  const approve = canOperate() && r.state === "awaiting_approval" && r.current_step === "cutover_gate"
    ? h("button", { class: "primary", id: "approve-cutover", "data-etag": v.readinessEtag,
      onclick: async () => {
        const failing = rd.checks.filter((c) => c.pass === false).map((c) => c.title);
        const ok = await confirmAction("Approve the cutover",
          failing.length ? `These checks fail: ${failing.join(", ")}. Approve anyway?`
            : "Every applicable check passes. The final sync starts and the source is cut over.");
        if (!ok) return;
        try {
          await api("POST", `/v1/runs/${r.id}/steps/cutover_gate/approve`,
            { headers: { "If-Match": v.readinessEtag } });
          notice(v.el.msg, "ok", "Cutover approved.");
          scheduleReload(v);
        } catch (e) {
          if (e.status === 412) {
            await loadReadiness(v);
            notice(document.getElementById("readiness-msg"), "error",
              "The readiness changed since you looked: review the checks again.");
          } else notice(msg, "error", e.message);
        }
      } }, "Approve cutover") : null;
  v.el.ready.replaceChildren(
    h("h2", {}, "Cutover readiness ",
      h("span", { id: "ready-verdict", class: rd.ready ? "ready-yes" : "ready-no" },
        rd.ready ? "ready" : "not ready")),
    h("p", { class: "muted" }, `checked ${fmtTime(rd.checked_at)}`,
      gate && gate.approved_by ? ` · approved by ${gate.approved_by}` : ""),
    h("table", { id: "readiness" },
      h("thead", {}, h("tr", {}, ["Check", "Figure", "Threshold", "", "Detail"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rd.checks.map((c) => h("tr", { "data-check": c.id, "data-status": c.status },
        h("td", {}, c.title),
        h("td", { class: "mono" }, c.figure === null ? "—" : c.unit === "bytes" ? fmtBytes(c.figure)
          : `${typeof c.figure === "number" ? +c.figure.toFixed(3) : c.figure}${c.unit && c.unit !== "bytes" ? " " + c.unit : ""}`),
        h("td", { class: "mono" }, c.threshold === null ? "" : String(c.threshold)),
        h("td", {}, badge(c.status)),
        h("td", { class: "muted" }, c.detail))))),
    h("div", { class: "actions", style: "margin-top:10px" },
      h("button", { id: "recheck", onclick: () => loadReadiness(v).catch((e) => notice(msg, "error", e.message)) }, "Check again"),
      approve),
    msg);
}

function latestTables(v) {
  return (v.tables && v.tables.tables) || [];
}

function renderTables(v) {
  const rows = latestTables(v);
  if (!rows.length) {
    v.el.tables.replaceChildren(h("h2", {}, "Tables"), h("p", { class: "muted" }, "No table statistics yet."));
    return;
  }
  const maxRows = Math.max(1, ...rows.map((t) => t.FullLoadRows || 0));
  v.el.tables.replaceChildren(h("h2", {}, "Tables"), h("table", { id: "tables" },
    h("thead", {}, h("tr", {}, ["Table", "State", "Full load rows", "", "Inserts", "Updates", "Deletes"]
      .map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((t) => {
      const done = t.TableState === "Table completed";
      const pct = done ? 100 : t.TableState === "Full load" ? 100 * (t.FullLoadRows || 0) / maxRows : 0;
      return h("tr", { "data-table": `${t.SchemaName}.${t.TableName}` },
        h("td", { class: "mono" }, `${t.SchemaName}.${t.TableName}`),
        h("td", {}, t.TableState || ""),
        h("td", {}, String(t.FullLoadRows || 0)),
        h("td", {}, bar(pct, done ? "done" : t.TableState === "Full load" ? "loading" : "")),
        h("td", {}, String(t.Inserts || 0)), h("td", {}, String(t.Updates || 0)),
        h("td", {}, String(t.Deletes || 0)));
    }))));
}

function renderChart(v) {
  const now = Date.now() / 1000;
  const pts = v.cdc.filter((p) => p[0] >= now - CHART_WINDOW_S);
  const box = v.el.chartBox;
  if (!pts.length) {
    if (S.chart) { S.chart.destroy(); S.chart = null; }
    box.replaceChildren(h("div", { class: "chart-empty" }, "No CDC latency reported yet."));
    return;
  }
  const data = [pts.map((p) => p[0]), pts.map((p) => p[1]), pts.map((p) => p[2])];
  if (S.chart) { S.chart.setData(data); return; }
  box.replaceChildren();
  const width = Math.max(300, box.clientWidth || 560);
  S.chart = new uPlot({
    width, height: 200,
    scales: { x: { time: true }, s: {}, b: {} },
    series: [{},
      { label: "CDC latency (s)", scale: "s", stroke: "#2563eb", width: 2, points: { show: pts.length < 40 } },
      { label: "Bytes behind", scale: "b", stroke: "#b45309", width: 2, dash: [6, 4],
        value: (u, x) => (x === null ? "" : fmtBytes(x)) }],
    axes: [{}, { scale: "s", label: "latency (s)" }, { scale: "b", side: 1, size: 80,
      grid: { show: false }, values: (u, vals) => vals.map(fmtBytes) }],
  }, data, box);
}

function renderTail(v) {
  const rows = v.events.slice(-TAIL).reverse();
  v.el.tail.replaceChildren(h("h2", {}, h("span", { class: "live" + (S.es ? "" : " off"), id: "live-dot" }),
    "Events"), h("div", { class: "tail" }, h("table", { id: "events" }, h("tbody", {},
    rows.map((e) => h("tr", { "data-event": e.id },
      h("td", { class: "mono muted" }, String(e.id)),
      h("td", { class: "muted" }, e.created_at ? fmtTime(e.created_at) : ""),
      h("td", {}, e.type), h("td", {}, eventSummary(e))))))));
}

async function renderArtifacts(v) {
  const list = (await api("GET", `/v1/runs/${v.run.id}/artifacts`)).data.items;
  v.el.arts.replaceChildren(h("h2", {}, "Artifacts"), list.length
    ? h("ul", { id: "artifacts" }, list.map((a) => h("li", {},
      h("a", { href: `/v1/runs/${v.run.id}/artifacts/${encodeURIComponent(a.name)}`, download: a.name }, a.name),
      h("span", { class: "muted" }, ` · ${a.step_id || ""} · ${fmtBytes(a.size)}`))))
    : h("p", { class: "muted" }, "None yet."));
}

function takeEvent(v, e) {
  if (v.seen.has(e.id)) return;
  v.seen.add(e.id);
  v.events.push(e);
  if (v.events.length > 500) v.events.splice(0, v.events.length - 500);
  const d = e.data || {};
  if (e.type === "table.statistics" && (!d.task || d.task === "main")) v.tables = d;
  if (e.type === "engine.status" && typeof d.CDCLatencyTarget === "number" && (!d.task || d.task === "main")) {
    const t = e.created_at ? Date.parse(e.created_at) / 1000 : Date.now() / 1000;
    v.cdc.push([t, d.CDCLatencyTarget, d.BytesBehind === undefined ? null : d.BytesBehind]);
  }
}

/* Reads the run; the readiness (which may query the source) only when the
 * run reaches another step or state, or on "Check again". */
async function loadRun(v) {
  v.run = (await api("GET", "/v1/runs/" + v.id)).data;
  v.plan = await plan(v.run.plan);
  renderHeader(v);
  renderSteps(v);
  const at = v.run.state + "/" + v.run.current_step;
  if (at !== v.readinessAt) {
    v.readinessAt = at;
    await loadReadiness(v);
  }
}

/* Re-reads the run after a burst of events. One read at a time, so that an
 * older answer never overwrites a newer one; events that arrive meanwhile
 * cause one more read. */
function scheduleReload(v, artifacts) {
  if (artifacts) v.artsDirty = true;
  v.dirty = true;
  if (v.reloading) return;
  v.reloading = true;
  (async () => {
    while (v.dirty && S.view === v) {
      v.dirty = false;
      await new Promise((r) => setTimeout(r, 150)); // gather a burst
      try {
        await loadRun(v);
        if (v.artsDirty) { v.artsDirty = false; await renderArtifacts(v); }
      } catch (e) {
        console.warn("reading the run again failed:", e.message);
      }
    }
    v.reloading = false;
  })();
}

async function viewRun(id) {
  const main = document.getElementById("main");
  const el = {
    head: h("div"), actions: h("div"), msg: h("div", { id: "run-msg" }),
    steps: h("div"), ready: h("section", { class: "panel", id: "readiness-panel", hidden: true }),
    tables: h("section", { class: "panel" }), chartBox: h("div", { id: "chart" }),
    tail: h("section", { class: "panel" }), arts: h("section", { class: "panel" }),
  };
  const v = { id, el, events: [], seen: new Set(), cdc: [], tables: null };
  S.view = v;
  main.replaceChildren(
    h("section", { class: "panel" }, el.head, el.actions, el.msg),
    el.ready,
    h("div", { class: "grid" },
      h("section", { class: "panel" }, h("h2", {}, "Steps"), el.steps),
      h("div", {},
        h("section", { class: "panel" }, h("h2", {}, "CDC latency and bytes behind"), el.chartBox),
        el.tables)),
    h("div", { class: "grid", style: "margin-top:14px" }, el.tail, el.arts));
  await loadRun(v);
  // history first (JSON pages), then the live stream from where it ended
  let after = 0;
  for (;;) {
    const page = (await api("GET", `/v1/runs/${id}/events?after=${after}&limit=1000`)).data;
    page.items.forEach((e) => takeEvent(v, e));
    after = page.next_after;
    if (!page.more) break;
  }
  renderTables(v);
  renderChart(v);
  renderTail(v);
  await renderArtifacts(v);
  if (S.view !== v) return;
  const es = new EventSource(`/v1/runs/${id}/events?after=${after}`);
  S.es = es;
  const types = ["run.state", "step.state", "step.retry", "step.progress", "step.waiting",
    "artifact.created", "table.statistics", "engine.status", "validation.progress",
    "validation.mismatch", "run.cleanup"];
  for (const t of types) {
    es.addEventListener(t, (m) => {
      const e = { id: Number(m.lastEventId), type: t, data: JSON.parse(m.data), created_at: new Date().toISOString() };
      takeEvent(v, e);
      renderTail(v);
      if (t === "table.statistics") renderTables(v);
      else if (t === "engine.status") renderChart(v);
      else scheduleReload(v, t === "artifact.created");
    });
  }
  // the run was read before its history: read it again, now that every
  // later change arrives through the stream
  scheduleReload(v);
  es.onopen = () => { const d = document.getElementById("live-dot"); if (d) d.className = "live"; };
  es.onerror = () => { const d = document.getElementById("live-dot"); if (d) d.className = "live off"; };
  // running steps show their elapsed time
  S.timers.push(setInterval(() => { if (v.run) renderSteps(v); }, 1000));
}

/* ------------------------------------------------------------ projects */

async function viewProjects() {
  const projects = await listAll("/v1/projects");
  document.getElementById("main").replaceChildren(h("h1", {}, "Projects"), h("section", { class: "panel" },
    projects.length ? h("table", { id: "projects" },
      h("thead", {}, h("tr", {}, ["Name", "Id", "Default engine", "Created"].map((t) => h("th", {}, t)))),
      h("tbody", {}, projects.map((p) => h("tr", {},
        h("td", {}, h("a", { href: "#/project/" + p.id }, p.name)),
        h("td", { class: "mono" }, p.id), h("td", {}, p.default_engine || ""),
        h("td", {}, fmtTime(p.created_at))))))
      : h("p", { class: "muted" }, "No projects yet.")));
}

function simpleTable(id, cols, rows) {
  if (!rows.length) return h("p", { class: "muted" }, "None.");
  return h("table", { id }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c[0])))),
    h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", {}, c[1](r)))))));
}

async function viewProject(id) {
  const [p, eps, insts, tasks, runs] = await Promise.all([
    api("GET", "/v1/projects/" + id).then((r) => r.data),
    listAll(`/v1/projects/${id}/endpoints`), listAll(`/v1/projects/${id}/replication-instances`),
    listAll(`/v1/projects/${id}/tasks`), listAll(`/v1/projects/${id}/runs`)]);
  const epName = Object.fromEntries(eps.map((e) => [e.id, e.name]));
  // endpoints: connection details only; passwords are never returned by the API
  document.getElementById("main").replaceChildren(
    h("h1", {}, "Project ", p.name),
    h("section", { class: "panel" }, h("h2", {}, "Endpoints"), simpleTable("endpoints", [
      ["Name", (e) => e.name], ["Role", (e) => e.role], ["Engine", (e) => e.engine],
      ["Host", (e) => `${e.host || ""}${e.port ? ":" + e.port : ""}`], ["Database", (e) => e.database || ""],
      ["User", (e) => e.username || ""], ["Password", (e) => (e.password_set ? "set" : "not set")]], eps)),
    h("section", { class: "panel" }, h("h2", {}, "Replication instances"), simpleTable("instances", [
      ["Name", (i) => i.name], ["Class", (i) => i.replication_instance_class || ""],
      ["Storage (GiB)", (i) => String(i.allocated_storage || "")], ["Status", (i) => i.status || ""]], insts)),
    h("section", { class: "panel" }, h("h2", {}, "Tasks"), simpleTable("tasks", [
      ["Name", (t) => t.name], ["Migration type", (t) => t.migration_type || ""],
      ["Source", (t) => epName[t.source_endpoint_id] || t.source_endpoint_id || ""],
      ["Target", (t) => epName[t.target_endpoint_id] || t.target_endpoint_id || ""],
      ["Status", (t) => t.status || ""]], tasks)),
    h("section", { class: "panel" }, h("h2", {}, "Runs"), simpleTable("project-runs", [
      ["Run", (r) => h("a", { href: "#/run/" + r.id, class: "mono" }, r.id)], ["Plan", (r) => r.plan],
      ["State", (r) => badge(r.state)], ["Created", (r) => fmtTime(r.created_at)]], runs)));
}

/* ------------------------------------------------------------ routing */

async function route() {
  stopLive();
  const hash = location.hash.replace(/^#/, "") || "/runs";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  document.querySelectorAll("[data-nav]").forEach((a) =>
    a.classList.toggle("active", a.dataset.nav === (parts[0] === "project" ? "projects" : parts[0] === "run" ? "runs" : parts[0])));
  if (!S.who) { showSignIn(); return; }
  try {
    if (parts[0] === "run" && parts[1]) await viewRun(parts[1]);
    else if (parts[0] === "projects") await viewProjects();
    else if (parts[0] === "project" && parts[1]) await viewProject(parts[1]);
    else await viewRuns(params);
  } catch (e) {
    if (e.status !== 401)
      notice(document.getElementById("main"), "error", e.message);
  }
}

async function start() {
  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  if (await whoAmI()) {
    renderWho();
    await route();
  } else {
    showSignIn();
  }
}

start().catch((e) => notice(document.getElementById("main"), "error", e.message));
