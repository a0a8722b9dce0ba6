//! The remuxer's output, checked with the analyzer: one program, the right PIDs and
//! nothing else, continuous counters, tables at broadcast intervals, through PSI changes,
//! input loops and damage.

use dvbgate_remux::datagram::HEADER_ROOM;
use dvbgate_remux::synth::{self, SynthConfig};
use dvbgate_remux::{ChannelSpec, Demux, EsFilter};
use dvbgate_ts::analyze::{Analysis, analyze};
use dvbgate_ts::packet::{self, pids};
use dvbgate_ts::timing::ClockConfig;
use dvbgate_ts::write::Packetizer;
use std::collections::BTreeMap;

/// Feeds `input` in datagram-sized chunks, `chunk_ns` apart, and collects each channel's
/// output as a transport stream.
fn run(demux: &mut Demux, input: &[u8], outputs: &mut BTreeMap<u32, Vec<u8>>, t: &mut i64) {
    for chunk in input.chunks(7 * 188) {
        demux.push(chunk, *t);
        *t += 500_000;
        drain(demux, outputs);
    }
}

fn drain(demux: &mut Demux, outputs: &mut BTreeMap<u32, Vec<u8>>) {
    let (_, channels) = demux.outputs();
    for (key, ch) in channels.iter_mut() {
        let n = ch.ring().len();
        let out = outputs.entry(*key).or_default();
        for (_, bytes) in ch.ring().front(n) {
            out.extend_from_slice(&bytes[HEADER_ROOM..]);
        }
        ch.ring_mut().pop_front(n);
    }
}

fn demux_with(services: &[u16]) -> Demux {
    let mut d = Demux::new(ClockConfig::default());
    for &i in services {
        d.set_channel(
            u32::from(i),
            ChannelSpec::new(synth::service_id(i), format!("Channel {i}")),
        );
    }
    d
}

fn pids_of(a: &Analysis) -> Vec<u16> {
    a.pids.keys().copied().collect()
}

fn assert_clean_spts(a: &Analysis, service: u16, name: &str) {
    assert_eq!(a.services.len(), 1, "exactly one service: {:?}", a.services);
    let s = &a.services[0];
    assert_eq!(s.service_id, service);
    assert_eq!(s.name.as_deref(), Some(name));
    assert!(s.in_pat);
    assert_eq!(a.cc_errors, 0, "continuity errors");
    assert_eq!(a.section_errors.crc, 0);
    assert!(
        !a.pids.contains_key(&pids::NULL),
        "null packets must be dropped"
    );
    let pat = a.pat_max_interval_ms.expect("PAT repeated");
    assert!(pat <= 100.0, "PAT interval {pat} ms");
    let pmt = s.pmt_max_interval_ms.expect("PMT repeated");
    assert!(pmt <= 100.0, "PMT interval {pmt} ms");
    let sdt = a.sdt_max_interval_ms.expect("SDT repeated");
    assert!(sdt <= 2000.0, "SDT interval {sdt} ms");
    let pcr = s.pcr_pid.expect("PCR PID");
    assert!(
        a.pids[&pcr].pcr.is_some_and(|p| p.count > 10),
        "PCR carried"
    );
}

#[test]
fn every_service_becomes_a_clean_spts() {
    let cfg = SynthConfig::default();
    let input = synth::generate(&cfg, 60_000, 0);
    let mut demux = demux_with(&[0, 1, 2, 3]);
    let mut out = BTreeMap::new();
    run(&mut demux, &input, &mut out, &mut 0);
    let (_, channels) = demux.outputs();
    for (_, ch) in channels.iter_mut() {
        ch.ring_mut().seal_partial();
    }
    drain(&mut demux, &mut out);
    for i in 0..4u16 {
        let a = analyze(&out[&u32::from(i)]);
        assert_clean_spts(&a, synth::service_id(i), &format!("Channel {i}"));
        assert_eq!(
            pids_of(&a),
            vec![
                pids::PAT,
                pids::SDT,
                pids::EIT,
                pids::TDT,
                synth::pmt_pid(i),
                synth::video_pid(i),
                synth::audio_pid(i)
            ],
        );
        assert!(a.eit_max_interval_ms.is_some_and(|ms| ms <= 2000.0));
        // Every ES packet of the service came through.
        let inp = analyze(&input);
        assert_eq!(
            a.pids[&synth::video_pid(i)].counters.packets,
            inp.pids[&synth::video_pid(i)].counters.packets
        );
    }
}

#[test]
fn channels_can_come_go_and_change_without_disturbing_others() {
    let cfg = SynthConfig::default();
    let input = synth::generate(&cfg, 40_000, 0);
    let mut demux = demux_with(&[0, 1]);
    let mut out = BTreeMap::new();
    let mut t = 0;
    let (first, second) = input.split_at(20_000 * 188);
    run(&mut demux, first, &mut out, &mut t);
    demux.set_channel(7, ChannelSpec::new(synth::service_id(2), "Late"));
    demux.remove_channel(0);
    // A rename keeps the stream going: same counters, new SDT version.
    demux.set_channel(1, ChannelSpec::new(synth::service_id(1), "Renamed"));
    run(&mut demux, second, &mut out, &mut t);
    assert_clean_spts(&analyze(&out[&1]), 2, "Renamed");
    assert_clean_spts(&analyze(&out[&7]), 3, "Late");
    assert!(demux.channel(0).is_none());
}

/// A looping file: the same bytes again, PCRs and counters jumping back.
#[test]
fn input_loop_keeps_counters_continuous_and_flags_the_pcr() {
    let cfg = SynthConfig {
        services: 2,
        ..SynthConfig::default()
    };
    let input = synth::generate(&cfg, 12_345, 1_000_000);
    let mut demux = demux_with(&[0, 1]);
    let mut out = BTreeMap::new();
    let mut t = 0;
    for _ in 0..3 {
        run(&mut demux, &input, &mut out, &mut t);
        demux.discontinuity();
    }
    for i in 0..2u16 {
        let a = analyze(&out[&u32::from(i)]);
        assert_clean_spts(&a, synth::service_id(i), &format!("Channel {i}"));
        let pcr = &a.pids[&synth::video_pid(i)];
        assert_eq!(
            pcr.counters.discontinuity_indicators, 2,
            "one flagged PCR per wrap"
        );
        assert_eq!(pcr.pcr.unwrap().jumps, 0, "flagged jumps are not errors");
    }
}

#[test]
fn pmt_change_moves_streams_and_bumps_the_version() {
    let cfg = SynthConfig {
        services: 1,
        ..SynthConfig::default()
    };
    let before = synth::generate(&cfg, 10_000, 0);
    let mut demux = demux_with(&[0]);
    let mut out = BTreeMap::new();
    let mut t = 0;
    run(&mut demux, &before, &mut out, &mut t);
    assert_eq!(demux.channel(0).unwrap().counters().pmt_version, 0);

    // Version 1 moves the audio to PID 0x1A0; its packets now arrive there.
    let lang = [0x0A, 4, b'f', b'r', b'a', 0];
    let pmt_v1 = dvbgate_ts::tables::pmt::build(
        1,
        1,
        synth::video_pid(0),
        &[],
        &[
            dvbgate_ts::tables::pmt::StreamEntry {
                stream_type: 0x1B,
                pid: synth::video_pid(0),
                es_info: &[],
            },
            dvbgate_ts::tables::pmt::StreamEntry {
                stream_type: 0x0F,
                pid: 0x1A0,
                es_info: &lang,
            },
        ],
    );
    let mut changed = Vec::new();
    let mut pk = Packetizer::new(synth::pmt_pid(0));
    for _ in 0..7 {
        pk.packetize(&pmt_v1, &mut |p| changed.push(*p));
    }
    for k in 0..3000u64 {
        let pid = if k % 2 == 0 {
            synth::video_pid(0)
        } else {
            0x1A0
        };
        changed.push(synth::es_packet(pid, ((k / 2) & 15) as u8, None, false));
    }
    let flat: Vec<u8> = changed.iter().flatten().copied().collect();
    run(&mut demux, &flat, &mut out, &mut t);
    let ch = demux.channel(0).unwrap();
    assert_eq!(ch.counters().pmt_version, 1);
    let a = analyze(&out[&0]);
    assert!(a.pids.contains_key(&0x1A0), "new audio PID routed");
    let audio_after = a.pids[&synth::audio_pid(0)].counters.packets;
    let audio_in_first_part = analyze(&before).pids[&synth::audio_pid(0)].counters.packets;
    assert_eq!(
        audio_after, audio_in_first_part,
        "old audio PID no longer routed"
    );
    assert_eq!(a.services[0].streams[1].languages, vec!["fra"]);
}

#[test]
fn strips_ca_and_chosen_streams_but_keeps_the_pcr_pid() {
    let cfg = SynthConfig {
        services: 1,
        ca_on_first: true,
        ..SynthConfig::default()
    };
    let input = synth::generate(&cfg, 20_000, 0);
    let mut demux = Demux::new(ClockConfig::default());
    let mut spec = ChannelSpec::new(1, "Stripped");
    spec.strip_ca = true;
    spec.strip_es = vec![EsFilter::StreamType(0x1B)]; // drop the video, which carries the PCR
    demux.set_channel(1, spec);
    let mut kept = ChannelSpec::new(1, "With CA");
    kept.strip_es = vec![EsFilter::Language("ENG".into())];
    demux.set_channel(2, kept);
    let mut out = BTreeMap::new();
    run(&mut demux, &input, &mut out, &mut 0);

    let stripped = analyze(&out[&1]);
    let s = &stripped.services[0];
    assert!(!s.scrambled, "CA descriptor removed");
    assert_eq!(
        s.streams.iter().map(|e| e.pid).collect::<Vec<_>>(),
        vec![synth::audio_pid(0)]
    );
    assert_eq!(s.pcr_pid, Some(synth::video_pid(0)));
    assert!(
        stripped.pids.contains_key(&synth::video_pid(0)),
        "the PCR PID is carried though no stream uses it"
    );

    let with_ca = analyze(&out[&2]);
    assert!(with_ca.services[0].scrambled, "CA descriptor kept");
    assert_eq!(
        with_ca.services[0].streams.len(),
        1,
        "English audio dropped by language"
    );
}

#[test]
fn unset_pcr_pid_is_repaired_from_the_stream_that_carries_pcr() {
    let cfg = SynthConfig {
        services: 1,
        first_pcr_pid_override: Some(pids::NULL),
        ..SynthConfig::default()
    };
    let input = synth::generate(&cfg, 10_000, 0);
    let mut demux = demux_with(&[0]);
    let mut out = BTreeMap::new();
    run(&mut demux, &input, &mut out, &mut 0);
    assert_eq!(analyze(&input).services[0].pcr_pid, Some(pids::NULL));
    let a = analyze(&out[&0]);
    assert_eq!(a.services[0].pcr_pid, Some(synth::video_pid(0)));
    assert_eq!(a.cc_errors, 0);
}

#[test]
fn service_missing_from_the_multiplex_waits_and_outputs_nothing() {
    let input = synth::generate(&SynthConfig::default(), 5_000, 0);
    let mut demux = Demux::new(ClockConfig::default());
    demux.set_channel(9, ChannelSpec::new(999, "Ghost"));
    let mut out = BTreeMap::new();
    run(&mut demux, &input, &mut out, &mut 0);
    assert!(out[&9].is_empty());
    assert_eq!(
        demux.channel(9).unwrap().state(),
        dvbgate_remux::ServiceState::Waiting
    );
}

/// Garbage between packets, cut packets, flipped bytes and transport errors: nothing
/// panics, the output stays a valid SPTS and continuity errors only come from real loss.
#[test]
fn damaged_input_still_gives_valid_tables() {
    let input = synth::generate(&SynthConfig::default(), 30_000, 0);
    let mut damaged = Vec::with_capacity(input.len() + 10_000);
    let mut x: u32 = 12345;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for p in input.chunks(188) {
        match rand() % 200 {
            0 => damaged.extend_from_slice(&p[..(rand() % 188) as usize]), // cut
            1 => damaged.extend((0..rand() % 300).map(|_| rand() as u8)),  // garbage
            2 => {
                let mut q = p.to_vec();
                q[1] |= 0x80; // transport error
                damaged.extend_from_slice(&q);
            }
            3 => {
                let mut q = p.to_vec();
                let at = 4 + (rand() % 184) as usize;
                q[at] ^= 0xFF; // payload damage
                damaged.extend_from_slice(&q);
            }
            _ => damaged.extend_from_slice(p),
        }
    }
    let mut demux = demux_with(&[0, 1, 2, 3]);
    let mut out = BTreeMap::new();
    run(&mut demux, &damaged, &mut out, &mut 0);
    for i in 0..4u16 {
        let a = analyze(&out[&u32::from(i)]);
        assert_eq!(a.services.len(), 1);
        assert_eq!(a.section_errors.crc, 0, "our tables are intact");
        for pid in [pids::PAT, synth::pmt_pid(i), pids::SDT] {
            assert_eq!(
                a.pids[&pid].counters.cc_errors, 0,
                "our tables' counters are continuous on {pid:#x}"
            );
        }
        assert!(a.pat_max_interval_ms.is_some_and(|ms| ms <= 100.0));
    }
    assert!(demux.reader_stats().sync_losses > 0);
}

#[test]
fn datagrams_carry_seven_packets_and_short_ones_only_when_sealed() {
    let input = synth::generate(&SynthConfig::default(), 10_000, 0);
    let mut demux = demux_with(&[0]);
    demux.push(&input, 0);
    let (_, channels) = demux.outputs();
    let ring = channels[0].1.ring();
    assert!(ring.len() > 10);
    for (info, bytes) in ring.front(ring.len()) {
        assert_eq!(info.packets, 7);
        assert_eq!(bytes.len(), HEADER_ROOM + 7 * 188);
        for p in bytes[HEADER_ROOM..].chunks(188) {
            assert_eq!(p[0], packet::SYNC_BYTE);
        }
    }
    let partial = ring.partial_packets();
    demux.seal_due(1_000_000_000, 20_000_000, 100_000_000);
    let ring = demux.channel(0).unwrap().ring();
    if partial > 0 {
        assert_eq!(
            ring.front(ring.len()).last().unwrap().0.packets as usize,
            partial
        );
    }
}

/// The fuzz target's work on a deterministic set of damaged inputs (bit flips, cuts,
/// inserted garbage, shuffled packets) built from the synthetic multiplex, so every test
/// run covers what the fuzzer explores, without the fuzzer.
#[test]
fn fuzz_target_survives_damaged_multiplexes() {
    let base = synth::generate(
        &SynthConfig {
            services: 3,
            ca_on_first: true,
            ..SynthConfig::default()
        },
        3_000,
        0,
    );
    let mut x: u64 = 0x243F_6A88_85A3_08D3;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut total = 0;
    for round in 0..200 {
        let mut data = base.clone();
        let edits = 1 + next() % 50;
        for _ in 0..edits {
            let at = (next() as usize) % data.len();
            match next() % 5 {
                0 => data[at] ^= 1 << (next() % 8),
                // Cuts are rare, or most rounds would end up tiny.
                1 if next() % 16 == 0 => data.truncate(at.max(1)),
                1 => data[at] = next() as u8,
                2 => {
                    let junk: Vec<u8> = (0..next() % 400).map(|_| next() as u8).collect();
                    data.splice(at..at, junk);
                }
                3 => {
                    let p = at / 188 * 188;
                    if p + 376 <= data.len() {
                        let (a, b) = data[p..p + 376].split_at_mut(188);
                        a.swap_with_slice(b);
                    }
                }
                _ => data[at] = 0x47,
            }
        }
        let mut input = vec![(round % 256) as u8];
        input.extend_from_slice(&data);
        total += input.len();
        dvbgate_remux::fuzzing::remux(&input);
    }
    assert!(
        total > 50_000_000,
        "the rounds keep most of the multiplex: {total} bytes"
    );
}

#[test]
fn wanted_pids_follow_the_tables_and_the_channels() {
    let cfg = SynthConfig::default();
    let mut d = demux_with(&[]);
    let mut wanted = Vec::new();
    d.wanted_pids(&mut wanted);
    // Before any table: only the fixed PSI/SI PIDs, so the PAT can be found.
    assert_eq!(wanted, vec![0x00, 0x01, 0x10, 0x11, 0x12, 0x14]);
    let before = d.pids_generation();

    let mut t = 0;
    let mut out = BTreeMap::new();
    run(&mut d, &synth::generate(&cfg, 4000, 0), &mut out, &mut t);
    assert_ne!(d.pids_generation(), before, "tables arrived");
    d.wanted_pids(&mut wanted);
    // Every PMT, so the whole service list stays known; no ES of unrouted services.
    for i in 0..cfg.services {
        assert!(wanted.contains(&synth::pmt_pid(i)), "{wanted:?}");
        assert!(!wanted.contains(&synth::video_pid(i)), "{wanted:?}");
    }

    let before = d.pids_generation();
    d.set_channel(1, ChannelSpec::new(synth::service_id(1), "One"));
    assert_ne!(d.pids_generation(), before, "a channel was added");
    d.wanted_pids(&mut wanted);
    assert!(wanted.contains(&synth::video_pid(1)));
    assert!(wanted.contains(&synth::audio_pid(1)));
    assert!(!wanted.contains(&synth::video_pid(2)));
    assert!(
        wanted.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert!(!wanted.contains(&pids::NULL));

    d.remove_channel(1);
    d.wanted_pids(&mut wanted);
    assert!(!wanted.contains(&synth::video_pid(1)));
}
