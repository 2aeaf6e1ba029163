// The cameo feed `/cameo/<handle>`: published videos in which a cameo of the member with that
// handle appears, newest first, with "Load more". Open to visitors too. The server leaves out
// what the viewer may not see and answers NOT_FOUND for a handle naming nobody (or a banned
// member, or one in a block with the viewer); that gets a screen of its own.

import { gql } from '/static/shared/api.js';
import { h, mount, busy } from '/static/shared/dom.js';
import { VIDEO_CARD, videoCard } from './video.js';
import { explain, empty } from './ui.js';

const PAGE = 8;

// The member (for their name and the profile link) comes with the first page only.
const FIRST_QUERY = `query CameoFeed($h: String!, $u: String!, $first: Int) {
  user(username: $u) { id username displayName }
  videosWithCameo(handle: $h, first: $first) { nodes { ...VideoCard } pageInfo { hasNextPage endCursor } }
}${VIDEO_CARD}`;
const MORE_QUERY = `query CameoFeedMore($h: String!, $first: Int, $after: String) {
  videosWithCameo(handle: $h, first: $first, after: $after) { nodes { ...VideoCard } pageInfo { hasNextPage endCursor } }
}${VIDEO_CARD}`;

/** The path of the cameo feed of `handle` (a leading "@" is dropped). */
export function cameoFeedPath(handle) {
  return `/cameo/${encodeURIComponent(String(handle).replace(/^@/, ''))}`;
}

function missing(handle) {
  return h(
    'div',
    { class: 'card narrow stack', 'data-testid': 'cameo-feed-missing' },
    h('h1', {}, 'No such cameo'),
    h('p', {}, `Nobody here goes by @${handle}, so there are no videos with their cameo to show.`),
    h('div', { class: 'row' }, h('a', { class: 'button', href: '/search?kind=cameos' }, 'Search cameos'), h('a', { href: '/' }, 'Back to the feed')),
  );
}

export async function render(ctx) {
  const handle = (ctx.params.handle || '').trim().replace(/^@/, '');
  if (!handle) return missing('');

  let first;
  try {
    first = await gql(FIRST_QUERY, { h: handle, u: handle, first: PAGE });
  } catch (e) {
    if (e.code === 'NOT_FOUND') return missing(handle);
    throw e;
  }
  const user = first.user;
  const name = user?.username || handle;
  // One address per member: `/cameo/@Ann` becomes `/cameo/ann`.
  const canonical = cameoFeedPath(name);
  if (ctx.current && location.pathname !== canonical) history.replaceState(null, '', canonical + location.search);

  const own = !!ctx.viewer && ctx.viewer.username === name;
  const profile = `/u/${encodeURIComponent(name)}`;
  const head = h(
    'section',
    { class: 'card cameo-feed-head', 'data-testid': 'cameo-feed-head' },
    h('span', { class: 'avatar avatar-sm avatar-cameo', 'aria-hidden': 'true' }, (user?.displayName || name).slice(0, 1).toUpperCase()),
    h(
      'div',
      { class: 'grow' },
      h('h1', { 'data-testid': 'cameo-feed-title' }, `Videos with @${name}`),
      h(
        'p',
        { class: 'muted small' },
        own
          ? ['Published videos with your cameo, newest first. ', h('a', { href: '/cameos', 'data-testid': 'cameo-feed-manage' }, 'Manage your cameos')]
          : ['Published videos with the cameo of ', h('a', { href: profile, 'data-testid': 'cameo-feed-profile' }, user?.displayName || `@${name}`), ', newest first.'],
      ),
    ),
  );

  const list = h('div', { class: 'feed-list stack', 'data-testid': 'cameo-feed-list' });
  const more = h('button', { type: 'button', 'data-testid': 'cameo-feed-more', hidden: true }, 'Load more');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'cameo-feed-error' });
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  let after = null;
  let shown = 0;

  const show = (conn) => {
    conn.nodes.forEach((v) => list.append(videoCard(v, ctx)));
    shown += conn.nodes.length;
    after = conn.pageInfo.endCursor;
    more.hidden = !conn.pageInfo.hasNextPage;
    if (!shown && !conn.pageInfo.hasNextPage) {
      const box = empty(
        `No published videos with @${name} yet.`,
        own ? h('a', { href: '/create' }, 'Make one with your cameo') : null,
      );
      box.setAttribute('data-testid', 'cameo-feed-empty');
      mount(list, box);
    }
  };
  show(first.videosWithCameo);

  more.addEventListener('click', () =>
    busy(more, async () => {
      err.hidden = true;
      try {
        const data = await gql(MORE_QUERY, { h: name, first: PAGE, after });
        if (!ctx.current) return;
        const before = shown;
        show(data.videosWithCameo);
        status.textContent = `${shown - before} more videos loaded.`;
      } catch (e) {
        err.textContent = explain(e);
        err.hidden = false;
      }
    }),
  );

  return h(
    'div',
    { class: 'feed cameo-feed stack', 'data-testid': 'cameo-feed', dataset: { handle: name } },
    head,
    list,
    err,
    status,
    h('div', { class: 'row load-more' }, more),
  );
}
