// "My drafts" `/drafts`: the member's DRAFT and IN_REVIEW videos, each with Publish (drafts)
// and Delete (with a confirm step).

import { gql } from '/static/shared/api.js';
import { h, mount, toast, timeAgo } from '/static/shared/dom.js';
import { VIDEO_CARD, player } from './video.js';
import { publishPanel } from './publish.js';
import { explain, signInNeeded, pagedList, statusBadge, confirmButton } from './ui.js';

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('see your drafts');
  const list = pagedList({
    testid: 'drafts',
    emptyText: 'No drafts. Videos you generate wait here until you publish them.',
    load: async (after) => (await gql(`query Drafts($after: String) { myDrafts(first: 10, after: $after) { nodes { ...VideoCard } pageInfo { hasNextPage endCursor } } }${VIDEO_CARD}`, { after })).myDrafts,
    item: (v) => draftItem(v, ctx),
  });
  await list.ready;
  return h(
    'div',
    { class: 'drafts' },
    h('div', { class: 'row' }, h('h1', {}, 'My drafts'), h('span', { class: 'spacer' }), h('a', { class: 'button primary', href: '/create' }, 'Create')),
    h('p', { class: 'muted' }, 'Only you (and the owners of cameos in them) can see drafts.'),
    list,
  );
}

function draftItem(v, ctx) {
  const item = h('article', { class: 'card stack', 'data-testid': 'draft-item', dataset: { videoId: v.id } });
  const del = confirmButton(
    'Delete',
    'Delete this draft for good?',
    async () => {
      try {
        await gql('mutation Delete($id: ID!) { deleteVideo(id: $id) }', { id: v.id });
        toast('Draft deleted.', 'ok');
        item.remove();
      } catch (e) {
        toast(explain(e), 'error');
      }
    },
    { testid: 'draft-delete' },
  );
  const body = [
    h('div', { class: 'row' }, statusBadge(v.status), h('span', { class: 'muted small' }, `made ${timeAgo(v.createdAt)}`), h('span', { class: 'spacer' }), del),
    h('div', { class: 'draft-grid' }, player(v, ctx, { record: false }), h('div', { class: 'stack' }, h('p', {}, v.prompt))),
  ];
  if (v.status === 'DRAFT') {
    body.push(
      publishPanel(v, ctx, {
        onPublished: (p) => {
          mount(item, h('p', { class: 'notice', role: 'status', 'data-testid': 'published' }, 'Published! ', h('a', { href: `/v/${encodeURIComponent(p.id)}` }, 'See it in the feed')));
        },
      }),
    );
  } else {
    body.push(h('p', { class: 'notice' }, 'A moderator is checking this video; you can publish it once it is approved.'));
  }
  mount(item, ...body);
  return item;
}
