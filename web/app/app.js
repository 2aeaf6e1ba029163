// The member web client: a history-API router, the navigation bar and the signed-in viewer.
//
// Each screen is a module exporting `render(ctx)`, which returns a Node (or a Promise of one).
// `ctx` carries the route's params and query, the viewer (`me`, or null), `navigate`, and
// `onLeave(fn)` so a screen can stop its subscriptions and timers when the member moves on.

import { gql, session, logOut, describeError } from '/static/shared/api.js';
import { h, mount, toast } from '/static/shared/dom.js';

import * as auth from './auth.js';
import * as feed from './feed.js';
import * as videoPage from './video-page.js';
import * as create from './create.js';
import * as drafts from './drafts.js';
import * as profile from './profile.js';
import * as invites from './invites.js';
import * as cameos from './cameos.js';
import * as settings from './settings.js';
import * as notifications from './notifications.js';
import * as check from './check.js';
import * as search from './search.js';
import * as cameoFeed from './cameo-feed.js';
import { forgetThisBrowser } from './notify.js';

/** Path patterns, first match wins; `:name` captures one segment. */
const ROUTES = [
  ['/', feed.render],
  ['/join', auth.renderJoin],
  ['/login', auth.renderLogin],
  ['/forgot-password', auth.renderForgot],
  ['/reset-password', auth.renderReset],
  ['/verify-email', auth.renderVerify],
  ['/waitlist', auth.renderWaitlist],
  ['/create', create.render],
  ['/drafts', drafts.render],
  ['/v/:id', videoPage.render],
  ['/u/:username', profile.render],
  ['/invites', invites.render],
  ['/cameos', cameos.render],
  ['/settings', settings.render],
  ['/notifications', notifications.render],
  ['/check', check.render],
  ['/search', search.render],
  ['/cameo/:handle', cameoFeed.render],
];

const state = {
  /** The signed-in member (`me`), or null. Kept in memory only. */
  viewer: null,
  unread: 0,
  leaveHandlers: [],
  renderSeq: 0,
};

function match(pathname) {
  const parts = pathname.replace(/\/+$/, '').split('/').filter(Boolean);
  for (const [pattern, fn] of ROUTES) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    const ok = want.every((seg, i) => {
      if (seg.startsWith(':')) {
        params[seg.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return seg === parts[i];
    });
    if (ok) return { fn, params };
  }
  return null;
}

/** Loads the viewer and their unread count; clears a session the server no longer accepts. */
async function loadViewer() {
  if (!session.signedIn) {
    state.viewer = null;
    state.unread = 0;
    return;
  }
  try {
    const data = await gql(
      `query Viewer { me { id username displayName role email emailVerified }
        notifications(first: 1) { unreadCount } }`,
    );
    state.viewer = data.me;
    state.unread = data.notifications?.unreadCount || 0;
    if (!data.me) session.clear();
  } catch (e) {
    // A refused session is cleared by the client; a network failure keeps it for a retry.
    if (e.code === 'UNAUTHENTICATED') session.clear();
    state.viewer = null;
    if (e.code !== 'UNAUTHENTICATED') toast(describeError(e), 'error');
  }
}

function navLink(href, label, extra = {}) {
  const here = location.pathname === href || (href !== '/' && location.pathname.startsWith(href + '/'));
  return h('a', { href, 'aria-current': here ? 'page' : null, ...extra }, label);
}

/** Draws the navigation for the current viewer and path. */
function renderNav() {
  const nav = document.getElementById('site-nav');
  const v = state.viewer;
  if (!v) {
    mount(
      nav,
      navLink('/', 'Trending', { 'data-testid': 'nav-feed' }),
      navLink('/search', 'Search', { 'data-testid': 'nav-search' }),
      navLink('/login', 'Log in', { 'data-testid': 'nav-login' }),
      navLink('/join', 'Join', { 'data-testid': 'nav-join' }),
      navLink('/check', 'Check a clip', { 'data-testid': 'nav-check' }),
    );
    return;
  }
  mount(
    nav,
    navLink('/', 'Feed', { 'data-testid': 'nav-feed' }),
    navLink('/search', 'Search', { 'data-testid': 'nav-search' }),
    navLink('/create', 'Create', { 'data-testid': 'nav-create' }),
    navLink('/drafts', 'Drafts', { 'data-testid': 'nav-drafts' }),
    navLink('/cameos', 'Cameos', { 'data-testid': 'nav-cameos' }),
    navLink('/invites', 'Invites', { 'data-testid': 'nav-invites' }),
    navLink(
      '/notifications',
      [
        'Alerts',
        state.unread
          ? h('span', { class: 'count-badge', 'data-testid': 'nav-unread' }, h('span', { class: 'visually-hidden' }, ', unread: '), String(state.unread))
          : null,
      ],
      { 'data-testid': 'nav-notifications' },
    ),
    navLink(`/u/${encodeURIComponent(v.username)}`, `@${v.username}`, { 'data-testid': 'nav-profile' }),
    navLink('/settings', 'Settings', { 'data-testid': 'nav-settings' }),
    h('button', { type: 'button', class: 'link', 'data-testid': 'logout', onclick: onLogOut }, 'Log out'),
  );
}

async function onLogOut() {
  // This browser stops getting the member's pushes (while the session still works).
  await forgetThisBrowser();
  await logOut();
  state.viewer = null;
  toast('You are logged out.', 'ok');
  navigate('/');
}

/** Moves to `href` (a same-origin path) without reloading. */
export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render();
}

function leave() {
  const handlers = state.leaveHandlers;
  state.leaveHandlers = [];
  for (const fn of handlers) {
    try {
      fn();
    } catch {
      /* a screen's cleanup must not stop the next screen */
    }
  }
}

/** Renders the screen for the current location. */
async function render({ focus = true } = {}) {
  leave();
  closeMenu();
  const seq = ++state.renderSeq;
  const main = document.getElementById('main');
  renderNav();
  const found = match(location.pathname);
  const ctx = {
    params: found?.params || {},
    query: new URLSearchParams(location.search),
    viewer: state.viewer,
    navigate,
    onLeave: (fn) => state.leaveHandlers.push(fn),
    refreshViewer: async () => {
      await loadViewer();
      ctx.viewer = state.viewer;
      renderNav();
    },
    setUnread: (n) => {
      state.unread = n;
      renderNav();
    },
    /** An element to focus once the screen is drawn, instead of its heading. */
    focusAfter: null,
    /** Whether this screen is still the one on show (async work checks before drawing). */
    get current() {
      return seq === state.renderSeq;
    },
  };
  mount(main, h('p', { class: 'muted', 'aria-busy': 'true' }, 'Loading…'));
  let node;
  try {
    node = found ? await found.fn(ctx) : notFound();
  } catch (e) {
    node = h('div', { class: 'card' }, h('h1', { tabindex: '-1' }, 'Something went wrong'), h('p', { class: 'form-error', role: 'alert' }, describeError(e)));
  }
  if (seq !== state.renderSeq) return; // the member moved on meanwhile
  mount(main, node);
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Soravibe` : 'Soravibe';
  if (ctx.focusAfter?.isConnected) {
    // The screen asked to keep focus where the member was (e.g. on a tab they just chose).
    ctx.focusAfter.focus({ preventScroll: true });
  } else if (focus) {
    // Move focus to the new screen's heading so keyboard and screen-reader users land on it.
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
}

function notFound() {
  return h('div', { class: 'card narrow' }, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Go to the feed')));
}

// Same-origin links move through the router; media, static files and new tabs go to the browser.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  if (/^\/(static|media|graphql)\//.test(url.pathname) || url.pathname.includes('.')) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => render());

// The phone menu: a disclosure button; Escape closes it.
const menuButton = document.getElementById('menu-toggle');
function closeMenu() {
  menuButton.setAttribute('aria-expanded', 'false');
  document.getElementById('topbar').classList.remove('menu-open');
}
menuButton.addEventListener('click', () => {
  const open = menuButton.getAttribute('aria-expanded') !== 'true';
  menuButton.setAttribute('aria-expanded', String(open));
  document.getElementById('topbar').classList.toggle('menu-open', open);
  if (open) document.querySelector('#site-nav a, #site-nav button')?.focus();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && menuButton.getAttribute('aria-expanded') === 'true') {
    closeMenu();
    menuButton.focus();
  }
});

// Signing in or out (here or in another tab) reloads the viewer and redraws.
session.onChange(async () => {
  await loadViewer();
  renderNav();
});

// A click on a push notification (sw.js) asks an open window to show its path.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('message', (e) => {
    const path = e.data?.type === 'sv.open' ? e.data.path : null;
    if (typeof path === 'string' && path.startsWith('/') && !path.startsWith('//')) navigate(path);
  });
  navigator.serviceWorker.startMessages();
}

await loadViewer();
render({ focus: false });
