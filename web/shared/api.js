// The GraphQL client shared by the web client and the admin console.
//
// Only the two tokens the API issues are kept in localStorage (`sv.access`, `sv.refresh`);
// everything else (the member, their data) is fetched again on each load and lives in memory.
// A request that comes back UNAUTHENTICATED is retried once after one shared refresh.

const ACCESS = 'sv.access';
const REFRESH = 'sv.refresh';
const listeners = new Set();

/** An error the API returned (or a network failure), with its stable `code`. */
export class ApiError extends Error {
  constructor(message, code = 'NETWORK', extensions = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.extensions = extensions;
  }
}

function store() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** The signed-in session: tokens only. */
export const session = {
  get access() {
    return store()?.getItem(ACCESS) || null;
  },
  get refresh() {
    return store()?.getItem(REFRESH) || null;
  },
  get signedIn() {
    return !!this.refresh;
  },
  /** Keeps the tokens of an `AuthPayload`. */
  save(payload) {
    store()?.setItem(ACCESS, payload.accessToken);
    store()?.setItem(REFRESH, payload.refreshToken);
    listeners.forEach((fn) => fn(true));
  },
  clear() {
    store()?.removeItem(ACCESS);
    store()?.removeItem(REFRESH);
    listeners.forEach((fn) => fn(false));
  },
  /** Calls `fn(signedIn)` whenever the session starts or ends; returns the unsubscribe. */
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

// Other tabs signing in or out.
window.addEventListener('storage', (e) => {
  if (e.key === REFRESH) listeners.forEach((fn) => fn(!!e.newValue));
});

const AUTH_FIELDS = 'accessToken refreshToken expiresIn user { id username displayName role emailVerified }';

let refreshing = null;

/** Trades the refresh token for a new pair once, however many requests ask at the same time. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = session.refresh;
      if (!token) return false;
      try {
        const body = await post(
          { query: `mutation Refresh($t: String!) { refreshSession(refreshToken: $t) { ${AUTH_FIELDS} } }`, variables: { t: token } },
          null,
        );
        if (body.errors?.length || !body.data?.refreshSession) {
          // The token was used or revoked: the session is over.
          if (session.refresh === token) session.clear();
          return false;
        }
        session.save(body.data.refreshSession);
        return true;
      } catch {
        return false; // network: keep the tokens, try again later
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function post(payload, token, form) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (form) {
    body = form;
  } else {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(payload);
  }
  let res;
  try {
    res = await fetch('/graphql', { method: 'POST', headers, body });
  } catch {
    throw new ApiError('Cannot reach the server. Check your connection and try again.', 'NETWORK');
  }
  let json;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(`The server answered ${res.status} without a readable body.`, 'HTTP_' + res.status);
  }
  return json;
}

function toError(err) {
  const ext = err.extensions || {};
  return new ApiError(err.message || 'Something went wrong.', ext.code || 'ERROR', ext);
}

async function run(payload, form) {
  let body = await post(payload, session.access, form?.());
  const unauth = body.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
  if (unauth && session.refresh && (await refreshSession())) {
    body = await post(payload, session.access, form?.());
  }
  if (body.errors?.length) throw toError(body.errors[0]);
  return body.data;
}

/** Runs a query or mutation; resolves to `data`, rejects with an `ApiError`. */
export function gql(query, variables = {}) {
  return run({ query, variables });
}

/**
 * Runs an operation with file uploads (GraphQL multipart request spec). `files` maps a
 * variable path such as `input.clip` to a File or Blob; the variable itself is sent as null.
 */
export function gqlUpload(query, variables, files) {
  const vars = structuredClone(variables);
  const map = {};
  const entries = Object.entries(files);
  entries.forEach(([path], i) => {
    map[String(i)] = [`variables.${path}`];
    const keys = path.split('.');
    let obj = vars;
    for (const k of keys.slice(0, -1)) obj = obj[k];
    obj[keys[keys.length - 1]] = null;
  });
  const form = () => {
    const fd = new FormData();
    fd.append('operations', JSON.stringify({ query, variables: vars }));
    fd.append('map', JSON.stringify(map));
    entries.forEach(([, file], i) => fd.append(String(i), file, file.name || `upload-${i}.mp4`));
    return fd;
  };
  return run({ query, variables: vars }, form);
}

/**
 * Close codes after which the same subscription is opened again: 1012 (the server restarts, sent
 * to every socket when a node stops), 1013 (try again later), 1001 (going away), 1006 (the
 * connection dropped without a close frame).
 */
const RECONNECT_CODES = new Set([1001, 1006, 1012, 1013]);
/** Reopens in a row before the subscription gives up with a NETWORK error. */
const MAX_RECONNECTS = 5;

/**
 * Subscribes over `/graphql/ws` (graphql-transport-ws). `on.next(data)`, `on.error(ApiError)`,
 * `on.complete()`. Returns a function that stops the subscription. A connection the server
 * closes because it restarts (1012) is opened again after a short, growing, jittered wait
 * (subscriptions here start with the current state, so nothing is missed).
 */
export function subscribe(query, variables, on) {
  let socket = null;
  let stopped = false;
  let retried = false;
  let reconnects = 0;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;
    socket = new WebSocket(url, 'graphql-transport-ws');
    let done = false;
    socket.onopen = () => {
      const payload = session.access ? { Authorization: `Bearer ${session.access}` } : {};
      socket.send(JSON.stringify({ type: 'connection_init', payload }));
    };
    socket.onmessage = async (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
      } else if (msg.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (msg.type === 'next') {
        if (msg.payload?.errors?.length) {
          const err = toError(msg.payload.errors[0]);
          if (err.code === 'UNAUTHENTICATED' && !retried && (await refreshSession())) {
            retried = true;
            done = true;
            socket.close();
            if (!stopped) open();
            return;
          }
          on.error?.(err);
        } else if (msg.payload?.data) {
          reconnects = 0;
          on.next?.(msg.payload.data);
        }
      } else if (msg.type === 'error') {
        done = true;
        const err = toError(Array.isArray(msg.payload) ? msg.payload[0] || {} : msg.payload || {});
        if (err.code === 'UNAUTHENTICATED' && !retried && (await refreshSession())) {
          retried = true;
          socket.close();
          if (!stopped) open();
          return;
        }
        on.error?.(err);
      } else if (msg.type === 'complete') {
        done = true;
        on.complete?.();
        socket.close();
      }
    };
    socket.onclose = (ev) => {
      if (!done && !stopped && RECONNECT_CODES.has(ev.code) && reconnects < MAX_RECONNECTS) {
        reconnects += 1;
        const wait = Math.min(8000, 500 * 2 ** (reconnects - 1)) * (0.5 + Math.random());
        setTimeout(() => {
          if (!stopped) open();
        }, wait);
        return;
      }
      if (!done && !stopped) {
        const code = ev.code === 4401 || ev.code === 4403 ? 'UNAUTHENTICATED' : 'NETWORK';
        on.error?.(new ApiError('The live connection closed.', code));
      }
    };
  };
  open();
  return () => {
    stopped = true;
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id: '1', type: 'complete' }));
    socket?.close();
  };
}

/** A sentence a person can act on, including the reasons a refusal carries. */
export function describeError(e) {
  if (!(e instanceof ApiError)) return e?.message || String(e);
  const ext = e.extensions || {};
  const parts = [e.message];
  const reasons = Array.isArray(ext.reasons) ? ext.reasons : [];
  if (reasons.length) parts.push(reasons.join('; '));
  if (ext.check) parts.push(`failed check: ${ext.check}`);
  return parts.filter(Boolean).join(' — ');
}

/** Signs in with an `AuthPayload`-returning mutation's result. */
export const AUTH_PAYLOAD = AUTH_FIELDS;

/** Ends this session on the server (best effort) and forgets the tokens. */
export async function logOut() {
  const token = session.refresh;
  session.clear();
  if (token) {
    try {
      await post({ query: 'mutation($t: String!) { logOut(refreshToken: $t) }', variables: { t: token } }, null);
    } catch {
      /* already signed out here */
    }
  }
}
