// charts.js: the Chart.js charts of the dashboard. Each chart is built by a
// function of the data and the theme colours, kept so a colour-scheme
// change can redraw it; instances are exposed in window.trackskills.charts.

import { ts } from './api.js';
import { fmtNum, fmtMs, fmtHour, fmtDay, theme, isHiddenCount } from './util.js';
import { toolLabel, shortLabel } from './names.js';

const builders = {}; // chart name -> { canvasId, build(theme) }

function applyDefaults(t) {
  const d = window.Chart.defaults;
  d.animation = false;
  d.responsive = true;
  d.maintainAspectRatio = false;
  d.color = t.text;
  d.borderColor = t.grid;
  d.font.family = getComputedStyle(document.body).fontFamily;
  d.plugins.legend.labels.boxWidth = 12;
}

// render creates or updates the chart `name` on canvas #canvasId.
function render(name, canvasId, build) {
  builders[name] = { canvasId, build };
  const t = theme();
  applyDefaults(t);
  const cfg = build(t);
  let chart = ts.charts[name];
  const canvas = document.getElementById(canvasId);
  if (!canvas) { // a detail dialog's canvas, gone with its content
    chart?.destroy();
    ts.charts[name] = null;
    return null;
  }
  if (chart && chart.canvas === canvas && chart.config.type === cfg.type) {
    chart.data = cfg.data;
    chart.options = cfg.options;
    chart.update('none');
  } else {
    chart?.destroy();
    chart = ts.charts[name] = new window.Chart(canvas, cfg);
  }
  return chart;
}

// retheme redraws every chart with the colours of the current scheme.
export function retheme() {
  for (const [name, b] of Object.entries(builders)) {
    if (ts.charts[name]) render(name, b.canvasId, b.build);
  }
}

// On a phone (under 500 px) labels are shorter and fewer, so that no two
// overlap: names keep both ends (shorten), time axes show at most 4 ticks,
// the log axis only powers of ten. Rotation stays 0: slanted labels eat
// the plot and still collide.
const narrow = () => window.innerWidth < 500;
const labelWidth = () => (narrow() ? 18 : 32);
const timeTicks = () => ({ maxRotation: 0, autoSkip: true, autoSkipPadding: 12, maxTicksLimit: narrow() ? 4 : 8 });
const durationTick = (v) => {
  const m = Math.round((v / 10 ** Math.floor(Math.log10(v))) * 10) / 10;
  return (narrow() ? [1] : [1, 2, 5]).includes(m) ? fmtMs(v) : '';
};

// nameAxis is the category axis of a horizontal bar chart of tool names:
// every name shown ("server · tool" for MCP tools), shortened in the
// middle (never losing its end); the tooltip's title carries the full name.
const nameAxis = (names) => ({
  grid: { display: false },
  ticks: { autoSkip: false, callback: (_v, i) => shortLabel(names[i], labelWidth()) },
});
const fullNameTitle = (names) => (items) => (items.length ? names[items[0].dataIndex] : '');

// clickRows opens onTool(name) for a click on a row of a horizontal bar chart.
const clickRows = (names, onTool) => ({
  onClick(evt, _els, chart) {
    const hit = chart.getElementsAtEventForMode(evt, 'y', { intersect: false }, false);
    if (hit.length && onTool) onTool(names[hit[0].index]);
  },
  onHover(evt, _els, chart) {
    const hit = chart.getElementsAtEventForMode(evt, 'y', { intersect: false }, false);
    chart.canvas.style.cursor = hit.length && onTool ? 'pointer' : 'default';
  },
});

// hasDurations reports whether a row of /analytics/tools (or a summary or
// a tool's detail) holds any duration: the API answers 0 for every figure
// when no event of the tool carried one. A count of durations, when the
// answer has one, decides.
export function hasDurations(r) {
  if (!r) return false;
  if (r.duration_count != null) return +r.duration_count > 0;
  return ['avg_duration_ms', 'p50_duration_ms', 'p95_duration_ms', 'p99_duration_ms', 'max_duration_ms']
    .some((k) => r[k] != null && +r[k] > 0);
}

// noDataPlugin writes "no data" on the rows of a horizontal bar chart whose
// indexes are in options.plugins.noData.rows.
const noDataPlugin = {
  id: 'noData',
  afterDatasetsDraw(chart, _args, opts) {
    const rows = opts?.rows || [];
    if (!rows.length) return;
    const { ctx, chartArea } = chart;
    const y = chart.scales.y;
    ctx.save();
    ctx.fillStyle = opts.color || '#888';
    ctx.font = `italic 12px ${window.Chart.defaults.font.family}`;
    ctx.textBaseline = 'middle';
    for (const i of rows) ctx.fillText('no data', chartArea.left + 6, y.getPixelForTick(i));
    ctx.restore();
  },
};

// Invocations over time, stacked by status. Hour buckets are labelled in the
// browser's time zone, day buckets (UTC days) by their date.
export function drawTimeseries(res) {
  const hourly = res.interval === 'hour';
  const b = res.buckets || [];
  const labels = b.map((x) => (hourly ? fmtHour(x.bucket) : fmtDay(x.bucket)));
  return render('timeseries', 'chart-timeseries', (t) => ({
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: 'Success', data: b.map((x) => x.successes), backgroundColor: t.success },
        { label: 'Error', data: b.map((x) => x.errors), backgroundColor: t.error },
        { label: 'Timeout', data: b.map((x) => x.timeouts), backgroundColor: t.timeout },
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      datasets: { bar: { barPercentage: 1, categoryPercentage: 0.9 } },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: timeTicks() },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0, callback: fmtNum } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  }));
}

// Top tools by invocations (horizontal); clicking a row calls onTool(name).
export function drawTools(tools, onTool) {
  const top = tools.slice(0, 15);
  const names = top.map((x) => x.tool_name);
  return render('tools', 'chart-tools', (t) => ({
    type: 'bar',
    data: {
      labels: names.map(toolLabel),
      datasets: [{ label: 'Invocations', data: top.map((x) => x.invocations), backgroundColor: t.accent }],
    },
    options: {
      indexAxis: 'y',
      scales: {
        x: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum, maxRotation: 0, autoSkipPadding: 12 } },
        y: nameAxis(names),
      },
      plugins: { legend: { display: false }, tooltip: { callbacks: { title: fullNameTitle(names) } } },
      ...clickRows(names, onTool),
    },
  }));
}

// Status per top tool: a 100% bar of success, error and timeout shares,
// in the order of the top tools chart. It replaces a doughnut of the
// totals: the same pixels now tell which tool fails, and how.
export function drawStatusBars(tools, onTool) {
  const top = tools.slice(0, 15);
  const names = top.map((x) => x.tool_name);
  const share = (x, k) => (x[k] == null || x[k] === '' ? 0 : +x[k]);
  return render('status', 'chart-status', (t) => ({
    type: 'bar',
    data: {
      labels: names.map(toolLabel),
      datasets: [
        { label: 'Success', data: top.map((x) => share(x, 'success_rate')), backgroundColor: t.success },
        { label: 'Error', data: top.map((x) => share(x, 'error_rate')), backgroundColor: t.error },
        { label: 'Timeout', data: top.map((x) => share(x, 'timeout_rate')), backgroundColor: t.timeout },
      ],
    },
    options: {
      indexAxis: 'y',
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, min: 0, max: 100, ticks: { maxRotation: 0, autoSkipPadding: 12, stepSize: narrow() ? 50 : 25, callback: (v) => `${v}%` } },
        y: { ...nameAxis(names), stacked: true },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: {
          callbacks: {
            title: fullNameTitle(names),
            label: (c) => ` ${c.dataset.label}: ${(+c.raw).toFixed(2)}% (${fmtNum(Math.round((c.raw * (top[c.dataIndex].invocations || 0)) / 100))})`,
          },
        },
      },
      ...clickRows(names, onTool),
    },
  }));
}

// Daily active users, oldest first (the API lists newest first).
export function drawDau(rows) {
  const r = [...rows].reverse();
  return render('dau', 'chart-dau', (t) => ({
    type: 'line',
    data: {
      labels: r.map((x) => fmtDay(x.date)),
      // A day hidden by the minimum group size ("fewer than K") is a gap.
      datasets: [{ label: 'DAU', data: r.map((x) => (isHiddenCount(x.dau) ? null : x.dau)), borderColor: t.accent, backgroundColor: t.accent, pointRadius: r.length > 40 ? 0 : 2, tension: 0.2 }],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: { x: { grid: { display: false }, ticks: timeTicks() }, y: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum } } },
      plugins: { legend: { display: false } },
    },
  }));
}

// p50 / p95 per tool for the top 15 tools, on a log scale. A tool without
// durations gets no bar and the words "no data", never 0 ms.
export function drawLatency(tools) {
  const top = tools.slice(0, 15);
  const names = top.map((x) => x.tool_name);
  const has = top.map(hasDurations);
  const rows = has.flatMap((h, i) => (h ? [] : [i]));
  const canvas = document.getElementById('chart-latency');
  if (canvas) canvas.dataset.noData = JSON.stringify(rows.map((i) => names[i]));
  const v = (x, k, i) => (has[i] && +x[k] > 0 ? +x[k] : null);
  return render('latency', 'chart-latency', (t) => ({
    type: 'bar',
    data: {
      labels: names.map(toolLabel),
      datasets: [
        { label: 'p50', data: top.map((x, i) => v(x, 'p50_duration_ms', i)), backgroundColor: t.accent },
        { label: 'p95', data: top.map((x, i) => v(x, 'p95_duration_ms', i)), backgroundColor: t.accent2 },
      ],
    },
    plugins: [noDataPlugin],
    options: {
      indexAxis: 'y',
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { type: 'logarithmic', ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12, callback: durationTick } },
        y: nameAxis(names),
      },
      plugins: {
        legend: { position: 'bottom' },
        noData: { rows, color: t.text },
        tooltip: { callbacks: { title: fullNameTitle(names), label: (c) => ` ${c.dataset.label}: ${c.raw == null ? 'no data' : fmtMs(c.raw)}` } },
      },
    },
  }));
}

// Tool detail: daily invocations and errors (bars), p95 (line, right axis).
export function drawDetail(daily) {
  return render('detail', 'chart-detail', (t) => ({
    type: 'bar',
    data: {
      labels: daily.map((x) => fmtDay(x.date)),
      datasets: [
        { label: 'Invocations', data: daily.map((x) => x.invocations), backgroundColor: t.accent, yAxisID: 'y' },
        { label: 'Errors', data: daily.map((x) => x.errors), backgroundColor: t.error, yAxisID: 'y' },
        { type: 'line', label: 'p95', data: daily.map((x) => (x.invocations && +x.p95_duration_ms > 0 ? x.p95_duration_ms : null)), spanGaps: true, borderColor: t.accent2, backgroundColor: t.accent2, yAxisID: 'y1', pointRadius: 2 },
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { grid: { display: false }, ticks: timeTicks() },
        y: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum } },
        y1: { position: 'right', beginAtZero: true, grid: { display: false }, ticks: { callback: fmtMs, maxTicksLimit: 6 } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (c) => ` ${c.dataset.label}: ${c.dataset.yAxisID === 'y1' ? (c.raw == null ? 'no data' : fmtMs(c.raw)) : fmtNum(c.raw)}` } },
      },
    },
  }));
}

// drawDaily draws a daily series of a view's detail (a skill, an MCP
// server): bars of spec.bars [{label, keys, color}] and a line of
// spec.line {label, keys} in ms on the right axis; a field is read from
// the first of its keys a row holds.
export function drawDaily(name, canvasId, daily, spec) {
  const val = (x, keys) => {
    for (const k of keys) if (x[k] != null) return Number.isNaN(+x[k]) ? null : +x[k];
    return null;
  };
  const rows = Array.isArray(daily) ? daily : [];
  return render(name, canvasId, (t) => ({
    type: 'bar',
    data: {
      labels: rows.map((x) => fmtDay(x.date ?? x.day ?? '')),
      datasets: [
        ...spec.bars.map((b) => ({ label: b.label, data: rows.map((x) => val(x, b.keys) ?? 0), backgroundColor: t[b.color] || t.accent, yAxisID: 'y' })),
        ...(spec.line ? [{
          type: 'line', label: spec.line.label, data: rows.map((x) => { const v = val(x, spec.line.keys); return v > 0 ? v : null; }),
          spanGaps: true, borderColor: t.accent2, backgroundColor: t.accent2, yAxisID: 'y1', pointRadius: 2,
        }] : []),
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { grid: { display: false }, ticks: timeTicks() },
        y: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum } },
        y1: { display: !!spec.line, position: 'right', beginAtZero: true, grid: { display: false }, ticks: { precision: 0, callback: fmtMs, maxTicksLimit: 6 } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (c) => ` ${c.dataset.label}: ${c.dataset.yAxisID === 'y1' ? (c.raw == null ? 'no data' : fmtMs(c.raw)) : fmtNum(c.raw)}` } },
      },
    },
  }));
}
