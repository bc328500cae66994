// The figkit dashboard: polls /api/overview and changes routes through the admin API.
// Everything shown is set with textContent: a route name or a sample is never markup.
"use strict";

const POLL_MS = 2000;
const MODES = ["monolith", "shadow", "canary", "service"];
let csrf = null;
let timer = null;
const rows = new Map(); // route name -> {tr, cells, actions}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "width") node.style.width = v; // CSSOM: allowed under the page's CSP
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function pct(x) { return (100 * x).toFixed(1) + "%"; }

function say(text, ok) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = ok ? "ok" : "error";
}

async function call(method, path, body) {
  const headers = {"Content-Type": "application/json"};
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await resp.json(); } catch (e) { data = {detail: resp.statusText}; }
  if (resp.status === 401) { showLogin(); }
  return {ok: resp.ok, status: resp.status, data};
}

async function change(what, method, path, body) {
  const why = document.getElementById("why").value.trim();
  if (!why) { say("Say why first: every change is audited.", false); return; }
  const result = await call(method, path, {...body, why});
  if (result.ok) {
    say(`${what}: done, route table at version ${result.data.version}`, true);
    await refresh();
  } else {
    say(`${what}: ${result.data.detail || result.data.error} (HTTP ${result.status})`, false);
  }
}

function modeText(route) {
  const policy = route.policy || {};
  const canary = (policy.options || {}).canary;
  if (policy.mode === "canary" && canary) return `canary ${canary.percent}%`;
  return policy.mode || "monolith";
}

function trafficCell(route) {
  const cell = el("td");
  const targets = (route.stats && route.stats.targets) || {};
  const names = Object.keys(targets);
  if (!names.length) { cell.append(el("span", {class: "muted", text: "no traffic yet"})); return cell; }
  for (const name of names) {
    const t = targets[name];
    const line = el("div", {class: "target", "data-target": name});
    line.append(el("span", {class: "bar-chart", width: `${Math.round(60 * t.share)}px`}));
    line.append(` ${name}: ${t.requests} req (${pct(t.share)}), errors ${pct(t.error_rate)}, ` +
      `p50 ${t.p50_ms.toFixed(1)} ms, p99 ${t.p99_ms.toFixed(1)} ms, breaker `);
    line.append(el("span", {class: "breaker-" + t.breaker, text: t.breaker}));
    cell.append(line);
  }
  return cell;
}

function shadowCell(route) {
  const cell = el("td", {class: "shadow"});
  const s = route.shadow;
  if (!s) { cell.append(el("span", {class: "muted", text: "-"})); return cell; }
  cell.append(el("div", {class: "shadow-rate",
    text: `${s.mismatched} of ${s.compared} mismatched (${pct(s.mismatch_rate)}), ` +
          `${s.shadow_errors} errors, ${s.dropped} dropped`}));
  if (s.noise.length) cell.append(el("div", {class: "muted", text: "noise: " + s.noise.join(", ")}));
  for (const sample of s.samples) {
    cell.append(el("div", {class: "sample",
      text: `${sample.method} ${sample.target} ${sample.path}: monolith ${JSON.stringify(sample.monolith)}` +
            ` / service ${JSON.stringify(sample.service)}`}));
  }
  return cell;
}

function actionsCell(name) {
  const cell = el("td");
  const box = el("div", {class: "actions"});
  const select = el("select", {class: "mode-select", "aria-label": "mode"});
  for (const m of MODES) select.append(el("option", {value: m, text: m}));
  const percent = el("input", {type: "number", min: "0", max: "100", step: "any", value: "5",
                               class: "percent", "aria-label": "canary percent"});
  const setMode = el("button", {type: "button", class: "set-mode", text: "Set mode"});
  setMode.onclick = () => {
    const body = {mode: select.value};
    if (select.value === "canary") body.options = {canary: {percent: Number(percent.value)}};
    change(`${name} -> ${select.value}`, "PATCH", `/api/routes/${encodeURIComponent(name)}`, body);
  };
  const promote = el("button", {type: "button", class: "promote", text: "Promote"});
  promote.onclick = () => change(`promote ${name}`, "POST",
                                 `/api/routes/${encodeURIComponent(name)}/promote`, {});
  const delay = el("input", {type: "number", min: "0", value: "0", class: "fault-delay", "aria-label": "fault delay ms"});
  const abort = el("input", {type: "number", min: "0", value: "0", class: "fault-abort", "aria-label": "fault abort status"});
  const share = el("input", {type: "number", min: "0", max: "100", value: "100", class: "fault-percent", "aria-label": "fault percent"});
  const faultOn = el("button", {type: "button", class: "fault-on", text: "Fault on"});
  faultOn.onclick = () => {
    const settings = {percent: Number(share.value)};
    if (Number(delay.value) > 0) settings.delay_ms = Number(delay.value);
    if (Number(abort.value) > 0) settings.abort = Number(abort.value);
    change(`fault on ${name}`, "PATCH", `/api/routes/${encodeURIComponent(name)}`, {options: {fault: settings}});
  };
  const faultOff = el("button", {type: "button", class: "fault-off", text: "Fault off"});
  faultOff.onclick = () => change(`fault off ${name}`, "PATCH", `/api/routes/${encodeURIComponent(name)}`,
                                  {options: {fault: null}});
  const rollback = el("button", {type: "button", class: "rollback", text: "Rollback"});
  rollback.onclick = () => change(`rollback ${name}`, "POST", "/api/rollback", {route: name});
  box.append(select, percent, setMode, promote, "delay ms", delay, "abort", abort, "%", share,
             faultOn, faultOff, rollback);
  cell.append(box);
  return cell;
}

function render(data) {
  document.getElementById("version").textContent = `(table version ${data.version})`;
  const body = document.querySelector("#routes tbody");
  const seen = new Set();
  for (const route of data.routes) {
    seen.add(route.name);
    let row = rows.get(route.name);
    if (!row) {
      const tr = el("tr", {"data-route": route.name});
      const actions = actionsCell(route.name);
      const policy = route.policy || {};
      actions.querySelector("select.mode-select").value = policy.mode || "monolith";
      const canary = (policy.options || {}).canary;
      if (canary) actions.querySelector("input.percent").value = String(canary.percent);
      row = {tr, actions};
      rows.set(route.name, row);
    }
    const mode = (route.policy || {}).mode || "monolith";
    const fault = ((route.policy || {}).options || {}).fault;
    const modeCell = el("td", {class: `mode mode-${mode}`, text: modeText(route)});
    if (fault) modeCell.append(el("div", {class: "error", text: "fault: " + JSON.stringify(fault)}));
    row.tr.replaceChildren(
      el("td", {class: "name", text: route.name}),
      el("td", {text: route.match + (route.methods.length ? ` [${route.methods.join(",")}]` : "")}),
      modeCell, trafficCell(route), shadowCell(route), row.actions);
    body.append(row.tr);
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
  }
  const history = document.querySelector("#history tbody");
  history.replaceChildren(...data.history.map((c) => el("tr", {},
    el("td", {text: String(c.version)}), el("td", {text: c.at}), el("td", {text: c.route}),
    el("td", {text: c.who}), el("td", {class: "action", text: c.action}), el("td", {text: c.why}),
    el("td", {text: c.after ? modeText(c.after) : "(removed)"}))));
  document.getElementById("live").textContent = "live, updated " + new Date().toLocaleTimeString();
}

async function refresh() {
  const result = await call("GET", "/api/overview");
  if (result.ok) render(result.data);
  else if (result.status !== 401) document.getElementById("live").textContent = "not updated: " + (result.data.detail || result.status);
}

function showLogin() {
  clearInterval(timer);
  csrf = null;
  document.getElementById("main").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("who").textContent = "";
}

function showMain(session) {
  csrf = session.csrf;
  document.getElementById("login").hidden = true;
  document.getElementById("main").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `as ${session.name} (${session.scope})`;
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = document.getElementById("token");
    const result = await call("POST", "/dashboard/login", {token: token.value});
    token.value = "";
    if (result.ok) { document.getElementById("login-error").textContent = ""; showMain(result.data); }
    else document.getElementById("login-error").textContent = result.data.detail || "login failed";
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await call("POST", "/dashboard/logout", {});
    showLogin();
  });
  const session = await call("GET", "/dashboard/session");
  if (session.ok && session.data.logged_in) showMain(session.data); else showLogin();
});
