// The console's own log-in form, and the refusal a plain member sees.
import { gql, session, describeError, AUTH_PAYLOAD } from '/static/shared/api.js';
import { h, field, errorBox, busy } from '/static/shared/dom.js';

/** Log-in with email or username; `onSignedIn()` runs once the tokens are saved. */
export function loginScreen({ onSignedIn }) {
  const login = h('input', { name: 'login', autocomplete: 'username', required: true, 'data-testid': 'login-name' });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'login-password',
  });
  const error = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in');
  const form = h(
    'form',
    { class: 'card', 'data-testid': 'login-form', novalidate: true },
    field('Email or username', login),
    field('Password', password),
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.clear();
    if (!login.value.trim() || !password.value) {
      error.show('Enter your email or username and your password.');
      (login.value.trim() ? password : login).focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const data = await gql(`mutation ConsoleLogIn($i: LogInInput!) { logIn(input: $i) { ${AUTH_PAYLOAD} } }`, {
          i: { login: login.value.trim(), password: password.value },
        });
        session.save(data.logIn);
      } catch (err) {
        error.show(describeError(err));
        password.select();
        return;
      }
      onSignedIn();
    });
  });
  return h(
    'div',
    { class: 'narrow stack' },
    h('h1', { tabindex: '-1', 'data-screen-title': '' }, 'Moderation console'),
    h('p', { class: 'muted' }, 'For moderators and admins. Log in with your Soravibe account.'),
    form,
    h('p', { class: 'small muted' }, h('a', { href: '/' }, 'Back to Soravibe')),
  );
}

/** What a member without a staff role sees: nothing of the console, and a way out. */
export function refusalScreen(me, onLogOut) {
  const out = h('button', { type: 'button', class: 'primary', 'data-testid': 'refusal-logout', onclick: onLogOut }, 'Log out');
  return h(
    'div',
    { class: 'narrow stack', 'data-testid': 'refusal' },
    h('h1', { tabindex: '-1', 'data-screen-title': '' }, 'Not available'),
    h(
      'p',
      { class: 'notice', role: 'alert' },
      'This console is for moderators and admins. ',
      `You are signed in as @${me.username}, a member.`,
    ),
    h('div', { class: 'row' }, out, h('a', { class: 'button', href: '/' }, 'Go to Soravibe')),
  );
}
