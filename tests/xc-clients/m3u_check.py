#!/usr/bin/env python3
"""Reads dvbgate's M3U playlists with m3u-ipytv's real parser, as Kodi/VLC-style clients use them.

1. get.php?username=U&password=P&type=m3u_plus&output=ts, loaded with ipytv.playlist.loadu
   (requests underneath, so the text is decoded as the server's Content-Type says): the
   header carries x-tvg-url and url-tvg (the XMLTV URL); every entry has tvg-id, tvg-chno,
   group-title and a URL http://HOST:PORT/U/P/ID (the short form Kodi's XC catch-up
   matches, xc-api.md §4); the entries agree with player_api's get_live_streams (names,
   numbers, tvg-id = epg_channel_id, group-title = the category's name).
2. The same with output=m3u8: URLs http://HOST:PORT/live/U/P/ID.m3u8.
3. /playlist/multicast.m3u (open on the LAN, no credentials): udp://@ or rtp://@ entries
   with tvg-id, tvg-chno and group-title, and url-tvg pointing at /epg.xml.

    python m3u_check.py --url http://127.0.0.1:8080 --user demo --pass demo

Prints one JSON summary line. Exit 0 when every check passed, 1 with "FAIL: ..." otherwise.
"""

import argparse
import json
import os
import re
import sys

import requests
from ipytv import playlist

STEP = "start"
SUMMARY = {"ok": False, "client": "m3u-ipytv"}


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def no_mojibake(text, what):
    check("\ufffd" not in text, f"{what}: {text!r} holds U+FFFD")
    check(not re.search("[\u00c2\u00c3][\u0080-\u00bf]", text), f"{what}: {text!r} looks like UTF-8 read as Latin-1")


def header_attrs(pl, base):
    attrs = pl.get_attributes()
    for k in ("x-tvg-url", "url-tvg"):
        check(k in attrs, f"header without {k}: {attrs}")
    return attrs


def run(args):
    global STEP
    base, u, p = args.url, args.user, args.password
    STEP = "player_api get_live_streams"
    api = requests.get(f"{base}/player_api.php", timeout=10,
                       params={"username": u, "password": p, "action": "get_live_streams"})
    check(api.status_code == 200, f"HTTP {api.status_code}")
    streams = {str(s["stream_id"]): s for s in api.json()}
    cats = requests.get(f"{base}/player_api.php", timeout=10,
                        params={"username": u, "password": p, "action": "get_live_categories"}).json()
    cat_names = {c["category_id"]: c["category_name"] for c in cats}
    check(streams, "get_live_streams is empty")

    STEP = "get.php m3u_plus ts"
    url = f"{base}/get.php?username={u}&password={p}&type=m3u_plus&output=ts"
    raw = requests.get(url, timeout=10)
    check(raw.status_code == 200, f"HTTP {raw.status_code}")
    ct = raw.headers.get("Content-Type", "")
    check("mpegurl" in ct.lower(), f"Content-Type {ct!r}")
    check(not raw.content.startswith(b"\xef\xbb\xbf"), "a UTF-8 BOM before #EXTM3U")
    pl = playlist.loadu(url)
    attrs = header_attrs(pl, base)
    check(attrs["x-tvg-url"] == attrs["url-tvg"], f"x-tvg-url and url-tvg differ: {attrs}")
    check(attrs["x-tvg-url"].startswith(f"{base}/xmltv.php?username={u}&password={p}"),
          f"EPG URL {attrs['x-tvg-url']!r} is not this box's xmltv.php with these credentials")
    chans = pl.get_channels()
    check(len(chans) == len(streams), f"{len(chans)} entries, get_live_streams has {len(streams)}")
    short = re.compile(rf"^{re.escape(base)}/{re.escape(u)}/{re.escape(p)}/(\d+)$")
    numbers = []
    for ch in chans:
        a = ch.attributes
        for k in ("tvg-id", "tvg-chno", "group-title", "tvg-name"):
            check(a.get(k), f"{ch.name}: no {k} in {a}")
        no_mojibake(ch.name, "channel name")
        m = short.match(ch.url)
        check(m, f"{ch.name}: URL {ch.url!r} is not {base}/{u}/{p}/ID")
        s = streams.get(m.group(1))
        check(s, f"{ch.url}: stream id {m.group(1)} unknown to get_live_streams")
        check(ch.name == s["name"], f"name {ch.name!r} != get_live_streams {s['name']!r}")
        check(a["tvg-id"] == s["epg_channel_id"], f"{ch.name}: tvg-id {a['tvg-id']!r} != epg_channel_id {s['epg_channel_id']!r}")
        check(a["tvg-chno"] == str(s["num"]), f"{ch.name}: tvg-chno {a['tvg-chno']!r} != num {s['num']}")
        check(a["group-title"] == cat_names.get(s["category_id"]),
              f"{ch.name}: group-title {a['group-title']!r} != category {cat_names.get(s['category_id'])!r}")
        numbers.append(int(a["tvg-chno"]))
    check(numbers == sorted(numbers), f"entries not in channel-number order: {numbers}")
    rt = playlist.loads(pl.to_m3u_plus_playlist())
    check(rt == pl, "to_m3u_plus_playlist() does not read back the same")
    SUMMARY["m3u_plus"] = {"entries": len(chans), "epg_url": attrs["x-tvg-url"],
                           "names": [c.name for c in chans]}

    STEP = "get.php defaults (no type, no output)"
    d = playlist.loadu(f"{base}/get.php?username={u}&password={p}")
    check(d.length() == len(chans) and all(short.match(c.url) for c in d.get_channels()),
          "get.php without type/output is not the m3u_plus TS playlist")

    STEP = "get.php m3u8"
    hls = playlist.loadu(f"{base}/get.php?username={u}&password={p}&type=m3u_plus&output=m3u8")
    live = re.compile(rf"^{re.escape(base)}/live/{re.escape(u)}/{re.escape(p)}/(\d+)\.m3u8$")
    for ch in hls.get_channels():
        check(live.match(ch.url), f"output=m3u8: URL {ch.url!r}")

    STEP = "/playlist/multicast.m3u"
    mc = playlist.loadu(f"{base}/playlist/multicast.m3u")
    attrs = mc.get_attributes()
    epg = attrs.get("url-tvg") or attrs.get("x-tvg-url")
    check(epg and epg.endswith("/epg.xml"), f"multicast.m3u header {attrs}: no url-tvg to /epg.xml")
    mchans = mc.get_channels()
    check(mchans, "multicast.m3u lists no channel (is multicast on?)")
    by_epg = {s["epg_channel_id"]: s for s in streams.values()}
    for ch in mchans:
        a = ch.attributes
        check(re.match(r"^(udp|rtp)://@\d+\.\d+\.\d+\.\d+:\d+$", ch.url), f"{ch.name}: URL {ch.url!r}")
        for k in ("tvg-id", "tvg-chno", "group-title"):
            check(a.get(k), f"{ch.name}: no {k} in {a}")
        no_mojibake(ch.name, "channel name")
        s = by_epg.get(a["tvg-id"])
        check(s and s["name"] == ch.name, f"{ch.name}: tvg-id {a['tvg-id']!r} is not a channel of get_live_streams")
    SUMMARY["multicast"] = [f"{c.attributes['tvg-chno']} {c.name} {c.url}" for c in mchans]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("XC_URL"))
    p.add_argument("--user", default=os.environ.get("XC_USER"))
    p.add_argument("--pass", dest="password", default=os.environ.get("XC_PASS"))
    args = p.parse_args()
    if not (args.url and args.user and args.password):
        p.error("--url, --user and --pass are required")
    args.url = args.url.rstrip("/")
    SUMMARY["url"] = args.url
    try:
        run(args)
    except Exception as e:
        SUMMARY.update(ok=False, step=STEP, error=f"{type(e).__name__}: {e}")
        print(json.dumps(SUMMARY, ensure_ascii=False))
        print(f"FAIL: {STEP}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    SUMMARY["ok"] = True
    print(json.dumps(SUMMARY, ensure_ascii=False))


if __name__ == "__main__":
    main()
