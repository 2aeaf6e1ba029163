// Cameo verification review: each pending cameo's clip beside the challenge it answers.
//
// Verifications are OPEN moderation cases whose subject is a cameo; the queue is read page by
// page and filtered here. The decision goes through `reviewCameo` (the cameo's id), which closes
// the case too.
import { gql, describeError } from '/static/shared/api.js';
import { h, mount, field, errorBox, toast, timeAgo } from '/static/shared/dom.js';
import { loading, empty, failure, screenTitle, who, when } from './ui.js';

const QUERY = `query ConsoleCameoCases($after: String) {
  moderationQueue(status: OPEN, first: 100, after: $after) {
    edges { node {
      id createdAt escalated
      subjectCameo {
        id name status clipUrl challengePhrase permission restrictions createdAt
        owner { id username displayName createdAt }
      }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// The queue is read whole (oldest first) up to this many pages, so a long queue of other cases
// cannot hide the verifications; more than that is said on screen.
const MAX_PAGES = 10;

async function pendingCameoCases() {
  const out = [];
  let after = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const data = await gql(QUERY, { after });
    const conn = data.moderationQueue;
    out.push(...conn.edges.map((e) => e.node).filter((c) => c.subjectCameo && c.subjectCameo.status === 'PENDING_REVIEW'));
    if (!conn.pageInfo.hasNextPage) return { cases: out, truncated: false };
    after = conn.pageInfo.endCursor;
  }
  return { cases: out, truncated: true };
}

function cameoCard(c, onDone) {
  const cm = c.subjectCameo;
  const note = h('textarea', { name: 'note', maxlength: '2000', 'data-testid': 'cameo-note' });
  const error = errorBox();
  const approve = h('button', { type: 'button', class: 'primary', 'data-testid': 'cameo-approve' }, 'Approve');
  const reject = h('button', { type: 'button', class: 'danger', 'data-testid': 'cameo-reject' }, 'Reject');
  const decide = async (ok) => {
    error.clear();
    approve.disabled = reject.disabled = true;
    try {
      const data = await gql(
        'mutation ConsoleReviewCameo($id: ID!, $approve: Boolean!, $note: String) { reviewCameo(id: $id, approve: $approve, note: $note) { id status reviewNote } }',
        { id: cm.id, approve: ok, note: note.value.trim() || null },
      );
      toast(`“${cm.name}” is ${data.reviewCameo.status === 'ACTIVE' ? 'verified' : 'rejected'}.`, 'ok');
      onDone();
    } catch (e) {
      error.show(describeError(e));
      approve.disabled = reject.disabled = false;
    }
  };
  approve.addEventListener('click', () => decide(true));
  reject.addEventListener('click', () => decide(false));
  const headingId = `cameo-${cm.id}`;
  return h(
    'article',
    { class: 'card stack cameo-review', 'data-testid': 'cameo-case', 'data-cameo-id': cm.id, 'aria-labelledby': headingId },
    h('h2', { id: headingId }, `“${cm.name}”`, ' ', h('span', { class: 'small muted' }, `by ${who(cm.owner)}, ${timeAgo(c.createdAt)}`)),
    h(
      'div',
      { class: 'grid grid-2' },
      h('div', { class: 'player' }, h('video', { src: cm.clipUrl, controls: true, preload: 'metadata', playsinline: true, 'data-testid': 'cameo-clip', 'aria-label': `Verification clip of ${cm.name}` })),
      h(
        'div',
        { class: 'stack' },
        h('p', { class: 'challenge-label small muted' }, 'The challenge the clip must answer'),
        h('blockquote', { class: 'quote challenge', 'data-testid': 'cameo-phrase' }, cm.challengePhrase || 'No challenge phrase recorded.'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Owner'),
          h('dd', {}, who(cm.owner), h('span', { class: 'small muted' }, ` · joined ${when(cm.owner.createdAt)}`)),
          h('dt', {}, 'Permission'),
          h('dd', {}, cm.permission),
          cm.restrictions ? [h('dt', {}, 'Restrictions'), h('dd', {}, cm.restrictions)] : null,
        ),
        h('p', { class: 'small muted' }, 'Approve only when the clip shows the owner saying the phrase and doing the action.'),
        field('Note to the owner', note, 'Say why when you reject.'),
        error,
        h('div', { class: 'row' }, approve, reject),
      ),
    ),
  );
}

export function cameosScreen({ root }) {
  const body = h('div', { class: 'stack', 'data-testid': 'cameo-list' });
  const reload = h('button', { type: 'button', onclick: () => load() }, 'Reload');
  mount(root, screenTitle('Cameo verifications', reload), body);

  async function load() {
    mount(body, loading('Loading verifications…'));
    let res;
    try {
      res = await pendingCameoCases();
    } catch (e) {
      mount(body, failure(e, load));
      return;
    }
    const showEmpty = () => {
      if (!body.querySelector('[data-testid="cameo-case"]')) mount(body, empty('No cameo is waiting for verification.'));
    };
    mount(
      body,
      h('p', { class: 'muted small' }, `${res.cases.length} waiting, oldest first.`),
      res.truncated ? h('p', { class: 'notice' }, 'Only the first part of the queue was read; decide these and reload for more.') : null,
      res.cases.map((c) => {
        const card = cameoCard(c, () => {
          card.remove();
          showEmpty();
        });
        return card;
      }),
    );
    showEmpty();
  }
  load();
}
