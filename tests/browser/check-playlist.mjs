#!/usr/bin/env node
// Checks an HLS playlist with a real, independent parser: hls-parser in strict mode.
//
//   node check-playlist.mjs URL
//
// Fetches URL; when it is a master playlist, fetches its first variant's media playlist.
// hls-parser in strict mode throws on what RFC 8216 forbids (among others: a segment
// whose EXTINF, rounded to the nearest integer, exceeds EXT-X-TARGETDURATION; a missing
// EXT-X-TARGETDURATION; EXT-X-MEDIA-SEQUENCE after the first segment). The rounding rule
// is checked here again, explicitly, so the verdict does not rest on one library's
// reading alone.
//
// One JSON line goes to stdout:
//   {"url", "ok", "error", "master": {uri, bandwidth, average_bandwidth, codecs,
//    resolution} | null, "media_url", "version", "target_duration", "media_sequence",
//    "discontinuity_sequence", "endlist", "independent_segments",
//    "segments": [{uri, url, duration, title, program_date_time, discontinuity}]}
// ("url" of a segment is its URI resolved against the playlist's URL, ready to fetch).
// Exit codes:
//   0  both playlists parsed in strict mode and every segment is within the target
//   1  the parser rejected a playlist, or a segment exceeds the target ("error" says why)
//   2  a playlist could not be fetched (not a 200), or hls-parser is not installed
//      (reason on stderr, nothing on stdout)
//   64 bad arguments
//
// Node.js 18 or later; node:http rather than fetch, which 18 still calls experimental.

import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';

const EXIT_REJECTED = 1;
const EXIT_UNAVAILABLE = 2;
const EXIT_USAGE = 64;
const FETCH_TIMEOUT_MS = 20_000;
// A playlist is text of a few kB; anything past this is not one.
const MAX_PLAYLIST_BYTES = 1 << 20;

function unavailable(message) {
    process.stderr.write(`check-playlist: ${message}\n`);
    process.exit(EXIT_UNAVAILABLE);
}

const argv = process.argv.slice(2);
if (argv.length !== 1 || argv[0].startsWith('-')) {
    process.stderr.write('usage: node check-playlist.mjs URL\n');
    process.exit(EXIT_USAGE);
}
let startUrl;
try {
    startUrl = new URL(argv[0]);
} catch {
    process.stderr.write(`check-playlist: not a URL: ${argv[0]}\n`);
    process.exit(EXIT_USAGE);
}
if (startUrl.protocol !== 'http:' && startUrl.protocol !== 'https:') {
    process.stderr.write(`check-playlist: not an http(s) URL: ${argv[0]}\n`);
    process.exit(EXIT_USAGE);
}

let HLS;
try {
    const require = createRequire(import.meta.url);
    HLS = require('hls-parser');
} catch (err) {
    unavailable(
        `hls-parser is not installed (${err.message.split('\n')[0]}); run \`npm ci\` in ` +
            'tests/browser (ensure_browser in scripts/lib/browser.sh does)',
    );
}
// Strict: throw instead of logging and carrying on. Silent: the thrown error is reported
// in the JSON, not also on the console.
HLS.setOptions({ strictMode: true, silent: true });

function get(url) {
    return new Promise((resolve, reject) => {
        const client = url.protocol === 'https:' ? https : http;
        const req = client.get(url, { headers: { Accept: '*/*' } }, (res) => {
            const chunks = [];
            let size = 0;
            res.on('data', (c) => {
                size += c.length;
                if (size > MAX_PLAYLIST_BYTES) {
                    req.destroy(new Error(`more than ${MAX_PLAYLIST_BYTES} bytes: not a playlist`));
                    return;
                }
                chunks.push(c);
            });
            res.on('end', () =>
                resolve({
                    status: res.statusCode,
                    contentType: res.headers['content-type'] ?? null,
                    text: Buffer.concat(chunks).toString('utf8'),
                }),
            );
            res.on('error', reject);
        });
        req.setTimeout(FETCH_TIMEOUT_MS, () =>
            req.destroy(new Error(`no answer within ${FETCH_TIMEOUT_MS} ms`)),
        );
        req.on('error', reject);
    });
}

async function fetchPlaylist(url) {
    let res;
    try {
        res = await get(url);
    } catch (err) {
        unavailable(`GET ${url}: ${err.message}`);
    }
    if (res.status !== 200) {
        unavailable(`GET ${url}: HTTP ${res.status}: ${res.text.slice(0, 200)}`);
    }
    return res.text;
}

const report = {
    url: startUrl.href,
    ok: false,
    error: null,
    master: null,
    media_url: null,
    version: null,
    target_duration: null,
    media_sequence: null,
    discontinuity_sequence: null,
    endlist: null,
    independent_segments: null,
    segments: [],
};

function finish(error) {
    report.ok = error === null;
    report.error = error;
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(error === null ? 0 : EXIT_REJECTED);
}

function parseStrict(text, url) {
    try {
        return HLS.parse(text);
    } catch (err) {
        finish(`${url}: ${err.message}`);
    }
    return null;
}

let mediaUrl = startUrl;
let playlist = parseStrict(await fetchPlaylist(startUrl), startUrl.href);
if (playlist.isMasterPlaylist) {
    const variants = playlist.variants.filter((v) => !v.isIFrameOnly);
    if (variants.length === 0) finish(`${startUrl.href}: a master playlist without variants`);
    const v = variants[0];
    report.master = {
        uri: v.uri,
        bandwidth: v.bandwidth ?? null,
        average_bandwidth: v.averageBandwidth ?? null,
        codecs: v.codecs ?? null,
        resolution: v.resolution ?? null,
        variants: variants.length,
    };
    mediaUrl = new URL(v.uri, startUrl);
    playlist = parseStrict(await fetchPlaylist(mediaUrl), mediaUrl.href);
    if (playlist.isMasterPlaylist) finish(`${mediaUrl.href}: a variant that is a master playlist`);
}
report.media_url = mediaUrl.href;
report.version = playlist.version ?? null;
report.target_duration = playlist.targetDuration;
report.media_sequence = playlist.mediaSequenceBase ?? 0;
report.discontinuity_sequence = playlist.discontinuitySequenceBase ?? 0;
report.endlist = Boolean(playlist.endlist);
report.independent_segments = Boolean(playlist.independentSegments);
report.segments = playlist.segments.map((s) => ({
    uri: s.uri,
    url: new URL(s.uri, mediaUrl).href,
    duration: s.duration,
    title: s.title || null,
    program_date_time: s.programDateTime ? s.programDateTime.toISOString() : null,
    discontinuity: Boolean(s.discontinuity),
}));

// RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer <= EXT-X-TARGETDURATION.
const over = report.segments.filter((s) => Math.round(s.duration) > report.target_duration);
if (over.length > 0) {
    finish(
        `${mediaUrl.href}: EXTINF ${over.map((s) => `${s.duration} (${s.uri})`).join(', ')} ` +
            `exceeds EXT-X-TARGETDURATION ${report.target_duration} once rounded`,
    );
}
if (report.segments.length === 0 && !report.endlist) {
    finish(`${mediaUrl.href}: a live playlist without segments`);
}
finish(null);
