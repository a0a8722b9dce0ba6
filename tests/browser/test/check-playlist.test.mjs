// check-playlist.mjs against playlists whose verdict is known, served from loopback by a
// server of the test's own: `node --test test/` in tests/browser.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

const SCRIPT = fileURLToPath(new URL('../check-playlist.mjs', import.meta.url));

const GOOD_MEDIA = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:17
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:4.000,
17.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z
#EXTINF:2.480,
18.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:09.000Z
#EXTINF:4.499,
/abs/19.ts
`;

const PLAYLISTS = {
    '/ch/live.m3u8': GOOD_MEDIA,
    '/ch/index.m3u8': `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2"
live.m3u8
`,
    // 4.5 rounds to 5, over the target of 4 (RFC 8216 4.3.3.1).
    '/bad/over.m3u8': GOOD_MEDIA.replace('4.499', '4.500'),
    '/bad/master-over.m3u8': `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1
over.m3u8
`,
    '/bad/no-target.m3u8': GOOD_MEDIA.replace('#EXT-X-TARGETDURATION:4\n', ''),
    '/bad/late-sequence.m3u8': GOOD_MEDIA.replace('#EXT-X-MEDIA-SEQUENCE:17\n', '').replace(
        '18.ts\n',
        '18.ts\n#EXT-X-MEDIA-SEQUENCE:17\n',
    ),
    // Decimal EXTINF needs EXT-X-VERSION 3.
    '/bad/no-version.m3u8': GOOD_MEDIA.replace('#EXT-X-VERSION:3\n', ''),
    '/bad/not-a-playlist.m3u8': '<html>hello</html>\n',
    '/bad/empty-live.m3u8': '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n',
};

let server;
let base;

before(async () => {
    server = http.createServer((req, res) => {
        const body = PLAYLISTS[req.url];
        if (body === undefined) {
            res.writeHead(404, { 'Content-Type': 'application/json' });
            res.end('{"error":"no such playlist"}');
            return;
        }
        res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl' });
        res.end(body);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

function run(...args) {
    return new Promise((resolve) => {
        execFile(process.execPath, [SCRIPT, ...args], (err, stdout, stderr) => {
            const code = err ? err.code : 0;
            const lines = stdout.trim().split('\n').filter(Boolean);
            resolve({ code, json: lines.length ? JSON.parse(lines[0]) : null, lines, stderr });
        });
    });
}

test('a master playlist is followed to its media playlist and reported', async () => {
    const r = await run(`${base}/ch/index.m3u8`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, 1, 'one JSON line');
    const v = r.json;
    assert.equal(v.ok, true);
    assert.equal(v.error, null);
    assert.deepEqual(v.master, {
        uri: 'live.m3u8',
        bandwidth: 900000,
        average_bandwidth: 800000,
        codecs: 'avc1.4d401e,mp4a.40.2',
        resolution: null,
        variants: 1,
    });
    assert.equal(v.media_url, `${base}/ch/live.m3u8`);
    assert.equal(v.version, 3);
    assert.equal(v.target_duration, 4);
    assert.equal(v.media_sequence, 17);
    assert.equal(v.discontinuity_sequence, 2);
    assert.equal(v.endlist, false);
    assert.deepEqual(
        v.segments.map((s) => [s.uri, s.url, s.duration, s.program_date_time, s.discontinuity]),
        [
            ['17.ts', `${base}/ch/17.ts`, 4, '2026-01-01T00:00:00.000Z', false],
            ['18.ts', `${base}/ch/18.ts`, 2.48, '2026-01-01T00:00:04.000Z', false],
            ['/abs/19.ts', `${base}/abs/19.ts`, 4.499, '2026-01-01T00:00:09.000Z', true],
        ],
    );
});

test('a media playlist is read directly', async () => {
    const r = await run(`${base}/ch/live.m3u8`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.master, null);
    assert.equal(r.json.segments.length, 3);
});

for (const [path, why] of [
    ['/bad/over.m3u8', /rounded to the nearest integer/],
    ['/bad/master-over.m3u8', /over\.m3u8.*rounded to the nearest integer/],
    ['/bad/no-target.m3u8', /EXT-X-TARGETDURATION/],
    ['/bad/late-sequence.m3u8', /EXT-X-MEDIA-SEQUENCE/],
    ['/bad/no-version.m3u8', /EXT-X-VERSION/],
    ['/bad/not-a-playlist.m3u8', /EXTM3U/],
    ['/bad/empty-live.m3u8', /without segments/],
]) {
    test(`rejected: ${path}`, async () => {
        const r = await run(`${base}${path}`);
        assert.equal(r.code, 1, `${r.stderr} ${JSON.stringify(r.json)}`);
        assert.equal(r.json.ok, false);
        assert.match(r.json.error, why);
    });
}

test('a playlist that cannot be fetched is exit 2 with the reason on stderr', async () => {
    const r = await run(`${base}/no/such.m3u8`);
    assert.equal(r.code, 2);
    assert.equal(r.lines.length, 0, 'nothing on stdout');
    assert.match(r.stderr, /HTTP 404/);
});

test('bad arguments are exit 64', async () => {
    assert.equal((await run()).code, 64);
    assert.equal((await run('ftp://127.0.0.1/x.m3u8')).code, 64);
    assert.equal((await run('not a url')).code, 64);
});
