// Labeling, after InstructGPT's labeler interface: the prompt and K completions as cards, ordered best
// to worst by drag and drop or keyboard, ties, a 1-7 score and metadata flags per card; or a skip, or
// a demonstration written instead.

import { describe, request, settings } from './api.js';

export const FLAGS = [
  ['fails_to_follow_instruction', 'Fails to follow the instruction'],
  ['hallucination', 'Hallucination'],
  ['inappropriate_for_customer_assistant', 'Inappropriate for a customer assistant'],
  ['sexual_or_violent', 'Sexual or violent content'],
  ['denigrates_protected_class', 'Denigrates a protected class'],
  ['harmful_advice', 'Harmful advice'],
];

const $ = (id) => document.getElementById(id);
const list = $('ranking');
const status = $('label-status');
const errorLine = $('label-error');
const confirmation = $('confirmation');
const buttons = ['load-next', 'submit-ranking', 'skip', 'demo-toggle', 'demo-submit'].map($);

/** SortableJS from its WebJar; without it (a page opened from disk) the keyboard and buttons still work. */
const Sortable = await import(new URL('../webjars/sortablejs/1.15.6/modular/sortable.esm.js', import.meta.url).href)
  .then((m) => m.default)
  .catch(() => null);

let task = null;

const letter = (i) => (i < 26 ? String.fromCharCode(65 + i) : String(i + 1));

function labelerFields() {
  const labeler = settings.get('labeler');
  return labeler ? { labeler } : {};
}

function setBusy(busy) {
  for (const b of buttons) {
    b.disabled = busy;
  }
  document.body.setAttribute('aria-busy', String(busy));
}

function cards() {
  return [...list.querySelectorAll('.card')];
}

/** Loads the next task (GET /v1/labeling/next?k=K); 204 means the queue is empty. */
async function loadNext() {
  errorLine.textContent = '';
  status.textContent = 'Loading the next task…';
  setBusy(true);
  try {
    const params = new URLSearchParams({ k: $('k').value, ...labelerFields() });
    const { status: code, data } = await request(`/v1/labeling/next?${params}`);
    if (code === 204 || !data) {
      task = null;
      $('task').hidden = true;
      $('queue-empty').hidden = false;
      status.textContent = '';
      return;
    }
    $('queue-empty').hidden = true;
    render(data);
    status.textContent = `Loaded a task with ${data.completions.length} outputs.`;
  } catch (e) {
    status.textContent = '';
    errorLine.textContent = describe(e);
  } finally {
    setBusy(false);
  }
}

// A chat prompt shows as its conversation, turn by turn; a completions prompt as its text.
function renderPrompt(el, t) {
  el.replaceChildren();
  if (!t.messages || t.messages.length === 0) {
    el.textContent = t.prompt;
    return;
  }
  for (const m of t.messages) {
    const turn = document.createElement('div');
    turn.className = `turn turn-${m.role}`;
    turn.dataset.role = m.role;
    const who = document.createElement('strong');
    who.textContent = `${m.role}: `;
    turn.append(who, document.createTextNode(m.content));
    el.append(turn);
  }
}

function render(t) {
  task = t;
  $('task').hidden = false;
  $('task').dataset.promptId = t.prompt_id;
  renderPrompt($('task-prompt'), t);
  $('task-meta').textContent = `Prompt ${t.prompt_id}` + (t.model ? ` · outputs sampled from version ${t.model}` : '');
  closeDemonstration();
  $('demo-text').value = '';
  const template = $('card-template');
  const nodes = t.completions.map((c, i) => {
    const index = c.index ?? i;
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.completionId = c.id;
    li.dataset.index = String(index);
    li.dataset.testid = `card-${index}`;
    li.id = `card-${index}`;
    const title = li.querySelector('.card-title');
    title.textContent = `Output ${letter(i)}`;
    title.id = `card-${index}-title`;
    li.querySelector('.completion-text').textContent = c.text;

    const tie = li.querySelector('.tie');
    tie.dataset.testid = `tie-${index}`;
    const score = li.querySelector('.score');
    score.dataset.testid = `score-${index}`;
    score.setAttribute('aria-describedby', title.id);

    const flags = li.querySelector('.flags');
    flags.querySelector('legend').textContent = `Flags for output ${letter(i)}`;
    for (const [value, text] of FLAGS) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'flag';
      box.value = value;
      box.dataset.testid = `flag-${index}-${value}`;
      label.append(box, ` ${text}`);
      flags.append(label);
    }
    return li;
  });
  list.replaceChildren(...nodes);
  refresh();
}

/** Renumbers the cards after a move or a tie change, and keeps the controls consistent. */
function refresh() {
  const all = cards();
  let place = 0;
  all.forEach((card, i) => {
    const tie = card.querySelector('.tie');
    if (i === 0) {
      tie.checked = false;
    }
    tie.disabled = i === 0;
    const tied = i > 0 && tie.checked;
    if (!tied) {
      place += 1;
    }
    card.classList.toggle('tied', tied);
    card.dataset.place = String(place);
    card.querySelector('.rank').textContent = tied ? `=${place}` : String(place);
    card.querySelector('.move-up').disabled = i === 0;
    card.querySelector('.move-down').disabled = i === all.length - 1;
    const name = card.querySelector('.card-title').textContent;
    card.setAttribute('aria-label',
      `${name}: place ${place} of ${all.length}${tied ? ', tied with the output above' : ''}`);
  });
}

function announce(card) {
  status.textContent = `${card.querySelector('.card-title').textContent} is now in place ${card.dataset.place}.`;
}

/** Moves a card one place up (-1) or down (+1), keeping the focus on what moved. */
function move(card, delta, focusTarget = card) {
  if (delta < 0 && card.previousElementSibling) {
    list.insertBefore(card, card.previousElementSibling);
  } else if (delta > 0 && card.nextElementSibling) {
    list.insertBefore(card.nextElementSibling, card);
  } else {
    return;
  }
  refresh();
  (focusTarget.disabled ? card : focusTarget).focus();
  announce(card);
}

list.addEventListener('click', (event) => {
  const card = event.target.closest('.card');
  if (!card) {
    return;
  }
  if (event.target.closest('.move-up')) {
    move(card, -1, event.target);
  } else if (event.target.closest('.move-down')) {
    move(card, 1, event.target);
  }
});

list.addEventListener('change', (event) => {
  if (event.target.classList.contains('tie')) {
    refresh();
  }
});

list.addEventListener('keydown', (event) => {
  const card = event.target.closest('.card');
  if (!card || event.ctrlKey || event.metaKey) {
    return;
  }
  const onCard = event.target === card;
  const inField = event.target.matches('select, textarea, input[type="text"]');
  if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown') && !inField) {
    event.preventDefault();
    move(card, event.key === 'ArrowUp' ? -1 : 1, onCard ? card : event.target);
    return;
  }
  if (!onCard || event.altKey) {
    return;
  }
  const key = event.key;
  if (key === 'u' || key === 'd') {
    event.preventDefault();
    move(card, key === 'u' ? -1 : 1);
  } else if (key === 'ArrowUp' || key === 'ArrowDown') {
    event.preventDefault();
    (key === 'ArrowUp' ? card.previousElementSibling : card.nextElementSibling)?.focus();
  } else if (/^[1-7]$/.test(key)) {
    event.preventDefault();
    card.querySelector('.score').value = key;
    status.textContent = `${card.querySelector('.card-title').textContent}: score ${key}.`;
  } else if (key === 't') {
    const tie = card.querySelector('.tie');
    if (!tie.disabled) {
      event.preventDefault();
      tie.checked = !tie.checked;
      refresh();
      const name = card.querySelector('.card-title').textContent;
      status.textContent = tie.checked ? `${name} is tied with the output above.` : `${name} is no longer tied.`;
    }
  }
});

if (Sortable) {
  Sortable.create(list, {
    handle: '.handle',
    animation: 150,
    // Pointer events rather than HTML5 drag and drop: the same in every browser, and scriptable.
    forceFallback: true,
    onEnd: (event) => {
      refresh();
      announce(event.item);
    },
  });
} else {
  for (const h of document.querySelectorAll('.handle')) {
    h.hidden = true;
  }
}

/** The ranking body: completion ids best to worst with ties grouped, and the scores and flags given. */
export function collect() {
  const ranking = [];
  const scores = {};
  const flags = {};
  cards().forEach((card, i) => {
    const id = card.dataset.completionId;
    if (i > 0 && card.querySelector('.tie').checked) {
      ranking[ranking.length - 1].push(id);
    } else {
      ranking.push([id]);
    }
    const score = card.querySelector('.score').value;
    if (score) {
      scores[id] = Number(score);
    }
    const checked = [...card.querySelectorAll('.flag:checked')].map((b) => b.value);
    if (checked.length > 0) {
      flags[id] = checked;
    }
  });
  return { ranking, scores, flags };
}

async function post(path, body, done) {
  errorLine.textContent = '';
  setBusy(true);
  try {
    const payload = { prompt_id: task.prompt_id, ...body, ...labelerFields() };
    const { data } = await request(path, { method: 'POST', body: payload });
    confirmation.textContent = done(data);
    confirmation.dataset.id = data?.id ?? data?.prompt_id ?? '';
  } catch (e) {
    errorLine.textContent = describe(e);
    setBusy(false);
    return;
  }
  await loadNext();
}

$('submit-ranking').addEventListener('click', () => {
  if (!task) {
    return;
  }
  const body = collect();
  if (body.ranking.length < 2) {
    errorLine.textContent = 'Everything is tied: order the outputs into at least two places.';
    return;
  }
  post('/v1/labeling/rankings', body,
    (r) => `Ranking ${r.id} saved for prompt ${r.prompt_id ?? task.prompt_id} (K = ${r.k ?? cards().length}).`);
});

$('skip').addEventListener('click', () => {
  if (task) {
    post('/v1/labeling/skips', { reason: $('skip-reason').value },
      (r) => `Skipped prompt ${r?.prompt_id ?? task.prompt_id}.`);
  }
});

function closeDemonstration() {
  $('demo-panel').hidden = true;
  $('demo-toggle').setAttribute('aria-expanded', 'false');
}

$('demo-toggle').addEventListener('click', () => {
  const open = $('demo-panel').hidden;
  $('demo-panel').hidden = !open;
  $('demo-toggle').setAttribute('aria-expanded', String(open));
  if (open) {
    $('demo-text').focus();
  }
});

$('demo-cancel').addEventListener('click', () => {
  closeDemonstration();
  $('demo-toggle').focus();
});

$('demo-submit').addEventListener('click', () => {
  const text = $('demo-text').value;
  if (!text.trim()) {
    errorLine.textContent = 'Write the demonstration first.';
    $('demo-text').focus();
    return;
  }
  post('/v1/labeling/demonstrations', { text },
    (r) => `Demonstration ${r.id} saved for prompt ${task.prompt_id}.`);
});

function showLabeler() {
  const name = settings.get('labeler');
  $('labeler-name').textContent = name ? `Labeling as ${name}.`
    : 'No labeler name set (Settings): an open server records you as "anonymous".';
}

$('load-next').addEventListener('click', loadNext);
document.addEventListener('settings-changed', showLabeler);
showLabeler();
