// The moderation console: sign-in gate, role check, navigation and history routing under /admin.
//
// The console signs in by itself (its own log-in form) and keeps only the two tokens, like the
// web client. Who the member is and their role are read from `me` on every load, never cached:
// a role change or a ban applies on the next load.
import { gql, session, logOut, ApiError } from '/static/shared/api.js';
import { h, mount } from '/static/shared/dom.js';
import { loading, failure } from './ui.js';
import { loginScreen, refusalScreen } from './login.js';
import { queueScreen } from './queue.js';
import { cameosScreen } from './cameos.js';
import { invitesScreen } from './invites.js';
import { usersScreen } from './users.js';
import { auditScreen } from './audit.js';
import { failedJobsScreen } from './jobs.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');

/** The screens, in nav order. `admin`: shown to admins only (the API refuses the rest anyway). */
const SCREENS = [
  { slug: 'queue', label: 'Queue', render: (ctx) => queueScreen(ctx, 'OPEN') },
  { slug: 'appeals', label: 'Appeals', render: (ctx) => queueScreen(ctx, 'APPEALED') },
  { slug: 'cameos', label: 'Cameos', render: cameosScreen },
  { slug: 'invites', label: 'Invites', admin: true, render: invitesScreen },
  { slug: 'users', label: 'Users', render: usersScreen },
  { slug: 'jobs', label: 'Failed jobs', admin: true, render: failedJobsScreen },
  { slug: 'audit', label: 'Audit log', admin: true, render: auditScreen },
];

let me = null; // { id username displayName role } of the signed-in moderator, in memory only

/** Goes to a console path (`/admin/...`) without reloading. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

/** `/admin/queue/<id>` → { slug: 'queue', rest: ['<id>'] }. */
function parsePath() {
  const parts = location.pathname.replace(/^\/admin\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { slug: parts[0] || 'queue', rest: parts.slice(1) };
}

function visibleScreens() {
  return SCREENS.filter((s) => !s.admin || me?.role === 'ADMIN');
}

function renderTopbar() {
  const brand = h('a', { class: 'brand', href: '/admin', 'data-route': '' }, 'Soravibe', h('span', { class: 'brand-long' }, ' console'));
  if (!me) {
    mount(topbar, brand);
    return;
  }
  const { slug } = parsePath();
  const links = visibleScreens().map((s) =>
    h(
      'a',
      {
        href: `/admin/${s.slug}`,
        'data-route': '',
        'data-testid': `nav-${s.slug}`,
        'aria-current': s.slug === slug ? 'page' : null,
      },
      s.label,
    ),
  );
  const out = h('button', { type: 'button', class: 'link', 'data-testid': 'logout', onclick: signOut }, 'Log out');
  mount(
    topbar,
    brand,
    h('nav', { class: 'nav', 'aria-label': 'Console' }, links),
    h('div', { class: 'account' }, h('span', { class: 'whoami small muted', 'data-testid': 'whoami' }, `@${me.username} · ${me.role.toLowerCase()}`), out),
  );
}

async function signOut() {
  me = null;
  await logOut(); // session.onChange brings the log-in form back
}

/** Renders the screen for the current path (only once `me` is known to be staff). */
function route() {
  if (!me) return;
  renderTopbar();
  const { slug, rest } = parsePath();
  const screen = SCREENS.find((s) => s.slug === slug);
  const ctx = { me, rest, params: new URLSearchParams(location.search), navigate };
  rendered = location.pathname + location.search;
  const view = h('div', { class: 'screen', 'data-screen': slug });
  mount(main, view);
  if (!screen) {
    mount(view, h('h1', { tabindex: '-1', 'data-screen-title': '' }, 'Not found'), h('p', {}, 'There is no such console page. ', h('a', { href: '/admin', 'data-route': '' }, 'Go to the queue')));
  } else if (screen.admin && me.role !== 'ADMIN') {
    mount(view, h('h1', { tabindex: '-1', 'data-screen-title': '' }, screen.label), h('p', { class: 'notice', 'data-testid': 'admin-only' }, 'This page is for admins.'));
  } else {
    document.title = `${screen.label} · Soravibe console`;
    screen.render({ ...ctx, root: view });
  }
  focusTitle();
}

// After a navigation, focus the new screen's heading (once it exists) so keyboard users start there.
let lastPath = null;
function focusTitle() {
  const path = location.pathname;
  if (path === lastPath) return;
  const first = lastPath === null;
  lastPath = path;
  if (first) return; // a fresh load starts at the top, with the skip link first
  requestAnimationFrame(() => main.querySelector('[data-screen-title]')?.focus({ preventScroll: false }));
}

/** Reads `me` and decides what to show: log-in form, refusal, or the console. */
async function boot() {
  me = null;
  lastPath = null;
  renderTopbar();
  if (!session.signedIn) {
    mount(
      main,
      loginScreen({
        onSignedIn: async () => {
          await boot();
          main.querySelector('[data-screen-title]')?.focus();
        },
      }),
    );
    return;
  }
  mount(main, loading('Checking your account…'));
  let data;
  try {
    data = await gql('query ConsoleMe { me { id username displayName role } }');
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') {
      session.clear();
      return; // onChange → boot → log-in form
    }
    mount(main, h('div', { class: 'narrow' }, failure(e, boot)));
    return;
  }
  if (!data.me) {
    session.clear();
    return;
  }
  if (data.me.role === 'USER') {
    mount(main, refusalScreen(data.me, signOut));
    return;
  }
  me = data.me;
  route();
}

// Links marked data-route move within the console without a reload.
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[data-route]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/admin')) return;
  e.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
});
// The skip link moves focus without touching the URL (a #fragment would be a history entry).
document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

// Back/forward re-render the screen; a change of the #fragment alone (the skip link) does not.
let rendered = null;
window.addEventListener('popstate', () => {
  if (location.pathname + location.search !== rendered) route();
});

// Signing out here or in another tab, or a refresh token that stopped working.
session.onChange((signedIn) => {
  if (!signedIn) boot();
});

boot();
