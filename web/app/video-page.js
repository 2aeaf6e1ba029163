// The video detail page `/v/<id>`: the card with its comments open, remix lineage (source,
// root and published remixes; the videos a stitched video joins) and provenance. Its author also sees drafts here, with Publish.

import { gql } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast, timeAgo } from '/static/shared/dom.js';
import { showError } from './ui.js';
import { VIDEO_CARD, videoCard, videoTile } from './video.js';
import { publishPanel } from './publish.js';

const SHORT = 'id caption prompt thumbnailUrl author { username }';

export async function render(ctx) {
  let data;
  try {
    data = await gql(
      `query VideoPage($id: ID!) { video(id: $id) { ...VideoCard
        removalReason
        remixOf { ${SHORT} }
        root { ${SHORT} }
        remixes(first: 12) { nodes { ${SHORT} } pageInfo { hasNextPage } }
        parts { ${SHORT} }
        provenance { watermarkId manifestValid manifestIssuer moderationVerdict model }
      } }${VIDEO_CARD}`,
      { id: ctx.params.id },
    );
  } catch (e) {
    // A malformed id is BAD_USER_INPUT: to a person that is the same as "not found".
    if (e.code !== 'BAD_USER_INPUT') throw e;
    data = { video: null };
  }
  const v = data.video;
  if (!v) {
    return h('div', { class: 'card narrow', 'data-testid': 'video-missing' }, h('h1', {}, 'Video not found'), h('p', {}, 'It may have been removed, or it is not published.'), h('a', { href: '/' }, 'Back to the feed'));
  }
  const own = ctx.viewer && ctx.viewer.id === v.author.id;
  const main = h(
    'div',
    { class: 'stack' },
    h('h1', { class: 'visually-hidden' }, v.caption || 'Video'),
    v.removalReason ? h('p', { class: 'form-error', role: 'alert' }, `Taken down: ${v.removalReason}`) : null,
    videoCard(v, ctx, { detail: true }),
    own && v.status === 'DRAFT' ? publishPanel(v, ctx) : null,
    own && v.status === 'IN_REVIEW' ? h('p', { class: 'notice' }, 'A moderator is checking this video. You can publish it once it is approved.') : null,
    own && v.status === 'REMOVED' ? await appealPanel(v) : null,
  );
  return h('div', { class: 'video-page', 'data-testid': 'video-page', dataset: { videoId: v.id } }, main, h('aside', { class: 'stack' }, lineage(v), provenance(v)));
}

/**
 * The author of a removed video may ask for another look, once, within 20 days of the removal;
 * a different moderator decides. The case is read only here (the author sees it once decided).
 */
async function appealPanel(v) {
  const data = await gql(
    'query RemovalCase($id: ID!) { video(id: $id) { moderationCase { id status resolution resolvedAt appealedAt appealMessage } } }',
    { id: v.id },
  );
  const c = data.video?.moderationCase;
  const box = h('section', { class: 'card stack', 'data-testid': 'appeal', 'aria-labelledby': 'appeal-h' }, h('h2', { id: 'appeal-h' }, 'Appeal'));
  if (!c) {
    box.append(h('p', { class: 'muted' }, 'This video was taken down without a case you can appeal (for example when a cameo owner removed it).'));
    return box;
  }
  if (c.appealedAt) {
    box.append(
      h('p', { 'data-testid': 'appeal-sent' }, `You appealed ${timeAgo(c.appealedAt)}. A different moderator will decide; you will get a notification.`),
      c.appealMessage ? h('blockquote', { class: 'muted' }, c.appealMessage) : null,
    );
    return box;
  }
  const message = h('textarea', { name: 'message', rows: 3, maxlength: 2000, required: true, 'data-testid': 'appeal-message' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'appeal-submit' }, 'Send appeal');
  const form = h(
    'form',
    {},
    h('p', { class: 'muted' }, 'Think this was a mistake? Tell a moderator why. You can appeal once, within 20 days of the removal.'),
    field('Why should it come back?', message),
    err,
    submit,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        await gql('mutation Appeal($id: ID!, $m: String!) { appeal(caseId: $id, message: $m) { id status appealedAt } }', { id: c.id, m: message.value });
        toast('Appeal sent.', 'ok');
        mount(form, h('p', { 'data-testid': 'appeal-sent' }, 'Appeal sent. A different moderator will decide; you will get a notification.'));
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  box.append(form);
  return box;
}

function lineage(v) {
  const isRoot = v.root && v.root.id === v.id;
  const remixes = v.remixes.nodes;
  return h(
    'section',
    { class: 'card stack', 'data-testid': 'lineage', 'aria-labelledby': 'lineage-h' },
    h('h2', { id: 'lineage-h' }, 'Remix chain'),
    v.remixOf ? h('div', {}, h('h3', {}, 'Remix of'), videoTile(v.remixOf)) : null,
    v.root && !isRoot && v.root.id !== v.remixOf?.id ? h('div', {}, h('h3', {}, 'Started by'), videoTile(v.root)) : null,
    // A stitched video names the videos it joins (those the viewer may see), in order.
    v.parts.length ? h('div', {}, h('h3', {}, 'Stitched from'), h('div', { class: 'tiles', 'data-testid': 'parts' }, v.parts.map((p) => videoTile(p)))) : null,
    !v.remixOf && isRoot && !v.parts.length ? h('p', { class: 'muted' }, 'An original.') : null,
    h('h3', {}, `Remixes (${v.remixCount})`),
    remixes.length
      ? h('div', { class: 'tiles', 'data-testid': 'remixes' }, remixes.map((r) => videoTile(r)))
      : h('p', { class: 'muted' }, v.remixAllowed ? 'No remixes yet.' : 'Its author does not allow remixes.'),
  );
}

function provenance(v) {
  const p = v.provenance;
  const row = (k, val) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, val));
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'prov-h', 'data-testid': 'provenance' },
    h('h2', { id: 'prov-h' }, 'Provenance'),
    h(
      'table',
      {},
      h(
        'tbody',
        {},
        row('Made with', p.model),
        row('Signed manifest', p.manifestValid ? `valid${p.manifestIssuer ? ` (${p.manifestIssuer})` : ''}` : 'not valid'),
        row('Watermark id', p.watermarkId || '—'),
        row('Moderation', p.moderationVerdict.toLowerCase()),
      ),
    ),
    h('p', { class: 'small' }, h('a', { href: '/check' }, 'Check whether any clip was made here')),
  );
}
