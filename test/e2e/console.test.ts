// The console in a real headless Chromium (Debian's chromium, driven by playwright-core), served by a
// hub listening on a real port with the built console (console/dist, built by `npm install`):
// a requester submits, an approver in a second browser context sees the task arrive live and
// approves, the requester sees the result and the statechart move; a title holding markup is shown as
// text; a second approver's task disappears the moment someone else decides. Screenshots of the main
// pages are saved under test-results/console/.
import { serve, type ServerType } from '@hono/node-server';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { StoreIdempotencyGate } from '../../api/idempotency-gate.ts';
import { identityFor } from '../../api/identity/identity-setup.ts';
import { CONSOLE_DIST } from '../../api/routes/console.routes.ts';
import { hubFixture } from '../support/hub-fixture.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results', 'console');
const MARKUP_TITLE = '<script>window.__pwned = 1</script><b>Trip to Berlin</b>';

describe('the console in a browser', () => {
  const fx = hubFixture();
  const dirs = tempDirs('assent-e2e-');
  let server: ServerType;
  let url: string;
  let browser: Browser;
  // The server's bindings (the Node request, whose socket says where a request comes from) go along.
  let fetchApp: (r: Request, env: unknown) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(CONSOLE_DIST, 'index.html'))) throw new Error('console/dist is missing: run `npm run console:build` (npm install does it)');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash .ci/run does)`);
    mkdirSync(SHOTS, { recursive: true });
    server = serve({ fetch: (r, env) => fetchApp(r, env), port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  async function startHub() {
    const hub = await fx.start({ configDoc: { groups: { travel: ['adam', 'bea'] } } });
    const identity = await identityFor(hub, { dataDir: await dirs.make(), production: false, log: () => {} });
    const app = createApp({ hub, ...identity, idempotency: new StoreIdempotencyGate(hub.idempotency) });
    fetchApp = (r, env) => app.fetch(r, env);
    return hub;
  }

  /** A browser context signed in through the console's development sign-in form. */
  async function signedIn(user: string, opts: { admin?: boolean; locale?: string } = {}): Promise<Page> {
    const context = await browser.newContext({ locale: opts.locale ?? 'en-US', viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`${user}: ${e.message}`));
    page.on('console', (m) => {
      // Asking who is signed in before anyone is answers 401, which the browser logs; nothing else may.
      const signedOut = m.text().includes('status of 401') && m.location().url.endsWith('/v1/session');
      if (m.type() === 'error' && !signedOut) problems.push(`${user}: ${m.text()} ${m.location().url}`);
    });
    page.on('dialog', (d) => { problems.push(`${user}: a dialog opened: ${d.message()}`); void d.dismiss(); });
    await page.goto(`${url}/inbox`);
    await page.getByTestId('signin-user').fill(user);
    if (opts.admin) await page.getByTestId('signin-admin').check();
    await page.getByTestId('signin-submit').click();
    await eventually(() => page.getByTestId('session-user').getAttribute('data-user')).toBe(user);
    return page;
  }

  /** Waits for the page to show it: a browser under a loaded CI machine may take seconds. */
  const eventually = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 50 });
  const stateOf = (page: Page) => page.getByTestId('message-state').getAttribute('data-state');
  const currentNode = (page: Page) => page.locator('[data-testid="statechart-node"][data-current="true"]').getAttribute('data-state');

  it('submits, shows the task live to both approvers, decides, and moves the requester\'s page to distributed', async () => {
    await startHub();
    const rita = await signedIn('rita');
    const adam = await signedIn('adam');
    const bea = await signedIn('bea');
    await rita.screenshot({ path: join(SHOTS, 'inbox-empty.png') });
    for (const page of [adam, bea]) {
      await page.goto(`${url}/inbox`);
      await eventually(() => page.getByTestId('live-status').getAttribute('data-status')).toBe('live');
    }

    await rita.getByTestId('nav-submit').click();
    await rita.getByTestId('submit-type').selectOption('generic');
    await rita.getByTestId('submit-title').fill(MARKUP_TITLE);
    await rita.getByTestId('submit-approvers').fill('group:travel');
    await rita.getByTestId('submit-payload').fill('{"days": 3, "note": "<img src=x onerror=alert(1)>"}');
    await rita.screenshot({ path: join(SHOTS, 'submit.png') });
    await rita.getByTestId('submit-button').click();
    await eventually(() => stateOf(rita)).toBe('approving');
    const id = (await rita.getByTestId('message').getAttribute('data-message-id'))!;
    expect(id).toMatch(/^[a-z0-9]+$/);
    // Markup in the title and the payload is text, never markup.
    expect(await rita.getByTestId('message-title').textContent()).toBe(MARKUP_TITLE);
    expect(await rita.locator('[data-testid="message-title"] b').count()).toBe(0);
    expect(await rita.getByTestId('message-payload').textContent()).toContain('<img src=x onerror=alert(1)>');
    expect(await rita.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await eventually(() => currentNode(rita)).toBe('approving');

    // Both approvers' open inboxes show the task without a reload.
    for (const page of [adam, bea]) await page.getByTestId(`inbox-row-${id}`).waitFor();
    await adam.screenshot({ path: join(SHOTS, 'inbox.png') });

    await adam.getByTestId(`inbox-open-${id}`).click();
    await adam.getByTestId('comment-input').fill('Enjoy Berlin');
    await adam.getByTestId('approve-button').click();
    await eventually(() => stateOf(adam)).toBe('distributed');

    // Bea's task is gone the moment Adam decided; Rita's page moved on by itself.
    await bea.getByTestId(`inbox-row-${id}`).waitFor({ state: 'detached' });
    await eventually(() => stateOf(rita)).toBe('distributed');
    await eventually(() => currentNode(rita)).toBe('distributed');
    const visited = await rita.locator('[data-testid="statechart-node"][data-visited="true"]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-state')));
    expect(visited).toEqual(expect.arrayContaining(['pending', 'approving', 'processing', 'validated', 'distributed']));
    const timeline = await rita.locator('[data-testid^="timeline-row-"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-to')));
    expect(timeline).toEqual(['pending', 'approving', 'processing', 'validated', 'distributed']);
    expect(await rita.getByTestId('decision-summary').getAttribute('data-decision')).toBe('approved');
    await rita.screenshot({ path: join(SHOTS, 'message.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows operators every message and the platforms, and switches to Simplified Chinese', async () => {
    await startHub();
    const olga = await signedIn('olga', { admin: true, locale: 'zh-CN' });
    expect(await olga.locator('html').getAttribute('lang')).toBe('zh-CN');
    await olga.getByTestId('language-switch').selectOption('en');
    expect(await olga.locator('html').getAttribute('lang')).toBe('en');
    await olga.getByTestId('nav-operators').click();
    await olga.getByTestId('platform-status-portal').waitFor();
    await olga.screenshot({ path: join(SHOTS, 'operators.png'), fullPage: true });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, storageState: await olga.context().storageState() });
    contexts.push(phone);
    const small = await phone.newPage();
    await small.goto(`${url}/operators`);
    await small.getByTestId('platform-status-portal').waitFor();
    expect(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await small.screenshot({ path: join(SHOTS, 'operators-phone.png') });
    expect(problems).toEqual([]);
  }, 60_000);
});
