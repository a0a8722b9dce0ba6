//! Synthetic SPTS for the segmenter's tests: PAT and PMT, a video stream of access units
//! crafted NAL by NAL (H.264, HEVC, MPEG-2), ADTS audio, PCRs, each packet with the wall
//! clock time it was produced.

#![allow(dead_code)]

use dvbgate_ts::packet::{self, PACKET_SIZE, RawPacket, pids};
use dvbgate_ts::tables::{pat, pmt};
use dvbgate_ts::write::Packetizer;
use std::collections::HashMap;

pub const PROGRAM: u16 = 7;
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x100;
pub const AUDIO_PID: u16 = 0x101;
pub const PTS_MODULUS: u64 = 1 << 33;

/// What kind of picture an access unit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pic {
    /// H.264 IDR / HEVC IDR_W_RADL / MPEG-2 I after a sequence header.
    Key,
    /// H.264 I with a recovery point SEI / HEVC CRA / MPEG-2 I without a sequence header.
    Alt,
    /// A predicted picture.
    Inter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    H264,
    Hevc,
    Mpeg2,
}

impl Codec {
    pub fn stream_type(self) -> u8 {
        match self {
            Codec::H264 => 0x1B,
            Codec::Hevc => 0x24,
            Codec::Mpeg2 => 0x02,
        }
    }
}

/// Bytes that never form a start code.
fn filler(n: usize) -> impl Iterator<Item = u8> {
    (0..n).map(|i| 0x5A ^ (i as u8 & 0x0F) | 0x10)
}

/// An H.264 access unit of about `size` bytes; `pad` bytes of SEI filler after the access
/// unit delimiter move everything that follows (to put start codes across packets).
pub fn h264_au(pic: Pic, size: usize, pad: usize) -> Vec<u8> {
    let mut au = vec![0, 0, 0, 1, 0x09, 0xF0];
    if pad > 0 {
        // A user-data-unregistered SEI message of the padding's size.
        au.extend_from_slice(&[0, 0, 1, 0x06, 0x05, pad.min(255) as u8]);
        au.extend(filler(pad.min(255)));
        au.push(0x80);
    }
    match pic {
        Pic::Key => {
            au.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x4D, 0x40, 0x1E, 0x96, 0x54, 0x05]);
            au.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xEE, 0x3C, 0x80]);
            au.extend_from_slice(&[0, 0, 1, 0x65, 0x88, 0x84]);
        }
        Pic::Alt => {
            // Buffering period (0), then the recovery point (6).
            au.extend_from_slice(&[
                0, 0, 1, 0x06, 0x00, 0x02, 0x81, 0x10, 0x06, 0x01, 0xC4, 0x80,
            ]);
            au.extend_from_slice(&[0, 0, 1, 0x01, 0x88, 0x84]);
        }
        Pic::Inter => au.extend_from_slice(&[0, 0, 1, 0x41, 0x9A, 0x02]),
    }
    let n = size.saturating_sub(au.len());
    au.extend(filler(n));
    au
}

/// An HEVC access unit: IDR_W_RADL (19) with VPS/SPS/PPS, CRA (21), or TRAIL_R (1).
pub fn hevc_au(pic: Pic, size: usize) -> Vec<u8> {
    let mut au = vec![0, 0, 0, 1, 0x46, 0x01, 0x50];
    let slice_type = match pic {
        Pic::Key => 19u8,
        Pic::Alt => 21,
        Pic::Inter => 1,
    };
    if pic != Pic::Inter {
        au.extend_from_slice(&[0, 0, 0, 1, 0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF]);
        // SPS: Main profile, main tier, level 3.1; emulation prevention where due.
        au.extend_from_slice(&[
            0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
            0x03, 0x00, 0x00, 0x03, 0x00, 0x5D, 0xA0, 0x05,
        ]);
        au.extend_from_slice(&[0, 0, 0, 1, 0x44, 0x01, 0xC1, 0x72]);
    }
    au.extend_from_slice(&[0, 0, 1, slice_type << 1, 0x01, 0xAF]);
    let n = size.saturating_sub(au.len());
    au.extend(filler(n));
    au
}

/// An MPEG-2 picture: `Key` is an I picture after a sequence header (and extension and
/// GOP header), `Alt` an I picture alone, `Inter` a P picture.
pub fn mpeg2_au(pic: Pic, size: usize) -> Vec<u8> {
    let mut au = Vec::new();
    if pic == Pic::Key {
        au.extend_from_slice(&[
            0, 0, 1, 0xB3, 0x28, 0x01, 0x68, 0x33, 0xFF, 0xFF, 0xE0, 0x18,
        ]);
        au.extend_from_slice(&[0, 0, 1, 0xB5, 0x14, 0x8A, 0x00, 0x01, 0x00, 0x00]);
        au.extend_from_slice(&[0, 0, 1, 0xB8, 0x00, 0x08, 0x00, 0x40]);
    }
    let coding_type = if pic == Pic::Inter { 2u8 } else { 1 };
    au.extend_from_slice(&[0, 0, 1, 0x00, 0x00, coding_type << 3 | 0x07, 0xFF, 0xF8]);
    au.extend_from_slice(&[0, 0, 1, 0x01, 0x12, 0x34]);
    let n = size.saturating_sub(au.len());
    au.extend(filler(n));
    au
}

pub fn access_unit(codec: Codec, pic: Pic, size: usize) -> Vec<u8> {
    match codec {
        Codec::H264 => h264_au(pic, size, 0),
        Codec::Hevc => hevc_au(pic, size),
        Codec::Mpeg2 => mpeg2_au(pic, size),
    }
}

/// One ADTS AAC-LC frame (48 kHz, stereo) of `size` bytes.
pub fn adts_frame(size: usize) -> Vec<u8> {
    let len = size.max(7);
    let mut f = vec![
        0xFF,
        0xF1,
        0x4C,
        0x80 | (len >> 11) as u8,
        (len >> 3) as u8,
        ((len & 7) << 5) as u8 | 0x1F,
        0xFC,
    ];
    f.extend(filler(len - 7));
    f
}

/// Flags for a PES packet's first TS packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct First {
    pub pcr: Option<u64>,
    pub discontinuity: bool,
    pub random_access: bool,
}

/// A stream being written: packets, each with the wall time it was produced.
pub struct Stream {
    pub packets: Vec<(RawPacket, i64)>,
    pub wall_ms: i64,
    cc: HashMap<u16, u8>,
    pat: Packetizer,
    pmt: Packetizer,
    pmt_pid: u16,
    pmt_version: u8,
    pmt_section: Vec<u8>,
    pat_section: Vec<u8>,
}

impl Stream {
    /// A program with `streams` (stream type, PID), PCR on `pcr_pid`.
    pub fn new(streams: &[(u8, u16)], pcr_pid: u16) -> Self {
        let mut s = Stream {
            packets: Vec::new(),
            wall_ms: 1_795_240_800_000,
            cc: HashMap::new(),
            pat: Packetizer::new(pids::PAT),
            pmt: Packetizer::new(PMT_PID),
            pmt_pid: PMT_PID,
            pmt_version: 0,
            pmt_section: Vec::new(),
            pat_section: pat::build(1, 0, &[(PROGRAM, PMT_PID)]),
        };
        s.set_streams(streams, pcr_pid);
        s
    }

    /// Changes the PMT (next version).
    pub fn set_streams(&mut self, streams: &[(u8, u16)], pcr_pid: u16) {
        let es_infos: Vec<Vec<u8>> = streams
            .iter()
            .map(|&(t, _)| {
                if t == 0x06 {
                    vec![0x6A, 1, 0]
                } else {
                    Vec::new()
                }
            })
            .collect();
        let entries: Vec<pmt::StreamEntry<'_>> = streams
            .iter()
            .zip(&es_infos)
            .map(|(&(stream_type, pid), info)| pmt::StreamEntry {
                stream_type,
                pid,
                es_info: info,
            })
            .collect();
        self.pmt_section = pmt::build(PROGRAM, self.pmt_version, pcr_pid, &[], &entries);
        self.pmt_version = (self.pmt_version + 1) & 0x1F;
    }

    pub fn psi(&mut self) {
        let wall = self.wall_ms;
        let mut out = Vec::new();
        self.pat.packetize(&self.pat_section, &mut |p| out.push(*p));
        self.pmt.packetize(&self.pmt_section, &mut |p| out.push(*p));
        self.packets.extend(out.into_iter().map(|p| (p, wall)));
        let _ = self.pmt_pid;
    }

    /// An SDT-like packet on another PID (passes through untouched).
    pub fn other(&mut self, pid: u16) {
        let mut p = [0xFFu8; PACKET_SIZE];
        let cc = self.next_cc(pid);
        packet::write_header(&mut p, pid, true, cc);
        p[4] = 0;
        self.packets.push((p, self.wall_ms));
    }

    fn next_cc(&mut self, pid: u16) -> u8 {
        let cc = self.cc.entry(pid).or_insert(0);
        let v = *cc;
        *cc = (*cc + 1) & 0x0F;
        v
    }

    /// A PES packet of `es` on `pid`, packetized with stuffing in the last packet.
    pub fn pes(&mut self, pid: u16, stream_id: u8, pts: Option<u64>, es: &[u8], first: First) {
        let mut data = vec![0, 0, 1, stream_id, 0, 0, 0x80];
        match pts {
            Some(t) => {
                data.extend_from_slice(&[0x80, 5]);
                data.extend_from_slice(&encode_timestamp(2, t % PTS_MODULUS));
            }
            None => data.extend_from_slice(&[0, 0]),
        }
        data.extend_from_slice(es);
        if stream_id != 0xE0 {
            let len = (data.len() - 6).min(0xFFFF);
            data[4] = (len >> 8) as u8;
            data[5] = len as u8;
        }
        let mut rest = &data[..];
        let mut is_first = true;
        while !rest.is_empty() {
            let mut p = [0xFFu8; PACKET_SIZE];
            let cc = self.next_cc(pid);
            packet::write_header(&mut p, pid, is_first, cc);
            let mut field: Vec<u8> = Vec::new();
            if is_first && (first.pcr.is_some() || first.discontinuity || first.random_access) {
                let mut flags = 0u8;
                if first.discontinuity {
                    flags |= 0x80;
                }
                if first.random_access {
                    flags |= 0x40;
                }
                if first.pcr.is_some() {
                    flags |= 0x10;
                }
                field.push(flags);
                if let Some(pcr) = first.pcr {
                    let (base, ext) = ((pcr / 300) % PTS_MODULUS, pcr % 300);
                    field.extend_from_slice(&[
                        (base >> 25) as u8,
                        (base >> 17) as u8,
                        (base >> 9) as u8,
                        (base >> 1) as u8,
                        ((base & 1) as u8) << 7 | 0x7E | (ext >> 8) as u8,
                        ext as u8,
                    ]);
                }
            }
            let room = 184 - if field.is_empty() { 0 } else { 1 + field.len() };
            if rest.len() < room {
                // Stuffing: the adaptation field grows to fill the packet.
                let total = 184 - rest.len();
                if field.is_empty() && total >= 2 {
                    field.push(0);
                }
                while field.len() + 1 < total {
                    field.push(0xFF);
                }
            }
            let mut at = 4;
            if !field.is_empty() || rest.len() == 183 {
                p[3] |= 0x20;
                p[4] = field.len() as u8;
                p[5..5 + field.len()].copy_from_slice(&field);
                at = 5 + field.len();
            }
            let n = (PACKET_SIZE - at).min(rest.len());
            p[at..at + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.packets.push((p, self.wall_ms));
            is_first = false;
        }
    }

    pub fn raw(&self) -> Vec<RawPacket> {
        self.packets.iter().map(|(p, _)| *p).collect()
    }
}

pub fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    [
        prefix << 4 | ((ts >> 29) as u8 & 0x0E) | 1,
        (ts >> 22) as u8,
        ((ts >> 14) as u8 & 0xFE) | 1,
        (ts >> 7) as u8,
        ((ts << 1) as u8) | 1,
    ]
}

/// Shape of a synthetic channel.
pub struct Shape<'a> {
    pub codec: Codec,
    /// Pictures, 25 per second.
    pub frames: usize,
    /// Picture kind by index.
    pub pic: &'a dyn Fn(usize) -> Pic,
    pub first_pts: u64,
    pub audio: bool,
    pub frame_bytes: usize,
}

pub const FRAME_TICKS: u64 = 3600;

/// A channel at 25 pictures per second, PAT/PMT every 3 pictures, PCR on video, one ADTS
/// frame per picture; the wall clock follows the pictures with some jitter.
pub fn channel(shape: &Shape<'_>) -> Stream {
    let mut streams = vec![(shape.codec.stream_type(), VIDEO_PID)];
    if shape.audio {
        streams.push((0x0F, AUDIO_PID));
    }
    let mut s = Stream::new(&streams, VIDEO_PID);
    let start_wall = s.wall_ms;
    for i in 0..shape.frames {
        // Up to 30 ms of scheduling jitter on the caller's clock.
        s.wall_ms = start_wall + i as i64 * 40 + (i as i64 * 7919 % 31);
        if i % 3 == 0 {
            s.psi();
        }
        let pts = shape.first_pts + i as u64 * FRAME_TICKS;
        let pic = (shape.pic)(i);
        let size = if pic == Pic::Inter {
            shape.frame_bytes
        } else {
            shape.frame_bytes * 4
        };
        let au = access_unit(shape.codec, pic, size);
        let pcr = Some(pts.saturating_sub(9000) % PTS_MODULUS * 300);
        s.pes(
            VIDEO_PID,
            0xE0,
            Some(pts),
            &au,
            First {
                pcr,
                ..First::default()
            },
        );
        if shape.audio {
            s.pes(
                AUDIO_PID,
                0xC0,
                Some(pts),
                &adts_frame(300),
                First::default(),
            );
        }
    }
    s
}
