// Onboarding and sign-in: `/join?code=…` (sign-up, then "check your mail"), `/verify-email?token=…`,
// `/login`, `/forgot-password`, `/reset-password?token=…` and `/waitlist`.

import { gql, session, AUTH_PAYLOAD } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy } from '/static/shared/dom.js';
import { showError, explain } from './ui.js';

function input(name, attrs = {}) {
  const { testid, ...rest } = attrs;
  return h('input', { name, id: `auth-${name}`, 'data-testid': testid || `${name}-input`, ...rest });
}

function authCard(title, ...children) {
  return h('div', { class: 'card narrow stack auth' }, h('h1', {}, title), ...children);
}

/** Only same-site paths are followed after log-in, so a crafted link cannot send members away. */
function safeNext(next) {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

// ---------- Join with an invite code ----------

export function renderJoin(ctx) {
  if (ctx.viewer) {
    return authCard('You are already a member', h('p', {}, `You are logged in as @${ctx.viewer.username}.`), h('a', { class: 'button primary', href: '/' }, 'Go to your feed'));
  }
  const code = input('inviteCode', { testid: 'join-code', required: true, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', value: ctx.query.get('code') || '' });
  const email = input('email', { type: 'email', required: true, autocomplete: 'email' });
  const username = input('username', { required: true, autocomplete: 'username', minlength: 3, maxlength: 30, pattern: '[A-Za-z0-9][A-Za-z0-9_.]{2,29}', autocapitalize: 'none', spellcheck: 'false' });
  const displayName = input('displayName', { autocomplete: 'name', maxlength: 64 });
  const password = input('password', { type: 'password', required: true, autocomplete: 'new-password', minlength: 8, maxlength: 128 });
  const birthDate = input('birthDate', { type: 'date', required: true, autocomplete: 'bday', max: new Date().toISOString().slice(0, 10) });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'join-submit' }, 'Create my account');
  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'join-form', novalidate: true },
    field('Invite code', code, 'From the link a friend sent you. Dashes and case do not matter.'),
    field('Email', email, 'We mail a link to confirm it.'),
    field('Username', username, '3–30 letters, digits, “_” or “.”.'),
    field('Display name (optional)', displayName),
    field('Password', password, 'At least 8 characters, not a common one.'),
    field('Date of birth', birthDate, 'You must be 13 or older. Members under 18 get a teen account. We keep only the year and month.'),
    err,
    h('div', { class: 'row' }, submit),
  );
  const root = authCard('Join Soravibe', form, h('p', { class: 'small muted' }, 'Already a member? ', h('a', { href: '/login' }, 'Log in'), '. No code? ', h('a', { href: '/waitlist', 'data-testid': 'waitlist-link' }, 'Join the waitlist'), '.'));
  root.dataset.testid = 'join';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        const data = await gql(`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ${AUTH_PAYLOAD} } }`, {
          input: {
            inviteCode: code.value,
            email: email.value.trim(),
            username: username.value.trim(),
            password: password.value,
            displayName: displayName.value.trim() || null,
            birthDate: birthDate.value || null,
          },
        });
        session.save(data.signUp);
        await ctx.refreshViewer();
        history.replaceState(null, '', '/join?welcome=1');
        mount(root, ...checkMail(email.value.trim()).children);
        root.querySelector('h1')?.focus();
      } catch (ex) {
        // INVITE_INVALID, CONFLICT (taken), BAD_USER_INPUT with the field at fault, RATE_LIMITED.
        showError(err, ex, form);
        if (ex.code === 'INVITE_INVALID') code.setAttribute('aria-invalid', 'true');
      }
    });
  });
  return root;
}

/** After sign-up: a verification link was mailed; resend it or go on into the app. */
function checkMail(address) {
  const msg = h('p', { class: 'small', role: 'status', 'data-testid': 'resend-result' });
  const resend = h('button', { type: 'button', 'data-testid': 'resend' }, 'Send the link again');
  resend.addEventListener('click', () =>
    busy(resend, async () => {
      msg.className = 'small';
      try {
        const data = await gql('mutation Resend { resendVerificationEmail }');
        msg.textContent = data.resendVerificationEmail ? `Sent again to ${address}. The older link no longer works.` : 'Your address is already confirmed.';
      } catch (e) {
        msg.className = 'form-error';
        msg.textContent = explain(e);
      }
    }),
  );
  return h(
    'div',
    {},
    h('h1', { tabindex: '-1' }, 'Check your mail'),
    h(
      'div',
      { class: 'stack', 'data-testid': 'check-mail' },
      h('p', {}, 'Welcome! We mailed a confirmation link to ', h('strong', { 'data-testid': 'check-mail-address' }, address), '. Open it to confirm your address.'),
      h('p', { class: 'muted small' }, 'Nothing there? Look in the spam folder, or send it again.'),
      h('div', { class: 'row' }, resend, h('a', { class: 'button primary', href: '/', 'data-testid': 'continue' }, 'Continue to Soravibe')),
      msg,
    ),
  );
}

// ---------- Email verification ----------

export async function renderVerify(ctx) {
  const token = ctx.query.get('token');
  if (!token) return authCard('Confirm your email', h('p', { class: 'form-error', role: 'alert' }, 'This link has no token. Open the link from the mail exactly as it was sent.'));
  try {
    const data = await gql('mutation Verify($t: String!) { verifyEmail(token: $t) { id username } }', { t: token });
    if (ctx.viewer) await ctx.refreshViewer();
    return authCard(
      'Email confirmed',
      h('p', { class: 'notice', role: 'status', 'data-testid': 'verify-ok' }, `Thanks, @${data.verifyEmail.username}: your address is confirmed.`),
      h('a', { class: 'button primary', href: ctx.viewer ? '/' : '/login' }, ctx.viewer ? 'Go to your feed' : 'Log in'),
    );
  } catch (e) {
    return authCard(
      'Email not confirmed',
      h('p', { class: 'form-error', role: 'alert', 'data-testid': 'verify-error' }, explain(e)),
      h('p', {}, ctx.viewer ? h('a', { href: '/settings' }, 'Mail me a new link from Settings') : h('a', { href: '/login' }, 'Log in to get a new link')),
    );
  }
}

// ---------- Log in ----------

export function renderLogin(ctx) {
  const next = safeNext(ctx.query.get('next'));
  if (ctx.viewer) {
    return authCard('You are logged in', h('p', {}, `As @${ctx.viewer.username}.`), h('a', { class: 'button primary', href: next }, 'Continue'));
  }
  const login = input('login', { required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
  const password = input('password', { type: 'password', required: true, autocomplete: 'current-password' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in');
  const form = h('form', { class: 'stack', 'data-testid': 'login-form' }, field('Email or username', login), field('Password', password), err, h('div', { class: 'row' }, submit, h('a', { href: '/forgot-password', 'data-testid': 'forgot-link' }, 'Forgot your password?')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        const data = await gql(`mutation LogIn($input: LogInInput!) { logIn(input: $input) { ${AUTH_PAYLOAD} } }`, { input: { login: login.value.trim(), password: password.value } });
        session.save(data.logIn);
        await ctx.refreshViewer();
        ctx.navigate(next, { replace: true });
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return authCard('Log in', form, h('p', { class: 'small muted' }, 'New here? ', h('a', { href: '/join' }, 'Join with an invite code'), ' or ', h('a', { href: '/waitlist' }, 'join the waitlist'), '.'));
}

// ---------- Password reset ----------

export function renderForgot(ctx) {
  const email = input('email', { type: 'email', required: true, autocomplete: 'email', value: ctx.viewer?.email || '' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'forgot-submit' }, 'Mail me a reset link');
  const form = h('form', { class: 'stack', 'data-testid': 'forgot-form' }, field('Your email', email), err, h('div', { class: 'row' }, submit));
  const root = authCard('Reset your password', h('p', { class: 'muted' }, 'We mail a link that lets you choose a new password. It works for 30 minutes.'), form);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        await gql('mutation Forgot($e: String!) { requestPasswordReset(email: $e) }', { e: email.value.trim() });
        mount(form, h('p', { class: 'notice', role: 'status', 'data-testid': 'forgot-sent' }, `If ${email.value.trim()} belongs to a member, a reset link is on its way. Check your mail.`));
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return root;
}

export function renderReset(ctx) {
  const token = ctx.query.get('token');
  if (!token) return authCard('Choose a new password', h('p', { class: 'form-error', role: 'alert' }, 'This link has no token. '), h('a', { href: '/forgot-password' }, 'Ask for a new link'));
  const password = input('password', { type: 'password', required: true, autocomplete: 'new-password', minlength: 8, maxlength: 128 });
  const again = input('again', { type: 'password', required: true, autocomplete: 'new-password' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'reset-submit' }, 'Set the new password');
  const form = h('form', { class: 'stack', 'data-testid': 'reset-form' }, field('New password', password, 'At least 8 characters, not a common one.'), field('The same again', again), err, h('div', { class: 'row' }, submit));
  const root = authCard('Choose a new password', form);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (password.value !== again.value) {
      err.show('The two passwords differ.');
      again.setAttribute('aria-invalid', 'true');
      again.focus();
      return;
    }
    busy(submit, async () => {
      err.clear();
      try {
        await gql('mutation Reset($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }', { t: token, p: password.value });
        // The reset ends every session, this browser's included.
        session.clear();
        mount(root, h('h1', { tabindex: '-1' }, 'Password changed'), h('p', { class: 'notice', role: 'status', 'data-testid': 'reset-ok' }, 'Your password is changed and every session was logged out.'), h('a', { class: 'button primary', href: '/login' }, 'Log in'));
        root.querySelector('h1').focus();
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return root;
}

// ---------- Waitlist ----------

export function renderWaitlist() {
  const email = input('email', { type: 'email', required: true, autocomplete: 'email' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'waitlist-submit' }, 'Put me on the list');
  const form = h('form', { class: 'stack', 'data-testid': 'waitlist-form' }, field('Email', email), err, h('div', { class: 'row' }, submit));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        await gql('mutation Wait($e: String!) { joinWaitlist(email: $e) }', { e: email.value.trim() });
        mount(form, h('p', { class: 'notice', role: 'status', 'data-testid': 'waitlist-ok' }, `You are on the list. When a place opens we mail a code to ${email.value.trim()}.`));
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return authCard('Join the waitlist', h('p', { class: 'muted' }, 'Soravibe lets people in by invite. No code yet? Leave your address and we mail you one when there is room.'), form, h('p', { class: 'small muted' }, 'Have a code? ', h('a', { href: '/join' }, 'Join now'), '.'));
}
