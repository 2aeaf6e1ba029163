// The cameo feed `/cameo/<handle>` in the member web client, in headless Chromium against a real
// backend: Ann's cameo (a clip uploaded here, verified by an admin, open to everyone) is put in a
// video by Bob with "@ann" in the prompt; her cameo feed shows it to Bob and to a visitor, and
// not her own video without the cameo. A member without such videos gets the empty state, an
// unknown handle the not-found screen. The profile, Search, the cameos page and the video cards
// link to it, and the create screen says what "@handle" does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, shot, unique, uploadPendingCameo } from '../harness.mjs';

let server;
let browser;
let tmp;
let ann; // has an active cameo anyone may use
let bob; // makes a video with Ann's cameo
let cal; // a member without a cameo
let cameoName;
let withAnn; // Bob's published video with Ann's cameo
let annOwn; // Ann's published video without a cameo

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const card = (page, id) => page.locator(`[data-testid="cameo-feed-list"] [data-testid="video-card"][data-video-id="${id}"]`);

/** A screenshot from the top of the page, without a focus ring on whatever was last used. */
async function snap(page, name) {
  await page.evaluate(() => {
    document.activeElement?.blur?.();
    window.scrollTo(0, 0);
  });
  return shot(page, name);
}

/** Generates and publishes a video from `prompt` as the member of `token`. */
async function publish(token, prompt) {
  const { createVideo } = await server.api('mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }', { i: { prompt, durationSeconds: 2 } }, token);
  const job = await server.waitJob(token, createVideo.id);
  assert.equal(job.status, 'SUCCEEDED', `job ended ${job.status}: ${JSON.stringify(job.error)}`);
  await server.api('mutation($id: ID!, $c: String) { publishVideo(id: $id, caption: $c) { id } }', { id: job.video.id, c: prompt.replace(/@\S+ /, '') }, token);
  return job.video.id;
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sv-cameo-feed-e2e-'));
  server = await startServer('cameo-feed');
  browser = await launchBrowser();
  const admin = await server.createAdmin();
  ann = await server.signUp({ username: unique('ann'), displayName: 'Ann Cameo' });
  bob = await server.signUp({ username: unique('bob'), displayName: 'Bob Maker' });
  cal = await server.signUp({ username: unique('cal'), displayName: 'Cal Nobody' });
  cameoName = `Ann ${unique('c')}`;
  const cameo = await uploadPendingCameo(server, ann, cameoName, tmp);
  await server.api('mutation($id: ID!) { reviewCameo(id: $id, approve: true) { id status } }', { id: cameo.id }, admin.accessToken);
  await server.api('mutation($id: ID!) { updateCameo(id: $id, permission: EVERYONE) { id } }', { id: cameo.id }, ann.accessToken);
  // "@ann" in the prompt names her cameo.
  withAnn = await publish(bob.accessToken, `@${ann.user.username} skating on a frozen lake at sunset`);
  annOwn = await publish(ann.accessToken, 'a paper boat drifting down a rainy street');
  const { video } = await server.api('query($id: ID!) { video(id: $id) { cameos { handle } } }', { id: withAnn });
  assert.deepEqual(video.cameos.map((c) => c.handle), [ann.user.username.toLowerCase()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the cameo feed shows the videos with the cameo, signed in and signed out', async () => {
  for (const kind of ['phone', 'desktop']) {
    const page = await newPage(browser, server, kind);
    await signIn(page, bob);
    // A leading "@" is allowed; the address settles on the plain handle.
    await page.goto(`/cameo/@${ann.user.username}`);
    await card(page, withAnn).waitFor();
    assert.equal(new URL(page.url()).pathname, `/cameo/${ann.user.username}`);
    assert.equal(await page.getByTestId('cameo-feed-title').innerText(), `Videos with @${ann.user.username}`);
    assert.equal(await page.title(), `Videos with @${ann.user.username} · Soravibe`);
    const profile = page.getByTestId('cameo-feed-profile');
    assert.equal(await profile.getAttribute('href'), `/u/${ann.user.username}`);
    assert.equal(await profile.innerText(), 'Ann Cameo');
    assert.equal(await card(page, annOwn).count(), 0, 'her own video without the cameo is not in it');
    assert.equal(await page.getByTestId('cameo-feed-list').getByTestId('video-card').count(), 1);
    assert.ok(await page.getByTestId('cameo-feed-more').isHidden());
    // The card names the cameo with a link back to this feed.
    const cameoLink = card(page, withAnn).getByTestId('card-cameo-link');
    assert.match(await cameoLink.innerText(), new RegExp(cameoName));
    assert.equal(await cameoLink.getAttribute('href'), `/cameo/${ann.user.username.toLowerCase()}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="cameo-feed-list"] video')?.readyState >= 1);
    await snap(page, 'cameo-feed');
    // The profile link opens her profile.
    await profile.click();
    await page.getByTestId('profile').waitFor();
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }

  // A visitor who is not signed in sees the same.
  const visitor = await newPage(browser, server, 'phone');
  await visitor.goto(`/cameo/${ann.user.username}`);
  await card(visitor, withAnn).waitFor();
  assert.equal(await visitor.getByTestId('cameo-feed-title').innerText(), `Videos with @${ann.user.username}`);
  assert.equal(await card(visitor, annOwn).count(), 0);
  assert.deepEqual(visitor.errors, []);
  await visitor.context().close();
});

test('empty state for a member without such videos, not-found for an unknown handle', async () => {
  const page = await newPage(browser, server, 'phone');
  await page.goto(`/cameo/${cal.user.username}`);
  const none = page.getByTestId('cameo-feed-empty');
  await none.waitFor();
  assert.match(await none.innerText(), new RegExp(`No published videos with @${cal.user.username} yet`));
  assert.equal(await page.getByTestId('cameo-feed-list').getByTestId('video-card').count(), 0);
  await snap(page, 'cameo-feed-empty');

  await page.goto('/cameo/nobody_here_at_all');
  const missing = page.getByTestId('cameo-feed-missing');
  await missing.waitFor();
  assert.match(await missing.innerText(), /No such cameo/);
  assert.match(await missing.innerText(), /@nobody_here_at_all/);
  assert.equal(await page.getByTestId('cameo-feed').count(), 0);
  await snap(page, 'cameo-feed-missing');
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // Signed in, the same.
  const member = await newPage(browser, server, 'desktop');
  await signIn(member, cal);
  await member.goto('/cameo/nobody_here_at_all');
  await member.getByTestId('cameo-feed-missing').waitFor();
  await member.goto(`/cameo/${cal.user.username}`);
  await member.getByTestId('cameo-feed-empty').waitFor();
  assert.deepEqual(member.errors, []);
  await member.context().close();
});

test('the profile, search, the cameos page and the create screen lead to it', async () => {
  const page = await newPage(browser, server, 'desktop');
  await signIn(page, bob);

  // Ann's profile lists her cameo with a link to her cameo feed.
  await page.goto(`/u/${ann.user.username}`);
  const fromProfile = page.getByTestId('profile-cameo-feed');
  await fromProfile.click();
  await card(page, withAnn).waitFor();
  // Cal has no cameo: no link.
  await page.goto(`/u/${cal.user.username}`);
  await page.getByTestId('profile').waitFor();
  assert.equal(await page.getByTestId('profile-cameo-feed').count(), 0);

  // Search: the cameo row (found by name once the index has it) has a "Videos" link.
  await page.goto(`/search?q=${encodeURIComponent(cameoName)}&kind=cameos`);
  const row = page.locator('[data-testid="search-cameo"]').filter({ hasText: cameoName });
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.waitForFunction(() => !document.querySelector('[data-testid="search-results"]')?.hasAttribute('aria-busy'));
    if (await row.count()) break;
    assert.ok(Date.now() < deadline, 'the cameo was not found by name within 30 s');
    await sleep(500);
    await page.getByTestId('search-submit').click();
  }
  const fromSearch = row.getByTestId('search-cameo-feed');
  assert.equal(await fromSearch.getAttribute('aria-label'), `Videos with @${ann.user.username.toLowerCase()}`);
  await fromSearch.click();
  await card(page, withAnn).waitFor();

  // The create screen says what "@handle" in a prompt does.
  await page.goto('/create');
  const hint = page.getByTestId('cameo-hint');
  await hint.waitFor();
  assert.match(await hint.innerText(), /@handle/);
  assert.deepEqual(page.errors, []);
  await page.context().close();

  // Ann's own cameos page links to what everyone sees; her feed says it is her cameo.
  const own = await newPage(browser, server, 'phone');
  await signIn(own, ann);
  await own.goto('/cameos');
  const fromCameos = own.getByTestId('my-cameo-feed');
  await fromCameos.waitFor();
  await fromCameos.click();
  await card(own, withAnn).waitFor();
  await own.getByTestId('cameo-feed-manage').waitFor();
  assert.equal(await own.getByTestId('cameo-feed-profile').count(), 0);
  assert.deepEqual(own.errors, []);
  await own.context().close();
});

test('"Load more" follows the cursor to older videos', async () => {
  // Eight more with Ann's cameo: with the one from before, more than one page (8).
  const more = [];
  for (let i = 0; i < 8; i += 1) more.push(await publish(bob.accessToken, `@${ann.user.username} juggling ${i + 1} oranges in a park`));
  const page = await newPage(browser, server, 'phone');
  await page.goto(`/cameo/${ann.user.username}`);
  const cards = page.getByTestId('cameo-feed-list').getByTestId('video-card');
  await card(page, more[7]).waitFor();
  assert.equal(await cards.count(), 8);
  // Newest first: the oldest (the first video) is on the next page.
  assert.equal(await card(page, withAnn).count(), 0);
  await page.getByTestId('cameo-feed-more').click();
  await card(page, withAnn).waitFor();
  assert.equal(await cards.count(), 9);
  assert.ok(await page.getByTestId('cameo-feed-more').isHidden());
  const order = await cards.evaluateAll((els) => els.map((el) => el.dataset.videoId));
  assert.deepEqual(order, [...more].reverse().concat(withAnn));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
