#!/usr/bin/env python3
"""Drives dvbgate's Xtream-Codes API with pyxtream (the client library of Hypnotix).

It does what the app does: log in (pyxtream retries on connection errors for 30 s and
reads user_info.username/password and int(exp_date) from the answer), load live, VOD and
series categories and streams (into a disk cache: here a temporary directory), read the
short EPG and the simple data table of a channel, build the stream URL pyxtream builds
(/live/U/P/ID.ts, from the credentials in user_info) and read ~2 s of it.

    python pyxtream_check.py --url http://127.0.0.1:8080 --user demo --pass demo
    python pyxtream_check.py --url ... --user demo --pass wrong --expect-auth-fail

Prints one JSON summary line last on stdout (pyxtream itself prints progress before it).
Exit 0 when every check passed, 1 with "FAIL: <step>: <why>" on stderr otherwise.
"""

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time

import requests
from pyxtream import XTream
from pyxtream.schemaValidator import SchemaType, schemaValidator

STEP = "start"
SUMMARY = {"ok": False, "client": "pyxtream"}


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def b64_utf8(s, what):
    check(isinstance(s, str), f"{what}: {s!r} is not a string")
    try:
        return base64.b64decode(s, validate=True).decode("utf-8")
    except Exception as e:  # binascii.Error, UnicodeDecodeError
        raise Failure(f"{what}: {s!r} is not base64 of UTF-8 ({e})") from e


def read_ts(url, seconds):
    """GETs a live TS URL for `seconds`; returns (bytes, packets) after judging it."""
    with requests.get(url, stream=True, timeout=(4, 15)) as r:
        if r.status_code != 200:  # only then read the body: a live one never ends
            raise Failure(f"GET {url}: HTTP {r.status_code} {r.text[:200]!r}")
        ct = r.headers.get("Content-Type", "")
        check(ct.startswith("video/mp2t"), f"GET {url}: Content-Type {ct!r}")
        buf = bytearray()
        until = time.monotonic() + seconds
        for chunk in r.iter_content(16384):
            buf += chunk
            if time.monotonic() >= until:
                break
    whole = len(buf) - len(buf) % 188
    check(whole >= 10 * 188, f"{url}: only {len(buf)} bytes in {seconds} s")
    for i in range(0, whole, 188):
        check(buf[i] == 0x47, f"{url}: byte {i} is {buf[i]:#x}, not the sync byte 0x47")
    return len(buf), whole // 188


def run(args):
    global STEP
    cache = tempfile.mkdtemp(prefix="pyxtream-cache-")
    SUMMARY["cache"] = cache

    STEP = "login"
    if args.expect_auth_fail:
        # With the recommended 200 + {"user_info":{"auth":0}} pyxtream crashes in its
        # constructor with KeyError('username') (xc-api.md §2.3): a known client bug, and
        # the app then shows no channels. Either that or a clean "not authenticated" is a
        # refusal; an accepted login is the failure.
        try:
            xt = XTream("dvbgate", args.user, args.password, args.url, cache_path=cache,
                        reload_time_sec=-1)
            check(not xt.state["authenticated"], "wrong credentials were accepted")
            SUMMARY["pyxtream"] = "not authenticated"
        except KeyError as e:
            check(e.args == ("username",), f"pyxtream crashed with KeyError({e})")
            SUMMARY["pyxtream"] = "KeyError('username'): its known crash on auth 0"
        r = requests.get(f"{args.url}/player_api.php",
                         params={"username": args.user, "password": args.password}, timeout=10)
        # {"user_info":{"auth":0}}, with a "message" once the brake on guessing holds.
        check(r.status_code == 200 and r.json()["user_info"]["auth"] == 0
              and set(r.json()["user_info"]) <= {"auth", "message"},
              f"player_api: HTTP {r.status_code} {r.text[:200]!r}")
        url = f"{args.url}/live/{args.user}/{args.password}/1.ts"
        live = requests.get(url, stream=True, timeout=10)
        live.close()
        # 429: the box's brake on guessing (too many failed logins from this address).
        check(live.status_code in (401, 403, 429), f"{url}: HTTP {live.status_code}")
        SUMMARY["auth"] = "refused"
        return
    xt = XTream("dvbgate", args.user, args.password, args.url, cache_path=cache, reload_time_sec=-1)
    check(xt.state["authenticated"], "not authenticated (see pyxtream's message above)")
    ui = xt.auth_data["user_info"]
    check(xt.authorization == {"username": args.user, "password": args.password},
          f"user_info credentials {xt.authorization}")
    check(xt.account_expiration.total_seconds() > 0, f"account expired: {xt.account_expiration}")
    SUMMARY["exp_date"] = ui["exp_date"]

    STEP = "load_iptv"
    check(xt.load_iptv(), "load_iptv failed")
    check(len(xt.channels) >= args.min_channels,
          f"{len(xt.channels)} live channels, expected at least {args.min_channels}")
    # pyxtream drops categories that fail its schema (a null parent_id, xc-api.md §2.4)
    # and puts channels whose category it does not know into its catch-all group.
    cats = [g for g in xt.groups if g.group_type == 0 and g.group_id != 9999]  # 0: pyxtream's TV_GROUP
    check(cats, "no live category survived pyxtream's schema")
    for c in xt.channels:
        check(c.group_title != xt.live_catch_all_group.name,
              f"channel {c.name} landed in the catch-all group (category {c.raw.get('category_id')!r} unknown)")
        check(c.name, f"a channel without name: {c.raw}")
        check(schemaValidator(c.raw, SchemaType.LIVE), f"live entry fails pyxtream's schema: {c.raw}")
    check(not xt.movies and not xt.series, "VOD or series not empty")
    with open(os.path.join(cache, "dvbgate-all_stream_Live.json"), encoding="utf-8") as f:
        check(len(json.load(f)) == len(xt.channels), "the disk cache does not hold the live streams")
    SUMMARY["channels"] = [{"id": c.id, "name": c.name, "group": c.group_title, "epg": c.epg_channel_id}
                           for c in xt.channels]
    SUMMARY["categories"] = sorted({g.name for g in cats})

    STEP = "EPG"
    wanted = [c for c in xt.channels if str(c.id) == str(args.epg_stream)] if args.epg_stream \
        else [c for c in xt.channels if c.epg_channel_id]
    check(wanted, "no channel to read the guide of")
    chan, short = None, None
    for c in wanted:
        s = xt.liveEpgByStreamAndLimit(c.id, 2)
        check(isinstance(s, dict) and isinstance(s.get("epg_listings"), list), f"get_short_epg {c.id}: {s!r}")
        if s["epg_listings"]:
            chan, short = c, s["epg_listings"]
            break
    check(chan, f"no channel among {[c.id for c in wanted]} has a short EPG")
    check(len(short) <= 2, f"limit=2 gave {len(short)} entries")
    now = time.time()
    titles = []
    for e in short:
        check(int(e["stop_timestamp"]) > now, f"short EPG lists an ended programme: {e}")
        titles.append(b64_utf8(e["title"], "title"))
        b64_utf8(e["description"], "description")
    default = xt.liveEpgByStream(chan.id)
    check(1 <= len(default["epg_listings"]) <= 4, f"default limit gave {len(default['epg_listings'])}")
    table = xt.allLiveEpgByStream(chan.id)
    rows = table["epg_listings"]
    check(len(rows) >= len(default["epg_listings"]), f"data table has {len(rows)} rows")
    playing = [r for r in rows if r["now_playing"] == 1]
    check(len(playing) == 1, f"{len(playing)} rows now_playing in the data table")
    SUMMARY["epg"] = {"stream_id": chan.id, "short": titles, "table": len(rows),
                      "now": b64_utf8(playing[0]["title"], "title")}

    STEP = "stream"
    url = chan.url
    check(url == f"{args.url}/live/{args.user}/{args.password}/{chan.id}.ts", f"pyxtream built {url}")
    n, packets = read_ts(url, args.seconds)
    SUMMARY["ts"] = {"url": url, "bytes": n, "packets": packets}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("XC_URL"))
    p.add_argument("--user", default=os.environ.get("XC_USER"))
    p.add_argument("--pass", dest="password", default=os.environ.get("XC_PASS"))
    p.add_argument("--epg-stream", default=os.environ.get("XC_EPG_STREAM"))
    p.add_argument("--min-channels", type=int, default=1)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--expect-auth-fail", action="store_true")
    args = p.parse_args()
    if not (args.url and args.user and args.password):
        p.error("--url, --user and --pass are required")
    args.url = args.url.rstrip("/")
    SUMMARY["url"] = args.url
    try:
        run(args)
    except Exception as e:  # report every failure, pyxtream's own crashes included
        shutil.rmtree(SUMMARY.get("cache", ""), ignore_errors=True)
        SUMMARY.update(ok=False, step=STEP, error=f"{type(e).__name__}: {e}")
        print(json.dumps(SUMMARY, ensure_ascii=False))
        print(f"FAIL: {STEP}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(SUMMARY["cache"], ignore_errors=True)
    SUMMARY["ok"] = True
    print(json.dumps(SUMMARY, ensure_ascii=False))


if __name__ == "__main__":
    main()
