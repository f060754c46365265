// Talking to the rlhf4j server: fetch with the stored credentials, OpenAI error bodies turned into
// errors with the server's message, and server-sent events read from a fetch stream.

const STORAGE = {
  apiKey: 'rlhf4j.apiKey',
  adminToken: 'rlhf4j.adminToken',
  labeler: 'rlhf4j.labeler',
  user: 'rlhf4j.user',
};

/** The settings kept in localStorage: API key, admin token, labeler name and user id. */
export const settings = {
  get(name) {
    try {
      return localStorage.getItem(STORAGE[name]) ?? '';
    } catch {
      return ''; // storage disabled (private mode, file://): behave as if nothing was saved
    }
  },
  set(name, value) {
    try {
      if (value) {
        localStorage.setItem(STORAGE[name], value);
      } else {
        localStorage.removeItem(STORAGE[name]);
      }
    } catch {
      // ignored: see get()
    }
  },
  names: Object.keys(STORAGE),
};

/** A failed request: the status and, when the server sent OpenAI's error body, its fields. */
export class ApiError extends Error {
  constructor(status, message, { type = null, code = null, param = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }
}

/** Reads OpenAI's `{"error": {...}}` out of a body, or falls back to the status line. */
function errorFrom(status, statusText, text) {
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: a proxy's page, say
  }
  const e = body && typeof body === 'object' ? body.error : null;
  if (e && typeof e === 'object' && e.message) {
    return new ApiError(status, e.message, e);
  }
  const detail = text && text.length < 300 ? `: ${text}` : '';
  return new ApiError(status, `HTTP ${status} ${statusText || ''}`.trim() + detail);
}

function headers({ admin = false, json = false } = {}) {
  const h = { Accept: 'application/json' };
  const secret = admin ? settings.get('adminToken') : settings.get('apiKey');
  if (secret) {
    h.Authorization = `Bearer ${secret}`;
  }
  if (json) {
    h['Content-Type'] = 'application/json';
  }
  return h;
}

/**
 * Sends a request and answers `{status, data}`: data is the parsed JSON body, or null for an empty
 * one (204). A 4xx/5xx answer throws an ApiError carrying the server's message.
 *
 * @param {string} path e.g. '/v1/models'
 * @param {{method?: string, body?: any, admin?: boolean, signal?: AbortSignal}} options
 */
export async function request(path, { method = 'GET', body, admin = false, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers({ admin, json: body !== undefined }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') {
      throw e;
    }
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    throw errorFrom(response.status, response.statusText, text);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'the server answered something that is not JSON');
    }
  }
  return { status: response.status, data };
}

/** Shorthand for request() when only the body matters. */
export async function api(path, options) {
  return (await request(path, options)).data;
}

/**
 * POSTs a completion with `stream: true` and yields each server-sent event's JSON chunk until
 * `data: [DONE]`. An error the server sends mid-stream (after the status line went out) throws.
 */
export async function* streamCompletion(body, { signal, path = '/v1/completions' } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method: 'POST',
      headers: { ...headers({ json: true }), Accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') {
      throw e;
    }
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  if (!response.ok) {
    throw errorFrom(response.status, response.statusText, await response.text());
  }
  for await (const data of serverSentEvents(response.body)) {
    if (data === '[DONE]') {
      return;
    }
    const chunk = JSON.parse(data);
    if (chunk.error) {
      throw new ApiError(response.status, chunk.error.message ?? 'the stream failed', chunk.error);
    }
    yield chunk;
  }
}

/**
 * Streams a chat reply from /v1/chat/completions, each chunk reshaped as a completion chunk (a choice's
 * `text` is its delta's content), so the same panes show both.
 */
export async function* streamChat(body, { signal } = {}) {
  for await (const c of streamCompletion(body, { signal, path: '/v1/chat/completions' })) {
    yield {
      ...c,
      choices: (c.choices ?? []).map((ch) => ({
        index: ch.index,
        text: ch.delta?.content ?? '',
        finish_reason: ch.finish_reason ?? null,
      })),
    };
  }
}

/** Yields the `data` of each event in a text/event-stream body (fields other than data are ignored). */
export async function* serverSentEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) {
        buffer += value.replace(/\r\n?/g, '\n');
      }
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = dataOf(event);
        if (data !== null) {
          yield data;
        }
      }
      if (done) {
        const data = dataOf(buffer);
        if (data !== null) {
          yield data;
        }
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function dataOf(event) {
  const lines = event.split('\n').filter((l) => l.startsWith('data:'));
  if (lines.length === 0) {
    return null;
  }
  return lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n');
}

/** The message to show for any error: the server's text for an ApiError. */
export function describe(error) {
  if (error instanceof ApiError) {
    const code = error.code ? ` (${error.code})` : '';
    return error.status ? `${error.message}${code} [HTTP ${error.status}]` : error.message;
  }
  return error?.message ?? String(error);
}
