// Helpers of the member client on top of /static/shared/dom.js.

import { describeError } from '/static/shared/api.js';
import { h, mount, busy, loading, empty, copyText } from '/static/shared/dom.js';

// Shared with the console; the client's screens import them from here.
export { loading, empty, copyText };

/** The readable form of an error: `describeError` (message, `extensions.reasons` and the
 * publish gate's `extensions.check`, which names what to fix). */
export function explain(e) {
  return describeError(e);
}

/** Shows `e` in an `errorBox()` and marks the field it names (`extensions.field`) invalid. */
export function showError(box, e, form) {
  box.show(explain(e));
  if (!form) return;
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  const field = e?.extensions?.field;
  const control = field && form.querySelector(`[name="${CSS.escape(field)}"]`);
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
}

/** A screen shown to signed-out visitors where sign-in is needed. */
export function signInNeeded(what) {
  const next = encodeURIComponent(location.pathname + location.search);
  return h(
    'div',
    { class: 'card narrow stack', 'data-testid': 'sign-in-needed' },
    h('h1', {}, 'Log in to continue'),
    h('p', {}, `You need to be logged in to ${what}.`),
    h('div', { class: 'row' }, h('a', { class: 'button primary', href: `/login?next=${next}` }, 'Log in'), h('a', { class: 'button', href: '/join' }, 'Join with an invite')),
  );
}

/**
 * A two-step button: the first press asks `question` with Confirm / Cancel next to it, so a
 * destructive action never happens on one stray click. `onConfirm` may return a Promise.
 */
export function confirmButton(label, question, onConfirm, { testid, confirmLabel = 'Yes, ' + label.toLowerCase() } = {}) {
  const wrap = h('span', { class: 'confirm' });
  const start = h('button', { type: 'button', class: 'danger', 'data-testid': testid }, label);
  const draw = () => mount(wrap, start);
  start.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'danger', 'data-testid': testid ? `${testid}-confirm` : null }, confirmLabel);
    const no = h('button', { type: 'button', onclick: () => { draw(); start.focus(); } }, 'Cancel');
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      try {
        await onConfirm();
      } finally {
        if (yes.isConnected) draw();
      }
    });
    mount(wrap, h('span', { class: 'muted small', role: 'alert' }, question + ' '), yes, no);
    no.addEventListener('keydown', (e) => e.key === 'Escape' && (draw(), start.focus()));
    yes.addEventListener('keydown', (e) => e.key === 'Escape' && (draw(), start.focus()));
    yes.focus();
  });
  draw();
  return wrap;
}

/** "1.2k" style counts. */
export function count(n) {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** "1 view", "3 views". */
export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** A status badge with a colour by meaning. */
export function statusBadge(status) {
  const ok = ['ACTIVE', 'PUBLISHED', 'SUCCEEDED'];
  const warn = ['PENDING_REVIEW', 'IN_REVIEW', 'DRAFT', 'QUEUED', 'RUNNING', 'MODERATING'];
  const kind = ok.includes(status) ? 'badge-ok' : warn.includes(status) ? 'badge-warn' : 'badge-danger';
  return h('span', { class: ['badge', kind], 'data-testid': 'status-badge' }, status.replace(/_/g, ' ').toLowerCase());
}

/** A page of a connection with a "Load more" button that appends the next pages. */
export function pagedList({ load, item, emptyText, testid, wrapClass = 'stack' }) {
  const list = h('div', { class: wrapClass, 'data-testid': testid });
  const more = h('button', { type: 'button', 'data-testid': `${testid}-more`, hidden: true }, 'Load more');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const root = h('div', {}, list, err, h('div', { class: 'row load-more' }, more));
  let after = null;
  let seen = 0;
  const page = async () => {
    err.hidden = true;
    try {
      const conn = await load(after);
      for (const node of conn.nodes) list.append(item(node));
      seen += conn.nodes.length;
      after = conn.pageInfo.endCursor;
      more.hidden = !conn.pageInfo.hasNextPage;
      if (!seen) mount(list, empty(emptyText));
    } catch (e) {
      err.textContent = explain(e);
      err.hidden = false;
    }
  };
  more.addEventListener('click', () => busy(more, page));
  root.ready = (async () => {
    list.append(loading());
    const first = list.lastChild;
    await page();
    first.remove();
  })();
  return root;
}
