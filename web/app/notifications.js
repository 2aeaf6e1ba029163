// Notifications `/notifications`: newest first, unread ones marked; "Mark all read".

import { gql } from '/static/shared/api.js';
import { h, busy, toast, timeAgo } from '/static/shared/dom.js';
import { signInNeeded, pagedList, explain } from './ui.js';

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('see your notifications');
  const list = pagedList({
    testid: 'notifications',
    emptyText: 'Nothing yet. Likes, comments, follows and moderation news land here.',
    load: async (after) =>
      (
        await gql(
          `query Notes($after: String) { notifications(first: 20, after: $after) {
            nodes { id kind message createdAt read actor { username displayName } video { id caption prompt } }
            pageInfo { hasNextPage endCursor } } }`,
          { after },
        )
      ).notifications,
    item,
  });
  const markAll = h('button', { type: 'button', 'data-testid': 'mark-read' }, 'Mark all read');
  markAll.addEventListener('click', () =>
    busy(markAll, async () => {
      try {
        const data = await gql('mutation Read { markNotificationsRead }');
        list.querySelectorAll('.unread').forEach((el) => el.classList.remove('unread'));
        list.querySelectorAll('[data-unread-label]').forEach((el) => el.remove());
        ctx.setUnread(0);
        toast(data.markNotificationsRead ? `${data.markNotificationsRead} marked read.` : 'Nothing was unread.', 'ok');
      } catch (e) {
        toast(explain(e), 'error');
      }
    }),
  );
  await list.ready;
  return h('div', { class: 'stack narrow-wide' }, h('div', { class: 'row' }, h('h1', {}, 'Notifications'), h('span', { class: 'spacer' }), markAll), list);
}

function item(n) {
  return h(
    'article',
    { class: ['card', 'note', n.read ? null : 'unread'], 'data-testid': 'notification', dataset: { kind: n.kind } },
    h(
      'p',
      {},
      n.read ? null : h('span', { class: 'badge badge-warn', 'data-unread-label': '' }, 'new'),
      ' ',
      n.message,
    ),
    h(
      'p',
      { class: 'small muted row' },
      n.actor ? h('a', { href: `/u/${encodeURIComponent(n.actor.username)}` }, `@${n.actor.username}`) : null,
      h('span', {}, timeAgo(n.createdAt)),
      n.video ? h('a', { href: `/v/${encodeURIComponent(n.video.id)}` }, 'Open the video') : null,
    ),
  );
}
