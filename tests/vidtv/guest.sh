#!/bin/sh
# Guest runner of the vidtv VM: named scenarios against vidtv's DVB adapter.
#
# Runs inside the VM under busybox sh (scripts/vidtv-vm run --guest tests/vidtv/guest.sh),
# started by tests/vidtv/init as `sh /vidtv/guest.sh /out`. What the host put in:
#   /vidtv/bin/      the --bin programs (dvbgate), on PATH
#   /vidtv/files/    the --file files (e.g. the demo multiplex)
#   /usr/bin/...     the --tool programs (dvbv5-scan, dvbv5-zap), when given
#   /dev/dvb/adapter0/{frontend0,demux0,dvr0}   vidtv: DVB-T/T2/C/S/S2, one multiplex
#                    at 474 MHz (satellite: 11362 MHz, universal LNB) carrying the radio
#                    service "Beethoven" (service id 0x0880, audio PID 0x0111)
#
# Each scenario runs in a subshell in its own results directory /out/<name>/ (its
# output in log.txt) and ends with status pass, fail, or skip (exit 77 from `skip`,
# e.g. when an optional tool is absent); /out/summary.txt gets "<name> <result>
# <seconds>". The script exits 0 only if no scenario failed. VIDTV_SCENARIOS="a b"
# (scripts/vidtv-vm run --env VIDTV_SCENARIOS=...) runs only those.
#
# Adding a scenario: write a function that works in the current directory and exits
# non-zero on failure (or calls `skip`), then list it at the bottom. For a daemon:
#   dvbgate_start run --data "$PWD/data"   # waits until its HTTP API answers
#   api_get /api/v1/tuners tuners.json
#   dvbgate_stop                           # SIGTERM; fails if it does not exit 0
# vidtv facts that shape scenarios (../shared/research/vidtv-vm/NOTES.md): only the
# exact frequency locks; lock drops (drop_tslock_prob_on_low_snr) happen only on DVB-C
# with QAM/256 and INNER_FEC NONE, tuned within max_frequency_shift_hz (<= 255, a u8)
# of the frequency; strength values read while unlocked are garbage.

OUT=${1:-/out}
SUMMARY=$OUT/summary.txt
FAILED=0
: >"$SUMMARY"

up() { cut -d' ' -f1 /proc/uptime; }
have() { command -v "$1" >/dev/null 2>&1; }
# Inside a scenario: give up without failing.
skip() {
    echo "SKIP: $*"
    exit 77
}
die() {
    echo "FAIL: $*"
    exit 1
}

# scenario NAME FUNCTION: runs FUNCTION in /out/NAME, records the result.
scenario() {
    name=$1
    fn=$2
    case " ${VIDTV_SCENARIOS:-all} " in
        *" all "* | *" $name "*) ;;
        *) return 0 ;;
    esac
    dir=$OUT/$name
    mkdir -p "$dir"
    t0=$(up)
    (cd "$dir" && "$fn") >"$dir/log.txt" 2>&1
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
        0) result=pass ;;
        77) result=skip ;;
        *)
            result=fail
            FAILED=$((FAILED + 1))
            ;;
    esac
    echo "$result" >"$dir/status"
    echo "$name $result $secs" >>"$SUMMARY"
    echo "scenario $name: $result ($secs s)"
    if [ "$result" != pass ]; then tail -n 15 "$dir/log.txt" | sed 's/^/    /'; fi
}

# --- background processes and the HTTP API ----------------------------------------

# bg_start NAME COMMAND...: starts COMMAND in the background, output to NAME.log.
bg_start() {
    bg_name=$1
    shift
    "$@" >"$bg_name.log" 2>&1 &
    echo $! >"/tmp/bg-$bg_name.pid"
    echo "started $bg_name (pid $!): $*"
}

bg_running() { kill -0 "$(cat "/tmp/bg-$1.pid")" 2>/dev/null; }

# bg_stop NAME: SIGTERM, then SIGKILL after 10 s; returns the process's exit status.
bg_stop() {
    pid=$(cat "/tmp/bg-$1.pid")
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$1 did not stop within 10 s of SIGTERM: killed"
        kill -KILL "$pid"
    fi
    wait "$pid"
    rc=$?
    rm -f "/tmp/bg-$1.pid"
    echo "stopped $1: exit status $rc"
    return $rc
}

# wait_http URL SECONDS [NAME]: until URL answers 2xx; fails early if NAME died.
wait_http() {
    deadline=$(($(date +%s) + $2))
    while ! wget -q -O /dev/null "$1" 2>/dev/null; do
        if [ -n "${3:-}" ] && ! bg_running "$3"; then
            echo "$3 exited before $1 answered:"
            tail -n 20 "$3.log"
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "$1 did not answer within $2 s"
            return 1
        fi
        sleep 0.2
    done
}

API_PORT=8080
API=http://127.0.0.1:$API_PORT

# dvbgate_start SUBCOMMAND ARGS...: `dvbgate SUBCOMMAND --listen 127.0.0.1:8080 ARGS` in
# the background (log: dvbgate.log), returning once its API answers (60 s at most:
# everything is slow under TCG).
dvbgate_start() {
    sub=$1
    shift
    bg_start dvbgate env DVBGATE_LOG=info dvbgate "$sub" --listen "127.0.0.1:$API_PORT" "$@"
    wait_http "$API/api/v1/channels" 60 dvbgate
}

dvbgate_stop() { bg_stop dvbgate; }

# api_token: the administrator's API token of the running daemon (the file it names in
# dvbgate.log), or nothing.
api_token() {
    f=$(sed -n 's/^API token file: //p' dvbgate.log 2>/dev/null | tail -n1)
    [ -n "$f" ] && [ -r "$f" ] && cat "$f"
}

# api_get PATH FILE: GET $API/PATH into FILE, as the administrator.
api_get() { wget -q --header "Authorization: Bearer $(api_token)" -O "$2" "$API$1"; }

# --- vidtv tuning files (dvbv5 channel format) --------------------------------------

# vidtv_channels DIR: one file per delivery system, each with the service "Beethoven".
vidtv_channels() {
    mkdir -p "$1"
    cat >"$1/dvbt.conf" <<'EOF'
[Beethoven]
	SERVICE_ID = 2176
	AUDIO_PID = 273
	DELIVERY_SYSTEM = DVBT
	FREQUENCY = 474000000
	BANDWIDTH_HZ = 8000000
EOF
    cat >"$1/dvbt2.conf" <<'EOF'
[Beethoven]
	SERVICE_ID = 2176
	AUDIO_PID = 273
	DELIVERY_SYSTEM = DVBT2
	FREQUENCY = 474000000
	BANDWIDTH_HZ = 8000000
EOF
    cat >"$1/dvbc.conf" <<'EOF'
[Beethoven]
	SERVICE_ID = 2176
	AUDIO_PID = 273
	DELIVERY_SYSTEM = DVBC/ANNEX_A
	FREQUENCY = 474000000
	SYMBOL_RATE = 6940000
	MODULATION = QAM/256
	INNER_FEC = NONE
EOF
    # 100 Hz off: locks, but with the C/N below vidtv's threshold for QAM/256, so the
    # bridge drops lock with drop_tslock_prob_on_low_snr % per status poll.
    cat >"$1/dvbc-lockloss.conf" <<'EOF'
[Beethoven]
	SERVICE_ID = 2176
	AUDIO_PID = 273
	DELIVERY_SYSTEM = DVBC/ANNEX_A
	FREQUENCY = 474000100
	SYMBOL_RATE = 6940000
	MODULATION = QAM/256
	INNER_FEC = NONE
EOF
    # No MODULATION for DVB-S: libdvbv5 rejects it there.
    cat >"$1/dvbs.conf" <<'EOF'
[Beethoven]
	SERVICE_ID = 2176
	AUDIO_PID = 273
	DELIVERY_SYSTEM = DVBS
	FREQUENCY = 11362000
	POLARIZATION = HORIZONTAL
	SYMBOL_RATE = 27500000
	INNER_FEC = 3/4
	LNB = UNIVERSAL
EOF
    cat >"$1/dvbs2.conf" <<'EOF'
[Beethoven]
	SERVICE_ID = 2176
	AUDIO_PID = 273
	DELIVERY_SYSTEM = DVBS2
	FREQUENCY = 11362000
	POLARIZATION = VERTICAL
	SYMBOL_RATE = 27500000
	INNER_FEC = 3/4
	MODULATION = PSK/8
	LNB = UNIVERSAL
EOF
    # An initial tuning file for a scan: only what locates the multiplex.
    cat >"$1/dvbt-scan.conf" <<'EOF'
[vidtv DVB-T]
	DELIVERY_SYSTEM = DVBT
	FREQUENCY = 474000000
	BANDWIDTH_HZ = 8000000
EOF
}

CHANNELS=/tmp/channels
vidtv_channels "$CHANNELS"

# --- scenarios ------------------------------------------------------------------------

# vidtv's adapter is there, with the three nodes a DVB daemon uses.
s_nodes() {
    # shellcheck disable=SC2012 # a listing for people; the names are known
    ls -l /dev/dvb/adapter0/ | tee nodes.txt
    cat /sys/class/dvb/*/uevent >uevent.txt 2>&1
    for n in frontend0 demux0 dvr0; do
        [ -c "/dev/dvb/adapter0/$n" ] || die "/dev/dvb/adapter0/$n is missing"
    done
}

s_version() {
    dvbgate --version | tee version.txt
    [ -s version.txt ] || die "dvbgate --version printed nothing"
}

# dvbgate probe on each file the host passed.
s_probe_file() {
    found=0
    for f in /vidtv/files/*.ts; do
        [ -f "$f" ] || continue
        found=1
        base=$(basename "$f" .ts)
        dvbgate probe --json "$f" >"$base.json" || die "dvbgate probe --json $f failed"
        echo "probed $f: $(wc -c <"$base.json") bytes of JSON"
    done
    [ $found = 1 ] || skip "no .ts file in /vidtv/files (scripts/vidtv-vm run --file X.ts)"
}

# The reference scanner finds vidtv's service (for comparison with dvbgate scan).
s_dvbv5_scan() {
    have dvbv5-scan || skip "dvbv5-scan not in the VM (scripts/vidtv-vm run --tool dvbv5-scan)"
    dvbv5-scan -a 0 -o channels.conf "$CHANNELS/dvbt-scan.conf" || die "dvbv5-scan failed"
    cat channels.conf
    grep -q '^\[Beethoven\]' channels.conf || die "the scan did not find Beethoven"
}

# The reference tuner records the whole multiplex from dvr0; dvbgate probes it here,
# the host checks the recording too.
s_dvbv5_zap() {
    have dvbv5-zap || skip "dvbv5-zap not in the VM (scripts/vidtv-vm run --tool dvbv5-zap)"
    # -P: every PID (vidtv pads ~87 % with NULL packets, ~2.3 MB/s).
    dvbv5-zap -a 0 -c "$CHANNELS/dvbt.conf" -P -t 2 -o capture.ts Beethoven \
        || die "dvbv5-zap failed"
    size=$(wc -c <capture.ts)
    echo "recorded $size bytes"
    [ "$size" -ge $((188 * 1000)) ] || die "the recording is too short ($size bytes)"
    dvbgate probe --json capture.ts >probe.json || die "dvbgate probe of the recording failed"
    grep -q '"Beethoven"' probe.json || die "dvbgate probe does not name Beethoven"
}

# dvbgate demo in the background, its API, and one channel received by multicast on
# loopback inside the VM: proves the helpers and the guest's network set-up.
s_demo_multicast() {
    mux=""
    for f in /vidtv/files/*.ts; do [ -f "$f" ] && mux=$f && break; done
    [ -n "$mux" ] || skip "no .ts file in /vidtv/files for dvbgate demo"
    dvbgate_start demo --input "$mux" || die "dvbgate demo did not start"
    api_get /api/v1/channels channels.json || die "GET /api/v1/channels failed"
    # No jq here: one JSON member per line is enough to pick the first channel's group.
    group=$(tr ',' '\n' <channels.json | sed -n 's/.*"multicast" *: *"\([^"]*\)".*/\1/p' | head -n1)
    [ -n "$group" ] || die "no multicast address in channels.json"
    echo "probing $group"
    dvbgate probe --json --duration 3 "$group" >multicast-probe.json
    rc=$?
    dvbgate_stop || die "dvbgate demo did not stop cleanly"
    [ $rc = 0 ] || die "dvbgate probe $group failed ($rc)"
}

# --- dvbgate against the tuner ------------------------------------------------------

# The configuration the scan scenario creates and the daemon scenarios run from.
DATA=/tmp/dvbgate-data

# api_send METHOD PATH JSON FILE: a request with a JSON body; FILE gets the answer.
# Prints the HTTP status.
api_send() {
    curl -s -o "$4" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $(api_token)" --data "$3" "$API$2"
}

# json_field FILE KEY: the first "KEY": value in FILE (numbers and strings; enough here).
json_field() {
    tr ',{}[' '\n\n\n\n' <"$1" | sed -n "s/^ *\"$2\" *: *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p" | head -n1
}

# wait_live SECONDS: until a channel reports "live".
wait_live() {
    deadline=$(($(date +%s) + $1))
    while :; do
        api_get /api/v1/channels live.json
        grep -q '"status": *"live"' live.json && return 0
        [ "$(date +%s)" -ge "$deadline" ] && { echo "no channel live within $1 s:"; cat live.json; return 1; }
        sleep 0.5
    done
}

# The tuners dvbgate sees.
s_tuners() {
    dvbgate tuners | tee tuners.txt || die "dvbgate tuners failed"
    dvbgate tuners --json >tuners.json || die "dvbgate tuners --json failed"
}

# dvbgate scan: from a dvbv5 file into the store, a rescan that merges, and each
# delivery system by URL (dry runs); a frequency nothing transmits on; one out of range.
s_scan() {
    rm -rf "$DATA"
    dvbgate scan --data "$DATA" "$CHANNELS/dvbt-scan.conf" | tee scan.txt || die "dvbgate scan failed"
    dvbgate scan --data "$DATA" --json "$CHANNELS/dvbt-scan.conf" >rescan.json || die "the rescan failed"
    echo 'T 474000000 8MHz AUTO AUTO AUTO AUTO AUTO AUTO' >legacy.conf
    dvbgate scan --dry-run --json legacy.conf >legacy.json || die "scan of a legacy file failed"
    dvbgate scan --dry-run --json 'dvb-t2://474MHz?bandwidth=8MHz' >dvbt2.json || die "DVB-T2 scan failed"
    dvbgate scan --dry-run --json 'dvb-c://474MHz?symbol_rate=6940000&modulation=qam256' >dvbc.json \
        || die "DVB-C scan failed"
    dvbgate scan --dry-run --json 'dvb-s2://11362MHz?polarisation=h&symbol_rate=27500000&modulation=8psk&fec=3/4' \
        >dvbs2.json || die "DVB-S2 scan failed"
    if dvbgate scan --dry-run --json 'dvb-t://522MHz?bandwidth=8MHz' >nolock.json 2>nolock.err; then
        die "a scan where nothing transmits succeeded"
    fi
    if dvbgate scan --dry-run 'dvb-t://45MHz?bandwidth=8MHz' >range.txt 2>&1; then
        die "a frequency out of range was scanned"
    fi
    cat range.txt
    printf '[CHANNEL]\n\tDELIVERY_SYSTEM = DVBT\n\tFREQUENCY = lots\n' >garbage.conf
    if dvbgate scan --dry-run garbage.conf >garbage.txt 2>&1; then
        die "a garbage tuning file was accepted"
    fi
    cat garbage.txt
}

# dvbgate run from the scanned store: enable the channel (and rename and renumber it),
# receive its SPTS by multicast, read the tuner's statistics; a rescan through the API
# keeps the edits; a second program cannot take the busy frontend.
s_stream() {
    [ -d "$DATA" ] || die "no store: the scan scenario did not run"
    dvbgate_start run --data "$DATA" || die "dvbgate run did not start"
    api_get /api/v1/channels channels-before.json || die "GET /api/v1/channels"
    number=$(json_field channels-before.json number)
    [ -n "$number" ] || die "no channel after the scan: $(cat channels-before.json)"
    code=$(api_send PATCH "/api/v1/channels/$number" '{"enabled": true, "name": "Klassik", "number": 42}' patched.json)
    [ "$code" = 200 ] || die "PATCH channel $number: $code $(cat patched.json)"
    wait_live 60 || die "the channel did not go live"
    group=$(json_field patched.json multicast | sed 's|^udp://@||')
    echo "capturing $group"
    ts-capture 8 "$group" stream.ts >capture.json || die "ts-capture failed"
    cat capture.json
    api_get /api/v1/tuners tuners.json
    api_get /api/v1/inputs inputs.json
    # Another program wants the same frontend while the daemon streams from it.
    dvbgate scan --dry-run 'dvb-t://474MHz?bandwidth=8MHz' >busy.txt 2>&1
    cat busy.txt
    # A rescan through the API: the running multiplex answers it.
    code=$(api_send POST /api/v1/scans '{"tunings": ["dvb-t://474MHz?bandwidth=8MHz"]}' scan-started.json)
    [ "$code" = 202 ] || die "POST /api/v1/scans: $code $(cat scan-started.json)"
    id=$(json_field scan-started.json id)
    i=0
    while :; do
        api_get "/api/v1/scans/$id" scan-api.json
        grep -q '"state": *"running"' scan-api.json || break
        i=$((i + 1))
        [ $i -lt 120 ] || die "the API scan did not finish"
        sleep 0.5
    done
    api_get /api/v1/channels channels-after.json
    api_get /api/v1/tuners tuners-after.json
    dvbgate_stop || die "dvbgate run did not stop cleanly"
}

# DVB-C 100 Hz off with vidtv's lock drops: the daemon keeps retuning and the channel's
# output resumes. Tuner reports every 2 s go to tuners.log (one JSON document per line).
s_recovery() {
    data=/tmp/dvbgate-recovery
    rm -rf "$data"
    dvbgate_start run --data "$data" || die "dvbgate run did not start"
    code=$(api_send POST /api/v1/inputs '{"name": "cable", "url": "dvb-c://474000100?symbol_rate=6940000&modulation=qam256&fec=none"}' input.json)
    [ "$code" = 201 ] || die "POST input: $code $(cat input.json)"
    input=$(json_field input.json id)
    code=$(api_send POST /api/v1/channels "{\"input_id\": $input, \"service_id\": 2176, \"name\": \"Beethoven\"}" channel.json)
    [ "$code" = 201 ] || die "POST channel: $code $(cat channel.json)"
    group=$(json_field channel.json multicast | sed 's|^udp://@||')
    ts-capture 24 "$group" recovery.ts >capture.json &
    cap=$!
    : >tuners.log
    i=0
    while [ $i -lt 12 ]; do
        api_get /api/v1/tuners t.json && { tr -d '\n' <t.json; echo; } >>tuners.log
        sleep 2
        i=$((i + 1))
    done
    wait $cap || die "ts-capture failed"
    cat capture.json
    api_get /api/v1/tuners tuners.json
    api_get /api/v1/inputs inputs.json
    dvbgate_stop || die "dvbgate run did not stop cleanly"
}

# wait_tuner free|held SECONDS FILE [SINCE]: until /api/v1/tuners (saved in FILE) shows
# vidtv's tuner without holders (free) or with one (held). Prints the seconds it took
# (since the uptime SINCE if given).
wait_tuner() {
    t0=${4:-$(up)}
    deadline=$(($(date +%s) + $2))
    while :; do
        api_get /api/v1/tuners "$3"
        if grep -q '"holders": *\[\]' "$3"; then now=free; else now=held; fi
        [ "$now" = "$1" ] && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "the tuner is not $1 within $2 s:" >&2
            cat "$3" >&2
            return 1
        fi
        sleep 0.25
    done
    awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'
}

# ts_starts_with_pat FILE: its first packet is a PAT (sync byte 0x47, PID 0).
ts_starts_with_pat() {
    # shellcheck disable=SC2046 # three numbers
    set -- $(od -A n -t u1 -N 3 "$1")
    [ "${1:-}" = 71 ] && [ $((${2:-1} & 31)) = 0 ] && [ "${3:-1}" = 0 ]
}

# hls_url NUMBER URI: a playlist's URI (absolute, or relative to /hls/NUMBER/) as a URL.
hls_url() {
    case $2 in
        http://* | https://*) echo "$2" ;;
        /*) echo "$API$2" ;;
        *) echo "$API/hls/$1/$2" ;;
    esac
}

# Channels with multicast off hold no tuner until someone watches them over HTTP: the
# tuner is let go when multicast is switched off; a playlist request tunes it again and
# the stream stops and frees the tuner after --stream-idle-seconds (3) without requests;
# an HTTP TS client starts it too and keeps it while connected. Then an on-demand
# channel of another multiplex cannot take the tuner from an always-on one (a 503 with
# the reason). Timings (seconds) go to timings.txt; the host judges the saved answers.
s_on_demand() {
    [ -d "$DATA" ] || die "no store: the scan scenario did not run"
    # A copy: the hotplug scenario needs the store as the stream scenario left it.
    data=/tmp/dvbgate-on-demand
    rm -rf "$data"
    cp -r "$DATA" "$data" || die "cannot copy the store"
    dvbgate_start run --data "$data" --stream-idle-seconds 3 || die "dvbgate run did not start"
    api_get /api/v1/channels channels-before.json || die "GET /api/v1/channels"
    # Every channel of the store is on vidtv's one multiplex (one input).
    numbers=$(tr ',{}[' '\n\n\n\n' <channels-before.json | sed -n 's/^ *"number" *: *\([0-9]*\) *$/\1/p')
    [ -n "$numbers" ] || die "no channel in the store: $(cat channels-before.json)"
    number=$(echo "$numbers" | head -n1)
    echo "channels $(echo "$numbers" | tr '\n' ' '), watching $number"
    : >timings.txt

    # Multicast on: the input holds the tuner.
    for n in $numbers; do
        code=$(api_send PATCH "/api/v1/channels/$n" '{"enabled": true, "multicast": true}' patched.json)
        [ "$code" = 200 ] || die "PATCH channel $n: $code $(cat patched.json)"
    done
    wait_tuner held 30 tuners-multicast.json >/dev/null || die "the multicast channel holds no tuner"

    # Multicast off: nobody needs the tuner.
    for n in $numbers; do
        code=$(api_send PATCH "/api/v1/channels/$n" '{"multicast": false}' patched.json)
        [ "$code" = 200 ] || die "PATCH channel $n multicast off: $code $(cat patched.json)"
    done
    secs=$(wait_tuner free 10 tuners-off.json) || die "the tuner is still held with multicast off"
    echo "tuner free ${secs} s after multicast off"
    echo "tuner_free_after_multicast_off $secs" >>timings.txt
    api_get /api/v1/channels channels-off.json
    grep -q '"status": *"on_demand"' channels-off.json || die "not on_demand: $(cat channels-off.json)"

    # The first playlist request tunes and waits for the first segment.
    t0=$(up)
    code=$(curl -s -o index.m3u8 -w '%{http_code}' --max-time 30 "$API/hls/$number/index.m3u8")
    secs=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')
    echo "GET /hls/$number/index.m3u8: $code after $secs s"
    echo "first_playlist $secs" >>timings.txt
    cat index.m3u8
    [ "$code" = 200 ] || die "the first playlist request answered $code"
    # A master playlist names the media playlist; without CODECS it is the media playlist.
    if grep -q '^#EXT-X-STREAM-INF' index.m3u8; then
        uri=$(grep -v '^#' index.m3u8 | grep -m1 .)
        code=$(curl -s -o live.m3u8 -w '%{http_code}' --max-time 10 "$(hls_url "$number" "$uri")")
        [ "$code" = 200 ] || die "GET $uri: $code"
        cat live.m3u8
    else
        cp index.m3u8 live.m3u8
    fi
    uri=$(grep -v '^#' live.m3u8 | grep -m1 .)
    [ -n "$uri" ] || die "the media playlist lists no segment"
    code=$(curl -s -o segment.ts -w '%{http_code}' --max-time 10 "$(hls_url "$number" "$uri")")
    [ "$code" = 200 ] || die "GET segment $uri: $code"
    echo "segment $uri: $(wc -c <segment.ts) bytes, starts with $(od -A n -t x1 -N 4 segment.ts)"
    last_request=$(up)
    ts_starts_with_pat segment.ts || die "segment $uri does not start with a PAT"
    api_get /api/v1/tuners tuners-hls.json
    api_get /api/v1/channels channels-hls.json
    grep -q '"holders": *\[\]' tuners-hls.json && die "the stream holds no tuner: $(cat tuners-hls.json)"
    grep -q '"state": *"locked"' tuners-hls.json || die "the tuner is not locked: $(cat tuners-hls.json)"

    # Idle: no request for --stream-idle-seconds (3) since that segment, and the stream
    # stops and lets the tuner go.
    secs=$(wait_tuner free 20 tuners-idle.json "$last_request") || die "the idle stream kept its tuner"
    echo "tuner free ${secs} s after the last HLS request"
    echo "idle_release $secs" >>timings.txt
    api_get /api/v1/channels channels-idle.json

    # HTTP TS starts the stream as well; a connected client keeps it past the idle time.
    curl -s -o http.ts --max-time 6 "$API/stream/$number.ts" &
    client=$!
    sleep 4.5
    api_get /api/v1/tuners tuners-http.json
    api_get /api/v1/channels channels-http.json
    wait $client
    rc=$?
    left=$(up)
    # 28: curl's own time limit ended the endless stream.
    [ $rc = 28 ] || die "curl /stream/$number.ts: exit status $rc"
    size=$(wc -c <http.ts)
    echo "HTTP TS client: $size bytes in 6 s"
    [ "$size" -ge $((188 * 1000)) ] || die "the HTTP TS client got only $size bytes"
    ts_starts_with_pat http.ts || die "the HTTP TS does not start with a PAT"
    grep -q '"holders": *\[\]' tuners-http.json && die "the tuner was let go under an HTTP client"
    secs=$(wait_tuner free 20 tuners-left.json "$left") || die "the stream kept its tuner after its client left"
    echo "tuner free ${secs} s after the HTTP client left"
    echo "client_left_release $secs" >>timings.txt

    # An always-on channel holds the tuner; an on-demand one of another multiplex asks.
    code=$(api_send PATCH "/api/v1/channels/$number" '{"multicast": true}' patched.json)
    [ "$code" = 200 ] || die "PATCH channel $number multicast on: $code $(cat patched.json)"
    wait_tuner held 30 tuners-always-on.json >/dev/null || die "the multicast channel holds no tuner"
    code=$(api_send POST /api/v1/inputs '{"name": "elsewhere", "url": "dvb-t://522MHz?bandwidth=8MHz"}' input.json)
    [ "$code" = 201 ] || die "POST input: $code $(cat input.json)"
    other=$(json_field input.json id)
    code=$(api_send POST /api/v1/channels "{\"input_id\": $other, \"service_id\": 2176, \"name\": \"Elsewhere\", \"number\": 900, \"multicast\": false}" other.json)
    [ "$code" = 201 ] || die "POST channel: $code $(cat other.json)"
    t0=$(up)
    code=$(curl -s -o refused.json -w '%{http_code}' --max-time 30 "$API/hls/900/index.m3u8")
    secs=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')
    echo "GET /hls/900/index.m3u8 while the tuner is always on: $code after $secs s: $(cat refused.json)"
    echo "refusal $secs" >>timings.txt
    [ "$code" = 503 ] || die "the on-demand request on another multiplex answered $code"
    api_get /api/v1/tuners tuners-kept.json
    api_get /api/v1/channels channels-kept.json
    dvbgate_stop || die "dvbgate run did not stop cleanly"
}

# The adapter goes away under a running daemon (its driver unbound, as a USB unplug
# does) and comes back: the daemon reports it, finds it again and streams again.
s_hotplug() {
    [ -d "$DATA" ] || die "no store: the scan scenario did not run"
    # The frontend hangs off the bridge's I2C bus; the bridge is the platform device.
    platform=$(dirname "$(readlink -f /sys/class/dvb/dvb0.frontend0/device)")
    drv=$(readlink -f "$platform/driver")
    dev=$(basename "$platform")
    echo "driver $drv, device $dev"
    [ -w "$drv/unbind" ] || skip "cannot unbind vidtv ($drv)"
    dvbgate_start run --data "$DATA" || die "dvbgate run did not start"
    api_get /api/v1/channels channels.json || die "GET /api/v1/channels"
    number=$(json_field channels.json number)
    [ -n "$number" ] || die "no channel in the store: $(cat channels.json)"
    code=$(api_send PATCH "/api/v1/channels/$number" '{"enabled": true}' patched.json)
    [ "$code" = 200 ] || die "PATCH channel $number: $code $(cat patched.json)"
    wait_live 60 || die "the channel did not go live"
    echo "$dev" >"$drv/unbind" || die "unbind failed"
    sleep 4
    api_get /api/v1/tuners tuners-gone.json
    api_get /api/v1/inputs inputs-gone.json
    api_get /api/v1/channels channels-gone.json
    echo "$dev" >"$drv/bind" || die "bind failed"
    wait_live 60 || die "the channel did not come back"
    api_get /api/v1/tuners tuners-back.json
    group=$(json_field live.json multicast | sed 's|^udp://@||')
    ts-capture 4 "$group" back.ts >capture.json || die "ts-capture failed"
    cat capture.json
    dvbgate_stop || die "dvbgate run did not stop cleanly"
}

scenario nodes s_nodes
scenario version s_version
scenario probe-file s_probe_file
scenario dvbv5-scan s_dvbv5_scan
scenario dvbv5-zap s_dvbv5_zap
scenario demo-multicast s_demo_multicast
scenario tuners s_tuners
scenario scan s_scan
scenario stream s_stream
scenario recovery s_recovery
scenario on-demand s_on_demand
# Last: unbinding vidtv may leave the kernel unhappy at power-off.
scenario hotplug s_hotplug

echo "scenarios failed: $FAILED"
[ $FAILED = 0 ]
