// One moderation case with all its context, and the panel that decides it.
import { gql, describeError, ApiError } from '/static/shared/api.js';
import { h, field, errorBox, toast, timeAgo } from '/static/shared/dom.js';
import { when, who, confirmButton } from './ui.js';

/** Everything a moderator needs to decide, fetched when the case opens (media links are short-lived). */
export const CASE_QUERY = `query ConsoleCase($id: ID!) {
  moderationCase(id: $id) {
    id status source reasons scores reportCount escalated frameStripUrl createdAt
    resolution resolvedAt note appealMessage appealedAt
    resolvedBy { id username displayName }
    reports { reason details createdAt reporter { id username displayName } }
    authorHistory { videos published removed cases }
    subjectUser { id username displayName role banned banReason createdAt }
    subjectComment { id body createdAt author { id username displayName } }
    subjectCameo { id name status clipUrl challengePhrase createdAt owner { id username displayName } }
    subjectVideo {
      id status prompt caption url thumbnailUrl durationMs width height createdAt publishedAt removalReason
      author { id username displayName role }
      cameos { id name owner { id username displayName } }
      remixOf { id prompt author { id username displayName } }
      root { id prompt author { id username displayName } }
      provenance { moderationVerdict }
      maturity
    }
  }
}`;

/** What the case is about, as a word for lists and headings. */
export function subjectKind(c) {
  if (c.subjectCameo) return 'Cameo';
  if (c.subjectVideo) return 'Video';
  if (c.subjectComment) return 'Comment';
  return 'Member';
}

const ACTION_LABEL = { APPROVE: 'Approve', REMOVE: 'Remove', BAN_AUTHOR: 'Ban author', ESCALATE: 'Escalate' };

/** A term/definition list from [label, value] pairs, skipping empty values. */
function facts(pairs) {
  const items = pairs.filter(([, v]) => v !== null && v !== undefined && v !== '');
  return h('dl', { class: 'facts' }, items.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function section(title, testid, ...body) {
  return h('section', { class: 'card stack case-section', 'data-testid': testid }, h('h3', {}, title), ...body);
}

function videoContext(c) {
  const v = c.subjectVideo;
  const player = h(
    'div',
    { class: 'player' },
    h('video', { src: v.url, poster: v.thumbnailUrl, controls: true, preload: 'metadata', playsinline: true, 'data-testid': 'case-player', 'aria-label': 'The video under review' }),
  );
  const lineage = [];
  if (v.remixOf) lineage.push(['Remix of', `${who(v.remixOf.author)}: “${v.remixOf.prompt}”`]);
  if (v.root && v.root.id !== v.id && v.root.id !== v.remixOf?.id) lineage.push(['Chain started by', `${who(v.root.author)}: “${v.root.prompt}”`]);
  if (!v.remixOf) lineage.push(['Remix', 'An original (not a remix)']);
  return [
    h(
      'div',
      { class: 'grid grid-2' },
      player,
      h(
        'div',
        { class: 'stack' },
        facts([
          ['Prompt', h('span', { 'data-testid': 'case-prompt' }, v.prompt)],
          ['Caption', v.caption || h('span', { class: 'muted' }, 'none')],
          ['Status', h('span', { class: 'badge' }, v.status)],
          ['Frame check', v.provenance?.moderationVerdict],
          ['Audience', maturityControl(v)],
          ['Size', `${v.width}×${v.height}, ${(v.durationMs / 1000).toFixed(1)} s`],
          ['Made', when(v.createdAt)],
          ['Published', when(v.publishedAt)],
          ['Taken down for', v.removalReason],
          ...lineage,
        ]),
      ),
    ),
    cameosInVideo(v),
  ];
}

function cameosInVideo(v) {
  if (!v.cameos.length) return h('p', { class: 'muted small', 'data-testid': 'case-cameos' }, 'No cameos in this video.');
  return h(
    'div',
    { 'data-testid': 'case-cameos' },
    h('h4', {}, 'Cameos in it (their owners consented)'),
    h('ul', {}, v.cameos.map((cm) => h('li', {}, `“${cm.name}”, the likeness of ${who(cm.owner)}`))),
  );
}

function frameCheck(c) {
  if (!c.frameStripUrl && !c.scores.length) return null;
  const max = c.scores.length ? Math.max(...c.scores) : null;
  return section(
    'Frame check',
    'case-frames',
    c.frameStripUrl
      ? h('img', { class: 'frame-strip', src: c.frameStripUrl, alt: 'The sampled frames the frame check scored, side by side', 'data-testid': 'frame-strip' })
      : null,
    c.scores.length
      ? h(
          'div',
          {},
          h('p', { class: 'small muted' }, `NSFW score per sampled frame (highest ${max.toFixed(2)}):`),
          h(
            'ol',
            { class: 'scores', 'data-testid': 'case-scores' },
            c.scores.map((s, i) =>
              h(
                'li',
                { class: s >= 0.5 ? 'score-high' : null },
                h('span', { class: 'score-label' }, `Frame ${i + 1}`),
                h('span', { class: 'progress', 'aria-hidden': 'true' }, h('span', { style: { width: `${Math.round(s * 100)}%` } })),
                h('span', { class: 'score-value' }, s.toFixed(2)),
              ),
            ),
          ),
        )
      : null,
  );
}

function reportsSection(c) {
  if (!c.reports.length) return section('Reports', 'case-reports', h('p', { class: 'muted' }, 'No member reported this; the frame check held it.'));
  return section(
    `Reports (${c.reportCount})`,
    'case-reports',
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'cards-on-phone' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col' }, 'Details'), h('th', { scope: 'col' }, 'Reporter'), h('th', { scope: 'col' }, 'When'))),
        h(
          'tbody',
          {},
          c.reports.map((r) =>
            h(
              'tr',
              { 'data-testid': 'case-report' },
              h('td', { 'data-label': 'Reason' }, r.reason),
              h('td', { 'data-label': 'Details', class: 'break' }, r.details || h('span', { class: 'muted' }, '—')),
              h('td', { 'data-label': 'Reporter' }, who(r.reporter)),
              h('td', { 'data-label': 'When', title: when(r.createdAt) }, timeAgo(r.createdAt)),
            ),
          ),
        ),
      ),
    ),
  );
}

function authorSection(c) {
  const author = c.subjectVideo?.author || c.subjectComment?.author || c.subjectCameo?.owner || c.subjectUser;
  const hist = c.authorHistory;
  return section(
    c.subjectUser && !c.subjectVideo && !c.subjectComment && !c.subjectCameo ? 'The member reported' : 'Author',
    'case-author',
    facts([
      ['Member', author ? who(author) : null],
      ['Role', c.subjectUser?.role],
      ['Joined', when(c.subjectUser?.createdAt)],
      ['Banned', c.subjectUser?.banned ? `yes — ${c.subjectUser.banReason || 'no reason given'}` : null],
    ]),
    hist
      ? h(
          'ul',
          { class: 'stats', 'data-testid': 'author-history' },
          h('li', {}, h('strong', {}, String(hist.videos)), ' videos'),
          h('li', {}, h('strong', {}, String(hist.published)), ' published'),
          h('li', {}, h('strong', {}, String(hist.removed)), ' removed'),
          h('li', {}, h('strong', {}, String(hist.cases)), hist.cases === 1 ? ' case' : ' cases'),
        )
      : null,
  );
}

function appealSection(c) {
  if (!c.appealMessage && c.status !== 'APPEALED') return null;
  return section(
    'Appeal',
    'case-appeal',
    h('blockquote', { class: 'quote', 'data-testid': 'appeal-message' }, c.appealMessage || ''),
    facts([
      ['Appealed', when(c.appealedAt)],
      ['Earlier decision', c.resolution ? ACTION_LABEL[c.resolution] || c.resolution : null],
      ['Decided by', c.resolvedBy ? who(c.resolvedBy) : null],
      ['Decided', when(c.resolvedAt)],
      ['Note given', c.note],
    ]),
    h('p', { class: 'small muted' }, 'Approve restores the content; Remove keeps the removal. A moderator may not decide an appeal of their own decision.'),
  );
}

function subjectSection(c) {
  if (c.subjectVideo) return section('The video', 'case-video', ...videoContext(c));
  if (c.subjectComment) {
    return section(
      'The comment',
      'case-comment',
      h('blockquote', { class: 'quote', 'data-testid': 'case-comment-body' }, c.subjectComment.body),
      facts([
        ['By', who(c.subjectComment.author)],
        ['Written', when(c.subjectComment.createdAt)],
      ]),
    );
  }
  if (c.subjectCameo) {
    const cm = c.subjectCameo;
    return section(
      'Cameo verification',
      'case-cameo',
      h('div', { class: 'grid grid-2' }, h('div', { class: 'player' }, h('video', { src: cm.clipUrl, controls: true, preload: 'metadata', playsinline: true, 'aria-label': 'The verification clip' })), facts([['Name', cm.name], ['Owner', who(cm.owner)], ['Challenge', cm.challengePhrase], ['Status', cm.status]])),
    );
  }
  return null; // a member case: the author section shows the profile
}

/**
 * The decide panel. `onDecided(case)` runs after a successful `resolveCase`; `onReload()` is
 * offered when the case changed under us (CONFLICT / NOT_FOUND).
 */
function decidePanel(c, { me, onDecided, onReload }) {
  if (c.status === 'RESOLVED') {
    return h('p', { class: 'notice', 'data-testid': 'case-resolved' }, `Already decided: ${ACTION_LABEL[c.resolution] || c.resolution}.`);
  }
  if (c.escalated && me.role !== 'ADMIN') {
    return h('p', { class: 'notice', 'data-testid': 'case-escalated' }, 'This case was escalated: only an admin can decide it.');
  }
  if (c.status === 'APPEALED' && c.resolvedBy && c.resolvedBy.id === me.id) {
    return h('p', { class: 'notice', 'data-testid': 'case-own-appeal' }, 'You made the decision under appeal, so another moderator must decide the appeal.');
  }
  const memberCase = !c.subjectVideo && !c.subjectComment && !c.subjectCameo;
  const note = h('textarea', { name: 'note', maxlength: '2000', 'data-testid': 'decide-note' });
  const error = errorBox();
  error.setAttribute('data-testid', 'decide-error');
  const buttons = [];
  const run = async (action) => {
    error.clear();
    buttons.forEach((b) => (b.disabled = true));
    try {
      const data = await gql(
        'mutation ConsoleResolve($id: ID!, $action: ModerationAction!, $note: String) { resolveCase(id: $id, action: $action, note: $note) { id status resolution escalated } }',
        { id: c.id, action, note: note.value.trim() || null },
      );
      toast(action === 'ESCALATE' ? 'Escalated to an admin.' : `Decided: ${ACTION_LABEL[action]}.`, 'ok');
      onDecided(data.resolveCase);
    } catch (e) {
      error.replaceChildren(describeError(e));
      if (e instanceof ApiError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND')) {
        error.append(' ', h('button', { type: 'button', class: 'link', 'data-testid': 'decide-reload', onclick: onReload }, 'Reload the queue'));
      }
      error.hidden = false;
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  const plain = (action, cls) => h('button', { type: 'button', class: cls, 'data-testid': `decide-${action}`, onclick: () => run(action) }, ACTION_LABEL[action]);
  buttons.push(plain('APPROVE', 'primary'));
  // REMOVE does not apply to a member (there is nothing to take down): the API refuses it.
  if (!memberCase) buttons.push(plain('REMOVE', 'danger'));
  // A member already banned cannot be banned again; the other actions still apply.
  if (!c.subjectUser?.banned) {
    buttons.push(confirmButton(memberCase ? 'Ban member' : 'Ban author', 'Confirm ban', () => run('BAN_AUTHOR'), { 'data-testid': 'decide-BAN_AUTHOR' }));
  }
  // Escalating hands the case to an admin: there is no one above an admin to hand it to.
  if (!c.escalated && me.role !== 'ADMIN') buttons.push(plain('ESCALATE', null));
  return h(
    'section',
    { class: 'card stack decide', 'data-testid': 'decide-panel', 'aria-label': 'Decision' },
    h('h3', {}, c.status === 'APPEALED' ? 'Decide the appeal' : 'Decide'),
    field('Note', note, memberCase ? 'Kept with the decision and in the audit log.' : 'Shown to the author as the reason for a removal; kept in the audit log.'),
    error,
    h('div', { class: 'row' }, buttons),
    h(
      'p',
      { class: 'small muted' },
      // One sentence per button on screen.
      [
        memberCase ? 'Approve: nothing wrong.' : 'Approve: keep it.',
        memberCase ? null : 'Remove: take it down and tell the author why.',
        c.subjectUser?.banned ? null : memberCase ? 'Ban member: their sessions end at once.' : 'Ban author: remove and ban.',
        me.role !== 'ADMIN' && !c.escalated ? 'Escalate: hand it to an admin.' : null,
      ]
        .filter(Boolean)
        .join(' '),
    ),
  );
}

/** The whole case view. */
export function caseView(c, opts) {
  return h(
    'article',
    { class: 'case stack', 'data-testid': 'case-view', 'data-case-id': c.id },
    h(
      'header',
      { class: 'stack' },
      h('h2', { tabindex: '-1', 'data-case-title': '' }, `${subjectKind(c)} case`, c.escalated ? h('span', { class: 'badge badge-warn' }, 'escalated') : null),
      h('p', { class: 'small muted' }, `Opened ${when(c.createdAt)} by ${c.source === 'report' ? 'member reports' : c.source === 'frame_check' ? 'the frame check' : c.source}`),
      c.reasons.length ? h('ul', { class: 'reasons', 'data-testid': 'case-reasons' }, c.reasons.map((r) => h('li', { class: 'badge badge-danger' }, r))) : null,
    ),
    appealSection(c),
    subjectSection(c),
    frameCheck(c),
    reportsSection(c),
    authorSection(c),
    decidePanel(c, opts),
  );
}

/** Who may see the video: GENERAL (everyone) or MATURE (not teen accounts); a moderator changes
 * it (audited). */
function maturityControl(v) {
  const select = h(
    'select',
    { 'aria-label': 'Audience of this video', 'data-testid': 'case-maturity' },
    [['GENERAL', 'everyone'], ['MATURE', 'adults only (not teens)']].map(([m, label]) => h('option', { value: m, selected: m === v.maturity }, label)),
  );
  const status = h('span', { class: 'small muted', role: 'status' });
  select.addEventListener('change', async () => {
    select.disabled = true;
    try {
      const data = await gql('mutation ConsoleMaturity($v: ID!, $m: Maturity!) { setVideoMaturity(videoId: $v, maturity: $m) { id maturity } }', { v: v.id, m: select.value });
      v.maturity = data.setVideoMaturity.maturity;
      status.textContent = ' saved';
    } catch (e) {
      select.value = v.maturity;
      status.textContent = ` ${describeError(e)}`;
    } finally {
      select.disabled = false;
    }
  });
  return h('span', {}, select, status);
}
