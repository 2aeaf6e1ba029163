// A member's profile `/u/<username>`: name, counts, follow, their published videos. On your own
// profile each video has "Allow remixes" and Delete, and there is a link to your drafts.

import { gql } from '/static/shared/api.js';
import { h, mount, toast, busy, timeAgo } from '/static/shared/dom.js';
import { VIDEO_CARD, followButton, reportForm } from './video.js';
import { explain, count, plural, pagedList, confirmButton } from './ui.js';

export async function render(ctx) {
  const data = await gql(
    `query Profile($u: String!) { user(username: $u) {
      id username displayName followerCount followingCount viewerFollows viewerBlocks createdAt
      invitedBy { username displayName }
      cameos { id name permission status }
    } }`,
    { u: ctx.params.username },
  );
  const u = data.user;
  if (!u) {
    return h('div', { class: 'card narrow', 'data-testid': 'profile-missing' }, h('h1', {}, 'No such member'), h('p', {}, `Nobody is called @${ctx.params.username}.`), h('a', { href: '/' }, 'Back to the feed'));
  }
  const own = ctx.viewer?.id === u.id;
  // Only an active cameo can be in a published video: link the cameo feed while one is.
  const cameoFeed = u.cameos.some((c) => c.status === 'ACTIVE');
  const extra = h('div', {});
  let reportBtn = null;
  if (ctx.viewer && !own) {
    reportBtn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'data-testid': 'report-user' }, 'Report');
    reportBtn.addEventListener('click', () => {
      const open = reportBtn.getAttribute('aria-expanded') === 'true';
      reportBtn.setAttribute('aria-expanded', String(!open));
      if (open) return mount(extra);
      mount(extra, reportForm({ userId: u.id }, () => (reportBtn.setAttribute('aria-expanded', 'false'), mount(extra), reportBtn.focus())));
      extra.querySelector('select')?.focus();
    });
  }

  const head = h(
    'section',
    { class: 'card profile-head', 'data-testid': 'profile', dataset: { userId: u.id } },
    h('div', { class: 'avatar', 'aria-hidden': 'true' }, (u.displayName || u.username).slice(0, 1).toUpperCase()),
    h(
      'div',
      { class: 'stack grow' },
      h('div', {}, h('h1', { 'data-testid': 'profile-name' }, u.displayName), h('p', { class: 'muted' }, `@${u.username} · joined ${timeAgo(u.createdAt)}`, u.invitedBy ? ` · invited by @${u.invitedBy.username}` : '')),
      h(
        'p',
        { class: 'row counts' },
        h('span', {}, 'Followers ', h('strong', { 'data-testid': 'follower-count', dataset: { followerCount: u.id } }, count(u.followerCount))),
        h('span', {}, 'Following ', h('strong', { 'data-testid': 'following-count' }, count(u.followingCount))),
      ),
      u.cameos.length
        ? h(
            'p',
            { class: 'small muted', 'data-testid': 'profile-cameos' },
            'Cameos: ',
            u.cameos.map((c) => c.name).join(', '),
            cameoFeed ? [' · ', h('a', { href: `/cameo/${encodeURIComponent(u.username)}`, 'data-testid': 'profile-cameo-feed' }, `Videos with @${u.username}`)] : null,
          )
        : null,
      h(
        'div',
        { class: 'row' },
        u.viewerBlocks ? null : followButton(u, ctx),
        own ? h('a', { class: 'button', href: '/drafts', 'data-testid': 'drafts-link' }, 'My drafts') : null,
        own ? h('a', { class: 'button', href: '/cameos' }, 'My cameos') : null,
        own ? h('a', { class: 'button', href: '/settings' }, 'Settings') : null,
        reportBtn,
        ctx.viewer && !own ? blockButton(u, ctx) : null,
      ),
      extra,
    ),
  );

  const videos = pagedList({
    testid: 'profile-videos',
    wrapClass: 'tiles tiles-lg',
    emptyText: own ? 'You have not published anything yet.' : 'Nothing published yet.',
    load: async (after) =>
      (await gql(`query UserVideos($u: String!, $after: String) { user(username: $u) { videos(first: 12, after: $after) { nodes { ...VideoCard } pageInfo { hasNextPage endCursor } } } }${VIDEO_CARD}`, { u: u.username, after })).user.videos,
    item: (v) => profileVideo(v, own),
  });
  await videos.ready;
  return h('div', { class: 'stack' }, head, h('h2', {}, own ? 'Your videos' : 'Videos'), videos);
}

/**
 * Block / Unblock. Blocking ends follows both ways and hides each member from the other's
 * feeds and comments, so the profile is drawn again afterwards.
 */
function blockButton(u, ctx) {
  const rerender = () => ctx.navigate(location.pathname + location.search, { replace: true });
  if (u.viewerBlocks) {
    const btn = h('button', { type: 'button', 'data-testid': 'unblock' }, 'Unblock');
    btn.addEventListener('click', () =>
      busy(btn, async () => {
        try {
          await gql('mutation Unblock($id: ID!) { unblock(userId: $id) }', { id: u.id });
          toast(`You unblocked @${u.username}.`, 'ok');
          rerender();
        } catch (e) {
          toast(explain(e), 'error');
        }
      }),
    );
    return h('span', { class: 'row' }, h('span', { class: 'badge badge-danger', 'data-testid': 'blocked' }, 'Blocked'), btn);
  }
  return confirmButton(
    'Block',
    `Block @${u.username}? You stop following each other and no longer see each other's videos or comments.`,
    async () => {
      try {
        await gql('mutation Block($id: ID!) { block(userId: $id) }', { id: u.id });
        toast(`You blocked @${u.username}.`, 'ok');
        rerender();
      } catch (e) {
        toast(explain(e), 'error');
      }
    },
    { testid: 'block' },
  );
}

/** A video tile; the owner also gets the remix switch and Delete. */
function profileVideo(v, own) {
  const tile = h(
    'article',
    { class: 'tile-card card', 'data-testid': 'profile-video', dataset: { videoId: v.id } },
    h('a', { class: 'tile', href: `/v/${encodeURIComponent(v.id)}` }, h('img', { src: v.thumbnailUrl, alt: '', loading: 'lazy' }), h('span', { class: 'tile-text' }, v.caption || v.prompt)),
    h('p', { class: 'small muted' }, `♥ ${count(v.likeCount)} · ${plural(v.viewCount, 'view')} · ${plural(v.commentCount, 'comment')}`),
  );
  if (!own) return tile;

  const id = `remix-${v.id}`;
  const remix = h('input', { type: 'checkbox', id, checked: v.remixAllowed, 'data-testid': 'remix-allowed' });
  remix.addEventListener('change', () =>
    busy(remix, async () => {
      try {
        const data = await gql('mutation Remix($id: ID!, $on: Boolean!) { setRemixAllowed(videoId: $id, allowed: $on) { id remixAllowed } }', { id: v.id, on: remix.checked });
        remix.checked = data.setRemixAllowed.remixAllowed;
        toast(remix.checked ? 'Others may remix it.' : 'Remixes are off for this video.', 'ok');
      } catch (e) {
        remix.checked = !remix.checked;
        toast(explain(e), 'error');
      }
    }),
  );
  tile.append(
    h('div', { class: 'row' }, h('span', { class: 'check' }, remix, h('label', { for: id }, 'Allow remixes'))),
    h(
      'div',
      { class: 'row' },
      confirmButton(
        'Delete',
        'Delete for good?',
        async () => {
          try {
            await gql('mutation Delete($id: ID!) { deleteVideo(id: $id) }', { id: v.id });
            toast('Video deleted.', 'ok');
            tile.remove();
          } catch (e) {
            toast(explain(e), 'error');
          }
        },
        { testid: 'video-delete' },
      ),
    ),
  );
  return tile;
}
