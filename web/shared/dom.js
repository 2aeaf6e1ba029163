// Small DOM helpers shared by the web client and the admin console (no framework, no build).

/**
 * Creates an element. `attrs`: `class`, `text`, `html` is not supported (no innerHTML anywhere:
 * every string is text), `on<event>` handlers, `dataset`, `style` (object), booleans for
 * boolean attributes, anything else as an attribute. Children: nodes, strings, arrays, null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A polite status message at the bottom of the screen (announced to screen readers). */
export function toast(message, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h('div', { class: ['toast', `toast-${kind}`], 'data-testid': 'toast' }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

/** "3 min ago" style. */
export function timeAgo(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)} d ago`;
  return new Date(iso).toLocaleDateString();
}

/** A form field with its label (the label names the control for assistive technology). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null,
  );
}

/** An inline error region for a form; `show(msg)` / `clear()`. */
export function errorBox() {
  const el = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'form-error', hidden: true });
  el.show = (msg) => {
    el.textContent = msg;
    el.hidden = false;
  };
  el.clear = () => {
    el.textContent = '';
    el.hidden = true;
  };
  return el;
}

/** Runs `fn` with `button` disabled (and marked busy) until it settles. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** A loading line that screen readers announce. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'muted loading', role: 'status', 'aria-busy': 'true', 'data-testid': 'loading' }, text);
}

/** An empty state, with an optional action (a node). */
export function empty(text, action) {
  return h('div', { class: 'empty', 'data-testid': 'empty' }, h('p', {}, text), action || null);
}

/**
 * Copies `text` and says so; where the clipboard is refused, selects it in `fallbackInput` so
 * Ctrl+C finishes the job. Resolves to whether the clipboard took it.
 */
export async function copyText(text, fallbackInput, what = 'Link') {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what.charAt(0).toUpperCase()}${what.slice(1)} copied.`, 'ok');
    return true;
  } catch {
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
    }
    toast('Copying is blocked here: the text is selected, press Ctrl+C (or ⌘C).', 'info');
    return false;
  }
}
