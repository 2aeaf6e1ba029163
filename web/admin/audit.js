// The audit log (admins): every staff action, newest first, a page at a time.
import { gql } from '/static/shared/api.js';
import { h, mount } from '/static/shared/dom.js';
import { pagedList, screenTitle, when, who } from './ui.js';

const QUERY = `query ConsoleAudit($after: String) {
  auditLog(first: 50, after: $after) {
    edges { node { id action subject note createdAt actor { id username displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

function row(e) {
  return h(
    'tr',
    { 'data-testid': 'audit-row' },
    h('td', { class: 'nowrap small', 'data-label': 'When' }, when(e.createdAt)),
    h('td', { 'data-label': 'Who' }, e.actor ? who(e.actor) : h('span', { class: 'muted' }, 'operator (command line)')),
    h('td', { 'data-label': 'Action' }, h('code', {}, e.action)),
    h('td', { class: 'small break', 'data-label': 'Subject' }, e.subject || h('span', { class: 'muted' }, '—')),
    h('td', { class: 'break', 'data-label': 'Note' }, e.note || h('span', { class: 'muted' }, '—')),
  );
}

export function auditScreen({ root }) {
  const body = h('tbody', { 'data-testid': 'audit-rows' });
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'audit cards-on-phone' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Subject', 'Note'].map((t) => h('th', { scope: 'col' }, t)))),
      body,
    ),
  );
  const list = pagedList({
    body,
    emptyText: 'Nothing has been recorded yet.',
    moreTestid: 'audit-more',
    fetchPage: async (after) => (await gql(QUERY, { after })).auditLog,
    renderItems: (nodes) => nodes.map(row),
  });
  mount(root, screenTitle('Audit log'), h('p', { class: 'muted small' }, 'Newest first. Entries are never edited or removed.'), table, list.footer);
  list.load();
}
