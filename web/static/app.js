// Gamsi status page (감시 현황). No framework, no build step: one file served by Gamsi.
// Every field value (host, item, instance, watch, reason) goes through esc() before it
// reaches innerHTML, in text and in attributes alike.
"use strict";

const LEVELS = [["정상", "normal"], ["무해", "harmless"], ["주의", "caution"],
  ["위험", "danger"], ["긴급", "urgent"], ["치명", "fatal"]];
// Level numbers as well as colours: readable without colour vision or a Hangul font.
const GLYPH = ["·", "1", "2", "3", "4", "5"];
const SEP = "\u0000";
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
const $ = (sel) => document.querySelector(sel);
const gamsi = (window.gamsi = { stats: {} });

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, { credentials: "same-origin", ...opts });
  if (res.status === 401) { location.href = "/login"; throw new Error("sign in first"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

// ---- overview -------------------------------------------------------------------
const state = { seq: 0, hosts: {}, cells: new Map(), group: new Map(), items: new Map(), tds: new Map(),
  rows: new Map(), order: [], source: null,
  timer: null, dirty: false };

function label(sev) { return `${LEVELS[sev][0]} ${LEVELS[sev][1]}`; }

function globRe(glob) {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

function filters() {
  const f = new FormData($("#filters"));
  const name = (f.get("name") || "").trim();
  return { sev: Number(f.get("sev") || 0), tag: f.get("tag") || "", os: f.get("os") || "",
    name: name ? globRe(name.includes("*") || name.includes("?") ? name : `*${name}*`) : null };
}

function groups() {
  // host -> item -> [rows]; and each host's worst level
  const byHost = new Map();
  for (const row of state.cells.values()) {
    let items = byHost.get(row[0]);
    if (!items) byHost.set(row[0], (items = new Map()));
    const list = items.get(row[1]);
    if (list) list.push(row); else items.set(row[1], [row]);
  }
  return byHost;
}

function index(key, row) {
  const g = row[0] + SEP + row[1];
  let m = state.group.get(g);
  if (!m) state.group.set(g, (m = new Map()));
  m.set(key, row);
  let items = state.items.get(row[0]);
  if (!items) state.items.set(row[0], (items = new Set()));
  items.add(row[1]);
}

function worstOf(rows) {
  let worst = 0;
  for (const r of rows) worst = Math.max(worst, r[3]);
  return worst;
}

// A cell's tooltip is made when the mouse reaches it: 20,000 of them up front cost
// more than the rest of the grid.
function tooltip(host, item) {
  const rows = [...(state.group.get(host + SEP + item) || new Map()).values()];
  return `${host} ${item}\n` + rows.map((r) => `${r[2] || "(host)"}: ${label(r[3])}` +
    (r[3] ? ` ${r[5] ?? ""} (${r[4]})${r[8] ? ` acked by ${r[8]}` : ""}` : "")).join("\n");
}

function hostWorst(host) {
  let worst = 0;
  for (const item of state.items.get(host) || []) {
    worst = Math.max(worst, worstOf(state.group.get(host + SEP + item).values()));
  }
  return worst;
}

function counts() {
  const n = [0, 0, 0, 0, 0, 0];
  for (const row of state.cells.values()) n[row[3]] += 1;
  $("#counts").innerHTML = n.map((c, i) => `<button class="count s${i}" data-sev="${i}">` +
    `<span class=g>${GLYPH[i]}</span> ${LEVELS[i][0]} <small>${LEVELS[i][1]}</small> ` +
    `<b>${c}</b></button>`).join("");
}

function render() {
  const t0 = performance.now();
  const f = filters();
  const byHost = groups();
  const shown = [];
  const items = new Set();
  for (const [host, its] of byHost) {
    const [os, tags] = state.hosts[host] || ["", []];
    if (f.os && os !== f.os) continue;
    if (f.tag && !tags.includes(f.tag)) continue;
    if (f.name && !f.name.test(host)) continue;
    const worst = hostWorst(host);
    if (worst < f.sev) continue;
    shown.push([worst, host, its]);
    for (const item of its.keys()) items.add(item);
  }
  shown.sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const cols = [...items].sort();
  state.tds = new Map();
  state.rows = new Map();
  state.order = shown.map(([w, h]) => [w, h]);
  // Rows are flex <div>s, not a <table>: the browser skips laying out rows off screen
  // (content-visibility), which table rows do not allow. bench/web_overview.py measures it.
  const html = [`<div class=matrix><div class=hdr><span class=hn>서버 Server</span>`];
  for (const c of cols) html.push(`<span class=ih title="${esc(c)}">${esc(c)}</span>`);
  html.push("</div>");
  let n = 0;
  for (const [worst, host, its] of shown) {
    const rid = `r${state.rows.size}`;
    state.rows.set(host, rid);
    html.push(`<div id=${rid} class="r w${worst}"><a class=hn href="/host/${esc(encodeURIComponent(host))}"` +
      ` title="${esc(host)}">${esc(host)}</a>`);
    for (const c of cols) {
      const rows = its.get(c);
      if (!rows) { html.push("<i class=x></i>"); continue; }
      const sev = worstOf(rows);
      const id = `g${n++}`;
      state.tds.set(host + SEP + c, id);
      html.push(`<i id=${id} class="c s${sev}" data-host="${esc(host)}" data-item="${esc(c)}"` +
        ` data-sev=${sev}>${GLYPH[sev]}</i>`);
    }
    html.push("</div>");
  }
  html.push("</div>");
  $("#grid").innerHTML = shown.length ? html.join("") :
    `<p class=empty>${state.cells.size ? "no server matches the filters" : "nothing is watched yet"}</p>`;
  counts();
  state.dirty = false;
  gamsi.stats.renderMs = performance.now() - t0;
}

function options() {
  const tags = new Set();
  const oses = new Set();
  for (const [os, ts] of Object.values(state.hosts)) { if (os) oses.add(os); ts.forEach((t) => tags.add(t)); }
  for (const [name, values] of [["tag", tags], ["os", oses]]) {
    const sel = $(`#filters [name=${name}]`);
    const keep = sel.value;
    sel.innerHTML = `<option value="">(all)</option>` +
      [...values].sort().map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
    sel.value = keep;
  }
}

function update(row) {
  const key = row.slice(0, 3).join(SEP);
  const old = state.cells.get(key);
  state.cells.set(key, row);
  index(key, row);
  if (!state.hosts[row[0]]) state.hosts[row[0]] = ["", []];
  const id = state.tds.get(row[0] + SEP + row[1]);
  const td = id && document.getElementById(id);
  if (!td) { state.dirty = true; return; }
  const sev = worstOf(state.group.get(row[0] + SEP + row[1]).values());
  if (Number(td.dataset.sev) !== sev) {
    td.className = `c s${sev}`;
    td.dataset.sev = sev;
    td.textContent = GLYPH[sev];
    move(row[0], hostWorst(row[0]));
  }
  td.removeAttribute("title"); // made again when the mouse reaches it
  gamsi.stats.lastUpdate = performance.now();
}

// Keep servers worst first as levels change: move the one row, never redraw 20,000 cells.
function move(host, worst) {
  const at = state.order.findIndex((o) => o[1] === host);
  if (at < 0 || state.order[at][0] === worst) return;
  if (worst < filters().sev) { state.dirty = true; return; } // it leaves the filtered view
  state.order.splice(at, 1);
  let to = state.order.findIndex((o) => o[0] < worst || (o[0] === worst && o[1] > host));
  if (to < 0) to = state.order.length;
  state.order.splice(to, 0, [worst, host]);
  const el = document.getElementById(state.rows.get(host));
  el.className = `r w${worst}`;
  const next = to + 1 < state.order.length ? document.getElementById(state.rows.get(state.order[to + 1][1])) : null;
  el.parentNode.insertBefore(el, next);
}

async function load() {
  for (;;) {
    try {
      const snap = await api("/api/cells");
      state.seq = snap.seq;
      state.hosts = snap.hosts;
      state.cells = new Map(snap.cells.map((r) => [r.slice(0, 3).join(SEP), r]));
      state.group = new Map();
      state.items = new Map();
      for (const [key, row] of state.cells) index(key, row);
      break;
    } catch (err) {
      $("#live").textContent = `waiting: ${err.message}`;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  options();
  render();
  document.body.dataset.ready = "1";
  gamsi.stats.firstRender = performance.now();
  requestAnimationFrame(() => setTimeout(() => { gamsi.stats.painted = performance.now(); }));
  follow();
}

function follow() {
  if (state.source) state.source.close();
  const source = (state.source = new EventSource(`/api/stream?after=${state.seq}`));
  source.onopen = () => { $("#live").textContent = "live 실시간"; $("#live").className = "live on"; };
  source.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "live"; };
  source.addEventListener("cell", (ev) => {
    state.seq = Number(ev.lastEventId) || state.seq;
    update(JSON.parse(ev.data));
    counts();
  });
  source.addEventListener("host", (ev) => {
    state.seq = Number(ev.lastEventId) || state.seq;
    const h = JSON.parse(ev.data);
    state.hosts[h.host] = [h.os, h.tags];
    options();
    state.dirty = true; // filters by OS and tag see it at the next redraw
  });
  source.addEventListener("reset", () => { source.close(); load(); });
}

async function unregistered() {
  const list = $("#unreg-list");
  try {
    const data = await api("/api/unregistered");
    if (!data.hosts.length) { list.innerHTML = "<p class=empty>every reported item is registered</p>"; return; }
    list.innerHTML = data.hosts.map((h) => `<div class=unreg data-host="${esc(h.host)}">` +
      `<h3><a href="/host/${esc(encodeURIComponent(h.host))}">${esc(h.host)}</a> ` +
      `<small>${esc(h.os || "?")} · ${h.registered}/${h.expected} registered</small> ` +
      `<button class=register data-host="${esc(h.host)}">기본값으로 등록 Register with the defaults</button></h3>` +
      `<ul>${h.unregistered.map((g) => `<li>미등록 <b>${esc(g.item)}</b> ${esc(g.instance)} — ` +
        `${esc(g.reason)} <small>(default: ${esc(g.default)})</small></li>`).join("")}</ul></div>`).join("");
  } catch (err) {
    list.innerHTML = `<p class=msg>${esc(err.message)}</p>`;
  }
}

function overviewPage() {
  $("#legend").innerHTML = "Each cell is a server × item, its worst instance: " +
    LEVELS.map((l, i) => `<span class="c s${i}">${GLYPH[i]}</span> ${l[0]} ${l[1]}`).join(" · ");
  $("#filters").addEventListener("input", render);
  $("#grid").addEventListener("mouseover", (ev) => {
    const c = ev.target.closest(".c[data-host]");
    if (c && !c.title) c.title = tooltip(c.dataset.host, c.dataset.item);
  });
  $("#filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("#counts").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-sev]");
    if (b) { $("#filters [name=sev]").value = b.dataset.sev; render(); }
  });
  $("#unregistered").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button.register");
    if (!b) return;
    b.disabled = true;
    try {
      const r = await api(`/api/register/${encodeURIComponent(b.dataset.host)}`, {});
      $("#unreg-msg").textContent = `${r.host}: ${r.registered} watches registered in ${r.file}; ` +
        `now ${r.now_registered}/${r.expected} registered (applied live)`;
    } catch (err) {
      $("#unreg-msg").textContent = `not registered: ${err.message}`;
    }
    await unregistered();
  });
  setInterval(() => { if (state.dirty) render(); }, 2000);
  load();
  unregistered();
  setInterval(unregistered, 60000); // a new server's items show up without a reload
}

// ---- timeline, login ------------------------------------------------------------
function timelinePage() {
  // Live: a changed cell means a new event or ack; the list is fetched again shortly
  // after and swapped in place (no reload: the operator's name and focus stay).
  let pending = null;
  let acking = false;
  const refresh = async () => {
    pending = null;
    if (acking) { soon(); return; }
    const res = await fetch(location.href, { credentials: "same-origin" });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById("live-part");
    if (fresh) $("#live-part").replaceWith(document.adoptNode(fresh));
  };
  const soon = () => { if (!pending) pending = setTimeout(refresh, 1000); };
  const source = new EventSource("/api/stream?after=now");
  source.addEventListener("cell", soon);
  source.addEventListener("reset", () => { source.close(); soon(); });
  const by = $("#ack-by");
  if (by) by.value = localStorage.getItem("gamsi-by") || "";
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button.ack[data-event]");
    if (!b) return;
    b.disabled = true;
    acking = true;
    const who = (by && by.value.trim()) || "web";
    localStorage.setItem("gamsi-by", who);
    try {
      await api(`/api/ack/${encodeURIComponent(b.dataset.event)}`, { by: who, comment: "" });
      $("#ack-msg").textContent = "";
      acking = false;
      await refresh();
    } catch (err) {
      $("#ack-msg").textContent = `not acknowledged: ${err.message}`;
      b.disabled = false;
      acking = false;
    }
  });
}

function loginPage() {
  $("#login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/login", { token: new FormData(ev.target).get("token") });
      location.href = "/";
    } catch (err) {
      $("#login-msg").textContent = err.message;
    }
  });
}

const PAGES = { overview: overviewPage, timeline: timelinePage, login: loginPage };
(PAGES[document.body.dataset.page] || (() => {}))();
