// Search `/search?q=…&kind=…`: videos (by meaning and words), members (by handle and name) and
// cameos anyone may ask to use (by name), in the server's relevance order, with "Load more".
//
// The query and the kind live in the URL so a reload, a shared link and Back show the same
// results. Typing searches after a short pause (and at once on Enter / the Search button); while
// typing the URL is replaced, not pushed, so Back does not step through every letter. Changing the
// kind is a step of its own (pushed). Neither redraws the screen, so focus stays where it is.

import { gql } from '/static/shared/api.js';
import { h, mount, busy, errorBox } from '/static/shared/dom.js';
import { VIDEO_CARD, videoCard, followButton } from './video.js';
import { showError, loading, empty, plural } from './ui.js';

/** The kind filter: its URL value, what the API calls it, and its label. */
const KINDS = [
  { key: 'all', api: null, label: 'All' },
  { key: 'videos', api: 'VIDEO', label: 'Videos' },
  { key: 'members', api: 'MEMBER', label: 'Members' },
  { key: 'cameos', api: 'CHARACTER', label: 'Cameos' },
];

const PAGE = 10;
/** Wait this long after the last key press before searching. */
const DEBOUNCE_MS = 300;
/** The server refuses longer queries (`BAD_USER_INPUT`, field `query`). */
const MAX_CHARS = 200;

const SEARCH_QUERY = `query Search($q: String!, $kinds: [SearchKind!], $first: Int, $after: String) {
  search(query: $q, kinds: $kinds, first: $first, after: $after) {
    nodes {
      __typename
      ... on Video { ...VideoCard }
      ... on User { id username displayName followerCount viewerFollows }
      ... on Cameo { id name handle restrictions owner { id username displayName } }
    }
    pageInfo { hasNextPage endCursor }
  }
}${VIDEO_CARD}`;

/** The screen's path for a query and a kind (`all` and an empty query are left out). */
function pathFor(q, kind) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (kind !== 'all') params.set('kind', kind);
  const s = params.toString();
  return s ? `/search?${s}` : '/search';
}

/** A member: their initial, name and handle linking to the profile, and Follow. */
function memberRow(u, ctx) {
  return h(
    'article',
    { class: 'card result-row', 'data-testid': 'search-member', dataset: { username: u.username } },
    h(
      'a',
      { class: 'result-link', href: `/u/${encodeURIComponent(u.username)}`, 'data-testid': 'search-member-link' },
      h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, (u.displayName || u.username).slice(0, 1).toUpperCase()),
      h(
        'span',
        { class: 'result-text' },
        h('strong', {}, u.displayName),
        h('span', { class: 'muted small' }, `@${u.username} · ${plural(u.followerCount, 'follower')}`),
      ),
    ),
    h('span', { class: 'badge' }, 'Member'),
    followButton(u, ctx),
  );
}

/** A cameo or character: its name, whose it is, and what it may not be used for. */
function cameoRow(c) {
  return h(
    'article',
    { class: 'card result-row', 'data-testid': 'search-cameo', dataset: { cameoId: c.id } },
    h('span', { class: 'avatar avatar-sm avatar-cameo', 'aria-hidden': 'true' }, c.name.slice(0, 1).toUpperCase()),
    h(
      'span',
      { class: 'result-text' },
      h('strong', { 'data-testid': 'search-cameo-name' }, c.name),
      h('span', { class: 'muted small' }, 'Cameo of ', h('a', { href: `/u/${encodeURIComponent(c.owner.username)}` }, `@${c.owner.username}`), c.restrictions ? ` · not for: ${c.restrictions}` : ''),
    ),
    h('span', { class: 'badge' }, 'Cameo'),
    h(
      'a',
      { class: 'button', href: `/cameo/${encodeURIComponent(c.handle || c.owner.username)}`, 'aria-label': `Videos with @${c.handle || c.owner.username}`, 'data-testid': 'search-cameo-feed' },
      'Videos',
    ),
  );
}

function resultNode(node, ctx) {
  if (node.__typename === 'Video') return videoCard(node, ctx);
  if (node.__typename === 'User') return memberRow(node, ctx);
  if (node.__typename === 'Cameo') return cameoRow(node);
  return null; // a kind this client does not know yet
}

export function render(ctx) {
  const initialQ = (ctx.query.get('q') || '').slice(0, MAX_CHARS);
  let kind = KINDS.find((k) => k.key === ctx.query.get('kind')) || KINDS[0];

  const input = h('input', {
    type: 'search',
    name: 'query',
    id: 'search-q',
    value: initialQ,
    maxlength: MAX_CHARS,
    autocomplete: 'off',
    autocapitalize: 'none',
    spellcheck: 'false',
    enterkeyhint: 'search',
    placeholder: 'e.g. cats at play, @handle',
    'data-testid': 'search-input',
  });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'search-submit' }, 'Search');
  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'data-testid': 'search-form' },
    h('label', { for: 'search-q' }, 'Search videos, members and cameos'),
    h('div', { class: 'row nowrap' }, input, submit),
  );

  const chips = h(
    'div',
    { class: 'chips', role: 'group', 'aria-label': 'Show', 'data-testid': 'search-kinds' },
    KINDS.map((k) =>
      h(
        'button',
        { type: 'button', class: 'chip', 'aria-pressed': String(k === kind), 'data-testid': `search-kind-${k.key}`, dataset: { kind: k.key } },
        k.label,
      ),
    ),
  );

  const hint = h(
    'p',
    { class: 'muted', 'data-testid': 'search-hint' },
    'Find videos by what happens in them, even in other words (“felines” finds cats), members by @handle or name, and cameos by name.',
  );
  const list = h('div', { class: 'stack search-results', 'data-testid': 'search-results' });
  const err = errorBox();
  err.setAttribute('data-testid', 'search-error');
  // How many are shown, read out to screen readers as results arrive.
  const status = h('p', { class: 'muted small search-count', role: 'status', 'data-testid': 'search-status' });
  const more = h('button', { type: 'button', 'data-testid': 'search-more', hidden: true }, 'Load more');

  // Each search gets a number; answers to an older one (or after leaving) are dropped.
  let seq = 0;
  let after = null;
  let shown = 0;
  let current = '';
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  const syncUrl = (push) => {
    const path = pathFor(input.value.trim(), kind.key);
    if (path === location.pathname + location.search) return;
    if (push) history.pushState(null, '', path);
    else history.replaceState(null, '', path);
  };

  /** Fetches the next page of the current search (the first when `after` is null). */
  const page = async (mine) => {
    const data = await gql(SEARCH_QUERY, { q: current, kinds: kind.api ? [kind.api] : null, first: PAGE, after });
    if (mine !== seq || !ctx.current) return;
    const conn = data.search;
    const nodes = conn.nodes.map((n) => resultNode(n, ctx)).filter(Boolean);
    if (!after) mount(list); // the first page replaces the previous search's results
    list.append(...nodes);
    shown += nodes.length;
    after = conn.pageInfo.endCursor;
    more.hidden = !conn.pageInfo.hasNextPage;
    if (!shown) {
      const box = empty(
        `No results for “${current}”${kind.api ? ` in ${kind.label.toLowerCase()}` : ''}.`,
        kind.api
          ? h('button', { type: 'button', class: 'link', onclick: () => (chooseKind(KINDS[0]), chips.querySelector('[data-kind="all"]').focus()) }, 'Search everything instead')
          : h('span', { class: 'small' }, 'Try other words, or fewer of them.'),
      );
      box.setAttribute('data-testid', 'search-empty');
      mount(list, box);
    }
    // With nothing found the empty state says so on screen; the status says it to screen readers.
    status.textContent = shown ? `${plural(shown, 'result')} for “${current}”${conn.pageInfo.hasNextPage ? ', more below' : ''}` : `No results for “${current}”.`;
    status.classList.toggle('visually-hidden', !shown);
  };

  /** Starts the search for what is in the field now (nothing when it is blank). */
  const run = async () => {
    clearTimeout(timer);
    const q = input.value.trim();
    const mine = ++seq;
    current = q;
    after = null;
    shown = 0;
    err.clear();
    input.removeAttribute('aria-invalid');
    more.hidden = true;
    if (!q) {
      mount(list);
      hint.hidden = false;
      status.textContent = '';
      list.removeAttribute('aria-busy');
      return;
    }
    hint.hidden = true;
    list.setAttribute('aria-busy', 'true');
    // Earlier results stay (dimmed) while the next arrive, so typing does not flicker.
    if (!list.querySelector('[data-testid="video-card"], .result-row')) mount(list, loading('Searching…'));
    try {
      await page(mine);
    } catch (e) {
      if (mine !== seq || !ctx.current) return;
      mount(list);
      showError(err, e, null);
      if (e?.extensions?.field === 'query') input.setAttribute('aria-invalid', 'true');
      status.textContent = '';
    } finally {
      if (mine === seq) list.removeAttribute('aria-busy');
    }
  };

  const chooseKind = (k) => {
    if (k === kind) return;
    kind = k;
    chips.querySelectorAll('.chip').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.kind === k.key)));
    syncUrl(true);
    if (input.value.trim()) run();
  };
  chips.addEventListener('click', (e) => {
    const b = e.target.closest('.chip');
    if (b) chooseKind(KINDS.find((k) => k.key === b.dataset.kind));
  });

  input.addEventListener('input', () => {
    syncUrl(false);
    clearTimeout(timer);
    // A space added at the end asks nothing new.
    if (input.value.trim() === current && !err.textContent) return;
    // Nothing to wait for when the field was cleared.
    timer = setTimeout(run, input.value.trim() ? DEBOUNCE_MS : 0);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    syncUrl(false);
    // On a phone the keyboard covers half the results: put it away once the member asks.
    if (window.matchMedia('(pointer: coarse)').matches) input.blur();
    busy(submit, run);
  });

  more.addEventListener('click', () =>
    busy(more, async () => {
      const mine = seq;
      err.clear();
      try {
        await page(mine);
      } catch (e) {
        if (mine === seq && ctx.current) showError(err, e, null);
      }
    }),
  );

  hint.hidden = !!initialQ;
  if (initialQ) run();
  return h(
    'div',
    { class: 'search stack', 'data-testid': 'search' },
    h('h1', {}, 'Search'),
    form,
    chips,
    h('div', { class: 'search-body' }, hint, status, list, err, h('div', { class: 'row load-more' }, more)),
  );
}
