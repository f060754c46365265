// Admin console: model versions (promote, force past a failed gate, roll back) and training runs
// (start one, follow its stage and progress every 2 s, chart its loss, reward, KL and win rate).

import { api, describe, request, settings } from './api.js';

const $ = (id) => document.getElementById(id);
const errorLine = $('admin-error');
const statusLine = $('admin-status');

const POLL_MS = 2000;
const FINISHED = new Set(['succeeded', 'failed']);
/** The charts, and the metric row fields each one plots (the first one a stage's rows have). */
const CHARTS = [
  { id: 'chart-loss', fields: ['loss', 'value_loss'] },
  { id: 'chart-reward', fields: ['reward', 'reward_mean', 'mean_reward'] },
  { id: 'chart-kl', fields: ['kl', 'kl_mean', 'approx_kl'] },
  { id: 'chart-win-rate', fields: ['win_rate'] },
];
const STAGE_COLORS = { sft: '#0b5cad', rm: '#c75000', ppo: '#1a7f37', eval: '#8250df', evaluate: '#8250df' };

/** Versions for which the server refused a promotion because the gate failed: offer "force". */
const gateRefused = new Set();
let selectedRun = null;
let pollTimer = null;
const charts = new Map();

const hasToken = () => Boolean(settings.get('adminToken'));
const admin = (path, options = {}) => request(path, { ...options, admin: true });

function cell(content, className) {
  const td = document.createElement('td');
  if (className) {
    td.className = className;
  }
  if (content instanceof Node) {
    td.append(content);
  } else {
    td.textContent = content ?? '—';
  }
  return td;
}

function badge(text, kind, testid) {
  const span = document.createElement('span');
  span.className = `badge ${kind}`;
  span.textContent = text;
  if (testid) {
    span.dataset.testid = testid;
  }
  return span;
}

function formatTime(value) {
  if (value === null || value === undefined || value === '') {
    return '—';
  }
  // created_at is epoch milliseconds (or seconds, or an ISO string)
  const date = typeof value === 'number' ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function formatNumber(x) {
  if (typeof x !== 'number') {
    return String(x);
  }
  return Number.isInteger(x) ? String(x) : x.toPrecision(4).replace(/\.?0+$/, '');
}

/** The key numbers of a manifest: its metrics (one level deep), or failing that its export parity. */
function keyMetrics(manifest) {
  const source = manifest?.metrics ?? manifest?.parity ?? {};
  const out = [];
  const walk = (obj, prefix) => {
    for (const [k, v] of Object.entries(obj ?? {})) {
      if (typeof v === 'number') {
        out.push(`${prefix}${k}=${formatNumber(v)}`);
      } else if (v && typeof v === 'object' && !Array.isArray(v) && prefix === '') {
        walk(v, `${k}.`);
      }
    }
  };
  walk(source, '');
  return out.slice(0, 6).join('\n') || '—';
}

/** "passed" or "failed" as a badge, then the win rate and sample count. */
function gateBadge(gate) {
  if (!gate || typeof gate !== 'object') {
    return '—';
  }
  const wrap = document.createElement('span');
  wrap.className = 'gate';
  wrap.append(badge(gate.passed ? 'passed' : 'failed', gate.passed ? 'ok' : 'bad'));
  const detail = [gate.win_rate !== undefined ? `win rate ${formatNumber(gate.win_rate)}` : null,
    gate.n !== undefined ? `n = ${gate.n}` : null].filter(Boolean).join(', ');
  if (detail) {
    wrap.append(` ${detail}`);
  }
  return wrap;
}

// ---- Versions -------------------------------------------------------------------------------

async function loadVersions() {
  if (!hasToken()) {
    return;
  }
  try {
    const { data } = await admin('/admin/versions');
    renderVersions(data?.versions ?? []);
  } catch (e) {
    errorLine.textContent = `Versions: ${describe(e)}`;
  }
}

function renderVersions(versions) {
  const rows = [...versions].sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0)).map((v) => {
    const tr = document.createElement('tr');
    tr.id = `version-row-${v.version}`;
    tr.dataset.version = v.version;
    tr.dataset.active = String(Boolean(v.active));
    const gate = v.manifest?.gate;
    tr.append(
      cell(v.version),
      cell(v.kind),
      cell(v.parent ?? '—'),
      cell(v.state),
      cell(v.active ? badge('active', 'ok', `active-${v.version}`) : '—'),
      cell(formatTime(v.created_at)),
      cell(keyMetrics(v.manifest), 'metrics-cell'),
      cell(gateBadge(gate)),
      cell(versionActions(v, gate)),
    );
    return tr;
  });
  $('versions-body').replaceChildren(...rows);
}

function versionActions(v, gate) {
  const wrap = document.createElement('div');
  wrap.className = 'actions';
  if (v.active) {
    wrap.textContent = 'serving';
    return wrap;
  }
  const promote = document.createElement('button');
  promote.type = 'button';
  promote.id = `promote-${v.version}`;
  promote.dataset.testid = `promote-${v.version}`;
  promote.textContent = 'Promote';
  promote.disabled = v.state !== 'registered';
  promote.setAttribute('aria-label', `Promote version ${v.version}`);
  wrap.append(promote);
  let force = null;
  if (gate?.passed === false || gateRefused.has(v.version)) {
    const label = document.createElement('label');
    force = document.createElement('input');
    force.type = 'checkbox';
    force.id = `force-${v.version}`;
    force.dataset.testid = `force-${v.version}`;
    label.append(force, ' force (gate failed)');
    wrap.append(label);
  }
  promote.addEventListener('click', () => promoteVersion(v.version, force?.checked ?? false, promote));
  return wrap;
}

async function promoteVersion(version, force, button) {
  errorLine.textContent = '';
  statusLine.textContent = `Promoting version ${version}: loading and warming it…`;
  button.disabled = true;
  try {
    const path = `/admin/models/${encodeURIComponent(version)}/promote${force ? '?force=true' : ''}`;
    const { data } = await admin(path, { method: 'POST' });
    statusLine.textContent = `Version ${data?.active ?? version} is active`
      + (data?.previous ? ` (was ${data.previous}).` : '.');
  } catch (e) {
    statusLine.textContent = '';
    if (e.code === 'gate_failed') {
      gateRefused.add(version);
    }
    errorLine.textContent = describe(e) + (e.code === 'gate_failed' ? ' Tick "force" to promote it anyway.' : '');
  }
  await loadVersions();
}

$('rollback').addEventListener('click', async () => {
  errorLine.textContent = '';
  statusLine.textContent = 'Rolling back…';
  try {
    const { data } = await admin('/admin/rollback', { method: 'POST' });
    statusLine.textContent = `Rolled back: version ${data?.active} is active`
      + (data?.previous ? ` (was ${data.previous}).` : '.');
  } catch (e) {
    statusLine.textContent = '';
    errorLine.textContent = describe(e);
  }
  await loadVersions();
});

$('refresh-versions').addEventListener('click', () => {
  errorLine.textContent = '';
  loadVersions();
});

// ---- Training runs --------------------------------------------------------------------------

async function loadRuns() {
  if (!hasToken()) {
    return [];
  }
  try {
    const { data } = await admin('/admin/training-runs');
    const runs = data?.runs ?? [];
    renderRuns(runs);
    return runs;
  } catch (e) {
    errorLine.textContent = `Training runs: ${describe(e)}`;
    return [];
  }
}

function progressOf(run) {
  const p = document.createElement('progress');
  p.max = 1;
  p.value = Number(run.progress ?? 0);
  p.setAttribute('aria-label', `Run ${run.id} progress`);
  const wrap = document.createElement('span');
  wrap.append(p, ` ${Math.round(100 * Number(run.progress ?? 0))}%`);
  return wrap;
}

function stateBadge(state) {
  const kind = state === 'succeeded' ? 'ok' : state === 'failed' ? 'bad' : 'warn';
  return badge(state ?? '—', kind);
}

function renderRuns(runs) {
  $('runs-empty').hidden = runs.length > 0;
  const rows = runs.map((run) => {
    const tr = document.createElement('tr');
    tr.id = `run-row-${run.id}`;
    tr.dataset.runId = run.id;
    tr.dataset.state = run.state;
    tr.classList.toggle('selected', run.id === selectedRun);
    const view = document.createElement('button');
    view.type = 'button';
    view.className = 'small';
    view.textContent = 'Follow';
    view.dataset.testid = `follow-${run.id}`;
    view.setAttribute('aria-label', `Follow run ${run.id}`);
    view.addEventListener('click', () => selectRun(run.id));
    tr.append(
      cell(run.id),
      cell(stateBadge(run.state)),
      cell(run.trigger),
      cell(run.stage),
      cell(progressOf(run)),
      cell(run.candidate ?? '—'),
      cell(gateBadge(run.gate)),
      cell(formatTime(run.created_at)),
      cell(view),
    );
    return tr;
  });
  $('runs-body').replaceChildren(...rows);
}

$('start-run').addEventListener('click', async () => {
  errorLine.textContent = '';
  const text = $('run-config').value.trim();
  let body = {};
  if (text) {
    try {
      body = { config: JSON.parse(text) };
    } catch (e) {
      errorLine.textContent = `The config overrides are not valid JSON: ${e.message}`;
      $('run-config').focus();
      return;
    }
  }
  const button = $('start-run');
  button.disabled = true;
  try {
    const { data } = await admin('/admin/training-runs', { method: 'POST', body });
    statusLine.textContent = `Started run ${data.id} (${data.state}).`;
    await selectRun(data.id);
  } catch (e) {
    errorLine.textContent = describe(e);
  } finally {
    button.disabled = false;
  }
});

$('refresh-runs').addEventListener('click', () => {
  errorLine.textContent = '';
  loadRuns();
});

async function selectRun(id) {
  selectedRun = id;
  for (const c of charts.values()) {
    c.destroy();
  }
  charts.clear();
  $('run-detail').hidden = false;
  $('run-id').textContent = id;
  await poll();
}

/** One tick: the selected run, its metrics and the runs list; schedules the next while it runs. */
async function poll() {
  clearTimeout(pollTimer);
  pollTimer = null;
  if (!selectedRun || !hasToken()) {
    return;
  }
  const id = selectedRun;
  let run = null;
  try {
    const [{ data }, metrics] = await Promise.all([
      admin(`/admin/training-runs/${encodeURIComponent(id)}`),
      admin(`/admin/training-runs/${encodeURIComponent(id)}/metrics`).then((r) => r.data?.metrics ?? []),
    ]);
    run = data;
    if (id !== selectedRun) {
      return; // another run was selected meanwhile
    }
    renderRun(run);
    renderCharts(metrics);
  } catch (e) {
    $('run-error').textContent = describe(e);
  }
  const runs = await loadRuns();
  if (id !== selectedRun) {
    return;
  }
  if (run && FINISHED.has(run.state)) {
    await loadVersions(); // a finished run may have registered or promoted a candidate
  } else if (run || runs.some((r) => r.id === id)) {
    pollTimer = setTimeout(poll, POLL_MS);
  }
}

function renderRun(run) {
  $('run-state').textContent = run.state ?? '—';
  $('run-stage').textContent = run.stage ?? '—';
  const progress = Number(run.progress ?? 0);
  $('run-progress').value = progress;
  $('run-progress-text').textContent = `${Math.round(progress * 100)}%`;
  $('run-detail').dataset.state = run.state;
  const extra = [
    run.trigger ? `trigger ${run.trigger}` : null,
    run.snapshot ? `snapshot ${run.snapshot}` : null,
    run.candidate ? `candidate version ${run.candidate}` : null,
    run.gate ? `gate ${run.gate.passed ? 'passed' : 'failed'}`
      + (run.gate.win_rate !== undefined ? ` (win rate ${formatNumber(run.gate.win_rate)})` : '') : null,
    run.promoted ? 'promoted' : null,
    run.updated_at ? `updated ${formatTime(run.updated_at)}` : null,
  ].filter(Boolean);
  $('run-extra').textContent = extra.join(' · ');
  $('run-error').textContent = run.error ? `The run failed: ${run.error}` : '';
}

/**
 * Groups metric rows into one line per stage for a chart: x is the step (or iteration), y the first
 * of `fields` the stage's rows carry (PPO logs no `loss` but a `value_loss`, say).
 */
export function series(rows, fields) {
  const byStage = new Map();
  for (const row of rows) {
    const stage = row.stage ?? 'run';
    let line = byStage.get(stage);
    const field = line?.field ?? fields.find((f) => typeof row[f] === 'number');
    if (!field || typeof row[field] !== 'number') {
      continue;
    }
    if (!line) {
      line = { field, points: [] };
      byStage.set(stage, line);
    }
    const x = row.step ?? row.iteration ?? row.epoch ?? line.points.length + 1;
    line.points.push({ x, y: row[field] });
  }
  return byStage;
}

function renderCharts(rows) {
  const Chart = window.Chart;
  $('charts-missing').hidden = Boolean(Chart);
  if (!Chart) {
    return;
  }
  for (const spec of CHARTS) {
    const datasets = [...series(rows, spec.fields)].map(([stage, { field, points }]) => ({
      label: `${stage} ${field}`,
      data: points,
      borderColor: STAGE_COLORS[stage] ?? '#57606a',
      backgroundColor: STAGE_COLORS[stage] ?? '#57606a',
      pointRadius: points.length > 40 ? 0 : 2,
      borderWidth: 1.5,
      tension: 0.2,
    }));
    let chart = charts.get(spec.id);
    if (!chart) {
      chart = new Chart($(spec.id), {
        type: 'line',
        data: { datasets },
        options: {
          animation: false,
          maintainAspectRatio: false,
          parsing: true,
          scales: { x: { type: 'linear', title: { display: true, text: 'step' } } },
          plugins: { legend: { position: 'bottom' } },
        },
      });
      charts.set(spec.id, chart);
    } else {
      chart.data.datasets = datasets;
      chart.update('none');
    }
    $(spec.id).dataset.points = String(datasets.reduce((n, d) => n + d.data.length, 0));
  }
}

// ---- Start ----------------------------------------------------------------------------------

async function start() {
  errorLine.textContent = '';
  $('token-missing').hidden = hasToken();
  if (!hasToken()) {
    return;
  }
  await loadVersions();
  const runs = await loadRuns();
  const running = runs.find((r) => !FINISHED.has(r.state));
  if (running && !selectedRun) {
    await selectRun(running.id);
  }
}

document.addEventListener('settings-changed', start);
start();
