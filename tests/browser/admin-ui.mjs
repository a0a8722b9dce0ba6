#!/usr/bin/env node
// Drives dvbgate's web page in Debian's headless Chromium the way a technician would on a
// box at first boot, and saves a screenshot of every page.
//
//   node admin-ui.mjs --url http://127.0.0.1:PORT/ --setup-code XXXX-XXXX-XXXX \
//        --new-address 239.255.114.200 --artefacts DIR
//
// The walk: set the administrator password with the setup code; log out; a wrong
// password is refused with a message; log in; the dashboard lists the demo's channels
// with a live bitrate above zero; channel 2 gets the multicast group --new-address (same
// port) and keeps it; channel 3 asking for the same address is refused and the server's
// message is shown beside its row; the M3U export (a download) carries the new
// `udp://@` address; a backup is downloaded; channel 1 is renamed; the backup is restored
// and the name is back; two channels are disabled and enabled in bulk; a category is set
// from a row and cleared in bulk; HLS is turned off from a row; a tuning typed by hand reaches the daemon's parser; a user is
// added; a network setting is saved; a tuning of each delivery system made by the page is
// accepted by the daemon's parser; a channel is renamed by keyboard alone; the password is
// changed (another browser's session ends: it lands on the login page) and the new one logs in; the
// factory reset waits for its typed confirmation; reboot restarts the pipelines; every
// page is opened (no script error, no CSP violation), desktop
// 1280x800, and the dashboard and channels at 390x844 (a phone).
//
// One JSON line goes to stdout: {ok, reason?, steps: [{step, ms}], password, m3u_line,
// screenshots: [...], console_errors, page_errors}. Exit code:
//   0  every step passed
//   1  a step failed ("reason" says which and why)
//   2  the browser could not be started (reason on stderr, nothing on stdout)
//   64 bad arguments

import fs from 'node:fs';
import path from 'node:path';

const EXIT_FAIL = 1;
const EXIT_NO_BROWSER = 2;
const EXIT_USAGE = 64;
const STEP_TIMEOUT_MS = 20_000;
/** The administrator password the walk sets (8+ characters, as the box requires). */
const PASSWORD = 'hotel-technician-2026';
const NEW_PASSWORD = 'hotel-technician-2027';
const RENAMED = 'Renamed by the browser test';
const PAGES = ['dashboard', 'scan', 'channels', 'users', 'network', 'epg', 'backup', 'logs', 'system'];

function parseArgs(argv) {
    const out = {};
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i];
        const value = argv[i + 1];
        if (!key?.startsWith('--') || value === undefined) throw new Error(`bad argument ${key}`);
        out[key.slice(2)] = value;
    }
    for (const k of ['url', 'setup-code', 'new-address', 'artefacts']) {
        if (!out[k]) throw new Error(`--${k} is required`);
    }
    return out;
}

let args;
try {
    args = parseArgs(process.argv.slice(2));
} catch (err) {
    process.stderr.write(
        `admin-ui: ${err.message}\nusage: admin-ui.mjs --url URL --setup-code CODE --new-address GROUP --artefacts DIR\n`,
    );
    process.exit(EXIT_USAGE);
}

let launchBrowser;
try {
    ({ launchBrowser } = await import('./lib/launch.mjs'));
} catch (err) {
    process.stderr.write(`admin-ui: playwright-core is not installed (${err.message})\n`);
    process.exit(EXIT_NO_BROWSER);
}

let session;
try {
    session = await launchBrowser({ viewport: { width: 1280, height: 800 } });
} catch (err) {
    process.stderr.write(`admin-ui: ${err.message}\n`);
    process.exit(EXIT_NO_BROWSER);
}

const base = args.url.endsWith('/') ? args.url : `${args.url}/`;
const dir = args.artefacts;
fs.mkdirSync(dir, { recursive: true });
const { page, context } = session;
page.setDefaultTimeout(STEP_TIMEOUT_MS);
const steps = [];
const screenshots = [];
const result = { ok: false, password: PASSWORD, steps, screenshots };

async function step(name, fn) {
    const t0 = performance.now();
    try {
        await fn();
    } catch (err) {
        throw new Error(`${name}: ${String(err?.message ?? err).split('\n')[0]}`, { cause: err });
    }
    steps.push({ step: name, ms: Math.round(performance.now() - t0) });
}

async function shot(name) {
    // Let the last layout settle; animations are short.
    await page.waitForTimeout(300);
    const file = path.join(dir, `${name}.png`);
    // The whole page, by a viewport as tall as the page: Chromium's full-page capture keeps
    // the width the scroll bar left and cuts the right edge off.
    const viewport = page.viewportSize();
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, Math.min(height, 4000)) });
    await page.waitForTimeout(100);
    await page.screenshot({ path: file });
    await page.setViewportSize(viewport);
    screenshots.push(file);
}

async function open(hash) {
    await page.goto(`${base}#/${hash}`);
    // The page marks <main> once the new page is rendered.
    await page.locator(`main[data-page="${hash}"]`).waitFor();
}

/** The visible text of the first element matching `selector` that matches `re`. */
async function waitText(selector, re, what) {
    const loc = page.locator(selector).filter({ hasText: re }).first();
    await loc.waitFor({ state: 'visible' }).catch(() => {
        throw new Error(`${what}: no ${selector} showing ${re}`);
    });
    return loc.innerText();
}

/** The channels as the API has them, with the page's own cookie. */
async function apiChannels() {
    const r = await page.request.get(`${base}api/v1/channels`);
    if (!r.ok()) throw new Error(`GET /api/v1/channels: ${r.status()}`);
    return r.json();
}

/** Polls `check` until it is true, for at most STEP_TIMEOUT_MS. */
async function until(check, what) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${STEP_TIMEOUT_MS} ms`);
        await page.waitForTimeout(100);
    }
}

function row(number) {
    return page.locator(`#channels-table tr[data-number="${number}"]`);
}

async function saveRow(number) {
    await row(number).getByRole('button', { name: 'Save' }).click();
}

try {
    await step('first boot: the page asks for the setup code', async () => {
        await page.goto(base);
        await page.locator('main[data-page="setup"]').waitFor();
        await page.getByLabel('Setup code').waitFor();
        await shot('setup');
    });

    await step('a wrong setup code is refused', async () => {
        await page.getByLabel('Setup code').fill('AAAA-AAAA-AAAA');
        await page.getByLabel('New password', { exact: true }).fill(PASSWORD);
        await page.getByLabel('New password again').fill(PASSWORD);
        await page.getByRole('button', { name: 'Set password' }).click();
        await waitText('.msg.error', /Wrong setup code|Too many/, 'setup');
    });

    await step('the setup code sets the password and logs in', async () => {
        await page.getByLabel('Setup code').fill(args['setup-code'].toLowerCase());
        await page.getByRole('button', { name: 'Set password' }).click();
        await page.locator('main[data-page="dashboard"]').waitFor();
        await page.locator('#logout').waitFor({ state: 'visible' });
    });

    await step('log out', async () => {
        await page.locator('#logout').click();
        await page.locator('main[data-page="login"]').waitFor();
        const r = await page.request.get(`${base}api/v1/settings`);
        if (r.status() !== 401) throw new Error(`after logout GET /api/v1/settings answered ${r.status()}`);
    });

    await step('a wrong password is refused with a message', async () => {
        await page.getByLabel('Password', { exact: true }).fill('not-the-password');
        await page.getByRole('button', { name: 'Log in' }).click();
        await waitText('.msg.error', /Wrong password/, 'login');
        await shot('login-wrong-password');
    });

    await step('log in', async () => {
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.locator('main[data-page="dashboard"]').waitFor();
    });

    await step("the dashboard shows the demo's channels with a live bitrate", async () => {
        const expected = (await apiChannels()).length;
        if (expected < 4) throw new Error(`the demo has ${expected} channels, expected at least 4`);
        await page.waitForFunction((n) => {
            const rows = [...document.querySelectorAll('#live-channels tbody tr')];
            return (
                rows.length === n &&
                rows.every((r) => {
                    const t = r.querySelector('.bitrate')?.textContent ?? '';
                    return /[1-9]/.test(t) && !/^0 /.test(t);
                })
            );
        }, expected);
        result.dashboard_bitrates = await page.$$eval('#live-channels tbody tr .bitrate', (c) => c.map((x) => x.textContent));
        // A few more seconds of live points for the sparklines in the screenshot.
        await page.waitForTimeout(3000);
        await shot('dashboard');
    });

    let port;
    await step("channel 2's multicast address is changed and saved", async () => {
        await open('channels');
        await row(2).waitFor();
        const before = (await apiChannels()).find((c) => c.number === 2);
        port = before.output.address.split(':').pop();
        await row(2).getByLabel('Multicast address of channel 2').fill(args['new-address']);
        await saveRow(2);
        await waitText('#toast', /Channel 2 saved/, 'save');
        const after = (await apiChannels()).find((c) => c.number === 2);
        if (after.output.address !== `${args['new-address']}:${port}`) {
            throw new Error(`the API says channel 2 is at ${after.output.address}`);
        }
        const shown = await row(2).getByLabel('Multicast address of channel 2').inputValue();
        if (shown !== args['new-address']) throw new Error(`the row shows ${shown}`);
    });

    await step('the same address for channel 3 is refused with the message', async () => {
        await row(3).getByLabel('Multicast address of channel 3').fill(args['new-address']);
        await row(3).getByLabel('Port of channel 3').fill(port);
        await saveRow(3);
        const text = await waitText('#channels-table tr.error-row .msg.error', /already used/, 'refusal');
        if (!text.includes(`${args['new-address']}:${port}`) || !/channel 2\b/.test(text)) {
            throw new Error(`the message does not name the address and channel 2: ${text}`);
        }
        result.refusal = text;
        const ch3 = (await apiChannels()).find((c) => c.number === 3);
        if (ch3.output.address === `${args['new-address']}:${port}`) throw new Error('channel 3 took the address');
        await shot('channels-refused');
    });

    await step('the M3U export carries the new address', async () => {
        const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-m3u').click()]);
        const file = path.join(dir, 'multicast.m3u');
        await download.saveAs(file);
        const text = fs.readFileSync(file, 'utf8');
        const want = `udp://@${args['new-address']}:${port}`;
        const line = text.split('\n').find((l) => l.includes(want));
        if (!line) throw new Error(`${want} is not in the playlist:\n${text}`);
        if (!text.startsWith('#EXTM3U')) throw new Error('not an M3U');
        result.m3u_line = line.trim();
    });

    let backupFile;
    let originalName;
    await step('a backup is downloaded', async () => {
        await open('backup');
        const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#backup-download').click()]);
        backupFile = path.join(dir, 'backup.json');
        await download.saveAs(backupFile);
        const backup = JSON.parse(fs.readFileSync(backupFile, 'utf8'));
        if (backup.format !== 'dvbgate-backup') throw new Error(`format ${backup.format}`);
        result.backup_name = download.suggestedFilename();
        originalName = (await apiChannels()).find((c) => c.number === 1).name;
    });

    await step('a change after the backup (channel 1 renamed)', async () => {
        await open('channels');
        await row(1).getByLabel('Name of channel 1').fill(RENAMED);
        await saveRow(1);
        await waitText('#toast', /Channel 1 saved/, 'rename');
        const now = (await apiChannels()).find((c) => c.number === 1).name;
        if (now !== RENAMED) throw new Error(`the API says ${now}`);
    });

    await step('the restore undoes the change', async () => {
        await open('backup');
        await page.getByLabel('Backup file').setInputFiles(backupFile);
        await page.locator('#restore').click();
        const text = await waitText('.msg', /Restored|error|invalid|wrong/i, 'restore');
        if (!/^Restored/.test(text)) throw new Error(`restore: ${text}`);
        result.restore = text;
        await shot('backup-restored');
        const chs = await apiChannels();
        const c1 = chs.find((c) => c.number === 1);
        if (c1.name !== originalName) throw new Error(`channel 1 is called ${c1.name}, not ${originalName}`);
        const c2 = chs.find((c) => c.number === 2);
        if (c2.output.address !== `${args['new-address']}:${port}`) throw new Error(`channel 2 is at ${c2.output.address}`);
    });

    await step('bulk: channels 3 and 4 disabled, then enabled again', async () => {
        await open('channels');
        for (const n of [3, 4]) await page.getByLabel(`Select channel ${n}`).check();
        await page.getByRole('button', { name: 'Disable', exact: true }).click();
        await waitText('.msg.ok', /Disable: 2 channels/, 'bulk disable');
        let chs = await apiChannels();
        const off = chs.filter((c) => !c.enabled).map((c) => c.number);
        if (off.join() !== '3,4') throw new Error(`disabled: ${off}`);
        await until(async () => !(await row(3).getByLabel('Enabled of channel 3').isChecked()), 'row 3 shown disabled');
        for (const n of [3, 4]) await page.getByLabel(`Select channel ${n}`).check();
        await page.getByRole('button', { name: 'Enable', exact: true }).click();
        await waitText('.msg.ok', /Enable: 2 channels/, 'bulk enable');
        chs = await apiChannels();
        if (!chs.every((c) => c.enabled)) throw new Error('not every channel is enabled again');
    });

    await step("channel 1's category from its row, and back in bulk", async () => {
        const cats = await (await page.request.get(`${base}api/v1/categories`)).json();
        const radio = cats.find((c) => c.name === 'Radio') ?? cats[0];
        if (!radio) throw new Error('the demo has no category');
        await row(1).getByLabel('Category of channel 1').selectOption(String(radio.id));
        await saveRow(1);
        await until(async () => (await apiChannels()).find((c) => c.number === 1).category_id === radio.id, 'category set');
        await page.getByLabel('Select channel 1').check();
        await page.getByLabel('Category', { exact: true }).selectOption('null');
        await page.getByRole('button', { name: 'Set category' }).click();
        await waitText('.msg.ok', /Set category: 1 channel\./, 'bulk category');
        const c1 = (await apiChannels()).find((c) => c.number === 1);
        if (c1.category_id !== null) throw new Error(`category_id is ${c1.category_id}`);
    });

    await step('HLS off for channel 4 from its row: its playlist is refused', async () => {
        await row(4).getByLabel('HLS of channel 4').uncheck();
        await saveRow(4);
        await waitText('#toast', /Channel 4 saved/, 'hls off');
        const c4 = (await apiChannels()).find((c) => c.number === 4);
        if (c4.hls_enabled !== false) throw new Error(`hls_enabled is ${c4.hls_enabled}`);
        const r = await page.request.get(`${base}hls/4/index.m3u8`);
        if (r.status() !== 404) throw new Error(`/hls/4/index.m3u8 answered ${r.status()}`);
        await row(4).getByLabel('HLS of channel 4').check();
        await saveRow(4);
        await until(async () => (await apiChannels()).find((c) => c.number === 4).hls_enabled === true, 'HLS back on');
    });

    await step('the scan wizard builds a tuning the daemon parses', async () => {
        await open('scan');
        await page.getByLabel('Delivery system').selectOption('dvb-t');
        await page.getByLabel('Parameters by hand').check();
        await page.getByLabel('Frequency (MHz)').fill('474');
        await page.getByLabel('Bandwidth').selectOption('8');
        await page.getByRole('button', { name: 'Add this tuning' }).click();
        await waitText('ul[aria-label="Tunings to scan"] li', /dvb-t:\/\/474MHz\?bandwidth=8MHz/, 'tuning list');
        await shot('scan-by-hand');
        await page.getByRole('button', { name: 'Start scan' }).click();
        // The demo has no tuner: the daemon's refusal is shown. (With a tuner the scan runs;
        // a URL it could not parse would be a 422 naming the key.)
        const shown = await Promise.race([
            waitText('.msg.error', /tuner/, 'scan refusal'),
            waitText('h2', /Scanning/, 'scan progress'),
        ]);
        if (/Scanning/.test(shown)) {
            await page.getByRole('button', { name: 'Cancel scan' }).click();
        }
        result.scan = shown;
    });

    await step('a user is added with an expiry date', async () => {
        await open('users');
        await page.getByLabel('User name').fill('room12');
        await page.getByLabel('Password', { exact: true }).fill('guest-room-12');
        await page.getByLabel('Expires on (empty: never)').fill('2031-06-30');
        await page.getByLabel('Max connections').fill('3');
        await page.getByRole('button', { name: 'Add user' }).click();
        await waitText('main table tr', /room12/, 'user list');
        const r = await page.request.get(`${base}api/v1/users`);
        const user = (await r.json()).find((u) => u.username === 'room12');
        if (!user || user.max_connections !== 3 || !(user.expires_at > 1_900_000_000)) {
            throw new Error(`the API has ${JSON.stringify(user)}`);
        }
    });

    await step('network settings save', async () => {
        await open('network');
        await page.getByLabel('TTL').fill('2');
        await page.getByRole('button', { name: 'Save' }).click();
        await waitText('.msg.ok', /Saved/, 'network');
        const settings = await (await page.request.get(`${base}api/v1/settings`)).json();
        if (settings.ttl !== 2) throw new Error(`ttl is ${settings.ttl}`);
    });

    await step("every delivery system's hand-made tuning reaches the daemon's parser", async () => {
        await open('scan');
        // The page's own URL builder and its own fetch (with the CSRF token): the daemon
        // parses each tuning before it looks for a tuner, so a 503 "no tuner" (or a scan
        // that starts, on a box with one) means the URL was accepted; a 422 names the key.
        const answers = await page.evaluate(async () => {
            const cases = [
                ['dvb-t', { freq: '474', bandwidth: '8' }],
                ['dvb-t2', { freq: '474.166', bandwidth: '1.712', plp: '1', mod: 'qam256' }],
                ['dvb-c', { freq: '474', sr: '6900', mod: 'qam256', fec: '3/4' }],
                ['dvb-s', { freq: '12551.5', sr: '22000', pol: 'v', lnb: '10750MHz' }],
                ['dvb-s2', { freq: '11362', sr: '22000', pol: 'h', mod: '8psk', fec: '2/3', lnb: 'universal', diseqc: '2' }],
                ['atsc', { freq: '57.028615', mod: '8vsb' }],
            ];
            const out = [];
            for (const [sys, v] of cases) {
                const url = tuningUrl(sys, v);
                let answer;
                try {
                    const job = await api('POST', '/api/v1/scans', { tunings: [url], store: false });
                    await api('DELETE', `/api/v1/scans/${job.id}`);
                    answer = { status: 202 };
                } catch (e) {
                    answer = { status: e.status, error: e.message };
                }
                out.push({ url, ...answer });
            }
            return out;
        });
        result.tunings = answers;
        const refused = answers.filter((a) => a.status !== 202 && a.status !== 503 && a.status !== 409);
        if (refused.length) throw new Error(`refused: ${JSON.stringify(refused)}`);
    });

    await step('keyboard only: a channel renamed with typing and Enter', async () => {
        await open('channels');
        const name = row(4).getByLabel('Name of channel 4');
        const before = await name.inputValue();
        for (const text of ['Quatre by keyboard', before]) {
            await name.focus();
            await page.keyboard.press('Control+A');
            await page.keyboard.type(text);
            await page.keyboard.press('Enter');
            await until(async () => (await apiChannels()).find((c) => c.number === 4).name === text, `renamed to ${text}`);
        }
    });

    await step('the administrator password is changed, and the new one logs in', async () => {
        // A second browser, logged in before the change: its session ends with the change
        // and the next thing it loads takes it to the login page.
        const other = await session.browser.newContext({ viewport: { width: 1280, height: 800 } });
        const second = await other.newPage();
        await second.goto(`${base}#/login`);
        await second.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await second.getByRole('button', { name: 'Log in' }).click();
        await second.locator('main[data-page="dashboard"]').waitFor();
        await open('system');
        await page.getByLabel('Current password').fill(PASSWORD);
        await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
        await page.getByLabel('New password again').fill(NEW_PASSWORD);
        await page.getByRole('button', { name: 'Change password' }).click();
        await waitText('.msg.ok', /Password changed/, 'password change');
        try {
            await second.goto(`${base}#/users`);
            await second.locator('main[data-page="login"]').waitFor();
        } finally {
            await other.close();
        }
        await page.locator('#logout').click();
        await page.locator('main[data-page="login"]').waitFor();
        await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.locator('main[data-page="dashboard"]').waitFor();
        result.password = NEW_PASSWORD;
    });

    await step('factory reset waits for the typed confirmation (not pressed)', async () => {
        await open('system');
        const erase = page.getByRole('button', { name: 'Erase everything' });
        if (!(await erase.isDisabled())) throw new Error('enabled before the confirmation');
        await page.getByLabel('Type "factory reset" to confirm').fill('factory');
        if (!(await erase.isDisabled())) throw new Error('enabled by a partial confirmation');
        await page.getByLabel('Type "factory reset" to confirm').fill('factory reset');
        if (await erase.isDisabled()) throw new Error('still disabled after the confirmation');
        await page.getByLabel('Type "factory reset" to confirm').fill('');
    });

    await step('reboot (two presses) restarts the pipelines', async () => {
        await open('system');
        const reboot = page.getByRole('button', { name: 'Reboot' });
        await reboot.click();
        await page.getByRole('button', { name: 'Press again to reboot' }).click();
        result.reboot = await waitText('.msg.ok', /restart/, 'reboot');
    });

    await step('every page opens (desktop)', async () => {
        for (const name of PAGES) {
            await open(name);
            await page.locator('main h1').first().waitFor();
            // Pages that load figures show them within a second or two.
            await page.waitForTimeout(name === 'dashboard' ? 2500 : 800);
            const error = await page.locator('main > .msg.error').count();
            if (error) throw new Error(`${name}: ${await page.locator('main > .msg.error').first().innerText()}`);
            await shot(`desktop-${name}`);
        }
        // The dark scheme, as a laptop set to dark mode shows it.
        await page.emulateMedia({ colorScheme: 'dark' });
        for (const name of ['dashboard', 'channels']) {
            await open(name);
            await page.waitForTimeout(800);
            await shot(`dark-${name}`);
        }
        await page.emulateMedia({ colorScheme: 'light' });
    });

    await step('dashboard and channels on a phone (390x844)', async () => {
        // A phone's context (touch, overlay scroll bars, the viewport meta tag honoured)
        // with this session's cookie.
        const phone = await session.browser.newContext({
            storageState: await context.storageState(),
            viewport: { width: 390, height: 844 },
            isMobile: true,
            hasTouch: true,
        });
        try {
            const p = await phone.newPage();
            p.on('pageerror', (err) => session.pageErrors.push(String(err?.message ?? err)));
            p.on('console', (m) => session.consoleMessages.push({ type: m.type(), text: m.text(), url: m.location().url }));
            for (const name of ['dashboard', 'channels']) {
                await p.goto(`${base}#/${name}`);
                await p.locator(`main[data-page="${name}"]`).waitFor();
                await p.waitForTimeout(name === 'dashboard' ? 2500 : 800);
                // Nothing may widen the page itself: rows turn into cards.
                const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
                if (overflow > 1) throw new Error(`${name} is ${overflow} px wider than the phone`);
                const file = path.join(dir, `phone-${name}.png`);
                await p.screenshot({ path: file, fullPage: true });
                screenshots.push(file);
            }
        } finally {
            await phone.close();
        }
    });

    await step('no script error and no CSP violation', async () => {
        // Refusals the walk provokes (wrong code and password, the duplicate address, the
        // scan without a tuner) are logged by Chromium as failed loads; nothing else may be.
        const expected = (m) =>
            /Failed to load resource: the server responded with a status of 4\d\d/.test(m.text) ||
            (/status of 503/.test(m.text) && m.url.includes('/api/v1/scans'));
        const bad = session.consoleMessages.filter((m) => m.type === 'error' && !expected(m));
        result.console_errors = bad;
        result.page_errors = session.pageErrors;
        if (session.pageErrors.length) throw new Error(`page errors: ${session.pageErrors.join(' | ')}`);
        if (bad.length) throw new Error(`console errors: ${bad.map((m) => m.text).join(' | ')}`);
    });

    result.ok = true;
} catch (err) {
    result.reason = err.message;
    result.console_errors ??= session.consoleMessages.filter((m) => m.type === 'error');
    result.page_errors ??= session.pageErrors;
    try {
        await shot('failure');
    } catch {
        // the page is gone
    }
} finally {
    await context.close().catch(() => {});
    await session.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok ? 0 : EXIT_FAIL);
