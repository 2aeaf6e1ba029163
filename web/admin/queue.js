// The review queue (OPEN cases) and the appeals queue (APPEALED cases): a list beside the case view.
//
// Cameo verifications are open cases too but have their own screen (Cameos), so they are left out
// here; escalated cases are for admins, so a moderator's list leaves them out as well (the API
// would refuse their decision anyway).
import { gql } from '/static/shared/api.js';
import { h, mount, timeAgo } from '/static/shared/dom.js';
import { loading, empty, failure, screenTitle } from './ui.js';
import { CASE_QUERY, caseView, subjectKind } from './case.js';

const PAGE = 50;

const LIST_QUERY = `query ConsoleQueue($status: CaseStatus!, $first: Int, $after: String) {
  moderationQueue(status: $status, first: $first, after: $after) {
    edges { node {
      id status source reasons reportCount escalated createdAt appealedAt
      subjectVideo { id prompt caption }
      subjectComment { id body }
      subjectUser { id username }
      subjectCameo { id }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** A one-line summary of what the case is about, for the list. */
function gist(c) {
  if (c.subjectVideo) return c.subjectVideo.caption || c.subjectVideo.prompt;
  if (c.subjectComment) return c.subjectComment.body;
  if (c.subjectUser) return `@${c.subjectUser.username}`;
  return '';
}

export function queueScreen({ me, rest, root }, status) {
  const base = status === 'OPEN' ? '/admin/queue' : '/admin/appeals';
  const title = status === 'OPEN' ? 'Review queue' : 'Appeals';
  let cases = []; // what the list shows, oldest first
  let after = null;
  let hasMore = false;
  let selected = rest[0] || null;
  let hiddenCameos = 0;
  let hiddenEscalated = 0;

  const summary = h('p', { class: 'muted small', 'data-testid': 'queue-summary', 'aria-live': 'polite' });
  const list = h('ul', { class: 'case-list', 'data-testid': 'case-list' });
  const listState = h('div');
  const more = h('button', { type: 'button', 'data-testid': 'queue-more', hidden: true, onclick: () => loadPage() }, 'Load more');
  const listPane = h('nav', { class: 'queue-list', 'aria-label': `${title}: cases` }, list, listState, more);
  const back = h('a', { href: base, class: 'back-link', 'data-testid': 'back-to-list', onclick: (e) => { e.preventDefault(); select(null, true); } }, '← All cases');
  const casePane = h('section', { class: 'queue-case', 'aria-label': 'Case', 'data-testid': 'case-pane' });
  const layout = h('div', { class: 'split queue' }, listPane, h('div', {}, back, casePane));
  const reload = h('button', { type: 'button', 'data-testid': 'queue-reload', onclick: () => reloadAll() }, 'Reload');
  mount(root, screenTitle(title, reload), summary, layout);

  function keep(c) {
    if (c.subjectCameo) {
      hiddenCameos += 1;
      return false;
    }
    if (c.escalated && me.role !== 'ADMIN') {
      hiddenEscalated += 1;
      return false;
    }
    return true;
  }

  function renderSummary() {
    const parts = [];
    parts.push(cases.length === 1 ? '1 case' : `${cases.length} cases`);
    if (hasMore) parts[0] += ' so far';
    summary.replaceChildren(parts.join(''));
    if (hiddenCameos) summary.append(' · ', h('a', { href: '/admin/cameos', 'data-route': '' }, `${hiddenCameos} cameo verification${hiddenCameos === 1 ? '' : 's'} on the Cameos page`));
    if (hiddenEscalated) summary.append(` · ${hiddenEscalated} escalated to admins`);
  }

  function renderList() {
    list.replaceChildren(
      ...cases.map((c) =>
        h(
          'li',
          {},
          h(
            'a',
            {
              href: `${base}/${c.id}`,
              class: ['case-item', c.id === selected && 'selected'],
              'aria-current': c.id === selected ? 'true' : null,
              'data-testid': 'case-item',
              'data-case-id': c.id,
              onclick: (e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey) return;
                e.preventDefault();
                select(c.id, true);
              },
            },
            h(
              'span',
              { class: 'row case-item-head' },
              h('strong', {}, subjectKind(c)),
              c.reportCount ? h('span', { class: 'badge' }, `${c.reportCount} report${c.reportCount === 1 ? '' : 's'}`) : null,
              c.source === 'frame_check' ? h('span', { class: 'badge' }, 'frame check') : null,
              c.escalated ? h('span', { class: 'badge badge-warn' }, 'escalated') : null,
              h('span', { class: 'spacer' }),
              h('span', { class: 'small muted' }, timeAgo(status === 'APPEALED' ? c.appealedAt || c.createdAt : c.createdAt)),
            ),
            h('span', { class: 'case-gist' }, gist(c)),
            c.reasons.length ? h('span', { class: 'small muted' }, c.reasons.join(' · ')) : null,
          ),
        ),
      ),
    );
    listState.replaceChildren(cases.length || hasMore ? '' : empty(status === 'OPEN' ? 'The queue is empty. Nothing waits for review.' : 'No appeals are waiting.'));
    more.hidden = !hasMore;
    layout.classList.toggle('has-case', !!selected);
    renderSummary();
  }

  async function loadPage() {
    more.hidden = true;
    listState.replaceChildren(loading('Loading cases…'));
    try {
      const data = await gql(LIST_QUERY, { status, first: PAGE, after });
      const conn = data.moderationQueue;
      cases = cases.concat(conn.edges.map((e) => e.node).filter(keep));
      after = conn.pageInfo.endCursor;
      hasMore = conn.pageInfo.hasNextPage;
      renderList();
    } catch (e) {
      listState.replaceChildren(failure(e, loadPage));
      summary.replaceChildren('');
    }
  }

  async function reloadAll() {
    cases = [];
    after = null;
    hasMore = false;
    hiddenCameos = 0;
    hiddenEscalated = 0;
    await loadPage();
    if (selected) openCase(selected);
  }

  /** Opens a case (or, with null, goes back to the bare list); `push` records it in history. */
  function select(id, push) {
    selected = id;
    const path = id ? `${base}/${id}` : base;
    if (push && location.pathname !== path) history.pushState(null, '', path);
    renderList();
    if (id) openCase(id, push);
    else casePane.replaceChildren(cases.length ? h('p', { class: 'muted empty-case' }, 'Choose a case to review it.') : '');
  }

  async function openCase(id, focus = false) {
    casePane.replaceChildren(loading('Loading the case…'));
    try {
      const data = await gql(CASE_QUERY, { id });
      if (selected !== id) return; // another case was chosen meanwhile
      const c = data.moderationCase;
      if (!c) {
        casePane.replaceChildren(h('p', { class: 'notice' }, 'This case does not exist or is no longer visible to you.'));
        return;
      }
      casePane.replaceChildren(caseView(c, { me, onDecided: (res) => decided(id, res), onReload: reloadAll }));
      if (focus) casePane.querySelector('[data-case-title]')?.focus();
    } catch (e) {
      if (selected === id) casePane.replaceChildren(failure(e, () => openCase(id)));
    }
  }

  /** The decided case leaves the list and the next one (or the one before, at the end) opens. */
  function decided(id, res) {
    if (res?.escalated && res.status !== 'RESOLVED') hiddenEscalated += 1; // now waiting for an admin
    const i = cases.findIndex((c) => c.id === id);
    if (i >= 0) cases.splice(i, 1);
    const next = cases[Math.max(0, i)] || cases[cases.length - 1] || null;
    selected = next?.id || null;
    history.replaceState(null, '', selected ? `${base}/${selected}` : base);
    renderList();
    if (selected) openCase(selected, true);
    else casePane.replaceChildren(h('p', { class: 'notice', 'data-testid': 'queue-done' }, 'That was the last case. ', h('a', { href: base, onclick: (e) => { e.preventDefault(); reloadAll(); } }, 'Check for new ones')));
  }

  // First load: the list, then the case named in the path (or the oldest one on a wide screen).
  (async () => {
    await loadPage();
    if (selected) openCase(selected);
    else if (cases.length && matchMedia('(min-width: 760px)').matches) {
      selected = cases[0].id;
      history.replaceState(null, '', `${base}/${selected}`);
      renderList();
      openCase(selected);
    } else select(null, false);
  })();
}
