// The observer dashboard: fetches api/dashboard every few seconds and draws small SVG charts (no libraries).
"use strict";

const REFRESH_MS = 5000;
const COLORS = ["#3f6fd8", "#e0892b", "#2b9c6b", "#c62f3b", "#8a5cd0", "#1b9fb5", "#9a9a9a"];
const SVG_NS = "http://www.w3.org/2000/svg";
let refreshes = 0;

function el(tag, attrs = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function usd(micros) {
  const dollars = micros / 1e6;
  if (dollars === 0) return "$0";
  if (dollars >= 100) return "$" + dollars.toFixed(0);
  if (dollars >= 1) return "$" + dollars.toFixed(2);
  return "$" + dollars.toFixed(4);
}

function compact(value) {
  if (value === null || value === undefined) return "–";
  const abs = Math.abs(value);
  if (abs >= 1e9) return (value / 1e9).toFixed(1) + "G";
  if (abs >= 1e6) return (value / 1e6).toFixed(1) + "M";
  if (abs >= 1e3) return (value / 1e3).toFixed(1) + "k";
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 1 ? 2 : 1);
}

function millis(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? (value / 1000).toFixed(2) + " s" : value.toFixed(0) + " ms";
}

function percent(value) {
  return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%";
}

function clock(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// A line chart of several series over the time buckets; null values leave gaps. Records its point count.
function lineChart(container, buckets, series, format = compact, fixedMax = null) {
  const width = 560, height = 190, left = 48, right = 8, top = 8, bottom = 22;
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" });
  const values = series.flatMap((s) => s.values.filter((v) => v !== null));
  const points = series.reduce((n, s) => n + s.values.filter((v) => v !== null && v > 0).length, 0);
  const max = fixedMax ?? (Math.max(...values, 0) * 1.1 || 1);
  const x = (i) => left + (i / Math.max(buckets.length - 1, 1)) * (width - left - right);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  for (const fraction of [0, 0.5, 1]) {
    const level = max * fraction;
    svg.append(el("svg:line", { class: "axis", x1: left, x2: width - right, y1: y(level), y2: y(level) }));
    svg.append(el("svg:text", { x: left - 4, y: y(level) + 3, "text-anchor": "end" }, format(level)));
  }
  for (const i of [0, Math.floor(buckets.length / 2), buckets.length - 1]) {
    svg.append(el("svg:text", { x: x(i), y: height - 6, "text-anchor": "middle" }, clock(buckets[i])));
  }
  series.forEach((s, index) => {
    let path = "";
    let pen = "M";
    s.values.forEach((v, i) => {
      if (v === null) { pen = "M"; return; }
      path += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
    });
    if (path) {
      svg.append(el("svg:path", {
        d: path, fill: "none", stroke: COLORS[index % COLORS.length], "stroke-width": 2,
        "vector-effect": "non-scaling-stroke", "stroke-linejoin": "round", class: "series", "data-series": s.name,
      }));
    }
  });
  if (!points) {
    svg.append(el("svg:text", { class: "empty", x: width / 2, y: height / 2, "text-anchor": "middle" }, "no data in range"));
  }
  const legend = el("div", { class: "legend" });
  series.forEach((s, index) => {
    const item = el("span", {}, s.name);
    item.prepend(el("i", { style: `background:${COLORS[index % COLORS.length]}` }));
    legend.append(item);
  });
  container.replaceChildren(svg, legend);
  container.dataset.points = String(points);
  container.dataset.series = String(series.length);
  return points;
}

// Horizontal bars, one row per item; `bad(item)` paints a row red.
function barChart(container, items, label, value, format, bad = () => false) {
  const max = Math.max(...items.map(value), 0) || 1;
  const rows = items.map((item) => {
    const row = el("div", { class: "row" });
    const track = el("div", { class: "track" });
    track.append(el("div", { class: "fill" + (bad(item) ? " bad" : ""), style: `width:${(value(item) / max) * 100}%` }));
    row.append(el("span", { class: "name", title: label(item) }, label(item)), track, el("span", { class: "num" }, format(item)));
    return row;
  });
  if (!rows.length) rows.push(el("p", { class: "muted" }, "no requests in range"));
  container.replaceChildren(...rows);
  container.dataset.points = String(items.length);
  return items.length;
}

function tiles(totals, alerts) {
  const entries = [
    ["requests", compact(totals.requests)],
    ["cost", usd(totals.cost_micros_usd)],
    ["error rate", percent(totals.error_rate), totals.error_rate > 0.01],
    ["p95 latency", millis(totals.latency_p95_ms), totals.latency_p95_ms > 5000],
    ["cache hit rate", percent(totals.cache_lookup_hit_rate), totals.cache_lookup_hit_rate !== null && totals.cache_lookup_hit_rate < 0.3],
    ["tokens", compact(totals.prompt_tokens + totals.completion_tokens)],
    ["alerts firing", String(alerts.length), alerts.length > 0],
  ];
  document.getElementById("tiles").replaceChildren(...entries.map(([label, value, bad]) => {
    const tile = el("div", { class: "tile" + (bad ? " bad" : "") });
    tile.append(el("div", { class: "label" }, label), el("div", { class: "value" }, value));
    return tile;
  }));
}

function alertList(alerts) {
  const box = document.getElementById("alerts");
  if (!alerts.length) {
    box.replaceChildren(el("p", { class: "none" }, "No alert is firing."));
  } else {
    box.replaceChildren(...alerts.map((alert) => {
      const item = el("div", { class: "alert" });
      item.append(el("b", {}, `${alert.rule} · ${alert.subject}`), el("span", {}, alert.description));
      return item;
    }));
  }
  box.dataset.points = String(alerts.length);
}

function render(data) {
  const b = data.buckets;
  const drawn = {
    cost_model: lineChart(document.getElementById("cost-model"), b, data.cost_by_model, usd),
    cost_tenant: lineChart(document.getElementById("cost-tenant"), b, data.cost_by_tenant, usd),
    latency: lineChart(document.getElementById("latency"), b, data.latency_ms, millis),
    requests: lineChart(document.getElementById("requests"), b, data.requests),
    tokens: lineChart(document.getElementById("tokens"), b, data.tokens),
    cache: lineChart(document.getElementById("cache"), b, data.cache_hit_rate, percent, 1),
    errors: barChart(document.getElementById("errors"), data.models, (m) => m.group, (m) => m.error_rate,
      (m) => `${percent(m.error_rate)} of ${compact(m.requests)}`, (m) => m.error_rate > 0.01),
    spenders: barChart(document.getElementById("spenders"), data.top_spenders, (t) => t.tenant,
      (t) => t.cost_micros_usd, (t) => usd(t.cost_micros_usd)),
  };
  tiles(data.totals, data.alerts);
  alertList(data.alerts);
  refreshes += 1;
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.charts = JSON.stringify(drawn);
  document.body.dataset.requests = String(data.totals.requests);
  document.body.dataset.refreshes = String(refreshes);
  document.body.dataset.ready = "true";
}

async function refresh() {
  const minutes = document.getElementById("range").value;
  try {
    const response = await fetch(`api/dashboard?minutes=${minutes}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (error) {
    document.getElementById("updated").textContent = "refresh failed: " + error.message;
  }
}

document.getElementById("range").addEventListener("change", refresh);
refresh();
setInterval(refresh, REFRESH_MS);
