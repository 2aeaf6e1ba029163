// "My drafts" `/drafts`: the member's DRAFT and IN_REVIEW videos, each with Publish (drafts)
// and Delete (with a confirm step); drafts ticked in order are stitched into one new video
// (`stitchVideos`), whose progress opens at `/create?job=<id>`.

import { gql } from '/static/shared/api.js';
import { h, mount, toast, timeAgo, field, errorBox, busy } from '/static/shared/dom.js';
import { VIDEO_CARD, player } from './video.js';
import { publishPanel } from './publish.js';
import { explain, signInNeeded, pagedList, statusBadge, confirmButton, showError } from './ui.js';

// The server checks the same: 2–12 videos, 60 s together.
const MAX_STITCH = 12;
const MAX_STITCH_SECONDS = 60;

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('see your drafts');
  const stitch = stitchPanel(ctx);
  const list = pagedList({
    testid: 'drafts',
    emptyText: 'No drafts. Videos you generate wait here until you publish them.',
    load: async (after) => (await gql(`query Drafts($after: String) { myDrafts(first: 10, after: $after) { nodes { ...VideoCard shots { prompt durationSeconds } } pageInfo { hasNextPage endCursor } } }${VIDEO_CARD}`, { after })).myDrafts,
    item: (v) => draftItem(v, ctx, stitch),
  });
  await list.ready;
  return h(
    'div',
    { class: 'drafts' },
    h('div', { class: 'row' }, h('h1', {}, 'My drafts'), h('span', { class: 'spacer' }), h('a', { class: 'button primary', href: '/create' }, 'Create')),
    h('p', { class: 'muted' }, 'Only you (and the owners of cameos in them) can see drafts.'),
    stitch,
    list,
  );
}

/**
 * Stitching: the drafts ticked, in the order they were ticked, a caption, and Stitch. `toggle(v,
 * on)` adds or removes a draft and returns its place (1-based) or 0.
 */
function stitchPanel(ctx) {
  const picked = [];
  const order = h('ol', { class: 'small stitch-order', 'data-testid': 'stitch-order' });
  const summary = h('p', { class: 'muted small', 'aria-live': 'polite', 'data-testid': 'stitch-summary' });
  const caption = h('input', { type: 'text', maxlength: 500, 'data-testid': 'stitch-caption', placeholder: 'optional' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'stitch-submit' }, 'Stitch');
  const err = errorBox();
  const panel = h(
    'form',
    { class: 'card stack stitch-panel', 'data-testid': 'stitch-panel', 'aria-labelledby': 'stitch-h' },
    h('h2', { id: 'stitch-h' }, 'Stitch drafts into one video'),
    h('p', { class: 'muted small' }, `Tick “Stitch” on 2 to ${MAX_STITCH} drafts in the order they should play. They are made again as one new draft (up to ${MAX_STITCH_SECONDS} s), watermarked and signed once; the drafts stay as they are.`),
    order,
    summary,
    field('Caption of the new video', caption),
    err,
    h('div', { class: 'row' }, submit),
  );
  const refresh = () => {
    mount(order, ...picked.map((v) => h('li', {}, v.caption || v.prompt)));
    const seconds = picked.reduce((n, v) => n + Math.round(v.durationMs / 1000), 0);
    summary.textContent = picked.length ? `${picked.length} drafts, ${seconds} s of ${MAX_STITCH_SECONDS} s` : 'No drafts ticked yet.';
    submit.disabled = picked.length < 2;
    submit.textContent = picked.length >= 2 ? `Stitch ${picked.length} drafts` : 'Stitch';
    panel.dispatchEvent(new CustomEvent('picked'));
  };
  panel.toggle = (v, on) => {
    const at = picked.findIndex((p) => p.id === v.id);
    if (on && at < 0 && picked.length < MAX_STITCH) picked.push(v);
    if (!on && at >= 0) picked.splice(at, 1);
    refresh();
  };
  panel.place = (v) => picked.findIndex((p) => p.id === v.id) + 1;
  panel.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        const data = await gql('mutation Stitch($ids: [ID!]!, $caption: String) { stitchVideos(videoIds: $ids, caption: $caption) { id } }', {
          ids: picked.map((v) => v.id),
          caption: caption.value.trim() || null,
        });
        ctx.navigate(`/create?job=${encodeURIComponent(data.stitchVideos.id)}`);
      } catch (ex) {
        showError(err, ex, panel);
      }
    });
  });
  refresh();
  return panel;
}

/** A storyboard draft's shots, in order, under a badge with their count and length; null for a clip of one shot. */
function shotList(shots) {
  if (!shots || !shots.length) return null;
  const seconds = shots.reduce((n, s) => n + s.durationSeconds, 0);
  return h(
    'div',
    { class: 'stack', 'data-testid': 'draft-storyboard' },
    h('span', { class: 'badge' }, `Storyboard · ${shots.length} shots · ${seconds} s`),
    h('ol', { class: 'small draft-shots' }, ...shots.map((s) => h('li', {}, `${s.prompt} (${s.durationSeconds} s)`))),
  );
}

function draftItem(v, ctx, stitch) {
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
    h('div', { class: 'draft-grid' }, player(v, ctx, { record: false }), h('div', { class: 'stack' }, h('p', {}, v.prompt), shotList(v.shots))),
  ];
  if (v.status === 'DRAFT') {
    // Its place in the stitch, shown on the tick box's label.
    const id = `stitch-${v.id}`;
    const box = h('input', { type: 'checkbox', id, 'data-testid': 'stitch-pick' });
    const label = h('label', { for: id }, 'Stitch');
    box.addEventListener('change', () => stitch.toggle(v, box.checked));
    stitch.addEventListener('picked', () => {
      const place = stitch.place(v);
      box.checked = place > 0;
      label.textContent = place ? `Stitch (${place})` : 'Stitch';
    });
    body[0].insertBefore(h('span', { class: 'check' }, box, label), body[0].querySelector('.spacer'));
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
