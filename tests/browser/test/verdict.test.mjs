// Unit tests of the harness's browser-free parts: `node --test test/` in tests/browser.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchFailureReason } from '../lib/launch.mjs';
import { MIN_ADVANCE_RATIO, SAMPLE_INTERVAL_MS, UsageError, judge, parseArgs } from '../lib/verdict.mjs';

// Samples every SAMPLE_INTERVAL_MS for `seconds`, currentTime moving by rate(i) per interval.
function samplesOf(seconds, rate, start = 4) {
    const out = [];
    let t = start;
    for (let i = 0; i <= (seconds * 1000) / SAMPLE_INTERVAL_MS; i++) {
        if (i > 0) t += rate(i);
        out.push({ t_ms: i * SAMPLE_INTERVAL_MS, current_time: t });
    }
    return out;
}

const realTime = () => SAMPLE_INTERVAL_MS / 1000;

test('real-time playback passes with no stall', () => {
    const v = judge({
        samples: samplesOf(10, realTime),
        seconds: 10,
        started: true,
        fatal: null,
        videoFrames: 250,
    });
    assert.equal(v.ok, true, v.reason);
    assert.equal(v.reason, null);
    assert.equal(v.advanced_s, 10);
    assert.equal(v.stalls, 0);
});

test('a freeze fails and counts as one stall however long it lasts', () => {
    // Plays 2 s, then frozen for the remaining 8 s.
    const samples = samplesOf(10, (i) => (i <= 4 ? 0.5 : 0));
    const v = judge({ samples, seconds: 10, started: true, fatal: null, videoFrames: 50 });
    assert.equal(v.ok, false);
    assert.equal(v.advanced_s, 2);
    assert.equal(v.stalls, 1);
    assert.match(v.reason, /advanced 2 s in 10 s/);
});

test('two separate freezes are two stalls, and short ones still allow a pass', () => {
    const samples = samplesOf(10, (i) => (i === 5 || i === 12 ? 0 : 0.5));
    const v = judge({ samples, seconds: 10, started: true, fatal: null, videoFrames: 240 });
    assert.equal(v.stalls, 2);
    assert.equal(v.advanced_s, 9);
    assert.equal(v.ok, true, v.reason);
});

test('the pass mark is 0.8 of the watched time', () => {
    const seconds = 10;
    const needed = MIN_ADVANCE_RATIO * seconds;
    const at = (advance) => [
        { t_ms: 0, current_time: 100 },
        { t_ms: seconds * 1000, current_time: 100 + advance },
    ];
    assert.equal(judge({ samples: at(needed), seconds, started: true, fatal: null }).ok, true);
    assert.equal(judge({ samples: at(needed - 0.01), seconds, started: true, fatal: null }).ok, false);
});

test('a fatal hls.js error fails even when time advanced', () => {
    const fatal = { type: 'mediaError', details: 'bufferAppendError' };
    const v = judge({
        samples: samplesOf(10, realTime),
        seconds: 10,
        started: true,
        fatal,
        videoFrames: 250,
    });
    assert.equal(v.ok, false);
    assert.equal(v.reason, 'fatal hls.js error mediaError/bufferAppendError');
});

test('playback that never started fails with no samples', () => {
    const v = judge({ samples: [], seconds: 10, started: false, fatal: null });
    assert.equal(v.ok, false);
    assert.equal(v.advanced_s, 0);
    assert.match(v.reason, /did not start within 20 s/);
});

test('no usable MSE is reported as such', () => {
    const v = judge({ samples: [], seconds: 10, started: false, fatal: null, supported: false });
    assert.equal(v.ok, false);
    assert.match(v.reason, /Media Source Extensions/);
});

test('time advancing without a decoded frame fails unless no picture is expected', () => {
    const samples = samplesOf(5, realTime);
    const blank = judge({ samples, seconds: 5, started: true, fatal: null, videoFrames: 0 });
    assert.equal(blank.ok, false);
    assert.match(blank.reason, /no video frame/);
    const radio = judge({ samples, seconds: 5, started: true, fatal: null, videoFrames: null });
    assert.equal(radio.ok, true, radio.reason);
});

test('arguments: URL and optional seconds', () => {
    assert.deepEqual(parseArgs(['http://127.0.0.1:8080/hls/1/index.m3u8']), {
        url: 'http://127.0.0.1:8080/hls/1/index.m3u8',
        seconds: 10,
        crossOrigin: false,
        audioOnly: false,
    });
    assert.deepEqual(parseArgs(['--cross-origin', 'http://[::1]:9/a.m3u8', '2.5', '--audio-only']), {
        url: 'http://[::1]:9/a.m3u8',
        seconds: 2.5,
        crossOrigin: true,
        audioOnly: true,
    });
});

test('arguments: bad ones are usage errors naming the culprit', () => {
    const bad = [
        [[], /usage/],
        [['not a url'], /not an absolute URL/],
        [['file:///tmp/a.m3u8'], /not http/],
        [['http://127.0.0.1/a.m3u8', '0'], /SECONDS "0"/],
        [['http://127.0.0.1/a.m3u8', '-3'], /unknown option -3/],
        [['http://127.0.0.1/a.m3u8', '10s'], /SECONDS "10s"/],
        [['http://127.0.0.1/a.m3u8', '7200'], /SECONDS "7200"/],
        [['http://127.0.0.1/a.m3u8', '10', 'extra'], /usage/],
        [['--verbose', 'http://127.0.0.1/a.m3u8'], /unknown option --verbose/],
    ];
    for (const [argv, message] of bad) {
        assert.throws(
            () => parseArgs(argv),
            (err) => err instanceof UsageError && message.test(err.message),
            argv.join(' '),
        );
    }
});

test("launch failures are told by the browser's stderr and exit status", () => {
    // The shape of playwright-core's error when the browser exits at once.
    const message =
        'browserType.launch: Target page, context or browser has been closed\nBrowser logs:\n\n' +
        '<launching> /usr/lib/chromium/chromium --headless\n<launched> pid=42\n' +
        '[pid=42][err] chromium: error while loading shared libraries: libnss3.so\n' +
        'Call log:\n\u001b[2m  - [pid=42][err] chromium: error while loading shared libraries: libnss3.so\u001b[22m\n' +
        '\u001b[2m  - [pid=42] <process did exit: exitCode=127, signal=null>\u001b[22m\n';
    assert.equal(
        launchFailureReason(message),
        'Target page, context or browser has been closed; browser exited (exitCode=127, signal=null); ' +
            'its stderr: chromium: error while loading shared libraries: libnss3.so',
    );
    assert.equal(
        launchFailureReason('browserType.launch: Timeout 30000ms exceeded.'),
        'Timeout 30000ms exceeded.',
    );
});
