// The feed at `/`: tabs For You / Following / Trending (signed-out visitors: Trending only).
// The tab lives in the URL (`/?tab=following`) so it survives a reload and can be linked.

import { gql } from '/static/shared/api.js';
import { h, mount, busy } from '/static/shared/dom.js';
import { VIDEO_CARD, videoCard } from './video.js';
import { explain, loading, empty } from './ui.js';

const TABS = [
  { key: 'for-you', kind: 'FOR_YOU', label: 'For You', member: true },
  { key: 'following', kind: 'FOLLOWING', label: 'Following', member: true },
  { key: 'trending', kind: 'TRENDING', label: 'Trending', member: false },
];

const PAGE = 8;
/** Set when the member switches tabs, so the next feed screen keeps focus on the tab row. */
let tabSwitch = false;
const FEED_QUERY = `query Feed($kind: FeedKind!, $first: Int, $after: String) {
  feed(kind: $kind, first: $first, after: $after) { nodes { ...VideoCard } pageInfo { hasNextPage endCursor } }
}${VIDEO_CARD}`;
// Members read `feedItems`: the same pages, with a take-a-break card after a long scroll.
const ITEMS_QUERY = `query FeedItems($kind: FeedKind!, $first: Int, $after: String) {
  feedItems(kind: $kind, first: $first, after: $after) {
    nodes { __typename ... on Video { ...VideoCard } ... on TakeABreak { message continuousMinutes } }
    pageInfo { hasNextPage endCursor }
  }
}${VIDEO_CARD}`;

function breakCard(card) {
  return h(
    'aside',
    { class: 'card notice stack', 'data-testid': 'take-a-break', role: 'note' },
    h('h2', {}, 'Time for a break?'),
    h('p', {}, card.message),
  );
}

function limitCard(e) {
  const at = e.extensions?.resetsAt ? new Date(e.extensions.resetsAt) : null;
  const when = at ? at.toLocaleString([], { weekday: 'long', hour: '2-digit', minute: '2-digit' }) : 'midnight';
  return h(
    'div',
    { class: 'card stack', 'data-testid': 'feed-limit' },
    h('h2', {}, 'That is all the feed for today'),
    h('p', {}, `${e.message}. It opens again ${when}.`),
    h('p', { class: 'small muted' }, 'You can still make videos, see your drafts and change your limit in Settings.'),
  );
}

function emptyText(kind) {
  if (kind === 'FOLLOWING') return 'Nothing here yet: follow people and their new videos show up here.';
  if (kind === 'FOR_YOU') return 'You have seen everything for now. Check Trending, or make something.';
  return 'No videos are trending yet.';
}

export function render(ctx) {
  const tabs = TABS.filter((t) => !t.member || ctx.viewer);
  const wanted = ctx.query.get('tab');
  const active = tabs.find((t) => t.key === wanted) || tabs[0];

  const panel = h('section', { role: 'tabpanel', id: 'feed-panel', 'aria-labelledby': `tab-${active.key}`, 'data-testid': `feed-${active.key}` });
  const tablist = h(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': 'Feeds' },
    tabs.map((t) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${t.key}`,
          'aria-selected': String(t === active),
          'aria-controls': 'feed-panel',
          tabindex: t === active ? '0' : '-1',
          'data-testid': `tab-${t.key}`,
          onclick: () => {
            if (t === active) return;
            tabSwitch = true;
            ctx.navigate(t.key === tabs[0].key ? '/' : `/?tab=${t.key}`);
          },
        },
        t.label,
      ),
    ),
  );
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab goes on into the panel.
  tablist.addEventListener('keydown', (e) => {
    const buttons = [...tablist.querySelectorAll('[role=tab]')];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    let next = null;
    if (e.key === 'ArrowRight') next = buttons[(i + 1) % buttons.length];
    if (e.key === 'ArrowLeft') next = buttons[(i - 1 + buttons.length) % buttons.length];
    if (e.key === 'Home') next = buttons[0];
    if (e.key === 'End') next = buttons[buttons.length - 1];
    if (next) {
      e.preventDefault();
      next.focus();
      next.click();
    }
  });

  const head = h(
    'div',
    { class: 'row feed-head' },
    h('h1', {}, ctx.viewer ? 'Your feed' : 'Trending now'),
    h('span', { class: 'spacer' }),
    ctx.viewer && active.kind === 'FOR_YOU' ? h('a', { href: '/settings', 'data-testid': 'steer-link' }, 'Steer your feed') : null,
    ctx.viewer ? h('a', { class: 'button primary', href: '/create' }, 'Create') : null,
  );
  const intro = ctx.viewer
    ? null
    : h('p', { class: 'notice' }, 'Soravibe is invite-only. ', h('a', { href: '/join' }, 'Join with a code'), ', ', h('a', { href: '/waitlist' }, 'join the waitlist'), ' or ', h('a', { href: '/login' }, 'log in'), '.');

  if (tabSwitch) {
    tabSwitch = false;
    ctx.focusAfter = tablist.querySelector('[aria-selected="true"]');
  }
  loadFeed(panel, active.kind, ctx);
  return h('div', { class: 'feed' }, head, intro, ctx.viewer ? tablist : null, panel);
}

/** Fills `panel` with the first page and a "Load more" button that follows `endCursor`. */
function loadFeed(panel, kind, ctx) {
  const list = h('div', { class: 'feed-list stack', 'data-testid': 'feed-list' });
  const more = h('button', { type: 'button', 'data-testid': 'feed-more', hidden: true }, 'Load more');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'feed-error' });
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  let after = null;
  let shown = 0;

  const page = async () => {
    err.hidden = true;
    try {
      const data = await gql(ctx.viewer ? ITEMS_QUERY : FEED_QUERY, { kind, first: PAGE, after });
      if (!ctx.current) return;
      const conn = ctx.viewer ? data.feedItems : data.feed;
      conn.nodes.forEach((v) => list.append(v.__typename === 'TakeABreak' ? breakCard(v) : videoCard(v, ctx)));
      conn.nodes = conn.nodes.filter((v) => v.__typename !== 'TakeABreak');
      shown += conn.nodes.length;
      after = conn.pageInfo.endCursor;
      more.hidden = !conn.pageInfo.hasNextPage;
      if (!shown && !conn.pageInfo.hasNextPage) mount(list, empty(emptyText(kind), kind !== 'TRENDING' ? h('a', { href: '/?tab=trending' }, 'See what is trending') : null));
      status.textContent = after && conn.nodes.length ? `${conn.nodes.length} more videos loaded.` : '';
    } catch (e) {
      if (e.code === 'CURSOR_EXPIRED') {
        // The ranked list behind the cursor is gone: start again from the top.
        after = null;
        shown = 0;
        mount(list, h('p', { class: 'notice' }, 'The feed was refreshed while you were away; here it is from the top.'));
        return page();
      }
      if (e.code === 'LIMIT_REACHED') {
        more.hidden = true;
        list.append(limitCard(e));
        return;
      }
      err.textContent = explain(e);
      err.hidden = false;
    }
  };
  more.addEventListener('click', () => busy(more, page));
  const spinner = loading('Loading videos…');
  mount(panel, spinner, list, err, status, h('div', { class: 'row load-more' }, more));
  page().finally(() => spinner.remove());
}
