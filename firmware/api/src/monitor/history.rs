//! The last hour of the figures a technician graphs: each tuner's signal and C/N, each
//! input's and channel's bit rate, one point every [`INTERVAL_S`] seconds.
//!
//! Every series is a [`Ring`] of [`POINTS`] points allocated when the series first
//! appears, so memory is bounded by the number of things (itself capped at
//! [`MAX_SERIES`] per kind). A thing that disappears (a tuner unplugged, a channel
//! deleted or renumbered) keeps its series until its last point is an hour old; then the
//! series goes.

use super::frame::Frame;
use super::ring::Ring;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub(crate) const INTERVAL_S: i64 = 10;
/// An hour of points.
pub(crate) const POINTS: usize = 360;
/// Series older than this are not shown, and things unseen this long are forgotten.
pub(crate) const KEEP_S: i64 = INTERVAL_S * POINTS as i64;
/// Things of one kind followed at most (a hotel has a few hundred channels).
pub(crate) const MAX_SERIES: usize = 2048;

/// One point: unix seconds and a value; NaN is "no value" (a tuner without lock has no
/// signal figures). Eight bytes, so an hour of one series is under 3 KiB.
type Point = (u32, f32);

struct Entry<const N: usize> {
    last_seen: i64,
    rings: [Ring<Point>; N],
}

struct Group<K: Ord, const N: usize> {
    names: [&'static str; N],
    entries: BTreeMap<K, Entry<N>>,
}

impl<K: Ord + Clone + ToString, const N: usize> Group<K, N> {
    fn new(names: [&'static str; N]) -> Self {
        Group {
            names,
            entries: BTreeMap::new(),
        }
    }

    fn record(&mut self, key: &K, now: i64, values: [Option<f64>; N]) {
        if !self.entries.contains_key(key) {
            if self.entries.len() >= MAX_SERIES {
                return;
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    last_seen: now,
                    rings: std::array::from_fn(|_| Ring::new(POINTS)),
                },
            );
        }
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        entry.last_seen = now;
        let t = u32::try_from(now.max(0)).unwrap_or(u32::MAX);
        for (ring, v) in entry.rings.iter_mut().zip(values) {
            ring.push((t, v.map_or(f32::NAN, |v| v as f32)));
        }
    }

    fn forget_older_than(&mut self, cutoff: i64) {
        self.entries.retain(|_, e| e.last_seen >= cutoff);
    }

    /// The points after `since`, copied (cheap: at most a few MiB for the largest
    /// lineups) so that the JSON is built after the lock is released.
    fn copy(&self, since: i64) -> GroupCopy<N> {
        GroupCopy {
            names: self.names,
            entries: self
                .entries
                .iter()
                .map(|(key, entry)| {
                    let points = std::array::from_fn(|i| {
                        entry.rings[i]
                            .iter()
                            .filter(|(t, _)| i64::from(*t) > since)
                            .copied()
                            .collect()
                    });
                    (key.to_string(), points)
                })
                .collect(),
        }
    }
}

/// One group's series, copied out of the history (see [`History::snapshot`]).
struct GroupCopy<const N: usize> {
    names: [&'static str; N],
    entries: Vec<(String, [Vec<Point>; N])>,
}

impl<const N: usize> GroupCopy<N> {
    fn points(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, series)| series.iter().map(Vec::len).sum::<usize>())
            .sum()
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (key, series_points) in &self.entries {
            let mut series = Map::new();
            for (name, points) in self.names.iter().zip(series_points) {
                let points: Vec<Value> = points
                    .iter()
                    .map(|&(t, v)| {
                        // Through the f32's shortest decimal form: 33.59, not
                        // 33.59000015258789.
                        let v = if v.is_finite() {
                            json!(v.to_string().parse::<f64>().unwrap_or(f64::from(v)))
                        } else {
                            Value::Null
                        };
                        json!([t, v])
                    })
                    .collect();
                series.insert((*name).to_owned(), Value::Array(points));
            }
            out.insert(key.clone(), Value::Object(series));
        }
        Value::Object(out)
    }
}

/// The last hour of every series, copied out of [`History`]: what `/api/v1/history`
/// renders once the history's lock is released.
pub(crate) struct Snapshot {
    tuners: GroupCopy<3>,
    inputs: GroupCopy<1>,
    channels: GroupCopy<1>,
}

impl Snapshot {
    /// How many points there are (to decide where to render them).
    pub(crate) fn points(&self) -> usize {
        self.tuners.points() + self.inputs.points() + self.channels.points()
    }

    /// `/api/v1/history`'s answer.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "interval_s": INTERVAL_S,
            "tuners": self.tuners.to_json(),
            "inputs": self.inputs.to_json(),
            "channels": self.channels.to_json(),
        })
    }
}

/// See the module docs.
pub(crate) struct History {
    tuners: Group<String, 3>,
    inputs: Group<u32, 1>,
    channels: Group<u16, 1>,
    /// The last sample's time: a sample sooner than an interval after it is skipped, so
    /// a late timer cannot squeeze more than an hour into the rings.
    last: Option<i64>,
}

impl Default for History {
    fn default() -> Self {
        History {
            tuners: Group::new(["signal_dbm", "signal_pct", "cnr_db"]),
            inputs: Group::new(["bitrate_bps"]),
            channels: Group::new(["bitrate_bps"]),
            last: None,
        }
    }
}

impl History {
    /// Adds `frame`'s figures as the points of unix second `now`.
    pub(crate) fn record(&mut self, now: i64, frame: &Frame) {
        if self.last.is_some_and(|last| now - last < INTERVAL_S / 2) {
            return;
        }
        self.last = Some(now);
        for t in &frame.tuners {
            self.tuners
                .record(&t.key, now, [t.signal_dbm, t.signal_pct, t.cnr_db]);
        }
        for i in &frame.inputs {
            self.inputs.record(&i.id, now, [Some(i.bitrate_bps as f64)]);
        }
        for c in &frame.channels {
            self.channels
                .record(&c.number, now, [Some(c.bitrate_bps as f64)]);
        }
        let cutoff = now - KEEP_S;
        self.tuners.forget_older_than(cutoff);
        self.inputs.forget_older_than(cutoff);
        self.channels.forget_older_than(cutoff);
    }

    /// The last hour before `now`, oldest first, copied (see [`Snapshot`]).
    pub(crate) fn snapshot(&self, now: i64) -> Snapshot {
        let since = now - KEEP_S;
        Snapshot {
            tuners: self.tuners.copy(since),
            inputs: self.inputs.copy(since),
            channels: self.channels.copy(since),
        }
    }

    #[cfg(test)]
    fn to_json(&self, now: i64) -> Value {
        self.snapshot(now).to_json()
    }

    #[cfg(test)]
    fn series(&self) -> usize {
        self.tuners.entries.len() + self.inputs.entries.len() + self.channels.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::frame::tests::sample_frame;

    #[test]
    fn series_have_the_contracts_shape() {
        let mut h = History::default();
        let t0 = 1_700_000_000;
        h.record(t0, &sample_frame(t0));
        let mut f = sample_frame(t0 + 10);
        f.tuners[0].signal_dbm = None;
        f.tuners[0].cnr_db = Some(33.59);
        f.channels[0].bitrate_bps = 5_000_000;
        h.record(t0 + 10, &f);
        let v = h.to_json(t0 + 10);
        assert_eq!(v["interval_s"], 10);
        let tuner = &v["tuners"]["adapter0/frontend0"];
        assert_eq!(tuner["signal_dbm"], json!([[t0, -61.5], [t0 + 10, null]]));
        assert_eq!(tuner["signal_pct"], json!([[t0, null], [t0 + 10, null]]));
        assert_eq!(tuner["cnr_db"], json!([[t0, 28.25], [t0 + 10, 33.59]]));
        assert_eq!(
            v["inputs"]["1"]["bitrate_bps"],
            json!([[t0, 24_000_000.0], [t0 + 10, 24_000_000.0]])
        );
        assert_eq!(
            v["channels"]["2"]["bitrate_bps"],
            json!([[t0, 4_500_000.0], [t0 + 10, 5_000_000.0]])
        );
    }

    #[test]
    fn an_hour_at_most_and_vanished_things_are_dropped_after_an_hour() {
        let mut h = History::default();
        let t0 = 1_700_000_000;
        // Two hours of samples: each series keeps its last 360 points, the last hour.
        for i in 0..720 {
            let now = t0 + i * INTERVAL_S;
            let mut f = sample_frame(now);
            f.channels[0].bitrate_bps = i as u64;
            if i >= 600 {
                // Channel 2 renumbered to 3 twenty minutes before the end.
                f.channels[0].number = 3;
            }
            h.record(now, &f);
        }
        let end = t0 + 719 * INTERVAL_S;
        let v = h.to_json(end);
        let points = |p: &Value| p.as_array().unwrap().len();
        assert_eq!(points(&v["inputs"]["1"]["bitrate_bps"]), POINTS);
        let first = &v["inputs"]["1"]["bitrate_bps"][0][0];
        assert_eq!(
            first.as_i64().unwrap(),
            end - (POINTS as i64 - 1) * INTERVAL_S
        );
        // Channel 2's series stays (its last point is 20 min old) but shows only the
        // last hour; channel 3 has 120 points.
        assert_eq!(points(&v["channels"]["3"]["bitrate_bps"]), 120);
        assert_eq!(points(&v["channels"]["2"]["bitrate_bps"]), POINTS - 120);
        // An hour after it was last seen, channel 2's series is gone.
        for i in 720..(720 + 361) {
            let now = t0 + i * INTERVAL_S;
            let mut f = sample_frame(now);
            f.channels[0].number = 3;
            h.record(now, &f);
        }
        let v = h.to_json(t0 + 1080 * INTERVAL_S);
        assert!(v["channels"].get("2").is_none(), "{}", v["channels"]);
        assert_eq!(h.series(), 3);
    }

    #[test]
    fn a_timer_firing_early_does_not_add_points() {
        let mut h = History::default();
        let t0 = 1_700_000_000;
        h.record(t0, &sample_frame(t0));
        h.record(t0 + 1, &sample_frame(t0 + 1));
        h.record(t0 + 10, &sample_frame(t0 + 10));
        let v = h.to_json(t0 + 10);
        assert_eq!(v["inputs"]["1"]["bitrate_bps"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_number_of_series_is_capped() {
        let mut h = History::default();
        let t0 = 1_700_000_000;
        let mut f = sample_frame(t0);
        let template = f.channels[0].clone();
        f.channels = (0..(MAX_SERIES as u16 + 50))
            .map(|n| {
                let mut c = template.clone();
                c.number = n;
                c
            })
            .collect();
        h.record(t0, &f);
        assert_eq!(h.channels.entries.len(), MAX_SERIES);
    }
}
