// Playground: a prompt, OpenAI's sampling parameters, and the completion streamed into one pane, or
// into two side by side when comparing models. Each pane is labelled with the version that answered
// (the `model` field of the chunks). In chat mode the prompt is the next user turn of a conversation
// (after an optional system prompt), sent to /v1/chat/completions; the first pane's reply joins the
// conversation.

import { api, describe, settings, streamChat, streamCompletion } from './api.js';

const $ = (id) => document.getElementById(id);

const form = $('completion-form');
const modelA = $('model');
const modelB = $('model-b');
const compare = $('compare');
const generate = $('generate');
const cancel = $('cancel');
const formError = $('form-error');
const chatMode = $('chat-mode');

let controller = null;
/** The chat so far: {role, content} turns after the system prompt. */
let conversation = [];

/** Fills both model pickers from GET /v1/models, keeping what was selected. */
async function loadModels() {
  try {
    const list = await api('/v1/models');
    for (const select of [modelA, modelB]) {
      const keep = select.value;
      const alias = new Option('rlhf4j (the active version)', 'rlhf4j');
      const options = [alias];
      for (const m of list.data ?? []) {
        const parts = [`version ${m.id}`];
        if (m.active) {
          parts.push('active');
        }
        if (m.parent) {
          parts.push(`parent ${m.parent}`);
        }
        options.push(new Option(parts.join(' · '), m.id));
      }
      select.replaceChildren(...options);
      select.value = options.some((o) => o.value === keep) ? keep : 'rlhf4j';
    }
  } catch (e) {
    formError.textContent = `Cannot list models: ${describe(e)}`;
  }
}

/** Reads the form into a completions body; throws with a message naming a bad field. */
function readBody() {
  const prompt = $('prompt').value;
  if (!prompt.trim()) {
    throw new Error('Write a prompt first.');
  }
  const body = chatMode.checked ? { messages: messagesWith(prompt) } : { prompt };
  const integer = (id, name) => {
    const v = $(id).value.trim();
    if (v === '') {
      return;
    }
    const x = Number(v);
    if (!Number.isInteger(x)) {
      throw new Error(`${name} must be an integer.`);
    }
    body[name] = x;
  };
  const number = (id, name) => {
    const v = $(id).value.trim();
    if (v === '') {
      return;
    }
    const x = Number(v);
    if (!Number.isFinite(x)) {
      throw new Error(`${name} must be a number.`);
    }
    body[name] = x;
  };
  integer('max-tokens', chatMode.checked ? 'max_completion_tokens' : 'max_tokens');
  number('temperature', 'temperature');
  number('top-p', 'top_p');
  integer('top-k', 'top_k');
  integer('n', 'n');
  integer('seed', 'seed');
  const stops = $('stop').value.split('\n').filter((s) => s !== '')
    .map((s) => s.replaceAll('\\n', '\n').replaceAll('\\t', '\t'));
  if (stops.length > 0) {
    body.stop = stops;
  }
  const user = settings.get('user');
  if (user) {
    body.user = user;
  }
  return body;
}

/** One output pane: its choices, the version label, status and error lines. */
class Pane {
  constructor(key) {
    this.key = key;
    this.root = $(`pane-${key}`);
    this.model = $(`pane-${key}-model`);
    this.status = $(`pane-${key}-status`);
    this.error = $(`pane-${key}-error`);
    this.choices = $(`pane-${key}-choices`);
  }

  reset(n, prompt) {
    this.model.textContent = '';
    this.error.textContent = '';
    this.status.textContent = 'Waiting for the server…';
    this.texts = [];
    this.finishes = [];
    const nodes = [];
    for (let i = 0; i < n; i++) {
      const choice = document.createElement('div');
      choice.className = 'choice';
      choice.dataset.index = String(i);
      if (n > 1) {
        const title = document.createElement('h3');
        title.textContent = `Choice ${i + 1}`;
        choice.append(title);
      }
      const pre = document.createElement('pre');
      pre.className = 'completion-text';
      const echo = document.createElement('span');
      echo.className = 'prompt-echo';
      echo.textContent = prompt;
      const text = document.createElement('span');
      text.className = 'generated';
      text.id = `pane-${this.key}-text-${i}`;
      text.dataset.testid = `completion-${this.key}-${i}`;
      pre.append(echo, text);
      const finish = document.createElement('p');
      finish.className = 'finish';
      finish.id = `pane-${this.key}-finish-${i}`;
      choice.append(pre, finish);
      nodes.push(choice);
      this.texts.push(text);
      this.finishes.push(finish);
    }
    this.choices.replaceChildren(...nodes);
    this.root.dataset.state = 'waiting';
  }

  chunk(c) {
    if (c.model && this.model.textContent !== `· version ${c.model}`) {
      this.model.textContent = `· version ${c.model}`;
      this.root.dataset.model = c.model;
    }
    for (const choice of c.choices ?? []) {
      const text = this.texts[choice.index];
      if (!text) {
        continue;
      }
      text.textContent += choice.text ?? '';
      if (choice.finish_reason) {
        this.finishes[choice.index].textContent = `finish_reason: ${choice.finish_reason}`;
      }
    }
    this.status.textContent = 'Streaming…';
    this.root.dataset.state = 'streaming';
  }

  /** Streams one completion (or chat reply) into the pane; never throws (errors are shown in the pane). */
  async run(body, signal) {
    const started = performance.now();
    const stream = body.messages ? streamChat : streamCompletion;
    try {
      for await (const c of stream(body, { signal })) {
        this.chunk(c);
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      this.status.textContent = `Done in ${seconds} s.`;
      this.root.dataset.state = 'done';
    } catch (e) {
      if (e.name === 'AbortError') {
        this.status.textContent = 'Stopped.';
        this.root.dataset.state = 'stopped';
      } else {
        this.status.textContent = 'Failed.';
        this.error.textContent = describe(e);
        this.root.dataset.state = 'error';
      }
    }
  }
}

const paneA = new Pane('a');
const paneB = new Pane('b');

/** The request's messages: the system prompt, the conversation so far, then the new user turn. */
function messagesWith(prompt) {
  const system = $('system-prompt').value;
  return [...(system.trim() ? [{ role: 'system', content: system }] : []), ...conversation,
    { role: 'user', content: prompt }];
}

function showConversation() {
  const list = $('conversation');
  list.replaceChildren(...conversation.map((m, i) => {
    const li = document.createElement('li');
    li.className = `turn turn-${m.role}`;
    li.dataset.testid = `turn-${i}`;
    const who = document.createElement('strong');
    who.textContent = `${m.role}: `;
    li.append(who, document.createTextNode(m.content));
    return li;
  }));
  $('conversation-field').hidden = conversation.length === 0;
}

function showChatMode() {
  const on = chatMode.checked;
  $('system-field').hidden = !on;
  $('clear-chat').hidden = !on;
  $('prompt-label').textContent = on ? 'Message' : 'Prompt';
  showConversation();
  if (!on) {
    $('conversation-field').hidden = true;
  }
}

function showCompare() {
  const on = compare.checked;
  $('model-b-field').hidden = !on;
  $('pane-b').hidden = !on;
  $('panes').classList.toggle('compare', on);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  formError.textContent = '';
  let body;
  try {
    body = readBody();
  } catch (e) {
    formError.textContent = e.message;
    return;
  }
  controller = new AbortController();
  generate.disabled = true;
  cancel.disabled = false;
  const n = body.n ?? 1;
  const runs = [];
  const echo = body.messages ? '' : body.prompt;
  paneA.reset(n, echo);
  runs.push(paneA.run({ ...body, model: modelA.value }, controller.signal));
  if (compare.checked) {
    paneB.reset(n, echo);
    runs.push(paneB.run({ ...body, model: modelB.value }, controller.signal));
  }
  await Promise.all(runs);
  if (body.messages && paneA.root.dataset.state === 'done') {
    conversation.push(body.messages[body.messages.length - 1],
      { role: 'assistant', content: paneA.texts[0].textContent });
    $('prompt').value = '';
    showConversation();
  }
  generate.disabled = false;
  cancel.disabled = true;
  controller = null;
});

cancel.addEventListener('click', () => controller?.abort());

$('prompt').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});

compare.addEventListener('change', showCompare);
chatMode.addEventListener('change', showChatMode);
$('clear-chat').addEventListener('click', () => {
  conversation = [];
  showConversation();
});
document.addEventListener('settings-changed', loadModels);

showCompare();
showChatMode();
loadModels();
