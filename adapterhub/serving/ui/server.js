// The server view of the web page (#/server): resident adapters, queue depth, batch sizes and request rates,
// all read from the server's own Prometheus text at /metrics every POLL_MS while the view is open, with load
// and unload buttons that call POST /v1/adapters/{ref}/load and DELETE /v1/adapters/{ref}.
// Loaded before app.js: h(), show(), askKey() and KEY are app.js's globals, used only once the page runs.
"use strict";

const POLL_MS = 2000;
const NOT_AN_ADAPTER = new Set(["other", "unresolved"]); // version label values of series no single version owns

// ---------------------------------------------------------------------------------------------- /metrics

/** Prometheus text exposition as samples [{name, labels, value}]; comments (HELP, TYPE) are skipped. */
function parseMetrics(text) {
  const samples = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!name) throw new Error(`/metrics: cannot read the line ${JSON.stringify(line.slice(0, 80))}`);
    let at = name[0].length;
    const labels = {};
    if (line[at] === "{") {
      at += 1;
      for (;;) {
        while (line[at] === " " || line[at] === ",") at += 1;
        if (line[at] === "}") break;
        const eq = line.indexOf("=", at);
        if (eq < 0 || line[eq + 1] !== '"') throw new Error(`/metrics: a label without a quoted value in ${name[0]}`);
        const key = line.slice(at, eq).trim();
        let value = "";
        at = eq + 2;
        while (at < line.length && line[at] !== '"') {
          if (line[at] === "\\") {
            const next = line[at + 1];
            value += next === "n" ? "\n" : next; // \\ \" \n are the format's only escapes
            at += 2;
          } else {
            value += line[at];
            at += 1;
          }
        }
        if (at >= line.length) throw new Error(`/metrics: an unterminated label value in ${name[0]}`);
        labels[key] = value;
        at += 1;
      }
      at += 1;
    }
    const token = line.slice(at).trim().split(/\s+/)[0]; // a timestamp may follow the value
    const value = { "+Inf": Infinity, "-Inf": -Infinity }[token] ?? Number(token);
    samples.push({ name: name[0], labels, value });
  }
  return samples;
}

/** GET or POST/DELETE `path` through app.js's `send` (the tab's key; a 401 asks for it and tries again).
 *  Answers the body as text (`/metrics`) or JSON; an error's message is the API's own. */
async function call(path, { method = "GET", text = false } = {}) {
  const response = await send(path, { method, headers: { Accept: text ? "text/plain" : "application/json" } });
  return text ? response.text() : response.json();
}

async function scrape() {
  const samples = parseMetrics(await call("/metrics", { text: true }));
  return { samples, at: performance.now() };
}

function total(samples, name, match = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** One row per adapter version the server has series for or holds in memory, keyed NAME@VERSION. */
function adapterRows(samples) {
  const rows = new Map();
  const row = (l) => {
    const key = l.version === "other" ? `other (${l.task})` : `${l.adapter}@${l.version}`;
    if (!rows.has(key)) {
      rows.set(key, {
        key, name: l.adapter, version: l.version, task: l.task, hot: 0, warm: 0,
        requests: 0, inputs: 0, errors: 0, batchRows: 0, batches: 0,
      });
    }
    return rows.get(key);
  };
  const field = { adapterhub_adapter_requests_total: "requests", adapterhub_adapter_inputs_total: "inputs",
    adapterhub_adapter_errors_total: "errors", adapterhub_adapter_batch_rows_total: "batchRows",
    adapterhub_adapter_batches_total: "batches" }; // prettier-ignore
  for (const s of samples) {
    if (!("adapter" in s.labels)) continue;
    if (s.name === "adapterhub_adapter_resident" && s.value > 0) row(s.labels)[s.labels.state] += s.value;
    else if (s.name in field) row(s.labels)[field[s.name]] += s.value;
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
}

/** The change of a counter between two scrapes per second; null without an earlier scrape or after a reset. */
function perSecond(now, before, seconds) {
  if (before === undefined || seconds <= 0 || now < before) return null;
  return (now - before) / seconds;
}

// ---------------------------------------------------------------------------------------------- the view

let serverView = null; // the open view: its timer and elements; null once the user navigates away

function stopServerView() {
  if (!serverView) return;
  clearTimeout(serverView.timer);
  serverView.stopped = true;
  serverView = null;
}

window.addEventListener("hashchange", () => {
  if (location.hash !== "#/server") stopServerView();
});

function stateText(r) {
  if (NOT_AN_ADAPTER.has(r.version)) {
    const parts = [r.hot && `${r.hot} hot`, r.warm && `${r.warm} warm`].filter(Boolean);
    return parts.join(", ") || "not resident";
  }
  return r.hot ? "hot" : r.warm ? "warm" : "not resident";
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text; // unchanged text is not touched: no re-announcement
}

function serverRow(view, r) {
  const real = !NOT_AN_ADAPTER.has(r.version);
  const cells = {};
  for (const c of ["task", "state", "requests", "rate", "inputs", "batch", "errors"]) {
    cells[c] = h("td", { class: c === "task" || c === "state" ? null : "num", "data-column": c });
  }
  const buttons = real
    ? {
        load: h("button", { type: "button", "aria-label": `Load ${r.key}`, onclick: () => act(view, r.key, "load") }, "Load"),
        unload: h("button", { type: "button", "aria-label": `Unload ${r.key}`, onclick: () => act(view, r.key, "unload") }, "Unload"),
      }
    : {};
  const title = real
    ? h("a", { href: `#/adapter/${r.key}` }, r.key)
    : h("span", { title: "series no single adapter version owns: versions folded past --metrics-max-adapters, or requests for a version that could not be read" }, r.key);
  const tr = h(
    "tr",
    { "data-ref": r.key },
    h("th", { scope: "row" }, title),
    ...Object.values(cells),
    h("td", { class: "actions" }, buttons.load, buttons.unload),
  );
  return { tr, cells, buttons };
}

function fmtRate(rate) {
  return rate === null ? "–" : rate.toFixed(2);
}

function render(view, now, before) {
  const seconds = before ? (now.at - before.at) / 1000 : 0;
  const s = now.samples;
  const batches = total(s, "adapterhub_batch_size_count");
  const rows = total(s, "adapterhub_batch_size_sum");
  const newBatches = before ? perSecond(batches, total(before.samples, "adapterhub_batch_size_count"), 1) : null;
  const newRows = before ? perSecond(rows, total(before.samples, "adapterhub_batch_size_sum"), 1) : null;
  const adapters = adapterRows(s);
  const earlier = new Map(before ? adapterRows(before.samples).map((r) => [r.key, r]) : []);
  let rateSum = before ? 0 : null;

  const body = view.tbody;
  adapters.forEach((r, i) => {
    let shown = view.rows.get(r.key);
    if (!shown) {
      shown = serverRow(view, r);
      view.rows.set(r.key, shown);
    }
    if (body.children[i] !== shown.tr) body.insertBefore(shown.tr, body.children[i] || null);
    const rate = perSecond(r.requests, earlier.get(r.key)?.requests, seconds);
    if (rateSum !== null && rate !== null) rateSum += rate;
    const state = stateText(r);
    setText(shown.cells.task, r.task);
    setText(shown.cells.state, state);
    shown.cells.state.dataset.state = state;
    setText(shown.cells.requests, String(r.requests));
    shown.cells.requests.dataset.value = String(r.requests);
    setText(shown.cells.rate, fmtRate(rate));
    shown.cells.rate.dataset.value = rate === null ? "" : String(rate);
    setText(shown.cells.inputs, String(r.inputs));
    setText(shown.cells.batch, r.batches ? (r.batchRows / r.batches).toFixed(1) : "–");
    setText(shown.cells.errors, String(r.errors));
    const { load, unload } = shown.buttons;
    if (load) {
      const focused = document.activeElement;
      load.hidden = Boolean(r.hot); // loading a hot version again re-reads it; the button is for cold ones
      unload.hidden = !(r.hot || r.warm);
      if (focused === load && load.hidden) unload.focus(); // keyboard focus stays in the row
      if (focused === unload && unload.hidden) load.focus();
    }
  });
  for (const [key, shown] of view.rows) {
    if (!adapters.some((r) => r.key === key)) {
      shown.tr.remove();
      view.rows.delete(key);
    }
  }
  view.empty.hidden = adapters.length > 0;

  const c = view.summary;
  setText(c.queue, String(total(s, "adapterhub_queue_depth")));
  setText(c.hot, String(total(s, "adapterhub_resident_adapters", { state: "hot" })));
  setText(c.warm, String(total(s, "adapterhub_resident_adapters", { state: "warm" })));
  setText(c.rate, fmtRate(rateSum));
  setText(c.batches, newBatches === null ? "–" : String(newBatches));
  setText(c.recent, newBatches ? (newRows / newBatches).toFixed(1) : "–");
  setText(c.mean, batches ? `${(rows / batches).toFixed(1)} over ${batches} batches` : "no batch yet");
  setText(view.updated, `Last refreshed ${new Date().toLocaleTimeString()}`);
}

async function poll(view) {
  clearTimeout(view.timer);
  const mine = ++view.reads; // a read started later (after a click) wins over one still in flight
  try {
    const now = await scrape();
    if (view.stopped || mine !== view.reads) return;
    render(view, now, view.last);
    view.last = now;
    setText(view.status, `Live: refreshing every ${POLL_MS / 1000} s`);
  } catch (err) {
    if (view.stopped || mine !== view.reads) return;
    setText(view.status, `Refresh failed: ${err.message}; trying again every ${POLL_MS / 1000} s`);
  }
  if (!view.stopped) view.timer = setTimeout(() => poll(view), POLL_MS);
}

async function act(view, ref, action) {
  const { load, unload } = view.rows.get(ref).buttons;
  const [button, other] = action === "load" ? [load, unload] : [unload, load];
  const focused = document.activeElement === button; // a disabled button loses the focus: it comes back below
  button.disabled = true;
  view.alert.textContent = "";
  view.done.textContent = "";
  try {
    if (action === "load") await call(`/v1/adapters/${encodeURIComponent(ref)}/load`, { method: "POST" });
    else await call(`/v1/adapters/${encodeURIComponent(ref)}`, { method: "DELETE" });
    if (!view.stopped) view.done.textContent = `${action === "load" ? "Loaded" : "Unloaded"} ${ref}`;
  } catch (err) {
    if (!view.stopped) view.alert.textContent = `Could not ${action} ${ref}: ${err.message}`;
  } finally {
    button.disabled = false;
  }
  if (view.stopped) return;
  await poll(view); // the table shows the new state at once
  if (focused && !view.stopped) (button.hidden ? other : button).focus(); // the keyboard stays in the row
}

function serverPage() {
  stopServerView();
  document.title = "Server · adapterhub";
  const cell = () => h("td", { class: "num" });
  const summary = { queue: cell(), hot: cell(), warm: cell(), rate: cell(), batches: cell(), recent: cell(), mean: cell() };
  const line = (title, el) => h("tr", {}, h("th", { scope: "row" }, title), el);
  const tbody = h("tbody", {});
  const head = ["Adapter", "Task", "State", "Requests", "Requests/s", "Inputs", "Rows per batch", "Errors", "Actions"];
  const view = {
    timer: null,
    stopped: false,
    last: null,
    reads: 0,
    rows: new Map(),
    tbody,
    summary,
    status: h("p", { id: "server-status", role: "status", class: "muted" }, "Reading /metrics…"),
    updated: h("p", { class: "muted updated" }),
    alert: h("p", { id: "server-error", class: "error", role: "alert" }),
    done: h("p", { id: "server-done", role: "status" }), // what the last load or unload did
    empty: h("p", { class: "muted" }, "No adapter has been loaded or asked for since the server started."),
  };
  serverView = view;
  show(
    h("h1", {}, "Server"),
    h("p", { class: "muted" }, "What this server holds and does now, from its own /metrics; rates compare two successive reads."),
    view.status,
    view.updated,
    h(
      "table",
      { class: "pairs", id: "server-summary" },
      h("caption", {}, "Now"),
      h(
        "tbody",
        {},
        line("Queue depth (inputs waiting or running)", summary.queue),
        line("Hot adapters (on the device)", summary.hot),
        line("Warm adapters (in CPU memory)", summary.warm),
        line("Requests/s, all adapters", summary.rate),
        line(`Batches in the last ${POLL_MS / 1000} s`, summary.batches),
        line(`Inputs per batch, last ${POLL_MS / 1000} s`, summary.recent),
        line("Inputs per batch since start", summary.mean),
      ),
    ),
    view.alert,
    view.done,
    h(
      "div",
      { class: "scroll server-adapters" },
      h(
        "table",
        { class: "data", id: "server-adapters" },
        h("caption", {}, "Adapters: in memory, or served since the server started"),
        h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
        tbody,
      ),
    ),
    view.empty,
  );
  poll(view);
}
