#!/usr/bin/env bash
# Checks the browser harness itself against streams whose fate is known, made with ffmpeg
# from the bundled demo multiplex and served by python's http.server on loopback:
#   - an H.264/AAC live stream plays (exit 0)
#   - a playlist that 404s, one whose segments are garbage, a stream whose feed dies, an
#     MPEG-2 service (no picture in a browser), and a cross-origin page against a server
#     without CORS headers all fail (exit 1); the MPEG-2 service passes with
#     --audio-only, and the cross-origin page against a server that sends CORS headers
#   - a browser that cannot start gives exit 2
# Also runs the harness's unit tests. Prints "N passed, N failed"; exits 1 on any failure.
# Needs root (or sudo) only to install missing Debian packages. About 85 s.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/browser.sh
. ../../scripts/lib/browser.sh

ensure_browser
need_packages ffmpeg python3

work="$(mktemp -d /tmp/dvbgate-browser-selftest.XXXXXX)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    # ffmpeg writes a last segment on its way out; let it, or rm races with it.
    wait "${pids[@]}" 2>/dev/null || true
    rm -rf "$work" || true
}
trap cleanup EXIT

mux="$here/../../firmware/dvbgate/assets/demo-mux.ts"
[ -r "$mux" ] || die "no demo multiplex at $mux"

# live_hls DIR PROGRAM: a live sliding-window HLS stream of one program of the demo
# multiplex, looped in real time, in the background (its pid in $!).
live_hls() {
    mkdir -p "$work/www/$1"
    ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i "$mux" -map "0:p:$2" -c copy \
        -f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments \
        "$work/www/$1/index.m3u8" >"$work/ffmpeg-$1.log" 2>&1 &
}

step "serving test streams on loopback"
live_hls h264 101
pids+=($!)
live_hls mpeg2 103
pids+=($!)
live_hls dying 102
dying_pid=$!
pids+=($!)
mkdir -p "$work/www/garbage"
{
    printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n'
    for i in 0 1 2 3 4 5; do
        head -c 300000 /dev/urandom >"$work/www/garbage/seg$i.ts"
        printf '#EXTINF:2.0,\nseg%d.ts\n' "$i"
    done
    printf '#EXT-X-ENDLIST\n'
} >"$work/www/garbage/index.m3u8"
# The same files once more from a server that allows any origin, for --cross-origin.
cat >"$work/cors_server.py" <<'EOF'
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print(f"Serving HTTP on 127.0.0.1 port {server.server_address[1]}", flush=True)
server.serve_forever()
EOF
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.log" 2>&1 &
pids+=($!)
python3 -u "$work/cors_server.py" "$work/www" >"$work/http-cors.log" 2>&1 &
pids+=($!)
# listening_port LOG: the port a server above printed it listens on.
listening_port() {
    local port=""
    for _ in $(seq 50); do
        port="$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$1" | head -n1)"
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || die "HTTP server did not start: $(cat "$1")"
    echo "$port"
}
base="http://127.0.0.1:$(listening_port "$work/http.log")"
cors_base="http://127.0.0.1:$(listening_port "$work/http-cors.log")"
# Three 2 s segments before the first player asks: what a live player wants to start.
for _ in $(seq 100); do
    segments="$(grep -c '\.ts$' "$work/www/h264/index.m3u8" 2>/dev/null || true)"
    [ "${segments:-0}" -ge 3 ] && break
    sleep 0.1
done

passed=0
failed=0
# expect CODE NAME ARGS...: runs play-hls.mjs and checks its exit code.
expect() {
    local want="$1" name="$2" got=0
    shift 2
    node play-hls.mjs "$@" >"$work/out.json" 2>"$work/err.txt" || got=$?
    if [ "$got" -eq "$want" ]; then
        passed=$((passed + 1))
        printf 'ok   %-44s exit %d  %s\n' "$name" "$got" "$(summary)"
    else
        failed=$((failed + 1))
        printf 'FAIL %-44s exit %d, expected %d\n' "$name" "$got" "$want"
        cat "$work/out.json" "$work/err.txt"
    fi
}
summary() {
    if [ -s "$work/out.json" ]; then
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("started_after_ms=%s advanced_s=%s frames=%s launch_ms=%s reason=%s" % (d.get("started_after_ms"), d.get("advanced_s"), d.get("frames_decoded"), d.get("launch_ms"), d.get("reason")))' "$work/out.json"
    else
        head -c 200 "$work/err.txt"
    fi
}

step "unit tests"
if node --test test/; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

step "playing"
expect 0 "H.264/AAC live stream plays 10 s" "$base/h264/index.m3u8" 10
expect 1 "playlist 404s" "$base/missing/index.m3u8" 5
expect 1 "segments are garbage" "$base/garbage/index.m3u8" 5
expect 1 "MPEG-2/MP2 service: no picture" "$base/mpeg2/index.m3u8" 5
expect 0 "MPEG-2/MP2 service with --audio-only" --audio-only "$base/mpeg2/index.m3u8" 5
expect 1 "cross-origin page, server without CORS" --cross-origin "$base/h264/index.m3u8" 5
expect 0 "cross-origin page, server with CORS" --cross-origin "$cors_base/h264/index.m3u8" 5
# The feed dies about 2 s after playback starts: what the live window held (at most its
# 12 s) plays out, then the picture freezes, well short of the 24 s needed.
(sleep 3 && kill "$dying_pid" 2>/dev/null) &
pids+=($!)
expect 1 "feed dies during playback" "$base/dying/index.m3u8" 30
DVBGATE_CHROMIUM=/bin/false expect 2 "browser cannot start" "$base/h264/index.m3u8" 5

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
