// gslb status page: polls /status, draws each cluster (set) on the map and
// the records in a table, and asks /explain. Served by the gslb binary with
// the document; it needs nothing else. All text from the server goes into
// the DOM as text (textContent), never as markup.
"use strict";

/** How often /status is polled; large tables poll less often (see poll). */
const POLL_MS = 2000;
/** Where the admin token is kept: this tab only, gone when it closes. */
const TOKEN_KEY = "gslb.admin-token";
/** Most table rows drawn at once; the filter narrows the rest. */
const MAX_ROWS = 1000;
/** The map shows 84°N to 60°S (the land file leaves Antarctica out). */
const NORTH = 84;
const SOUTH = -60;
/** States by how much an operator needs to see them: the worst wins. */
const SEVERITY = ["up", "drained", "down", "failing-open"];
const STATE_TEXT = { up: "up", down: "down", drained: "drained", "failing-open": "failing open" };

const $ = (id) => document.getElementById(id);

/** A DOM element: attrs sets className, dataset entries and attributes. */
function el(tag, attrs = {}, ...children) {
  const svg = ["g", "circle", "text"].includes(tag);
  const node = svg ? document.createElementNS($("map").namespaceURI, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "data") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

// ---------------------------------------------------------------- states

/**
 * The state of one set of one record, as the status page shows it:
 * drained (override down: never answered), up, failing open (no set of the
 * record is healthy, so DNS answers ignore health), or down.
 */
function setState(record, set) {
  if (set.override === "down") return "drained";
  if (set.healthy) return "up";
  if (!record.sets.some((s) => s.healthy)) return "failing-open";
  return "down";
}

function worst(states) {
  return states.reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a), "up");
}

/**
 * Clusters: sets grouped by id across records (one cluster usually serves
 * several records), placed at their location. A set without a location
 * joins its id's cluster when that id has one location elsewhere; an id
 * configured at two places shows twice. Each: key, id, location, entries
 * ({record, set, state}), state (the worst of its entries).
 */
function clusters(report) {
  const places = new Map();
  for (const record of report.records) {
    for (const set of record.sets) {
      if (!places.has(set.id)) places.set(set.id, new Map());
      if (set.location) places.get(set.id).set(`${set.location.lat},${set.location.lon}`, set.location);
    }
  }
  const byKey = new Map();
  for (const record of report.records) {
    for (const set of record.sets) {
      const known = places.get(set.id);
      const loc = set.location || (known.size === 1 ? [...known.values()][0] : null);
      const key = loc ? `${set.id}@${loc.lat},${loc.lon}` : set.id;
      if (!byKey.has(key)) byKey.set(key, { key, id: set.id, location: loc, entries: [] });
      byKey.get(key).entries.push({ record, set, state: setState(record, set) });
    }
  }
  for (const cluster of byKey.values()) cluster.state = worst(cluster.entries.map((e) => e.state));
  return [...byKey.values()].sort((a, b) => a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------- helpers

function ago(rfc3339) {
  if (!rfc3339) return "–";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(rfc3339)) / 1000));
  if (Number.isNaN(seconds)) return rfc3339;
  return seconds < 120 ? `${seconds}s ago` : `${Math.round(seconds / 60)}m ago`;
}

const latency = (ms) => (ms === null || ms === undefined ? "–" : `${ms.toFixed(1)} ms`);
const badge = (state) => el("span", { class: `badge state-${state}` }, STATE_TEXT[state]);

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// ---------------------------------------------------------------- map

let scale = 3;

function project(lat, lon) {
  return [(lon + 180) * scale, (90 - lat) * scale];
}

function setupMap() {
  const land = document.querySelector("#map .land");
  scale = Number(land && land.dataset.scale) || scale;
  const top = (90 - NORTH) * scale;
  $("map").setAttribute("viewBox", `0 ${top} ${360 * scale} ${(NORTH - SOUTH) * scale}`);
}

function marker(c) {
  const [x, y] = project(c.location.lat, c.location.lon);
  // Labels on the right, or the left near the east edge.
  const east = c.location.lon > 150;
  return el(
    "g",
    {
      class: `cluster state-${c.state}`,
      transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      tabindex: "0",
      role: "button",
      "aria-label": `${c.id}: ${STATE_TEXT[c.state]}`,
      data: { cluster: c.id, key: c.key, state: c.state },
    },
    el("circle", { class: "halo", r: "7" }),
    el("circle", { class: "mark", r: "6" }),
    el("text", { x: east ? "-10" : "10", y: "4", "text-anchor": east ? "end" : "start" }, c.id),
  );
}

function listItem(c) {
  const records = `${c.entries.length} record${c.entries.length === 1 ? "" : "s"}`;
  return el(
    "li",
    { class: `cluster state-${c.state}`, tabindex: "0", role: "button", data: { cluster: c.id, key: c.key, state: c.state } },
    el("span", { class: `dot state-${c.state}` }),
    el("b", {}, c.id),
    " ",
    el("span", { class: "muted" }, `${STATE_TEXT[c.state]} · ${records}`),
  );
}

/**
 * Makes `container`'s children the nodes `make` builds for `items`, keeping
 * the existing node of each key: focus stays where the keyboard put it, and
 * an unchanged marker keeps its animation across refreshes.
 */
function sync(container, items, make) {
  const existing = new Map([...container.children].map((n) => [n.dataset.key, n]));
  const nodes = items.map((item) => {
    const fresh = make(item);
    const node = existing.get(item.key);
    if (!node) return fresh;
    existing.delete(item.key);
    for (const a of [...node.attributes]) if (!fresh.hasAttribute(a.name)) node.removeAttribute(a.name);
    for (const a of [...fresh.attributes]) node.setAttribute(a.name, a.value);
    if (node.innerHTML !== fresh.innerHTML) node.replaceChildren(...fresh.childNodes);
    return node;
  });
  for (const node of existing.values()) node.remove();
  nodes.forEach((node, i) => container.children[i] !== node && container.insertBefore(node, container.children[i] || null));
}

function drawMap(list) {
  sync($("markers"), list.filter((c) => c.location), marker);
  const unlocated = list.filter((c) => !c.location);
  sync($("unlocated"), unlocated, listItem);
  $("unlocated-empty").hidden = unlocated.length > 0;
  for (const node of document.querySelectorAll(".cluster")) {
    node.classList.toggle("pinned", node.dataset.key === card.pinned);
  }
}

// ---------------------------------------------------------------- details card

/** The card shown on hover, focus or click; a click pins it. */
const card = { shown: null, pinned: null };

function cardContent(cluster) {
  const where = cluster.location
    ? `${cluster.location.lat.toFixed(2)}, ${cluster.location.lon.toFixed(2)}`
    : "no location configured";
  const records = cluster.entries.map(({ record, set, state }) =>
    el(
      "div",
      { class: "record", data: { record: record.name, state } },
      el("div", { class: "record-head" }, el("span", {}, record.name), badge(state)),
      el(
        "div",
        { class: "meta" },
        `priority ${set.priority} · weight ${set.weight}` + (set.override === "auto" ? "" : ` · override ${set.override}`),
      ),
      el(
        "ul",
        {},
        set.targets.map((t) =>
          el(
            "li",
            { data: { target: t.address } },
            el("b", {}, t.address),
            ` ${t.state}${t.serving ? "" : ", not answered"} · ${latency(t.latency_ms)} · ${ago(t.last_probe)}`,
            t.last_error ? el("div", { class: "error" }, t.last_error) : null,
          ),
        ),
      ),
    ),
  );
  return [
    el("h3", {}, cluster.id, " ", badge(cluster.state)),
    el("p", { class: "where" }, where + (card.pinned === cluster.key ? " · pinned (Esc closes)" : "")),
    ...records,
  ];
}

function showCard(key) {
  const cluster = latest.clusters.find((c) => c.key === key);
  const anchor = document.querySelector(`.cluster[data-key="${CSS.escape(key)}"]`);
  const box = $("card");
  if (!cluster || !anchor) {
    hideCard(true);
    return;
  }
  card.shown = key;
  box.dataset.key = key;
  box.replaceChildren(...cardContent(cluster));
  box.hidden = false;
  const at = anchor.getBoundingClientRect();
  const width = box.offsetWidth;
  const height = box.offsetHeight;
  let left = at.right + 12;
  if (left + width > window.innerWidth - 8) left = Math.max(8, at.left - width - 12);
  const top = Math.min(Math.max(8, at.top - 12), Math.max(8, window.innerHeight - height - 8));
  box.style.left = `${left}px`;
  box.style.top = `${top}px`;
}

function hideCard(force) {
  if (card.pinned && !force) {
    showCard(card.pinned);
    return;
  }
  card.pinned = null;
  card.shown = null;
  $("card").hidden = true;
  for (const node of document.querySelectorAll(".cluster.pinned")) node.classList.remove("pinned");
}

function setupCard() {
  const target = (event) => event.target.closest && event.target.closest(".cluster");
  for (const root of [$("markers"), $("unlocated")]) {
    root.addEventListener("mouseover", (e) => target(e) && !card.pinned && showCard(target(e).dataset.key));
    root.addEventListener("mouseout", (e) => {
      const node = target(e);
      if (node && !card.pinned && !node.contains(e.relatedTarget)) hideCard(false);
    });
    root.addEventListener("focusin", (e) => target(e) && !card.pinned && showCard(target(e).dataset.key));
    root.addEventListener("focusout", (e) => target(e) && !card.pinned && hideCard(false));
    root.addEventListener("click", (e) => {
      const node = target(e);
      if (!node) return;
      e.stopPropagation();
      togglePin(node.dataset.key);
    });
    root.addEventListener("keydown", (e) => {
      const node = target(e);
      if (node && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        togglePin(node.dataset.key);
      }
    });
  }
  document.addEventListener("click", (e) => {
    if (card.pinned && !$("card").contains(e.target)) hideCard(true);
  });
  document.addEventListener("keydown", (e) => e.key === "Escape" && hideCard(true));
}

function togglePin(key) {
  if (card.pinned === key) {
    hideCard(true);
    return;
  }
  card.pinned = key;
  for (const node of document.querySelectorAll(".cluster")) node.classList.toggle("pinned", node.dataset.key === key);
  showCard(key);
}

// ---------------------------------------------------------------- table

function drawTable(report) {
  const filter = $("filter").value.trim().toLowerCase();
  const matches = (record, set, target) =>
    !filter || [record.name, set.id, target ? target.address : ""].some((s) => s.toLowerCase().includes(filter));
  const rows = [];
  let total = 0;
  for (const record of report.records) {
    const recordRows = [];
    for (const set of record.sets) {
      const state = setState(record, set);
      const targets = set.targets.length ? set.targets : [null];
      const shown = targets.filter((t) => matches(record, set, t));
      total += shown.length;
      shown.forEach((t, i) => {
        if (rows.length + recordRows.length >= MAX_ROWS) return;
        const cells = [];
        if (i === 0) {
          const span = String(shown.length);
          cells.push(
            el("td", { rowspan: span }, set.id),
            el("td", { rowspan: span }, badge(state)),
            el("td", { rowspan: span, class: "num" }, set.priority),
            el("td", { rowspan: span, class: "num" }, set.weight),
            el("td", { rowspan: span }, set.override === "auto" ? "–" : set.override),
          );
        }
        cells.push(
          el("td", {}, t ? t.address : "no addresses"),
          el("td", {}, t ? t.state : "–"),
          el("td", { class: t && t.contested ? "contested" : null }, t ? votes(t) : "–"),
          el("td", {}, t ? DNS_TEXT[t.dns] || t.dns || (t.serving ? "answered" : "not answered") : "–"),
          el("td", { class: "num" }, t ? latency(t.latency_ms) : "–"),
          el("td", {}, t ? ago(t.last_probe) : "–"),
          el("td", { class: "error", title: (t && t.last_error) || null }, (t && t.last_error) || ""),
        );
        const data = { record: record.name, set: set.id, state, target: t ? t.address : "" };
        recordRows.push(el("tr", { class: i === 0 ? "set-first" : "", data }, cells));
      });
    }
    if (recordRows.length) {
      recordRows[0].prepend(el("td", { rowspan: String(recordRows.length), class: "record-name" }, record.name));
      rows.push(...recordRows);
    }
  }
  $("records").tBodies[0].replaceChildren(...rows);
  const note = $("records-note");
  note.hidden = total <= rows.length;
  note.textContent = `Showing ${rows.length} of ${total} rows: filter to narrow.`;
}

/** What DNS does with a target, as `/status` says it. */
const DNS_TEXT = {
  answered: "answered",
  failing_open: "answered, failing open",
  not_answered: "not answered",
  drained: "drained",
};

/** Each instance's word on a target ("a up · b down"), or "–" without peers. */
function votes(target) {
  if (!target.votes || !target.votes.length) return "–";
  return target.votes.map((v) => `${v.instance} ${v.up ? "up" : "down"}`).join(" · ");
}

/** The instance and its peers, for the summary line. */
function peersText(report) {
  const parts = [];
  if (report.instance) parts.push(`instance ${report.instance}`);
  if (report.peers && report.peers.length) {
    const peers = report.peers.map((p) =>
      p.fresh ? `${p.name} fresh` : p.last_exchange_secs_ago == null ? `${p.name} unreachable` : `${p.name} stale`,
    );
    parts.push(`peers: ${peers.join(", ")}`);
  }
  if (report.deciding_alone) parts.push("deciding health alone");
  return parts.length ? ` · ${parts.join(" · ")}` : "";
}

// ---------------------------------------------------------------- polling

/** The last report drawn, and its clusters (the card reads them). */
let latest = { report: null, clusters: [] };
let timer = null;
let inFlight = false;
let lastGood = null;

function render(report) {
  const list = clusters(report);
  latest = { report, clusters: list };
  const counts = {};
  for (const c of list) counts[c.state] = (counts[c.state] || 0) + 1;
  const parts = SEVERITY.filter((s) => counts[s]).map((s) => `${counts[s]} ${STATE_TEXT[s]}`);
  $("summary").textContent =
    `${report.records.length} records, ${list.length} clusters: ${parts.join(" · ") || "none"}` +
    ` · generation ${report.generation}` +
    peersText(report) +
    (report.ready ? "" : " · not ready: first round of health checks running");
  drawMap(list);
  drawTable(report);
  if (card.shown) showCard(card.shown);
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}

function setConnection(kind, text) {
  const node = $("connection");
  node.dataset.connection = kind;
  node.textContent = text;
  document.body.classList.toggle("stale", kind !== "ok" && lastGood !== null);
}

function askForToken(text) {
  const message = $("auth-message");
  message.hidden = !text;
  message.textContent = text || "";
  $("token-form").classList.toggle("needs-token", Boolean(text));
}

async function poll() {
  if (inFlight) return;
  clearTimeout(timer);
  inFlight = true;
  const started = performance.now();
  try {
    const response = await fetch("/status", {
      headers: authHeaders(),
      cache: "no-store",
      signal: AbortSignal.timeout(15000),
    });
    if (response.status === 401 || response.status === 403) {
      askForToken(
        token()
          ? "gslb refused this token: enter the admin token."
          : "This gslb needs an admin token: enter it above (kept for this tab only).",
      );
      setConnection("auth", `${response.status}: token needed`);
    } else if (!response.ok) {
      setConnection("error", `/status answered HTTP ${response.status}; retrying`);
    } else {
      const report = await response.json();
      askForToken(null);
      render(report);
      lastGood = new Date();
      setConnection("ok", `updated ${lastGood.toLocaleTimeString()}`);
    }
  } catch (error) {
    const since = lastGood ? `; showing data from ${lastGood.toLocaleTimeString()}` : "";
    setConnection("error", `cannot reach /status (${error.message})${since}; retrying`);
  } finally {
    inFlight = false;
  }
  // A table that takes long to fetch and draw is polled less often, so an
  // open page never loads gslb much; a hidden tab does not poll at all.
  const took = performance.now() - started;
  if (!document.hidden) timer = setTimeout(poll, Math.max(POLL_MS, 5 * took));
}

function setupToken() {
  const input = $("token");
  input.value = token();
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    poll();
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
    poll();
  });
}

// ---------------------------------------------------------------- explain

/**
 * Renders an /explain trace (gslb's `explain::Trace`): a summary line, the
 * what-if assumptions, how the client was located, every set's verdict,
 * the sets each rule left, the candidates with their chances and the
 * samples. Any key this function does not know is shown as a generic
 * tree, so fields added later appear without a change.
 */
function renderExplain(trace) {
  const known = new Set([
    "name", "type", "client", "generation", "ttl", "failed_open", "outcome", "nodata", "answers", "fallback",
    "assumed", "located", "sets", "steps", "candidates", "samples",
  ]);
  const outcome = trace.outcome === "nodata" ? `NODATA: ${trace.nodata || "no answer"}` : trace.outcome;
  const summary = [
    ["name", trace.name],
    ["type", trace.type],
    ["client", trace.client],
    ["outcome", outcome],
    ["TTL", trace.ttl === undefined ? undefined : `${trace.ttl}s`],
    ["fails open", trace.failed_open === undefined ? undefined : trace.failed_open ? "yes: no healthy set, health ignored" : "no"],
    ["residency", trace.fallback === "none" ? "fallback none" : undefined],
    ["generation", trace.generation],
  ].filter(([, value]) => value !== undefined && value !== null);
  const sections = [el("div", { class: "trace-summary" }, summary.map(([k, v]) => el("span", { data: { field: k } }, el("b", {}, k), " ", String(v))))];
  const section = (title, key, body) =>
    trace[key] !== undefined && trace[key] !== null &&
    sections.push(el("div", { data: { section: key } }, el("h4", {}, title), body(trace[key])));
  const list = (items, line, attrs = () => ({})) =>
    Array.isArray(items) ? el("ol", {}, items.map((item) => el("li", attrs(item), line(item)))) : tree(items);
  if (Array.isArray(trace.assumed) && trace.assumed.length) {
    section("What if (in memory only, nothing published)", "assumed", (assumed) =>
      list(assumed, (a) => [el("b", {}, String(a.assumption)), ` → ${assumedSets(a) || `${a.probes || 0} probe(s)`}`]),
    );
  }
  section("Client located", "located", tree);
  section("Sets", "sets", (sets) => list(sets, setLine, (s) => ({ data: { set: s.id || "", state: setVerdict(s) } })));
  section("Rules, step by step", "steps", (steps) => list(steps, stepLine));
  section("Candidates", "candidates", (candidates) =>
    list(candidates, candidateLine, (c) => ({ data: { candidate: c.set || c.id || "" } })),
  );
  section("Samples", "samples", (samples) =>
    Array.isArray(samples.sets)
      ? el("p", {}, `${samples.count} real selections: `, samples.sets.map((x) => `${x.set} ${(x.share * 100).toFixed(1)}%`).join(", "))
      : tree(samples),
  );
  for (const [key, value] of Object.entries(trace)) {
    const title = key.charAt(0).toUpperCase() + key.slice(1).replaceAll("_", " ");
    if (!known.has(key)) sections.push(el("div", { data: { section: key } }, el("h4", {}, title), tree(value)));
  }
  return el("div", { class: "trace" }, sections);
}

/** The sets an assumption changed: the first few, and how many more. */
function assumedSets(a) {
  const sets = Array.isArray(a.sets) ? a.sets : [];
  const more = typeof a.set_count === "number" ? a.set_count - sets.length : 0;
  return sets.join(", ") + (more > 0 ? ` and ${more} more (${a.set_count} sets)` : "");
}

/** A set's verdict in one word: drained, healthy, down or no targets. */
function setVerdict(set) {
  if (typeof set !== "object" || set === null) return "";
  if (set.drained) return "drained";
  if (Array.isArray(set.targets) && set.targets.length === 0) return "no-targets";
  if (set.healthy === undefined) return set.health || "";
  return set.healthy ? "up" : "down";
}

function setLine(set) {
  if (typeof set !== "object" || set === null) return String(set);
  const facts = [];
  if (set.priority !== undefined) facts.push(`priority ${set.priority}`);
  if (set.weight !== undefined) facts.push(`weight ${set.weight}`);
  if (set.override && set.override !== "auto") facts.push(`override ${set.override}`);
  if (set.geo !== undefined) facts.push(`geo ${set.geo}`);
  if (typeof set.distance_km === "number") facts.push(`${Math.round(set.distance_km)} km`);
  const targets = Array.isArray(set.targets)
    ? set.targets.map((t) => (typeof t === "object" && t ? `${t.address} ${t.probe}${t.serving ? "" : " (not served)"}` : String(t)))
    : [];
  return [
    el("b", {}, String(set.id || "?")),
    ` ${setVerdict(set).replace("-", " ")}`,
    facts.length ? ` · ${facts.join(" · ")}` : "",
    targets.length ? el("span", { class: "muted" }, ` · ${targets.join(", ")}`) : "",
  ];
}

function stepLine(step) {
  if (typeof step !== "object" || step === null) return String(step);
  const rule = step.rule || step.step || step.name;
  const left = step.sets || step.left || step.remaining;
  if (rule && Array.isArray(left)) {
    return [el("b", {}, String(rule)), ` → ${left.join(", ") || "none"}`, step.detail ? el("span", { class: "muted" }, ` (${step.detail})`) : ""];
  }
  return tree(step);
}

function candidateLine(c) {
  const p = typeof c.probability === "number" ? c.probability : null;
  const bar = p === null ? null : el("span", { class: "bar", data: { probability: String(p) } });
  if (bar) bar.style.width = `${(Math.min(Math.max(p, 0), 1) * 8).toFixed(2)}rem`;
  const targets = Array.isArray(c.targets)
    ? c.targets.map((t) => (typeof t === "object" && t ? `${t.address} ${((t.probability || 0) * 100).toFixed(1)}%` : String(t)))
    : [];
  const rest = Object.fromEntries(Object.entries(c).filter(([k]) => !["set", "id", "probability", "targets", "weight"].includes(k)));
  return [
    bar,
    el("b", {}, String(c.set || c.id || "?")),
    p === null ? "" : ` ${(p * 100).toFixed(1)}%`,
    c.weight === undefined ? "" : el("span", { class: "muted" }, ` (weight ${c.weight})`),
    targets.length ? `: ${targets.join(", ")}` : "",
    Object.keys(rest).length ? tree(rest) : null,
  ];
}

/** Any JSON value, readably: objects as term lists, arrays as lists. */
function tree(value) {
  if (value === null || value === undefined) return el("span", { class: "muted" }, "–");
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null)) return el("span", {}, value.join(", ") || "none");
    return el("ol", {}, value.map((v) => el("li", {}, tree(v))));
  }
  if (typeof value === "object") {
    return el("dl", {}, Object.entries(value).map(([k, v]) => [el("dt", {}, k.replaceAll("_", " ")), el("dd", {}, tree(v))]));
  }
  return el("span", {}, typeof value === "boolean" ? (value ? "yes" : "no") : String(value));
}

function explainMessage(outcome, text) {
  const out = $("explain-result");
  out.dataset.outcome = outcome;
  out.replaceChildren(el("p", { class: `message${outcome === "trace" ? "" : " problem"}` }, text));
}

async function explain(form) {
  const params = new URLSearchParams();
  for (const key of ["name", "type", "client", "assume"]) {
    const value = form.elements[key] ? form.elements[key].value.trim() : "";
    if (value) params.set(key, value);
  }
  explainMessage("pending", "asking…");
  let response;
  let body;
  try {
    response = await fetch(`/explain?${params}`, { headers: authHeaders(), cache: "no-store", signal: AbortSignal.timeout(15000) });
    const text = await response.text();
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
  } catch (error) {
    explainMessage("network", `Cannot reach gslb: ${error.message}`);
    return;
  }
  const reason = body && typeof body === "object" && body.error ? body.error : typeof body === "string" ? body.trim() : "";
  if (response.status === 401 || response.status === 403) {
    askForToken("/explain needs the admin token: enter it above.");
    explainMessage("unauthorized", `${response.status}: this gslb needs an admin token for /explain. Enter it in the token field at the top.`);
  } else if (response.status === 404 && !reason) {
    explainMessage("missing", "404: this gslb has no /explain endpoint (it came with a later version).");
  } else if (!response.ok) {
    explainMessage("error", `${response.status}: ${reason || response.statusText}`);
  } else if (body && typeof body === "object") {
    const out = $("explain-result");
    out.dataset.outcome = "trace";
    out.replaceChildren(renderExplain(body));
  } else {
    explainMessage("error", "/explain answered something that is not JSON");
  }
}

// ---------------------------------------------------------------- start

function start() {
  setupMap();
  setupCard();
  setupToken();
  $("filter").addEventListener("input", () => latest.report && drawTable(latest.report));
  $("explain").addEventListener("submit", (e) => {
    e.preventDefault();
    explain(e.target);
  });
  document.addEventListener("visibilitychange", () => !document.hidden && poll());
  poll();
}

start();
