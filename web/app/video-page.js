// The video detail page `/v/<id>`: the card with its comments open, remix lineage (source,
// root and published remixes) and provenance. Its author also sees drafts here, with Publish.

import { gql } from '/static/shared/api.js';
import { h } from '/static/shared/dom.js';
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
  );
  return h('div', { class: 'video-page', 'data-testid': 'video-page', dataset: { videoId: v.id } }, main, h('aside', { class: 'stack' }, lineage(v), provenance(v)));
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
    !v.remixOf && isRoot ? h('p', { class: 'muted' }, 'An original.') : null,
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
  );
}
