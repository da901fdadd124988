// charts.js: the Chart.js charts of the dashboard. Each chart is built by a
// function of the data and the theme colours, kept so a colour-scheme
// change can redraw it; instances are exposed in window.trackskills.charts.

import { ts } from './api.js';
import { fmtNum, fmtMs, fmtHour, fmtDay, truncate, theme, isHiddenCount } from './util.js';

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

const labelWidth = () => (window.innerWidth < 500 ? 14 : 26);
const durationTick = (v) => {
  const m = v / 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5].includes(Math.round(m * 10) / 10) ? fmtMs(v) : '';
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
        x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
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
      labels: names,
      datasets: [{ label: 'Invocations', data: top.map((x) => x.invocations), backgroundColor: t.accent }],
    },
    options: {
      indexAxis: 'y',
      scales: {
        x: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum } },
        y: { grid: { display: false }, ticks: { autoSkip: false, callback(v) { return truncate(this.getLabelForValue(v), labelWidth()); } } },
      },
      plugins: { legend: { display: false } },
      onClick(evt, _els, chart) {
        const hit = chart.getElementsAtEventForMode(evt, 'y', { intersect: false }, false);
        if (hit.length) onTool(names[hit[0].index]);
      },
      onHover(evt, _els, chart) {
        const hit = chart.getElementsAtEventForMode(evt, 'y', { intersect: false }, false);
        chart.canvas.style.cursor = hit.length ? 'pointer' : 'default';
      },
    },
  }));
}

// Success / error / timeout doughnut from the timeseries totals.
export function drawStatus(s, e, to) {
  const total = s + e + to || 1;
  return render('status', 'chart-status', (t) => ({
    type: 'doughnut',
    data: {
      labels: ['Success', 'Error', 'Timeout'],
      datasets: [{ data: [s, e, to], backgroundColor: [t.success, t.error, t.timeout], borderColor: t.surface }],
    },
    options: {
      cutout: '60%',
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (c) => ` ${c.label}: ${fmtNum(c.raw)} (${((100 * c.raw) / total).toFixed(2)}%)` } },
      },
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
      scales: { x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } }, y: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum } } },
      plugins: { legend: { display: false } },
    },
  }));
}

// p50 / p95 per tool for the top 15 tools, on a log scale.
export function drawLatency(tools) {
  const top = tools.slice(0, 15);
  return render('latency', 'chart-latency', (t) => ({
    type: 'bar',
    data: {
      labels: top.map((x) => x.tool_name),
      datasets: [
        { label: 'p50', data: top.map((x) => x.p50_duration_ms || null), backgroundColor: t.accent },
        { label: 'p95', data: top.map((x) => x.p95_duration_ms || null), backgroundColor: t.accent2 },
      ],
    },
    options: {
      indexAxis: 'y',
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { type: 'logarithmic', ticks: { maxRotation: 0, callback: durationTick } },
        y: { grid: { display: false }, ticks: { autoSkip: false, callback(v) { return truncate(this.getLabelForValue(v), labelWidth()); } } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (c) => ` ${c.dataset.label}: ${fmtMs(c.raw)}` } },
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
        { type: 'line', label: 'p95', data: daily.map((x) => (x.invocations ? x.p95_duration_ms : null)), spanGaps: true, borderColor: t.accent2, backgroundColor: t.accent2, yAxisID: 'y1', pointRadius: 2 },
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
        y: { beginAtZero: true, ticks: { precision: 0, callback: fmtNum } },
        y1: { position: 'right', beginAtZero: true, grid: { display: false }, ticks: { callback: fmtMs } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { callbacks: { label: (c) => ` ${c.dataset.label}: ${c.dataset.yAxisID === 'y1' ? fmtMs(c.raw) : fmtNum(c.raw)}` } },
      },
    },
  }));
}
