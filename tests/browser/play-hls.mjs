#!/usr/bin/env node
// Plays an HLS stream with hls.js in Debian's headless Chromium and says whether it played.
//
//   node play-hls.mjs [--cross-origin] [--audio-only] URL [SECONDS=10]
//
// hls.js is what most web players use for HLS: it fetches the playlist and the MPEG-TS
// segments itself, transmuxes them to fragmented MP4 in JavaScript and feeds them to the
// browser's Media Source Extensions. A stream that plays here plays in the players built
// on it. Chromium can play HLS natively too these days; the harness never lets it, so it
// is hls.js that is judged.
//
// The player page is given the stream's own origin (Playwright answers the page request
// itself; the stream's server never sees it), the way a page served by dvbgate would
// play it, so the server needs no CORS headers. --cross-origin serves the page from a
// loopback server of our own instead, for checking that a stream plays in a page of
// another origin (it then needs Access-Control-Allow-Origin).
//
// Once the video element fires `playing` (within 20 s), currentTime is sampled every
// 500 ms for SECONDS. One JSON line goes to stdout (see README.md); the exit code is
//   0  currentTime advanced by >= 0.8 x SECONDS, hls.js raised no fatal error, and video
//      frames were decoded meanwhile (currentTime also runs on a stream whose picture
//      cannot be decoded; --audio-only drops this condition, for radio services)
//   1  it did not (the JSON's "reason" says why)
//   2  the browser could not be started (reason on stderr, nothing on stdout)
//   64 bad arguments

import http from 'node:http';
import { createRequire } from 'node:module';
import { SAMPLE_INTERVAL_MS, START_TIMEOUT_MS, UsageError, judge, parseArgs } from './lib/verdict.mjs';

const EXIT_FAIL = 1;
const EXIT_NO_BROWSER = 2;
const EXIT_USAGE = 64;

// Errors hls.js may raise in a loop (a stalled buffer every few hundred ms) are kept up to
// this many; the rest are only counted.
const MAX_ERRORS = 100;
const MAX_CONSOLE = 20;
const PAGE_LOAD_TIMEOUT_MS = 10_000;

const PLAYER_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>dvbgate HLS check</title></head>
<body style="margin:0;background:#000">
<video id="video" muted autoplay playsinline width="640" height="360"></video>
</body></html>`;

let args;
try {
    args = parseArgs(process.argv.slice(2));
} catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`play-hls: ${err.message}\n`);
    process.exit(EXIT_USAGE);
}

// A missing node_modules is a missing tool, like a missing browser, not a failed stream.
let launchBrowser;
let hlsPath;
let hlsVersion;
let playwrightVersion;
try {
    ({ launchBrowser } = await import('./lib/launch.mjs'));
    const require = createRequire(import.meta.url);
    hlsPath = require.resolve('hls.js/dist/hls.min.js');
    hlsVersion = require('hls.js/package.json').version;
    playwrightVersion = require('playwright-core/package.json').version;
} catch (err) {
    process.stderr.write(
        `play-hls: cannot start Chromium: playwright-core or hls.js is not installed ` +
            `(${err.message.split('\n')[0]}); run \`npm ci\` in tests/browser ` +
            `(ensure_browser in scripts/lib/browser.sh does)\n`,
    );
    process.exit(EXIT_NO_BROWSER);
}

let session;
try {
    session = await launchBrowser();
} catch (err) {
    process.stderr.write(`play-hls: ${err.message}\n`);
    process.exit(EXIT_NO_BROWSER);
}

// Whatever hangs (a page that never answers, a wedged browser), the harness ends: the
// longest honest run is page load + start + sampling, and a little to close.
const deadlineMs = PAGE_LOAD_TIMEOUT_MS + START_TIMEOUT_MS + args.seconds * 1000 + 15_000;
const watchdog = setTimeout(() => {
    const reason = `harness timed out after ${deadlineMs / 1000} s (browser unresponsive)`;
    report({ url: args.url, ok: false, reason });
    process.exit(EXIT_FAIL);
}, deadlineMs);

let ownServer;
try {
    const result = await play(session, args);
    report(result);
    process.exitCode = result.ok ? 0 : EXIT_FAIL;
} catch (err) {
    report({ url: args.url, ok: false, reason: `harness error: ${err.message.split('\n')[0]}` });
    process.exitCode = EXIT_FAIL;
} finally {
    clearTimeout(watchdog);
    ownServer?.close();
    await session.close();
}

async function play(session, { url, seconds, crossOrigin, audioOnly }) {
    const { page } = session;
    const pageUrl = crossOrigin ? await startOwnServer() : await sameOriginPage(page, url);
    await page.goto(pageUrl, { waitUntil: 'load', timeout: PAGE_LOAD_TIMEOUT_MS });
    if (!crossOrigin) {
        // Only the page itself is answered by us; the stream's requests go out untouched.
        await page.unrouteAll();
    }
    await page.addScriptTag({ path: hlsPath });

    const setup = await page.evaluate(startPlayer, { url, maxErrors: MAX_ERRORS });
    let started = false;
    if (setup.supported) {
        // Wait for `playing`, a fatal error, or the start timeout.
        const until = performance.now() + START_TIMEOUT_MS;
        for (;;) {
            const s = await page.evaluate(() => ({
                playing: window.__dvbgate.playingAt !== null,
                fatal: window.__dvbgate.fatal,
            }));
            if (s.playing) {
                started = true;
                break;
            }
            if (s.fatal || performance.now() >= until) break;
            await sleep(100);
        }
    }

    const samples = [];
    // Raw page readings at the first and the latest sample: decoded video frames and audio
    // bytes over the sampling window come from their difference.
    let first = null;
    let last = null;
    if (started) {
        const t0 = performance.now();
        const count = Math.floor((seconds * 1000) / SAMPLE_INTERVAL_MS);
        for (let i = 0; i <= count; i++) {
            // Sample on a fixed schedule from t0, so a slow evaluate does not stretch the run.
            await sleep(t0 + i * SAMPLE_INTERVAL_MS - performance.now());
            const s = await page.evaluate(sampleVideo);
            first ??= s;
            last = s;
            samples.push({ t_ms: Math.round(performance.now() - t0), current_time: round3(s.currentTime) });
            if (s.fatal) break;
        }
    }

    const end = await page.evaluate(() => {
        const s = window.__dvbgate;
        const v = document.getElementById('video');
        const q = v.getVideoPlaybackQuality();
        const hls = window.__dvbgateHls;
        return {
            ...s,
            video: { width: v.videoWidth, height: v.videoHeight },
            frames: { decoded: q.totalVideoFrames, dropped: q.droppedVideoFrames },
            // Codecs the playlist declares for each level; a media playlist declares none,
            // and then the ones found in the segments stand for its one level.
            levels: hls
                ? hls.levels.map(
                      (l) =>
                          [l.videoCodec, l.audioCodec].filter(Boolean).join(',') ||
                          [s.codecs?.video, s.codecs?.audio].filter(Boolean).join(','),
                  )
                : [],
        };
    });

    const framesDecoded = first ? last.frames - first.frames : 0;
    const audioBytes = first && first.audioBytes !== null ? last.audioBytes - first.audioBytes : null;
    const verdict = judge({
        samples,
        seconds,
        started,
        fatal: end.fatal,
        supported: setup.supported,
        videoFrames: audioOnly ? null : framesDecoded,
    });
    return {
        url,
        started_after_ms: started ? Math.round(end.playingAt - end.loadAt) : null,
        samples,
        advanced_s: verdict.advanced_s,
        stalls: verdict.stalls,
        hls_errors: end.errors,
        hls_errors_dropped: end.errorsDropped,
        video: end.video,
        levels: end.levels,
        codecs: end.codecs,
        frames_decoded: framesDecoded,
        frames_dropped: end.frames.dropped,
        audio_decoded_bytes: audioBytes,
        waiting_events: end.waiting,
        page_errors: session.pageErrors,
        console_errors: session.consoleMessages
            .filter((m) => m.type === 'error' || m.type === 'warning')
            .slice(0, MAX_CONSOLE),
        mse: setup.mse,
        seconds,
        cross_origin: crossOrigin,
        audio_only: audioOnly,
        ok: verdict.ok,
        reason: verdict.reason,
    };

    // Hands the page a URL on the stream's origin and answers it with the player page.
    async function sameOriginPage(page, streamUrl) {
        const pageUrl = new URL('/__dvbgate_hls_check__.html', streamUrl).href;
        await page.route(pageUrl, (route) =>
            route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: PLAYER_HTML }),
        );
        return pageUrl;
    }
}

async function startOwnServer() {
    ownServer = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(PLAYER_HTML);
    });
    await new Promise((resolve, reject) => {
        ownServer.once('error', reject);
        ownServer.listen(0, '127.0.0.1', resolve);
    });
    return `http://127.0.0.1:${ownServer.address().port}/`;
}

// Runs in the page: starts hls.js on the video element and records what happens in
// window.__dvbgate for the sampling loop to read.
function startPlayer({ url, maxErrors }) {
    // Whether this Chromium was built with the proprietary codecs (H.264, AAC) at all.
    const mse = window.MediaSource
        ? { h264_aac: MediaSource.isTypeSupported('video/mp4; codecs="avc1.4d401e,mp4a.40.2"') }
        : null;
    const s = {
        loadAt: performance.now(),
        playingAt: null,
        fatal: null,
        errors: [],
        errorsDropped: 0,
        codecs: null,
        waiting: 0,
    };
    window.__dvbgate = s;
    const Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) {
        return { supported: false, mse };
    }
    const video = document.getElementById('video');
    video.addEventListener('playing', () => {
        if (s.playingAt === null) s.playingAt = performance.now();
    });
    video.addEventListener('waiting', () => {
        if (s.playingAt !== null) s.waiting++;
    });
    const hls = new Hls();
    window.__dvbgateHls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
        const e = { type: data.type, details: data.details, fatal: data.fatal };
        if (data.response && data.response.code) e.http_status = data.response.code;
        if (data.fatal && s.fatal === null) s.fatal = e;
        if (s.errors.length < maxErrors) s.errors.push(e);
        else s.errorsDropped++;
    });
    // What the transmuxer found in the segments: the codecs actually fed to the browser.
    hls.on(Hls.Events.BUFFER_CODECS, (_event, data) => {
        s.codecs = {};
        for (const [track, info] of Object.entries(data)) {
            // MPEG audio comes with a container ("audio/mpeg") and no codec string.
            if (info && (info.codec || info.container)) s.codecs[track] = info.codec || info.container;
        }
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
        // Muted autoplay is allowed; play() also covers a page that lost the autoplay race.
        video.play().catch(() => {});
    });
    hls.attachMedia(video);
    hls.loadSource(url);
    return { supported: true, mse };
}

// Runs in the page.
function sampleVideo() {
    const v = document.getElementById('video');
    return {
        currentTime: v.currentTime,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        // Chromium's count of decoded audio bytes: the only sign that sound is decoded.
        audioBytes: v.webkitAudioDecodedByteCount ?? null,
        fatal: window.__dvbgate.fatal !== null,
    };
}

function report(result) {
    process.stdout.write(
        `${JSON.stringify({
            ...result,
            browser: session?.version ?? null,
            hls_js: hlsVersion,
            playwright_core: playwrightVersion,
            launch_ms: session?.launchMs ?? null,
        })}\n`,
    );
}

function round3(x) {
    return Math.round(x * 1000) / 1000;
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
