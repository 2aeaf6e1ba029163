// Search in the member web client, in headless Chromium against a real backend: a member finds a
// published video by its meaning (no word of the query is in its prompt), finds a member by
// handle and opens their profile, and sees the empty state; the query lives in the URL, so Back
// and a direct link show the same results. A visitor who is not signed in searches too, and a
// query the server refuses shows the server's reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, shot } from '../harness.mjs';

const CAT = 'a ginger cat chasing a laser dot across the kitchen floor';
const SPACE = 'an astronaut floating outside the space station';
// Shares no word with CAT: only its meaning can find it.
const BY_MEANING = 'felines playing';
const NOTHING = 'quarterly tax return form';
const PAGERS = 13; // the screen asks for 10 results a page

let server;
let browser;
let author;
let viewer;
let findable; // a member to be found by handle
let catId;
let spaceId;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const card = (page, id) => page.locator(`[data-testid="search-results"] [data-testid="video-card"][data-video-id="${id}"]`);

/** A screenshot from the top of the page, without a focus ring on whatever was last used. */
async function snap(page, name) {
  await page.evaluate(() => {
    document.activeElement?.blur?.();
    window.scrollTo(0, 0);
  });
  return shot(page, name);
}

/** Waits until the search on screen has its answer (results, empty state or error). */
async function settled(page) {
  await page.waitForFunction(() => {
    const list = document.querySelector('[data-testid="search-results"]');
    return list && !list.hasAttribute('aria-busy');
  });
}

/**
 * Searches for `q` (Enter) and searches again every half second until `found` shows up: a video
 * becomes searchable within a refresh or two of the index (about 2 s each) after publication.
 */
async function searchUntil(page, q, found, timeoutMs = 30_000) {
  await page.getByTestId('search-input').fill(q);
  await page.getByTestId('search-input').press('Enter');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await settled(page);
    if (await found.count()) return;
    const error = page.getByTestId('search-error');
    assert.ok(!(await error.isVisible()), `the search failed: ${await error.innerText().catch(() => '')}`);
    assert.ok(Date.now() < deadline, `"${q}" found nothing expected within ${timeoutMs} ms`);
    await sleep(500);
    await page.getByTestId('search-submit').click();
  }
}

before(async () => {
  server = await startServer('search');
  browser = await launchBrowser();
  author = await server.signUp({ displayName: 'Cleo Catkeeper' });
  viewer = await server.signUp({ displayName: 'Vic Viewer' });
  findable = await server.signUp({ displayName: 'Milo Findme' });
  // More members than one page of results holds.
  for (let i = 1; i <= PAGERS; i += 1) await server.signUp({ username: `pagerbot${String(i).padStart(2, '0')}` });
  const [cat, space] = await Promise.all([server.publishedVideo(author.accessToken, CAT), server.publishedVideo(author.accessToken, SPACE)]);
  catId = cat.id;
  spaceId = space.id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a member searches by meaning, finds a member by handle, and sees the empty state (phone)', async () => {
  const page = await newPage(browser, server, 'phone');
  await signIn(page, viewer);
  await page.goto('/');
  await page.getByTestId('feed-for-you').waitFor();

  // Search is in the main navigation (behind Menu on a phone).
  await page.getByTestId('menu-toggle').click();
  await page.getByTestId('nav-search').click();
  await page.getByTestId('search-input').waitFor();
  assert.equal(new URL(page.url()).pathname, '/search');
  assert.equal(await page.getByTestId('nav-search').getAttribute('aria-current'), 'page');
  assert.ok(await page.getByTestId('search-hint').isVisible(), 'a blank search explains what can be found');

  // By meaning: the cat video, first, though no word of the query is in its prompt or caption.
  for (const word of BY_MEANING.split(' ')) assert.ok(!CAT.includes(word.slice(0, 5)), `"${word}" is not in the prompt`);
  await searchUntil(page, BY_MEANING, card(page, catId));
  const first = page.locator('[data-testid="search-results"] > *').first();
  assert.equal(await first.getAttribute('data-video-id'), catId, 'the cat video comes first');
  assert.equal(await card(page, catId).getByTestId('caption').innerText(), CAT);
  assert.equal(new URL(page.url()).searchParams.get('q'), BY_MEANING, 'the query is in the URL');
  assert.match(await page.getByTestId('search-status').innerText(), /^\d+ results? for “felines playing”/);
  await snap(page, 'search-results');

  // Open it, come back: the same search is on screen again.
  await card(page, catId).getByTestId('open-video').click();
  await page.getByTestId('video-page').waitFor();
  await page.goBack();
  await card(page, catId).waitFor();
  assert.equal(await page.getByTestId('search-input').inputValue(), BY_MEANING);

  // Members only, typed letter by letter (searches after a pause in typing, no Enter).
  await page.getByTestId('search-kind-members').click();
  assert.equal(await page.getByTestId('search-kind-members').getAttribute('aria-pressed'), 'true');
  assert.equal(new URL(page.url()).searchParams.get('kind'), 'members');
  await settled(page);
  await page.getByTestId('search-input').fill('');
  await page.getByTestId('search-input').pressSequentially(`@${findable.user.username}`, { delay: 40 });
  const row = page.locator(`[data-testid="search-member"][data-username="${findable.user.username}"]`);
  await row.waitFor();
  await settled(page);
  assert.equal(await page.locator('[data-testid="search-results"] [data-testid="video-card"]').count(), 0, 'members only');
  assert.equal(await page.locator('[data-testid="search-results"] > *').first().getAttribute('data-username'), findable.user.username, 'the exact handle comes first');
  assert.match(await row.innerText(), /Milo Findme/);
  await snap(page, 'search-members');
  await row.getByTestId('search-member-link').click();
  await page.getByTestId('profile').waitFor();
  assert.equal(new URL(page.url()).pathname, `/u/${findable.user.username}`);
  assert.equal(await page.getByTestId('profile-name').innerText(), 'Milo Findme');
  await page.goBack();
  await row.waitFor();
  assert.equal(new URL(page.url()).searchParams.get('kind'), 'members');

  // Nothing close: the empty state names the query.
  await page.getByTestId('search-kind-all').click();
  await page.getByTestId('search-input').fill(NOTHING);
  await page.getByTestId('search-input').press('Enter');
  await page.getByTestId('search-empty').waitFor();
  assert.match(await page.getByTestId('search-empty').innerText(), new RegExp(`No results for “${NOTHING}”`));
  assert.equal(await page.locator('[data-testid="search-results"] [data-testid="video-card"]').count(), 0);
  await snap(page, 'search-empty');

  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('anyone may search; links keep the query and kind; a refused query shows why (desktop)', async () => {
  const page = await newPage(browser, server, 'desktop');

  // Not signed in, straight from a link.
  await page.goto(`/search?q=${encodeURIComponent(BY_MEANING)}`);
  await card(page, catId).waitFor();
  assert.equal(await page.getByTestId('nav-search').getAttribute('aria-current'), 'page');
  await settled(page);
  await snap(page, 'search-results');

  // The kind from the link is the one chosen.
  await page.goto('/search?q=outer%20space&kind=videos');
  await card(page, spaceId).waitFor();
  assert.equal(await page.getByTestId('search-kind-videos').getAttribute('aria-pressed'), 'true');
  assert.equal(await page.locator('[data-testid="search-results"] > *').first().getAttribute('data-video-id'), spaceId);

  // Cameos only: nobody has one anyone may use here, and the empty state offers everything.
  await page.getByTestId('search-kind-cameos').click();
  await page.getByTestId('search-empty').waitFor();
  assert.match(await page.getByTestId('search-empty').innerText(), /in cameos/);
  await page.getByTestId('search-empty').getByRole('button').click();
  await card(page, spaceId).waitFor();
  assert.equal(await page.getByTestId('search-kind-all').getAttribute('aria-pressed'), 'true');

  // Load more: the next page is added under the first.
  await page.goto('/search?q=pagerbot&kind=members');
  await page.getByTestId('search-member').first().waitFor();
  await settled(page);
  assert.equal(await page.getByTestId('search-member').count(), 10);
  assert.match(await page.getByTestId('search-status').innerText(), /^10 results for “pagerbot”, more below$/);
  await page.getByTestId('search-more').click();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="search-member"]').length === n, PAGERS);
  await page.getByTestId('search-more').waitFor({ state: 'hidden' });
  const handles = await page.getByTestId('search-member').evaluateAll((rows) => rows.map((r) => r.dataset.username));
  assert.equal(new Set(handles).size, PAGERS, `no member twice: ${handles}`);

  // A tab in the query: the server refuses it and its reason is shown, the field marked.
  await page.goto('/search?q=cats%09dogs');
  await page.getByTestId('search-error').waitFor();
  assert.match(await page.getByTestId('search-error').innerText(), /one line of text/);
  assert.equal(await page.getByTestId('search-input').getAttribute('aria-invalid'), 'true');

  assert.deepEqual(page.errors, []);
  await page.context().close();
});
