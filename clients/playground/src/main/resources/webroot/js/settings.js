// The settings box every page shows in its header: API key, admin token, labeler name and user id,
// kept in localStorage. Saving dispatches a `settings-changed` event on the document.

import { settings } from './api.js';

const FIELDS = [
  {
    name: 'apiKey',
    id: 'settings-api-key',
    label: 'API key',
    type: 'password',
    hint: 'Sent as Authorization: Bearer. Leave empty for a server in open mode.',
  },
  {
    name: 'adminToken',
    id: 'settings-admin-token',
    label: 'Admin token',
    type: 'password',
    hint: 'For the admin console only.',
  },
  {
    name: 'labeler',
    id: 'settings-labeler',
    label: 'Labeler name',
    type: 'text',
    hint: 'Sent as "labeler" with judgements (open mode; a labeler key names you otherwise).',
  },
  {
    name: 'user',
    id: 'settings-user',
    label: 'User id',
    type: 'text',
    hint: 'Sent as "user" with completions (open mode, or a key that may set the user).',
  },
];

/** Fills `<details id="settings">` with the form. */
export function mountSettings(root = document.getElementById('settings')) {
  if (!root) {
    return;
  }
  const summary = document.createElement('summary');
  summary.textContent = 'Settings';
  const form = document.createElement('form');
  form.className = 'settings-body';
  form.id = 'settings-form';
  form.setAttribute('aria-label', 'Connection settings');

  const note = document.createElement('p');
  note.className = 'hint';
  note.textContent = 'Stored in this browser only (localStorage).';
  form.append(note);

  for (const f of FIELDS) {
    const wrap = document.createElement('div');
    wrap.className = 'field';
    const label = document.createElement('label');
    label.htmlFor = f.id;
    label.textContent = f.label;
    const input = document.createElement('input');
    input.id = f.id;
    input.name = f.name;
    input.type = f.type;
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.value = settings.get(f.name);
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.id = `${f.id}-hint`;
    hint.textContent = f.hint;
    input.setAttribute('aria-describedby', hint.id);
    wrap.append(label, input, hint);
    form.append(wrap);
  }

  const actions = document.createElement('div');
  actions.className = 'actions';
  const save = document.createElement('button');
  save.type = 'submit';
  save.className = 'primary';
  save.id = 'settings-save';
  save.textContent = 'Save';
  const saved = document.createElement('span');
  saved.className = 'status';
  saved.id = 'settings-status';
  saved.setAttribute('role', 'status');
  actions.append(save, saved);
  form.append(actions);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const f of FIELDS) {
      settings.set(f.name, form.elements[f.name].value.trim());
    }
    saved.textContent = 'Saved.';
    setTimeout(() => { saved.textContent = ''; }, 2000);
    document.dispatchEvent(new CustomEvent('settings-changed'));
  });

  root.replaceChildren(summary, form);
}

mountSettings();
