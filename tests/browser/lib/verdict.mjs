// The parts of play-hls.mjs that need no browser: its command line, and the judgement of
// a playback from the currentTime samples it took. Kept apart so they are unit-tested
// (test/verdict.test.mjs) without starting Chromium.

/** How long playback may take to start, from loading the playlist. */
export const START_TIMEOUT_MS = 20_000;
/** Interval between two currentTime samples. */
export const SAMPLE_INTERVAL_MS = 500;
/** Share of the wall-clock time that currentTime must advance by for a pass. */
export const MIN_ADVANCE_RATIO = 0.8;
/**
 * A sampling interval in which currentTime moved less than this (seconds) counts as
 * stalled. Real-time playback moves it by about SAMPLE_INTERVAL_MS; timer jitter does
 * not bring that anywhere near this.
 */
export const STALL_EPSILON_S = 0.05;

export const DEFAULT_SECONDS = 10;

export class UsageError extends Error {
    constructor(message) {
        super(message);
        this.name = 'UsageError';
    }
}

export const USAGE = 'usage: play-hls.mjs [--cross-origin] [--audio-only] URL [SECONDS=10]';

/**
 * Parses play-hls.mjs's arguments (without node and the script).
 * Returns { url, seconds, crossOrigin, audioOnly }; throws UsageError on anything else.
 */
export function parseArgs(argv) {
    let crossOrigin = false;
    let audioOnly = false;
    const positional = [];
    for (const arg of argv) {
        if (arg === '--cross-origin') {
            crossOrigin = true;
        } else if (arg === '--audio-only') {
            audioOnly = true;
        } else if (arg === '-h' || arg === '--help') {
            throw new UsageError(USAGE);
        } else if (arg.startsWith('-') && arg !== '-') {
            throw new UsageError(`unknown option ${arg}; ${USAGE}`);
        } else {
            positional.push(arg);
        }
    }
    if (positional.length < 1 || positional.length > 2) {
        throw new UsageError(USAGE);
    }
    let url;
    try {
        url = new URL(positional[0]);
    } catch {
        throw new UsageError(`URL ${JSON.stringify(positional[0])} is not an absolute URL; ${USAGE}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UsageError(`URL ${url.href} is not http(s); hls.js loads playlists over HTTP`);
    }
    let seconds = DEFAULT_SECONDS;
    if (positional.length === 2) {
        const text = positional[1];
        seconds = Number(text);
        // Sampling every 500 ms needs at least one interval; an hour is far beyond any test.
        if (!/^\d+(\.\d+)?$/.test(text) || !(seconds >= 0.5 && seconds <= 3600)) {
            throw new UsageError(`SECONDS ${JSON.stringify(text)} must be a number from 0.5 to 3600`);
        }
    }
    return { url: url.href, seconds, crossOrigin, audioOnly };
}

/**
 * Judges a playback.
 *
 * samples   [{t_ms, current_time}] taken every SAMPLE_INTERVAL_MS once playback started
 *           (empty when it never did)
 * seconds   how long playback was meant to be watched
 * started   whether playback started before START_TIMEOUT_MS
 * fatal     the first fatal hls.js error ({type, details}) or null
 * supported whether the page has Media Source Extensions hls.js can use
 * videoFrames video frames decoded while sampling, or null when no picture is expected
 *           (a radio service). currentTime alone does not show a picture: a stream whose
 *           video the browser cannot decode (MPEG-2) plays on its audio track with
 *           currentTime advancing and a blank video element.
 *
 * Returns { advanced_s, stalls, ok, reason }: `stalls` counts runs of consecutive
 * stalled intervals (one long freeze is one stall), `reason` says why ok is false
 * (null when ok).
 */
export function judge({ samples, seconds, started, fatal, supported = true, videoFrames = null }) {
    let advanced = 0;
    let stalls = 0;
    if (samples.length > 0) {
        advanced = samples[samples.length - 1].current_time - samples[0].current_time;
        let inStall = false;
        for (let i = 1; i < samples.length; i++) {
            const stalled = samples[i].current_time - samples[i - 1].current_time < STALL_EPSILON_S;
            if (stalled && !inStall) stalls++;
            inStall = stalled;
        }
    }
    const advanced_s = Math.round(advanced * 1000) / 1000;
    const needed = MIN_ADVANCE_RATIO * seconds;
    let reason = null;
    if (!supported) {
        reason = 'hls.js reports no usable Media Source Extensions in this browser';
    } else if (fatal) {
        reason = `fatal hls.js error ${fatal.type}/${fatal.details}`;
    } else if (!started) {
        reason = `playback did not start within ${START_TIMEOUT_MS / 1000} s`;
    } else if (!(advanced >= needed)) {
        reason = `currentTime advanced ${advanced_s} s in ${seconds} s, less than the ${needed} s needed`;
    } else if (videoFrames !== null && !(videoFrames > 0)) {
        reason =
            'currentTime advanced but no video frame was decoded (no picture; --audio-only if none is expected)';
    }
    return { advanced_s, stalls, ok: reason === null, reason };
}
