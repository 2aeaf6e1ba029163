// Small pieces the console's screens share (on top of /static/shared/dom.js).
import { h, loading, empty, copyText } from '/static/shared/dom.js';

// Shared with the web client; the console's screens import them from here.
export { loading, empty, copyText };
import { describeError } from '/static/shared/api.js';

/**
 * A failed call, readable, where it failed: `describeError(e)` plus a retry button when the
 * screen can simply ask again.
 */
export function failure(e, retry) {
  return h(
    'div',
    { class: 'form-error', role: 'alert', 'data-testid': 'load-error' },
    h('span', {}, describeError(e)),
    retry ? ' ' : null,
    retry ? h('button', { type: 'button', class: 'link', onclick: retry }, 'Try again') : null,
  );
}

/** "12 Mar 2025, 14:03" in the reader's locale; empty for null. */
export function when(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** `@handle` with the display name when it differs. */
export function who(user) {
  if (!user) return 'the operator';
  return user.displayName && user.displayName !== user.username
    ? `${user.displayName} (@${user.username})`
    : `@${user.username}`;
}

/** A heading that routing moves focus to, so keyboard and screen-reader users land on the screen. */
export function screenTitle(text, ...extra) {
  return h('div', { class: 'screen-head' }, h('h1', { tabindex: '-1', 'data-screen-title': '' }, text), ...extra);
}

/** A read-only text box with a Copy button next to it. */
export function copyable(label, text, testid) {
  const input = h('input', { type: 'text', readonly: true, value: text, 'aria-label': label, 'data-testid': testid });
  const button = h('button', { type: 'button', onclick: () => copyText(text, input, label) }, 'Copy');
  button.setAttribute('aria-label', `Copy ${label}`);
  return h('div', { class: 'copy-row' }, input, button);
}

/**
 * A paged list over a Relay connection. `fetchPage(after)` resolves to the connection;
 * `renderItems(nodes)` appends rows (returns nodes to add to `body`). Shows loading, empty,
 * error (with retry) and a "Load more" button while `hasNextPage`.
 */
export function pagedList({ body, fetchPage, renderItems, emptyText, status, moreTestid = 'load-more' }) {
  let after = null;
  let count = 0;
  const more = h('button', { type: 'button', 'data-testid': moreTestid, hidden: true }, 'Load more');
  const state = h('div', { class: 'list-state' });
  const footer = h('div', { class: 'row list-footer' }, more, state);

  async function load() {
    more.hidden = true;
    state.replaceChildren(loading());
    try {
      const conn = await fetchPage(after);
      const nodes = conn.edges.map((e) => e.node);
      count += nodes.length;
      renderItems(nodes).forEach((n) => body.append(n));
      after = conn.pageInfo.endCursor;
      more.hidden = !conn.pageInfo.hasNextPage;
      state.replaceChildren(count === 0 ? empty(emptyText) : '');
      status?.(count, conn.pageInfo.hasNextPage);
    } catch (e) {
      state.replaceChildren(failure(e, load));
      // Let the failed page be asked for again from the same place.
      more.hidden = true;
    }
  }
  more.addEventListener('click', load);
  return { footer, load };
}

/**
 * A destructive button that asks once more: the first press turns it into "Confirm …",
 * the second runs `action`. Escape or leaving the button puts it back.
 */
export function confirmButton(label, confirmLabel, action, attrs = {}) {
  let armed = false;
  const btn = h('button', { type: 'button', class: 'danger', ...attrs }, label);
  const reset = () => {
    armed = false;
    btn.textContent = label;
    btn.removeAttribute('data-armed');
  };
  btn.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      btn.textContent = confirmLabel;
      btn.setAttribute('data-armed', 'true');
      return;
    }
    reset();
    await action(btn);
  });
  btn.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && armed) reset();
  });
  btn.addEventListener('blur', () => setTimeout(() => armed && !btn.matches(':focus') && reset(), 200));
  return btn;
}
