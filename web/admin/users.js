// Members: search, change a role (admins), ban with a reason (moderators and admins), correct a
// date of birth (moderators and admins; audited). Admins see which members are teens.
import { gql, describeError } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast } from '/static/shared/dom.js';
import { pagedList, screenTitle, when } from './ui.js';

const USERS_QUERY = `query ConsoleUsers($query: String, $after: String) {
  users(query: $query, first: 50, after: $after) {
    edges { node { id username displayName email role banned banReason createdAt isTeen } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const RANK = { USER: 0, MODERATOR: 1, ADMIN: 2 };

export function usersScreen({ me, root, params }) {
  const q = h('input', { type: 'search', name: 'q', value: params.get('q') || '', autocomplete: 'off', 'data-testid': 'users-query' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'users-search' }, 'Search');
  const form = h('form', { class: 'card row search-form', role: 'search' }, h('div', { class: 'grow' }, field('Username, name or email', q)), submit);
  const body = h('tbody', { 'data-testid': 'users-rows' });
  const isAdmin = me.role === 'ADMIN';
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'users cards-on-phone' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Member'), isAdmin ? h('th', { scope: 'col' }, 'Email') : null, h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Actions')),
      ),
      body,
    ),
  );
  const results = h('div', { class: 'stack' });
  mount(root, screenTitle('Users'), form, results);

  function search() {
    const text = q.value.trim();
    history.replaceState(null, '', text ? `/admin/users?q=${encodeURIComponent(text)}` : '/admin/users');
    body.replaceChildren();
    const list = pagedList({
      body,
      emptyText: text ? `No member matches “${text}”.` : 'No members yet.',
      moreTestid: 'users-more',
      fetchPage: async (after) => (await gql(USERS_QUERY, { query: text || null, after })).users,
      renderItems: (nodes) => nodes.map((u) => userRow(u, me)),
    });
    mount(results, table, list.footer);
    return list.load();
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, search);
  });
  search();
}

function statusCell(u) {
  // One child per cell: the phone layout puts the cell's label beside it.
  const teen = u.isTeen ? h('span', { class: 'badge badge-warn', 'data-testid': 'user-teen' }, 'teen') : null;
  return u.banned
    ? h('div', {}, h('span', { class: 'badge badge-danger' }, 'banned'), teen, u.banReason ? h('div', { class: 'small muted' }, u.banReason) : null)
    : h('div', {}, teen, h('span', { class: 'small muted' }, ` joined ${when(u.createdAt)}`));
}

/** One member's row; its cells are re-rendered in place after a change. */
function userRow(u, me) {
  const isAdmin = me.role === 'ADMIN';
  const tr = h('tr', { 'data-testid': 'user-row', 'data-username': u.username });
  const render = () => {
    mount(
      tr,
      h('td', { 'data-label': 'Member' }, h('div', {}, h('strong', {}, `@${u.username}`), u.displayName !== u.username ? h('div', { class: 'small muted' }, u.displayName) : null)),
      isAdmin ? h('td', { class: 'small break', 'data-label': 'Email' }, u.email || '') : null,
      h('td', { 'data-label': 'Role' }, roleControl(u, me, render)),
      h('td', { 'data-testid': 'user-status', 'data-label': 'Status' }, statusCell(u)),
      h('td', { 'data-label': 'Actions' }, actions(u, me, render)),
    );
  };
  render();
  return tr;
}

/** Admins pick a role and apply it; others see the role. Nobody changes their own role. */
function roleControl(u, me, rerender) {
  if (me.role !== 'ADMIN' || u.id === me.id) return h('span', { class: 'badge' }, u.role.toLowerCase());
  const select = h(
    'select',
    { 'aria-label': `Role of @${u.username}`, 'data-testid': 'user-role' },
    ['USER', 'MODERATOR', 'ADMIN'].map((r) => h('option', { value: r, selected: r === u.role }, r.toLowerCase())),
  );
  const apply = h('button', { type: 'button', 'data-testid': 'user-role-apply', hidden: true }, 'Apply');
  const error = errorBox();
  // An explicit Apply: a select changes on arrow keys, and a role change should be deliberate.
  select.addEventListener('change', () => (apply.hidden = select.value === u.role));
  apply.addEventListener('click', () =>
    busy(apply, async () => {
      error.clear();
      try {
        const data = await gql('mutation ConsoleSetRole($userId: ID!, $role: Role!) { setRole(userId: $userId, role: $role) { id role } }', { userId: u.id, role: select.value });
        u.role = data.setRole.role;
        toast(`@${u.username} is now ${u.role.toLowerCase()}.`, 'ok');
        rerender();
      } catch (e) {
        error.show(describeError(e));
      }
    }),
  );
  return h('div', { class: 'stack role-control' }, h('div', { class: 'row' }, select, apply), error);
}

/** Ban (with a reason and a confirm step) and, for admins, the invite tree link. */
function actions(u, me, rerender) {
  const out = [];
  const canBan = !u.banned && u.id !== me.id && RANK[u.role] < RANK[me.role];
  if (canBan) {
    const open = h('button', { type: 'button', class: 'danger', 'data-testid': 'user-ban' }, 'Ban…');
    open.setAttribute('aria-label', `Ban @${u.username}`);
    const holder = h('div', { class: 'stack' }, open);
    open.addEventListener('click', () => {
      const form = banForm(u, () => {
        holder.replaceChildren(open);
        open.focus();
      }, rerender);
      holder.replaceChildren(form);
      form.querySelector('textarea').focus();
    });
    out.push(holder);
  }
  if (RANK[me.role] >= RANK.MODERATOR && u.id !== me.id) {
    out.push(birthDateControl(u, rerender));
  }
  if (me.role === 'ADMIN') {
    out.push(h('a', { href: `/admin/invites?tree=${encodeURIComponent(u.username)}`, 'data-route': '', 'data-testid': 'user-tree' }, 'Invite tree'));
  }
  return out.length ? h('div', { class: 'stack user-actions' }, out) : h('span', { class: 'muted small' }, '—');
}

/** A date of birth a moderator has seen proof of (audited); the age band follows it. */
function birthDateControl(u, rerender) {
  const open = h('button', { type: 'button', 'data-testid': 'user-birth' }, 'Correct date of birth…');
  open.setAttribute('aria-label', `Correct the date of birth of @${u.username}`);
  const holder = h('div', { class: 'stack' }, open);
  open.addEventListener('click', () => {
    const date = h('input', { type: 'date', name: 'birthDate', required: true, 'data-testid': 'birth-date' });
    const note = h('input', { name: 'note', maxlength: '200', placeholder: 'what you checked', 'data-testid': 'birth-note' });
    const error = errorBox();
    const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'birth-save' }, 'Save');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h('form', { class: 'stack', novalidate: true }, field('Date of birth', date), field('Note (audited)', note), error, h('div', { class: 'row' }, save, cancel));
    cancel.addEventListener('click', () => holder.replaceChildren(open));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(save, async () => {
        error.clear();
        try {
          const data = await gql('mutation ConsoleBirth($u: ID!, $d: String!, $n: String) { correctBirthDate(userId: $u, birthDate: $d, note: $n) { id isTeen } }', { u: u.id, d: date.value, n: note.value.trim() || null });
          u.isTeen = data.correctBirthDate.isTeen;
          toast(`Date of birth of @${u.username} corrected.`, 'ok');
          rerender();
        } catch (err) {
          error.show(describeError(err));
        }
      });
    });
    holder.replaceChildren(form);
    date.focus();
  });
  return holder;
}

function banForm(u, onCancel, onBanned) {
  const reason = h('textarea', { maxlength: '500', required: true, rows: '2', 'data-testid': 'ban-reason' });
  const error = errorBox();
  const confirm = h('button', { type: 'submit', class: 'danger', 'data-testid': 'ban-confirm' }, `Ban @${u.username}`);
  const cancel = h('button', { type: 'button', onclick: onCancel }, 'Cancel');
  const form = h('form', { class: 'ban-form stack', novalidate: true }, field('Reason (the member sees it)', reason), error, h('div', { class: 'row' }, confirm, cancel));
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') onCancel();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.clear();
    if (!reason.value.trim()) {
      error.show('Give a reason for the ban.');
      reason.focus();
      return;
    }
    busy(confirm, async () => {
      try {
        const data = await gql('mutation ConsoleBan($userId: ID!, $reason: String!) { banUser(userId: $userId, reason: $reason) { id banned banReason } }', { userId: u.id, reason: reason.value.trim() });
        Object.assign(u, data.banUser);
        toast(`@${u.username} is banned; their sessions have ended.`, 'ok');
        onBanned();
      } catch (err) {
        error.show(describeError(err));
      }
    });
  });
  return form;
}
