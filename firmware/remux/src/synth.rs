//! A synthetic multiplex for tests, benchmarks and fuzzing: N services, each with a video
//! and an audio PID, PCR on video every 40 ms, PAT/PMT every 100 ms, SDT and EIT p/f every
//! second, a TDT, and null packets, at a constant bitrate. Not a public interface.

use dvbgate_ts::packet::{self, PACKET_SIZE, Pcr, RawPacket, pids};
use dvbgate_ts::tables::{eit, pat, pmt, sdt, time};
use dvbgate_ts::write::Packetizer;

/// Shape of the synthetic multiplex.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub services: u16,
    pub bitrate: u64,
    /// Every `null_every`-th packet slot is a null packet (0 = none).
    pub null_every: u64,
    /// PMT PCR_PID for service 1; others use their video PID. `pids::NULL` reproduces
    /// broadcasters that leave it unset.
    pub first_pcr_pid_override: Option<u16>,
    /// CA descriptor on service 1's PMT.
    pub ca_on_first: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            services: 4,
            bitrate: 20_000_000,
            null_every: 10,
            first_pcr_pid_override: None,
            ca_on_first: false,
        }
    }
}

pub fn service_id(i: u16) -> u16 {
    i + 1
}
pub fn pmt_pid(i: u16) -> u16 {
    0x100 + 0x10 * i
}
pub fn video_pid(i: u16) -> u16 {
    pmt_pid(i) + 1
}
pub fn audio_pid(i: u16) -> u16 {
    pmt_pid(i) + 2
}
pub const ECM_PID: u16 = 0x1F0;

/// Generates `packets` packets of the multiplex, starting at PCR `pcr0`.
pub fn generate(cfg: &SynthConfig, packets: u64, pcr0: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(packets as usize * PACKET_SIZE);
    let ns_per_packet = PACKET_SIZE as u64 * 8 * 1_000_000_000 / cfg.bitrate;
    let programs: Vec<(u16, u16)> = (0..cfg.services)
        .map(|i| (service_id(i), pmt_pid(i)))
        .collect();
    let pat_section = pat::build(1, 0, &programs);
    let pmt_sections: Vec<Vec<u8>> = (0..cfg.services).map(|i| pmt_section(cfg, i, 0)).collect();
    let sdt_descriptors: Vec<Vec<u8>> = (0..cfg.services)
        .map(|i| sdt::service_descriptor(0x01, "synth", &format!("Service {}", service_id(i))))
        .collect();
    let entries: Vec<sdt::SdtEntry<'_>> = (0..cfg.services as usize)
        .map(|i| sdt::SdtEntry {
            service_id: service_id(i as u16),
            eit_schedule: false,
            eit_present_following: true,
            running_status: 4,
            free_ca_mode: false,
            descriptors: &sdt_descriptors[i],
        })
        .collect();
    let sdt_section = sdt::build(1, 0x2001, 0, &entries);
    let eit_sections: Vec<Vec<u8>> = (0..cfg.services)
        .map(|i| eit_pf(service_id(i), 0))
        .collect();

    let mut pat_pk = Packetizer::new(pids::PAT);
    let mut pmt_pk: Vec<Packetizer> = (0..cfg.services)
        .map(|i| Packetizer::new(pmt_pid(i)))
        .collect();
    let mut sdt_pk = Packetizer::new(pids::SDT);
    let mut eit_pk = Packetizer::new(pids::EIT);
    let mut tdt_pk = Packetizer::new(pids::TDT);
    let mut es_cc = vec![0u8; cfg.services as usize * 2];
    let mut next_pcr = vec![0u64; cfg.services as usize];
    let mut queue: Vec<RawPacket> = Vec::new();
    let (mut next_psi, mut next_si) = (0u64, 0u64);
    let streams = u64::from(cfg.services) * 2;
    let mut es_turn = 0u64;

    for i in 0..packets {
        let t = i * ns_per_packet;
        if t >= next_psi {
            pat_pk.packetize(&pat_section, &mut |p| queue.push(*p));
            for (k, s) in pmt_sections.iter().enumerate() {
                pmt_pk[k].packetize(s, &mut |p| queue.push(*p));
            }
            next_psi = t + 100_000_000;
        }
        if t >= next_si {
            sdt_pk.packetize(&sdt_section, &mut |p| queue.push(*p));
            let refs: Vec<&[u8]> = eit_sections.iter().map(Vec::as_slice).collect();
            eit_pk.packetize_many(&refs, &mut |p| queue.push(*p));
            tdt_pk.packetize(
                &time::build_tdt(1_700_000_000 + (t / 1_000_000_000) as i64),
                &mut |p| queue.push(*p),
            );
            next_si = t + 1_000_000_000;
        }
        let p = if !queue.is_empty() {
            queue.remove(0)
        } else if cfg.null_every > 0 && i % cfg.null_every == cfg.null_every - 1 {
            null_packet()
        } else {
            let stream = es_turn % streams;
            es_turn += 1;
            let service = (stream / 2) as u16;
            let video = stream.is_multiple_of(2);
            let pid = if video {
                video_pid(service)
            } else {
                audio_pid(service)
            };
            let cc = &mut es_cc[stream as usize];
            let pcr = (video && t >= next_pcr[service as usize]).then(|| {
                next_pcr[service as usize] = t + 40_000_000;
                Pcr((pcr0 + t * 27 / 1000) % Pcr::MODULUS)
            });
            let p = es_packet(pid, *cc, pcr, es_turn % 50 < 2);
            *cc = (*cc + 1) & 0x0F;
            p
        };
        out.extend_from_slice(&p);
    }
    out
}

pub fn pmt_section(cfg: &SynthConfig, i: u16, version: u8) -> Vec<u8> {
    let lang: &[u8] = &[0x0A, 4, b'e', b'n', b'g', 0];
    let ca: &[u8] = &[
        0x09,
        4,
        0x0B,
        0x00,
        0xE0 | (ECM_PID >> 8) as u8,
        ECM_PID as u8,
    ];
    let program_info = if cfg.ca_on_first && i == 0 { ca } else { &[] };
    let pcr_pid = match (i, cfg.first_pcr_pid_override) {
        (0, Some(p)) => p,
        _ => video_pid(i),
    };
    pmt::build(
        service_id(i),
        version,
        pcr_pid,
        program_info,
        &[
            pmt::StreamEntry {
                stream_type: 0x1B,
                pid: video_pid(i),
                es_info: &[],
            },
            pmt::StreamEntry {
                stream_type: 0x0F,
                pid: audio_pid(i),
                es_info: lang,
            },
        ],
    )
}

pub fn eit_pf(service_id: u16, version: u8) -> Vec<u8> {
    let d = eit::short_event_descriptor(b"eng", &format!("Programme on {service_id}"), "");
    eit::build(
        &eit::EitHeader {
            table_id: 0x4E,
            service_id,
            version,
            section_number: 0,
            last_section_number: 1,
            transport_stream_id: 1,
            original_network_id: 0x2001,
            segment_last_section_number: 1,
            last_table_id: 0x4E,
        },
        &[eit::EventEntry {
            event_id: service_id,
            start: 1_700_000_000,
            duration: 3600,
            running_status: 4,
            descriptors: &d,
        }],
    )
}

pub fn null_packet() -> RawPacket {
    let mut p = [0xFF; PACKET_SIZE];
    packet::write_header(&mut p, pids::NULL, false, 0);
    p
}

/// An elementary stream packet; with a PCR it carries an adaptation field.
pub fn es_packet(pid: u16, cc: u8, pcr: Option<Pcr>, unit_start: bool) -> RawPacket {
    let mut p = [0u8; PACKET_SIZE];
    packet::write_header(&mut p, pid, unit_start, cc);
    let mut at = 4;
    if let Some(pcr) = pcr {
        at = packet::write_pcr_adaptation_field(&mut p, pcr);
    }
    if unit_start {
        // A PES header with no timestamps: enough to look like a stream.
        p[at..at + 9].copy_from_slice(&[0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0]);
        at += 9;
    }
    for (k, b) in p[at..].iter_mut().enumerate() {
        *b = (k as u8).wrapping_mul(31).wrapping_add(pid as u8);
    }
    p
}
