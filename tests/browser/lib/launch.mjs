// Starts Debian's Chromium headless under playwright-core, for dvbgate's browser tests.
//
// The tests must see what a real browser on a hotel TV or laptop sees, so they drive
// Debian's own `chromium` package (not a browser build downloaded by Playwright: nothing
// outside the package registries can be fetched here, and Debian's build is the one a
// technician's machine has). Playwright only speaks the DevTools protocol to it over a
// pipe.
//
// Playwright normally adds some forty switches of its own. We launch with exactly the
// switches dvbgate's issue 4 names, plus the ones a container needs and the two that
// Playwright's pipe transport cannot do without, so a test result does not depend on a
// Playwright release's choice of switches. The list is exported for reports.
//
// Usage:
//   const session = await launchBrowser();          // throws BrowserStartError
//   await session.page.goto(url);
//   ... session.consoleMessages, session.pageErrors, session.requestFailures ...
//   await session.close();

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// The switches issue 4 prescribes: headless, no sandbox (tests run as root, where
// Chromium's sandbox refuses to start), no GPU (there is none), and no traffic of the
// browser's own (update checks, component downloads, first-run pages).
export const ISSUE_FLAGS = Object.freeze([
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
]);

// Containers give /dev/shm 64 MiB; Chromium's renderers crash when it runs full
// (Debian's own launcher script adds the same switch when /dev/shm is small).
export const CONTAINER_FLAGS = Object.freeze(['--disable-dev-shm-usage']);

// Candidates for the browser binary, best first. Debian's /usr/bin/chromium is a shell
// wrapper that sources /etc/chromium.d and adds switches of its own
// (--enable-remote-extensions, --load-extension=..., --enable-gpu-rasterization), so the
// real binary behind it comes first.
const CHROMIUM_CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];

/** The browser could not be started; `reason` says why in one line. */
export class BrowserStartError extends Error {
    constructor(reason, options) {
        super(`cannot start Chromium: ${reason}`, options);
        this.name = 'BrowserStartError';
        this.reason = reason;
    }
}

/**
 * Path of the Chromium binary to drive: $DVBGATE_CHROMIUM (set by ensure_browser in
 * scripts/lib/browser.sh) when set, else the first Debian location that exists.
 * Throws BrowserStartError when there is none.
 */
export function chromiumExecutable(env = process.env) {
    const fromEnv = env.DVBGATE_CHROMIUM;
    if (fromEnv) {
        if (!isExecutable(fromEnv)) {
            throw new BrowserStartError(`DVBGATE_CHROMIUM=${fromEnv} is not an executable file`);
        }
        return fromEnv;
    }
    const found = CHROMIUM_CANDIDATES.find(isExecutable);
    if (!found) {
        throw new BrowserStartError(
            `no Chromium at ${CHROMIUM_CANDIDATES.join(' or ')}; install Debian's chromium ` +
                '(ensure_browser in scripts/lib/browser.sh does) or set DVBGATE_CHROMIUM',
        );
    }
    return found;
}

function isExecutable(file) {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/**
 * Launches Chromium and opens one page.
 *
 * options.executablePath  the browser (default: chromiumExecutable())
 * options.extraArgs       switches added after ours (a later test's own needs)
 * options.timeoutMs       how long the browser may take to come up (default 30 s)
 * options.viewport        {width, height} of the page (default 1280x720)
 *
 * Resolves to a session: { browser, context, page, version, executablePath, args,
 * launchMs, consoleMessages, pageErrors, requestFailures, close() }. The three lists fill
 * while the page runs: console messages as {type, text, url}, uncaught page errors as
 * strings, failed requests as {url, error}. Each keeps its first `maxLog` entries
 * (default 200) so a looping error cannot eat the memory.
 */
export async function launchBrowser(options = {}) {
    const executablePath = options.executablePath ?? chromiumExecutable();
    const timeoutMs = options.timeoutMs ?? 30_000;
    const maxLog = options.maxLog ?? 200;
    // Our own profile directory: Playwright only passes one when it also adds its
    // default switches, which we leave out.
    const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvbgate-chromium-'));
    const removeProfile = () => fs.rmSync(profileDir, { recursive: true, force: true });
    process.once('exit', removeProfile);
    const args = [
        ...ISSUE_FLAGS,
        ...CONTAINER_FLAGS,
        // Playwright's transport: the DevTools protocol on fds 3 and 4, and a profile.
        '--remote-debugging-pipe',
        `--user-data-dir=${profileDir}`,
        ...(options.extraArgs ?? []),
    ];

    const t0 = performance.now();
    let browser;
    try {
        browser = await chromium.launch({
            executablePath,
            headless: true,
            ignoreDefaultArgs: true,
            args,
            timeout: timeoutMs,
        });
    } catch (err) {
        removeProfile();
        throw new BrowserStartError(`${executablePath}: ${launchFailureReason(err.message)}`, { cause: err });
    }
    const launchMs = Math.round(performance.now() - t0);

    const consoleMessages = [];
    const pageErrors = [];
    const requestFailures = [];
    const keep = (list, entry) => {
        if (list.length < maxLog) list.push(entry);
    };
    let context;
    let page;
    try {
        context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 720 } });
        page = await context.newPage();
    } catch (err) {
        await browser.close().catch(() => {});
        removeProfile();
        throw new BrowserStartError(`${executablePath} started but gave no page: ${firstLine(err.message)}`, {
            cause: err,
        });
    }
    page.on('console', (msg) =>
        keep(consoleMessages, { type: msg.type(), text: msg.text(), url: msg.location().url }),
    );
    page.on('pageerror', (err) => keep(pageErrors, String(err?.message ?? err)));
    page.on('requestfailed', (req) =>
        keep(requestFailures, { url: req.url(), error: req.failure()?.errorText ?? '' }),
    );

    return {
        browser,
        context,
        page,
        version: browser.version(),
        executablePath,
        args,
        launchMs,
        consoleMessages,
        pageErrors,
        requestFailures,
        async close() {
            await browser.close().catch(() => {});
            removeProfile();
        },
    };
}

/**
 * One line out of Playwright's launch error, whose first line is generic ("Target page,
 * context or browser has been closed"): the browser's own stderr and how it exited are
 * what tell a missing library from a refused switch.
 */
export function launchFailureReason(message) {
    // eslint-disable-next-line no-control-regex
    const text = String(message ?? '').replace(/\u001b\[[0-9;]*m/g, '');
    const browserLog = text.split('\nCall log:')[0];
    const stderr = [...browserLog.matchAll(/^\[pid=\d+\]\[err\] (.*)$/gm)]
        .map((m) => m[1].trim())
        .filter((l) => l !== '')
        .slice(0, 5);
    const exit = text.match(/<process did exit: (exitCode=[^,]*, signal=[^>]*)>/);
    const parts = [firstLine(text).replace(/^browserType\.launch: /, '')];
    if (exit) parts.push(`browser exited (${exit[1]})`);
    if (stderr.length > 0) parts.push(`its stderr: ${stderr.join(' | ')}`);
    return parts.join('; ');
}

function firstLine(text) {
    return (
        String(text ?? '')
            .split('\n')
            .find((l) => l.trim() !== '') ?? 'unknown error'
    );
}
