// The web page of `hub serve`: the registry browser (#/), adapter pages (#/adapter/NAME@VERSION) and the
// playground (#/playground, or #/playground/REF[,REF] to open it with adapters picked).
// Plain JavaScript, no libraries: everything is read from the JSON API of the server that serves this file.
"use strict";

const KEY = "adapterhub.key"; // sessionStorage only: the key leaves with the tab
const PAGE = 1000; // versions per request of GET /v1/adapters (the server's maximum)
const LOWER_IS_BETTER = /loss|perplexity/;

const main = document.getElementById("main");
let everything = null; // every version's summary, kept while the page is open (refreshed on the registry page)

// ---------------------------------------------------------------------------------------------- helpers

/** An element: h("a", {href: "#/"}, "text", child...). Text always goes in as text, never as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KB", "MB", "GB"];
  const i = Math.min(Math.floor(Math.log(n) / Math.log(1024)), units.length - 1);
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

function age(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const sec = Math.max(0, (Date.now() - t) / 1000);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (sec >= size) return `${Math.floor(sec / size)} ${unit}`;
  }
  return "now";
}

function num(v) {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toPrecision(4) : v.toFixed(4);
}

function baseName(id) {
  return String(id).split("/").filter(Boolean).pop() || String(id);
}

function headline(a) {
  const key = a.headline_metric || Object.keys(a.metrics)[0];
  return key && key in a.metrics ? [key, a.metrics[key]] : null;
}

function show(...nodes) {
  main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

function failure(err) {
  show(h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, err.message));
}

// ---------------------------------------------------------------------------------------------- the API

/** A request with the tab's key; a 401 asks for the key (kept in sessionStorage) and tries again. Returns the
 * response once it is a success; any other error status throws the API's one-line message. */
async function send(path, init = {}) {
  for (;;) {
    const headers = { ...init.headers };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(path, { ...init, headers });
    if (response.status === 401) {
      await askKey(key ? "The server refused that key; try again." : "");
      continue;
    }
    if (!response.ok) {
      const answer = await response.json().catch(() => null);
      throw new Error(answer?.error?.message || `${response.status} ${response.statusText}`);
    }
    return response;
  }
}

/** A JSON route: GET, or POST of `body`. */
async function api(path, body = undefined, signal = undefined) {
  const init = { headers: { Accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    Object.assign(init, { method: "POST", body: JSON.stringify(body) });
  }
  const response = await send(path, init);
  return response.json().catch(() => null);
}

function askKey(problem) {
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  document.getElementById("key-error").textContent = problem;
  input.value = "";
  return new Promise((resolve) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value);
      dialog.close();
      resolve();
    };
    dialog.showModal();
    input.focus();
  });
}

/** Every version (all pages of GET /v1/adapters), optionally of one name and with whole cards. */
async function versions({ name = null, cards = false } = {}) {
  const out = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: PAGE });
    if (name) query.set("name", name);
    if (cards) query.set("cards", "true");
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/v1/adapters?${query}`);
    out.push(...page.adapters);
    cursor = page.next;
  } while (cursor);
  return out;
}

// ---------------------------------------------------------------------------------------------- registry

const COLUMNS = [
  { key: "ref", title: "Adapter", sort: (a) => [a.name, -a.version] },
  { key: "task", title: "Task", sort: (a) => [a.task] },
  { key: "method", title: "Method", sort: (a) => [a.method] },
  { key: "base", title: "Base", sort: (a) => [baseName(a.base)] },
  { key: "metric", title: "Metric", sort: (a) => [headline(a) ? headline(a)[1] : -Infinity] },
  { key: "size", title: "Size", sort: (a) => [a.size_bytes] },
  { key: "aliases", title: "Aliases", sort: (a) => [a.aliases.join(",")] },
  { key: "age", title: "Age", sort: (a) => [-Date.parse(a.created) || 0] },
];
const view = { query: "", task: "", base: "", tag: "", sort: "ref", descending: false };

function compare(x, y) {
  for (let i = 0; i < x.length; i++) {
    if (x[i] < y[i]) return -1;
    if (x[i] > y[i]) return 1;
  }
  return 0;
}

function row(a) {
  const top = headline(a);
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, h("a", { href: `#/adapter/${a.ref}` }, a.ref)),
    h("td", {}, a.task),
    h("td", {}, a.method),
    h("td", { title: a.base }, baseName(a.base)),
    h("td", { class: "num" }, top ? `${top[0]} ${num(top[1])}` : "–"),
    h("td", { class: "num" }, bytes(a.size_bytes)),
    h("td", {}, a.aliases.join(", ")),
    h("td", { title: a.created }, age(a.created)),
  );
}

function select(id, label, values) {
  return [
    h("label", { for: id }, label),
    h("select", { id }, h("option", { value: "" }, "any"), ...[...values].sort().map((v) => h("option", { value: v }, v))),
  ];
}

async function registryPage() {
  const ticket = navigation;
  everything = await versions();
  if (ticket !== navigation) return; // the user went on while the list loaded: leave their page as it is
  document.title = "Registry · adapterhub";
  const rows = new Map(everything.map((a) => [a.ref, row(a)])); // built once; filtering reorders these
  const text = new Map(everything.map((a) => [a.ref, [a.ref, a.task, a.method, a.base, ...a.aliases, ...a.tags].join(" ").toLowerCase()]));
  const names = new Set(everything.map((a) => a.name));
  const body = h("tbody");
  const count = h("p", { id: "count", role: "status" });
  const heads = COLUMNS.map((c) =>
    h("th", { scope: "col", "data-key": c.key }, h("button", { type: "button", onclick: () => sortBy(c.key) }, c.title)),
  );
  const table = h("table", { id: "registry", class: "data" }, h("caption", { class: "sr-only" }, "Adapter versions"), h("thead", {}, h("tr", {}, heads)), body);

  function render() {
    const column = COLUMNS.find((c) => c.key === view.sort);
    const words = view.query.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = everything.filter(
      (a) =>
        (!view.task || a.task === view.task) &&
        (!view.base || a.base === view.base) &&
        (!view.tag || a.tags.includes(view.tag)) &&
        words.every((w) => text.get(a.ref).includes(w)),
    );
    shown.sort((x, y) => compare(column.sort(x), column.sort(y)) * (view.descending ? -1 : 1) || compare([x.name, -x.version], [y.name, -y.version]));
    body.replaceChildren(...shown.map((a) => rows.get(a.ref)));
    for (const th of heads) {
      th.setAttribute("aria-sort", th.dataset.key === view.sort ? (view.descending ? "descending" : "ascending") : "none");
    }
    count.textContent = `${shown.length} of ${everything.length} versions (${names.size} adapters)`;
  }
  function sortBy(key) {
    view.descending = view.sort === key ? !view.descending : false;
    view.sort = key;
    render();
  }

  const search = h("input", { id: "search", type: "search", placeholder: "name, task, alias, tag…", value: view.query });
  search.addEventListener("input", () => {
    view.query = search.value;
    render();
  });
  const filters = h(
    "div",
    { class: "filters", role: "group", "aria-label": "Filters" },
    h("label", { for: "search" }, "Search"),
    search,
    ...select("filter-task", "Task", new Set(everything.map((a) => a.task))),
    ...select("filter-base", "Base", new Set(everything.map((a) => a.base))),
    ...select("filter-tag", "Tag", new Set(everything.flatMap((a) => a.tags))),
  );
  for (const [id, field] of [["filter-task", "task"], ["filter-base", "base"], ["filter-tag", "tag"]]) {
    const control = filters.querySelector(`#${id}`);
    control.value = view[field];
    control.addEventListener("change", () => {
      view[field] = control.value;
      render();
    });
  }
  render();
  show(
    h("h1", {}, "Registry"),
    filters,
    count,
    everything.length ? h("div", { class: "scroll" }, table) : h("p", {}, "The registry holds no adapter yet: train one with `hub train`."),
  );
}

// ---------------------------------------------------------------------------------------------- adapter page

function pairs(object) {
  const entries = Object.entries(object || {});
  if (!entries.length) return h("p", { class: "muted" }, "none recorded");
  return h(
    "table",
    { class: "pairs" },
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, typeof v === "object" && v !== null ? JSON.stringify(v) : num(v))))),
  );
}

function section(id, title, ...content) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

/** One learning curve as inline SVG: x is the step, y the value; hover or arrow keys show a point's values. */
function curve(history, key, id) {
  const points = history.filter((p) => typeof p[key] === "number" && typeof p.step === "number");
  const W = 480, H = 220, L = 56, R = 12, T = 12, B = 32;
  const xs = points.map((p) => p.step), ys = points.map((p) => p[key]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const X = (v) => L + (x1 === x0 ? (W - L - R) / 2 : ((v - x0) / (x1 - x0)) * (W - L - R));
  const Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const readout = h("p", { class: "readout", id: `${id}-readout`, "aria-live": "polite" }, "Hover or use the arrow keys for values.");
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "curve", role: "img", tabindex: "0", id,
    "aria-label": `${key} by training step, ${points.length} points from ${num(ys[0])} to ${num(ys[ys.length - 1])}`,
    "aria-describedby": `${id}-readout`,
  });
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    svg.append(s("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
    svg.append(s("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", class: "tick" }, num(v)));
  }
  for (const v of x1 === x0 ? [x0] : [x0, x1]) {
    const anchor = x1 === x0 ? "middle" : v === x0 ? "start" : "end"; // the last label ends at the right edge
    svg.append(s("text", { x: X(v), y: H - 12, "text-anchor": anchor, class: "tick" }, `step ${v}`));
  }
  svg.append(s("polyline", { points: points.map((p) => `${X(p.step)},${Y(p[key])}`).join(" "), class: "line" }));
  const dots = points.map((p) => {
    const dot = s("circle", { cx: X(p.step), cy: Y(p[key]), r: 3.5, class: "dot" }, s("title", {}, `step ${p.step}: ${key} ${num(p[key])}`));
    svg.append(dot);
    return dot;
  });
  const marker = s("line", { y1: T, y2: H - B, class: "marker", visibility: "hidden" });
  svg.append(marker);
  let current = -1;
  function pick(i) {
    current = Math.max(0, Math.min(points.length - 1, i));
    const p = points[current];
    dots.forEach((d, j) => d.classList.toggle("active", j === current));
    marker.setAttribute("x1", X(p.step));
    marker.setAttribute("x2", X(p.step));
    marker.setAttribute("visibility", "visible");
    const extra = typeof p.epoch === "number" ? ` (epoch ${+p.epoch.toFixed(3)})` : "";
    readout.textContent = `step ${p.step}${extra}: ${key} = ${num(p[key])}`;
  }
  svg.addEventListener("mousemove", (event) => {
    const box = svg.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * W;
    let best = 0;
    points.forEach((p, i) => {
      if (Math.abs(X(p.step) - x) < Math.abs(X(points[best].step) - x)) best = i;
    });
    pick(best);
  });
  svg.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    pick(current < 0 ? 0 : current + step);
  });
  svg.addEventListener("focus", () => current < 0 && pick(0));
  return h("figure", { class: "chart" }, h("figcaption", {}, key), svg, readout);
}

function curves(history) {
  const keys = [...new Set(history.flatMap((p) => Object.keys(p)))].filter(
    (k) => k !== "step" && k !== "epoch" && history.some((p) => typeof p[k] === "number"),
  );
  if (!history.length || !keys.length) return h("p", { class: "muted" }, "This card has no training history (an imported or merged adapter).");
  return h("div", { class: "charts" }, keys.map((k, i) => curve(history, k, `curve-${i}`)));
}

function perClass(table) {
  const columns = [...new Set(Object.values(table).flatMap((r) => Object.keys(r)))];
  return h(
    "table",
    { class: "data per-class" },
    h("caption", {}, "Per class"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Class"), columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, Object.entries(table).map(([label, r]) => h("tr", {}, h("th", { scope: "row" }, label), columns.map((c) => h("td", { class: "num" }, num(r[c])))))),
  );
}

/** The confusion matrix as a heat map: each cell's shade is its share of its row (the true label). */
function heatmap(labels, confusion) {
  return h(
    "table",
    { class: "heatmap" },
    h("caption", {}, "Confusion matrix (rows: true label, columns: predicted)"),
    h("thead", {}, h("tr", {}, h("td", {}), labels.map((l) => h("th", { scope: "col" }, l)))),
    h(
      "tbody",
      {},
      confusion.map((cells, i) => {
        const total = cells.reduce((a, b) => a + b, 0) || 1;
        return h(
          "tr",
          {},
          h("th", { scope: "row" }, labels[i]),
          cells.map((count, j) => {
            const share = count / total;
            const cell = h("td", { class: share > 0.55 ? "num dark" : "num", title: `true ${labels[i]}, predicted ${labels[j]}: ${count} (${Math.round(share * 100)}% of the row)` }, String(count));
            cell.style.backgroundColor = `rgba(29, 78, 216, ${(0.06 + 0.94 * share).toFixed(3)})`;
            return cell;
          }),
        );
      }),
    ),
  );
}

function evaluations(list) {
  if (!list.length) return h("p", { class: "muted" }, "Not evaluated since it was published: `hub eval NAME --data FILE` records one here.");
  return [...list].reverse().map((e) =>
    h(
      "article",
      { class: "evaluation" },
      h("h3", {}, `${e.data || "data"} · ${e.examples ?? "?"} examples`),
      h("p", { class: "muted" }, `${e.created || ""} · data fingerprint `, h("code", {}, e.data_fingerprint || "–")),
      pairs(e.metrics),
      e.per_class && Object.keys(e.per_class).length ? perClass(e.per_class) : null,
      e.confusion && e.confusion.length ? heatmap(e.labels, e.confusion) : null,
    ),
  );
}

function diff(value, mine, metric) {
  if (typeof value !== "number" || typeof mine !== "number" || value === mine) return null;
  const delta = value - mine;
  const better = LOWER_IS_BETTER.test(metric) ? delta < 0 : delta > 0;
  return h("span", { class: better ? "up" : "down" }, ` (${delta > 0 ? "+" : ""}${num(delta)})`);
}

/** Every version of the name in one table: metrics, size, method; differences against the version shown. */
function sideBySide(all, card) {
  const metrics = [...new Set(all.flatMap((a) => Object.keys(a.metrics)))];
  const head = h("tr", {}, h("td", {}), all.map((a) => h("th", { scope: "col" }, a.version === card.version ? `v${a.version} (this)` : h("a", { href: `#/adapter/${a.ref}` }, `v${a.version}`))));
  const line = (title, cell) => h("tr", {}, h("th", { scope: "row" }, title), all.map((a) => h("td", { class: "num" }, ...cell(a))));
  const mine = all.find((a) => a.version === card.version);
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "data", id: "versions" },
      h("caption", {}, `Versions of ${card.name}: differences are against v${card.version}`),
      h("thead", {}, head),
      h(
        "tbody",
        {},
        metrics.map((m) => line(m, (a) => (m in a.metrics ? [num(a.metrics[m]), diff(a.metrics[m], mine.metrics[m], m)] : ["–"]))),
        line("method", (a) => [a.method]),
        line("size", (a) => [bytes(a.size_bytes)]),
        line("aliases", (a) => [a.aliases.join(", ")]),
        line("published", (a) => [h("span", { title: a.created }, `${age(a.created)} ago`)]),
        line("content hash", (a) => [h("code", { title: a.content_hash }, a.content_hash.slice(0, 12))]),
      ),
    ),
  );
}

async function adapterPage(ref) {
  const [name, version] = ref.split("@");
  const ticket = navigation;
  const all = await versions({ name, cards: true });
  if (ticket !== navigation) return;
  const shown = version ? all.find((a) => String(a.version) === version) : all[0];
  if (!shown) throw new Error(`${name} has no version ${version}; its versions are ${all.map((a) => a.version).join(", ")}`);
  const card = shown.card;
  document.title = `${shown.ref} · adapterhub`;
  const top = headline(shown);
  const files = Object.entries(card.files || {});
  show(
    h("p", {}, h("a", { href: "#/" }, "← Registry")),
    h("h1", {}, shown.ref),
    h("p", {}, h("a", { href: `#/playground/${shown.ref}`, class: "try" }, "Try it in the playground")),
    h(
      "p",
      { class: "badges" },
      h("span", { class: "badge" }, card.task),
      h("span", { class: "badge" }, card.method),
      shown.resident ? h("span", { class: "badge" }, shown.resident) : null,
      ...shown.aliases.map((a) => h("span", { class: "badge alias" }, `:${a}`)),
      ...card.tags.map((t) => h("span", { class: "badge tag" }, `#${t}`)),
    ),
    section(
      "summary",
      "Summary",
      pairs({
        "headline metric": top ? `${top[0]} ${num(top[1])}` : "none",
        "task type": card.task_type,
        base: card.base.id,
        "base fingerprint": card.base.fingerprint,
        "trainable parameters": card.trainable_params,
        size: bytes(card.size_bytes),
        "content hash": shown.content_hash,
        published: card.created,
        "adapterhub version": card.adapterhub_version,
      }),
    ),
    section("metrics", "Metrics", pairs(card.metrics)),
    section("labels", "Labels", card.labels.length ? h("ul", { class: "labels" }, card.labels.map((l) => h("li", {}, l))) : h("p", { class: "muted" }, "none (a generate adapter)")),
    section("curves", "Learning curves", curves(card.history)),
    section("evaluations", "Evaluations", evaluations(card.evaluations)),
    all.length > 1 ? section("compare", "Versions side by side", sideBySide(all, card)) : null,
    section(
      "training",
      "Training",
      h("h3", {}, "Hyper-parameters"), pairs(card.hyperparameters),
      h("h3", {}, "Method settings"), pairs(card.method_config),
      h("h3", {}, "Inference settings"), pairs(card.inference),
    ),
    section(
      "data",
      "Data",
      pairs({ description: card.data.description, fingerprint: card.data.fingerprint, "train examples": card.data.train_examples, "eval examples": card.data.eval_examples }),
    ),
    section(
      "files",
      "Files",
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { class: "data" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "Size"), h("th", { scope: "col" }, "sha256"))),
          h("tbody", {}, files.map(([f, info]) => h("tr", {}, h("th", { scope: "row" }, f), h("td", { class: "num" }, bytes(info.bytes)), h("td", {}, h("code", {}, info.sha256))))),
        ),
      ),
    ),
    card.lineage.length
      ? section(
          "lineage",
          "Lineage",
          h("p", {}, "Merged from:"),
          h("ul", {}, card.lineage.map((l) => h("li", {}, h("a", { href: `#/adapter/${l.ref}` }, l.ref), ` · weight ${num(l.weight)} · `, h("code", {}, String(l.content_hash).slice(0, 12))))),
        )
      : null,
  );
}

// ---------------------------------------------------------------------------------------------- playground

const PICKS = 2; // adapters run on the same inputs: one, two side by side, or two as one ensemble
const COMBINE = ["mean"]; // what POST /v1/predict's `combine` takes

function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

/** A classifier's answer: the label, then one labelled meter per class with its probability as text. */
function classification(result, id) {
  const scores = Object.entries(result.scores); // the card's label order: bars line up across versions
  return h(
    "div",
    { class: "classification", "data-label": result.label, "data-score": String(result.score) },
    h("p", { class: "verdict" }, h("strong", {}, result.label), ` ${percent(result.score)}`),
    h(
      "ul",
      { class: "bars" },
      scores.map(([label, p], i) =>
        h(
          "li",
          {},
          h("label", { for: `${id}-${i}` }, label),
          h("meter", { id: `${id}-${i}`, min: "0", max: "1", value: String(p), "data-score": String(p) }, percent(p)),
          h("span", { class: "num" }, percent(p)),
        ),
      ),
    ),
  );
}

/** A tagger's answer: the input with each entity in a <mark> that names its type. */
function entities(result, text) {
  const parts = [];
  let at = 0;
  for (const e of [...result.entities].sort((a, b) => a.start - b.start)) {
    if (e.start < at) continue; // spans never overlap; this only guards the text against repeating
    parts.push(text.slice(at, e.start));
    parts.push(
      h(
        "mark",
        { "data-type": e.type, title: `${e.type} ${percent(e.score)}` },
        h("span", { class: "entity" }, text.slice(e.start, e.end)),
        h("small", { class: "etype" }, e.type),
      ),
    );
    at = e.end;
  }
  parts.push(text.slice(at));
  return h(
    "div",
    { class: "entities" },
    h("p", { class: "tagged" }, ...parts),
    result.entities.length ? null : h("p", { class: "muted" }, "no entities found"),
  );
}

function tokenCount(tokens, finished) {
  return `${tokens} tokens (${finished ? "the model ended it" : "cut at the token limit"})`;
}

function generation(result) {
  return h(
    "div",
    { class: "generation" },
    h("p", { class: "generated" }, result.text),
    h("p", { class: "muted" }, tokenCount(result.tokens, result.finished)),
  );
}

function answer(result, text, id) {
  if (result.type === "classification") return classification(result, id);
  if (result.type === "entities") return entities(result, text);
  return generation(result);
}

/** The task of the version that NAME, NAME@VERSION or NAME:ALIAS names in the registry listing; null when the
 * listing cannot tell (a name it lacks, or a weighted alias over versions of different tasks). */
function taskOf(ref) {
  let found;
  if (ref.includes("@")) found = everything.filter((a) => a.ref === ref);
  else if (ref.includes(":")) {
    const [name, alias] = ref.split(":", 2);
    found = everything.filter((a) => a.name === name && a.aliases.includes(alias));
  } else found = everything.filter((a) => a.name === ref).slice(0, 1); // newest first within a name
  const tasks = new Set(found.map((a) => a.task));
  return tasks.size === 1 ? [...tasks][0] : null;
}

/** The data of each server-sent event of a response as it arrives: its `data:` lines up to a blank line
 * (comments and other fields are skipped; a line break may be split across two reads). */
async function* serverEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length; // the \n of a \r\n may come next
    const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
    buffer = lines.pop() + buffer.slice(cut);
    for (const line of lines) {
      if (line === "") {
        if (data.length) yield data.join("\n");
        data = [];
      } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
  }
}

/** One prompt through POST /v1/completions with `stream: true`, as an OpenAI client sends it; `onText(model,
 * piece)` gets each piece as its chunk arrives. Resolves to the exact version, finish reason and token count. */
async function complete(model, prompt, { signal, ...sampling }, onText) {
  const body = { model, prompt, stream: true, stream_options: { include_usage: true }, ...sampling };
  const headers = { Accept: "text/event-stream", "Content-Type": "application/json" };
  const response = await send("/v1/completions", { method: "POST", headers, body: JSON.stringify(body), signal });
  const out = { model, finish: null, tokens: null };
  for await (const data of serverEvents(response)) {
    if (data === "[DONE]") return out;
    const chunk = JSON.parse(data);
    if (chunk.error) throw new Error(chunk.error.message); // a failure after the 200 comes inside the stream
    out.model = chunk.model || out.model;
    for (const choice of chunk.choices) {
      if (choice.text) onText(out.model, choice.text);
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
    if (chunk.usage) out.tokens = chunk.usage.completion_tokens;
  }
  throw new Error("the stream ended before its [DONE] (the connection was cut)");
}

/** An adapter's name as a heading: a link to its page, or for an ensemble (`mean(a@1,b@2)`) to its members'. */
function adapterTitle(ref) {
  const ensemble = /^(\w+)\((.*)\)$/.exec(ref);
  if (!ensemble) return [h("a", { href: `#/adapter/${ref}` }, ref)];
  const members = ensemble[2].split(",").map((m) => h("a", { href: `#/adapter/${m}` }, m));
  return [`${ensemble[1]} of `, ...members.flatMap((m, i) => (i ? [", ", m] : [m]))];
}

/** Where one adapter's answer to input `i` goes: named as picked until the answer names the exact version. */
function slot(picked, i) {
  const heading = h("h3", {}, picked);
  const body = h("div", {}, h("p", { class: "muted" }, "waiting…"));
  const section = h("section", { class: "answer", "aria-busy": "true", "aria-label": `${picked}, input ${i + 1}`, "data-adapter": picked }, heading, body);
  let linked = null;
  const slot = {
    section,
    named(ref) {
      if (linked === ref) return;
      linked = ref;
      section.dataset.adapter = ref;
      section.setAttribute("aria-label", `${ref}, input ${i + 1}`);
      heading.replaceChildren(...adapterTitle(ref));
    },
    show(ref, ...nodes) {
      if (ref) slot.named(ref); // null: still as picked (an alias's exact version comes with the first chunk)
      body.replaceChildren(...nodes);
    },
    done: () => section.removeAttribute("aria-busy"),
  };
  return slot;
}

/** A column through POST /v1/predict: one adapter, or several with `combine` (an ensemble, one answer). */
async function predicted(column, texts, slots, j, signal) {
  const body = { adapter: column.combine ? column.adapters : column.adapters[0], inputs: texts };
  if (column.combine) body.combine = column.combine;
  const a = await api("/v1/predict", body, signal);
  texts.forEach((text, i) => {
    slots[i].show(a.adapter, answer(a.results[i], text, `score-${i}-${j}`));
    slots[i].done();
  });
  return a.adapter;
}

/** A generate adapter's column: each input streams through POST /v1/completions, all at once. */
async function streamed(column, texts, slots, options) {
  const refs = await Promise.all(
    texts.map(async (text, i) => {
      const generated = h("p", { class: "generated" });
      const about = h("p", { class: "muted" }, "generating…");
      slots[i].show(null, h("div", { class: "generation" }, generated, about));
      const end = await complete(column.adapters[0], text, options, (model, piece) => {
        slots[i].named(model);
        generated.append(piece);
      });
      slots[i].named(end.model);
      about.textContent = tokenCount(end.tokens ?? "?", end.finish === "stop");
      slots[i].done();
      return end.model;
    }),
  );
  return refs[0];
}

async function playgroundPage(picked) {
  const ticket = navigation;
  everything = everything || (await versions());
  if (ticket !== navigation) return;
  document.title = "Playground · adapterhub";
  // every way to name an adapter: NAME (newest), NAME@VERSION and NAME:ALIAS
  const refs = new Set(everything.flatMap((a) => [a.name, a.ref, ...a.aliases.map((x) => `${a.name}:${x}`)]));
  const choices = h("datalist", { id: "adapter-choices" }, [...refs].sort().map((r) => h("option", { value: r })));
  const wanted = picked ? picked.split(",") : [];
  const pickers = Array.from({ length: PICKS }, (_, i) =>
    h("input", {
      id: `adapter-${i}`, list: "adapter-choices", autocomplete: "off", spellcheck: "false", value: wanted[i] || "",
      required: i === 0, placeholder: i === 0 ? "NAME, NAME@VERSION or NAME:ALIAS" : "optional: another adapter or version",
    }),
  );
  const together = h("input", { id: "ensemble", type: "checkbox", "aria-describedby": "ensemble-hint" });
  const combine = h("select", { id: "combine", disabled: true }, COMBINE.map((v) => h("option", { value: v }, v)));
  const maxTokens = h("input", { id: "max-tokens", type: "number", min: "1", step: "1", value: "32", inputmode: "numeric", required: true });
  const temperature = h("input", { id: "temperature", type: "number", min: "0", max: "2", step: "any", value: "0", inputmode: "decimal", required: true });
  const sampling = h(
    "fieldset",
    { class: "options", hidden: true, disabled: true },
    h("legend", {}, "Generation options"),
    h("div", {}, h("label", { for: "max-tokens" }, "Max tokens"), maxTokens),
    h("div", {}, h("label", { for: "temperature" }, "Temperature"), temperature, h("small", { class: "muted" }, "0 is greedy: the same text every run")),
  );
  const inputs = h("textarea", { id: "inputs", rows: "5", required: true, placeholder: "One input per line" });
  const alert = h("p", { id: "play-error", class: "error", role: "alert" });
  const status = h("p", { role: "status", class: "muted" });
  const results = h("div", { id: "results" });
  const run = h("button", { type: "submit" }, "Run");
  const form = h(
    "form",
    { class: "playground", "aria-label": "Playground" },
    h("label", { for: "inputs" }, "Inputs (one per line)"),
    inputs,
    h(
      "div",
      { class: "pickers" },
      pickers.map((p, i) => h("div", {}, h("label", { for: p.id }, i === 0 ? "Adapter" : "Compare with"), p)),
    ),
    choices,
    h(
      "div",
      { class: "ensemble" },
      h("span", {}, together, h("label", { for: "ensemble" }, "Combine as an ensemble")),
      h("span", {}, h("label", { for: "combine" }, "Combine"), combine),
      h("small", { id: "ensemble-hint", class: "muted" }, "one answer from both classifiers (of one label set) instead of two side by side; mean averages their class probabilities"),
    ),
    sampling,
    h("div", {}, run),
  );
  // generation options show (and are checked on submit) only while a picked adapter generates text
  const generates = (ref) => !together.checked && taskOf(ref) === "generate";
  function refresh() {
    combine.disabled = !together.checked;
    sampling.hidden = sampling.disabled = !pickers.some((p) => generates(p.value.trim()));
  }
  for (const control of [...pickers, together]) control.addEventListener("input", refresh);
  refresh();
  let running = null; // the AbortController of the run in progress: a failure stops its other requests
  window.addEventListener("hashchange", () => running?.abort(), { once: true });

  /** The options of the generate adapters' requests, or a one-line reason why they are not valid. */
  function options() {
    const tokens = Number(maxTokens.value);
    if (!maxTokens.value.trim() || !Number.isInteger(tokens) || tokens < 1) return "Max tokens must be a whole number of at least 1.";
    const heat = Number(temperature.value);
    if (!temperature.value.trim() || !(heat >= 0 && heat <= 2)) return "Temperature must be a number from 0 (greedy) to 2.";
    return { max_tokens: tokens, temperature: heat };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const texts = inputs.value.split("\n").map((t) => t.trim()).filter(Boolean);
    const adapters = pickers.map((p) => p.value.trim()).filter(Boolean);
    alert.textContent = "";
    if (!texts.length) {
      alert.textContent = "Type at least one input: one per line.";
      return;
    }
    if (!adapters.length) {
      alert.textContent = "Pick an adapter: NAME, NAME@VERSION or NAME:ALIAS.";
      return;
    }
    if (together.checked && adapters.length < 2) {
      alert.textContent = "An ensemble needs two adapters: fill in both Adapter and Compare with.";
      return;
    }
    const columns = together.checked
      ? [{ label: adapters.join(" + "), adapters, combine: combine.value }]
      : adapters.map((a) => ({ label: a, adapters: [a], stream: generates(a) }));
    const asked = columns.some((c) => c.stream) ? options() : {};
    if (typeof asked === "string") {
      alert.textContent = asked;
      return;
    }
    const controller = new AbortController();
    running = controller;
    // one id for the run's completions: a weighted alias answers all of its inputs from one version
    Object.assign(asked, { signal: controller.signal, user: `playground-${Math.random().toString(36).slice(2)}` });
    const slots = columns.map((c) => texts.map((_, i) => slot(c.label, i)));
    results.replaceChildren(...texts.map((text, i) => h(
      "article",
      { class: "input", "aria-label": `Input ${i + 1}` },
      h("h2", {}, h("span", { class: "muted" }, `Input ${i + 1}: `), text),
      h("div", { class: columns.length > 1 ? "side-by-side" : "" }, slots.map((column) => column[i].section)),
    )));
    run.disabled = true;
    status.textContent = columns.some((c) => c.stream) ? "Generating…" : "Running…";
    try {
      // the same requests a client sends, all at once; a failure names the adapter it came from
      const answered = await Promise.all(
        columns.map((column, j) =>
          (column.stream ? streamed(column, texts, slots[j], asked) : predicted(column, texts, slots[j], j, controller.signal)).catch((err) => {
            throw new Error(`${column.label}: ${err.message}`);
          }),
        ),
      );
      status.textContent = `${texts.length} input${texts.length > 1 ? "s" : ""} through ${answered.join(" and ")}`;
    } catch (err) {
      if (controller.signal.aborted) return; // the page was left
      controller.abort();
      results.replaceChildren();
      status.textContent = "";
      alert.textContent = err.message;
    } finally {
      run.disabled = false;
    }
  });
  show(
    h("h1", {}, "Playground"),
    h(
      "p",
      { class: "muted" },
      "Runs your inputs as a client would: POST /v1/predict, or for a generate adapter POST /v1/completions with stream: true, so its text appears as it is generated. Pick a second adapter to compare answers side by side, or combine both as one ensemble.",
    ),
    form,
    alert,
    status,
    results,
  );
}

// ---------------------------------------------------------------------------------------------- routing

// Each route() is a navigation; a page that awaited the API shows itself only if no other navigation came since
// (a slow registry list must not replace the server view the user clicked to meanwhile).
let navigation = 0;

async function route() {
  const ticket = ++navigation;
  const path = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  try {
    if (path.startsWith("adapter/")) await adapterPage(path.slice("adapter/".length));
    else if (path === "server") serverPage(); // server.js
    else if (path === "playground" || path.startsWith("playground/")) await playgroundPage(path.slice("playground/".length));
    else await registryPage();
  } catch (err) {
    if (ticket === navigation) failure(err);
  }
  if (ticket === navigation) main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
route();
