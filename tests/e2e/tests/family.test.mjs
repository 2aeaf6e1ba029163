// Teen accounts and parents in headless Chromium against a real backend: a teen joins through the
// form (date of birth), a parent makes a code in Settings, the teen enters it, the parent sets the
// teen's controls (which the teen then sees), and the cameo ceiling is enforced by the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, shot, unique } from '../harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer('family');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** `years` years before today, as a date input takes it. */
function bornYearsAgo(years) {
  const d = new Date();
  return `${d.getFullYear() - years}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(Math.min(d.getDate(), 28)).padStart(2, '0')}`;
}

test('a parent links a teen and sets their controls', async () => {
  // The teen joins through the form; an under-13 date is refused on the field.
  const join = await newPage(browser, server, 'phone');
  const code = await server.mintInvite();
  const name = unique('teen');
  await join.goto(`/join?code=${code}`);
  await join.getByTestId('email-input').fill(`${name}@example.com`);
  await join.getByTestId('username-input').fill(name);
  await join.getByTestId('password-input').fill('quiet harbour morning 7');
  await join.getByTestId('birthDate-input').fill(bornYearsAgo(11));
  await join.getByTestId('join-submit').click();
  await join.getByTestId('form-error').filter({ hasText: 'at least 13' }).waitFor();
  assert.equal(await join.getByTestId('birthDate-input').getAttribute('aria-invalid'), 'true');
  await join.getByTestId('birthDate-input').fill(bornYearsAgo(15));
  await join.getByTestId('join-submit').click();
  await join.getByTestId('check-mail').waitFor();
  const teen = await server.logIn(name, 'quiet harbour morning 7');
  await join.context().close();

  // The parent makes a code in Settings.
  const parent = await server.signUp({ displayName: 'Pat Parent', birthDate: '1980-03-02' });
  const desk = await newPage(browser, server, 'desktop');
  await signIn(desk, parent);
  await desk.goto('/settings');
  await desk.getByTestId('parent-card').waitFor();
  await desk.getByTestId('guardian-invite').click();
  const guardianCode = await desk.getByTestId('guardian-code-value').innerText();
  assert.match(guardianCode, /^[A-Z0-9]{12}$/);
  await shot(desk, 'settings-parent-code');

  // The teen enters it in their Settings.
  const phone = await newPage(browser, server, 'phone');
  await signIn(phone, teen);
  await phone.goto('/settings');
  await phone.getByTestId('teen-card').waitFor();
  await phone.getByTestId('guardian-code').fill(guardianCode.toLowerCase());
  await phone.getByTestId('guardian-accept').click();
  await phone.getByTestId('my-parent').filter({ hasText: `@${parent.user.username}` }).waitFor();

  // The parent sets 45 minutes, quiet hours and "only them" for the cameo.
  await desk.reload();
  const form = desk.locator(`[data-testid="teen-controls-form"][data-teen="${name}"]`);
  await form.waitFor();
  await form.getByTestId('teen-activity').filter({ hasText: 'Last 7 days' }).waitFor();
  await form.getByTestId('teen-minutes').fill('45');
  await form.getByTestId('teen-quiet-start').fill('21:30');
  await form.getByTestId('teen-cameo').selectOption('ONLY_ME');
  await form.getByTestId('teen-public').uncheck();
  await form.getByTestId('teen-save').click();
  await desk.getByTestId('toast').filter({ hasText: `Saved for @${name}` }).waitFor();
  await shot(desk, 'settings-teen-controls');

  // The teen sees what applies to them.
  await phone.reload();
  const controls = phone.getByTestId('teen-controls');
  await controls.filter({ hasText: '45 minutes of feed a day' }).waitFor();
  assert.match(await controls.innerText(), /21:30–07:00/);
  assert.match(await controls.innerText(), /your cameo: only you/);
  assert.match(await controls.innerText(), /seen by mutuals and your parent only/);
  await shot(phone, 'settings-teen');

  // The server holds the controls whatever a client sends.
  const { me } = await server.api('{ me { isTeen teenControls { dailyFeedMinutes cameoPermission videosPublic } } }', {}, teen.accessToken);
  assert.deepEqual(me, { isTeen: true, teenControls: { dailyFeedMinutes: 45, cameoPermission: 'ONLY_ME', videosPublic: false } });
  assert.deepEqual(desk.errors, []);
  assert.deepEqual(phone.errors, []);
  await desk.context().close();
  await phone.context().close();
});
