//! Writes the service information of the bundled demo multiplex into ffmpeg's output.
//!
//! ```text
//! cargo run --release -p dvbgate-ts --example demo_si -- IN.ts OUT.ts [--start UNIX_SECONDS]
//!     [--days N] [--network-id ID] [--max-late-ms MS] [--schedule-cycle-s S]
//! ```
//!
//! `scripts/make-demo-mux` runs this on a constant-rate MPTS from ffmpeg. ffmpeg writes PAT,
//! PMTs and the elementary streams well, but its SDT names every service after the muxer and
//! it writes no EIT, TDT or TOT at all. This example keeps every packet where it is (so the
//! mux stays constant-rate and ffmpeg's PCRs stay true) and puts our own tables into the
//! packets that carry nothing of value: the null packets of the CBR padding and ffmpeg's own
//! SDT and NIT packets. Everything is built with this crate's table writer:
//!
//! - SDT actual: service names (one accented, to exercise DVB text), provider, types, flags;
//! - NIT actual: network name, a terrestrial delivery descriptor, a service list;
//! - EIT present/following actual for each service, consistent with the schedule at the time
//!   of the packet that carries it;
//! - EIT schedule actual for `--days` days: sub-tables 0x50, 0x51.. in 3-hour segments as
//!   ETSI EN 300 468 §5.2.4 lays them out, with short event and content descriptors;
//! - TDT and TOT (with local time offsets) once a second, following the file's PCR clock.
//!
//! Times: `--start` (default: now, rounded down to the hour) is the UTC time of the file's
//! first packet; the schedule starts at that hour. Output depends only on the input and the
//! options, so a rerun with the same `--start` gives the same file.
//!
//! If the padding cannot carry the tables at their cadence (a section would go out more than
//! `--max-late-ms` after it was due, or would not fit before the end of the file), this says
//! so and exits non-zero rather than dropping or thinning SI.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use dvbgate_ts::analyze;
use dvbgate_ts::descriptor::tag;
use dvbgate_ts::monitor::{EitInterest, MuxMonitor};
use dvbgate_ts::packet::{self, PACKET_SIZE, Pcr, RawPacket, SYNC_BYTE, pids};
use dvbgate_ts::tables::eit::{self, EitHeader, EventEntry};
use dvbgate_ts::tables::nit::{self, NitTransport};
use dvbgate_ts::tables::sdt::{self, SdtEntry};
use dvbgate_ts::tables::{table_id, time};
use dvbgate_ts::timing::PcrTimeline;
use dvbgate_ts::write::Packetizer;
use std::collections::{BTreeMap, VecDeque};
use std::error::Error;
use std::process::ExitCode;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const NS: i64 = 1_000_000_000;
/// EIT schedule segments are three hours long (EN 300 468 §5.2.4).
const SEGMENT_S: i64 = 3 * 3600;
/// Segments per EIT schedule sub-table (one table_id): 32 of 3 hours, 4 days.
const SEGMENTS_PER_TABLE: i64 = 32;
/// Largest EIT section, header and CRC included (EN 300 468 §5.2.4: section_length ≤ 4093).
const MAX_EIT_SECTION: usize = 4096;
/// Bytes of an EIT section outside its event loop: 14 of header, 4 of CRC.
const EIT_OVERHEAD: usize = 14 + 4;

// Cadences (TS 101 211 §4.4 asks at least: SDT and EIT p/f actual every 2 s, NIT every 10 s,
// the first day of schedule every 10 s). Staggered so that the tables do not all wait for
// the same null packets.
const TIME_PERIOD_NS: i64 = NS;
const SDT_PERIOD_NS: i64 = NS;
const SDT_FIRST_NS: i64 = NS / 4;
const NIT_PERIOD_NS: i64 = 5 * NS;
const NIT_FIRST_NS: i64 = NS / 10;
const PF_PERIOD_NS: i64 = NS;
const PF_FIRST_NS: i64 = NS / 2;
const SCHEDULE_FIRST_NS: i64 = 6 * NS / 10;

// ----------------------------------------------------------------------------------------
// What the services show. Invented titles; one service in French, with accents.

struct Programme {
    title: &'static str,
    minutes: u32,
    /// Content descriptor nibbles (EN 300 468 Table 29), level 1 and 2.
    genre: u8,
    /// A series gets an episode number after its description.
    series: bool,
    about: &'static [&'static str],
}

struct ServiceSpec {
    name: &'static str,
    language: &'static [u8; 3],
    episode_word: &'static str,
    programmes: &'static [Programme],
}

const fn p(
    title: &'static str,
    minutes: u32,
    genre: u8,
    series: bool,
    about: &'static [&'static str],
) -> Programme {
    Programme {
        title,
        minutes,
        genre,
        series,
        about,
    }
}

const PROVIDER: &str = "dvbgate";
const NETWORK_NAME: &str = "dvbgate demo";
/// Centre frequency announced in the terrestrial delivery descriptor: UHF channel 26.
const CENTRE_FREQUENCY_HZ: u64 = 514_000_000;

const SERVICES: [ServiceSpec; 4] = [
    ServiceSpec {
        name: "dvbgate One",
        language: b"eng",
        episode_word: "Episode",
        programmes: &[
            p(
                "Morning Briefing",
                30,
                0x20,
                false,
                &[
                    "Headlines, business and the weather to start the day.",
                    "The overnight news, the papers and a look at the day ahead.",
                ],
            ),
            p(
                "The Headline Hour",
                60,
                0x20,
                false,
                &[
                    "The day's main stories, with reports from our correspondents.",
                    "News, analysis and interviews from home and abroad.",
                ],
            ),
            p(
                "Weather Outlook",
                15,
                0x21,
                false,
                &[
                    "The forecast for the next five days.",
                    "Sunshine, showers and the week's weather in detail.",
                ],
            ),
            p(
                "Harbour Lights",
                30,
                0x15,
                true,
                &[
                    "Mara finds an old letter in the lighthouse.",
                    "The ferry is late and tempers fray at the café.",
                    "A storm keeps the whole village awake.",
                ],
            ),
            p(
                "Kitchen Table",
                30,
                0xA5,
                true,
                &[
                    "Quick suppers from the store cupboard.",
                    "Baking bread with three ingredients.",
                    "A Sunday roast, start to finish.",
                ],
            ),
            p(
                "Quiz Night",
                45,
                0x31,
                true,
                &[
                    "Four teams, six rounds and one golden question.",
                    "The champions return to defend their title.",
                ],
            ),
            p(
                "The Cold Case Files",
                60,
                0x11,
                true,
                &[
                    "A detective reopens the case that ended her mentor's career.",
                    "A missing painting leads the team to an old theatre.",
                ],
            ),
            p(
                "Laugh Lines",
                30,
                0x14,
                true,
                &[
                    "Stand-up comedy recorded at the Lantern Club.",
                    "Sketches, songs and a very patient studio audience.",
                ],
            ),
            p(
                "The Allotment",
                30,
                0xA7,
                true,
                &[
                    "Planting bulbs for spring colour.",
                    "Making a wildlife pond in a small garden.",
                ],
            ),
            p(
                "Late Edition",
                30,
                0x22,
                false,
                &["The night's news and a first look at tomorrow's papers."],
            ),
        ],
    },
    ServiceSpec {
        name: "dvbgate Two",
        language: b"eng",
        episode_word: "Episode",
        programmes: &[
            p(
                "Planet Deep",
                60,
                0x91,
                true,
                &[
                    "Life in the ocean's twilight zone.",
                    "Hydrothermal vents and the animals that thrive there.",
                    "Whales, krill and the great southern feeding grounds.",
                ],
            ),
            p(
                "Engineering Marvels",
                45,
                0x92,
                true,
                &[
                    "How a suspension bridge is built across a fjord.",
                    "Inside the tunnel boring machines beneath a capital city.",
                ],
            ),
            p(
                "The Human Body",
                30,
                0x93,
                true,
                &[
                    "The heart: a pump that never rests.",
                    "Sleep, and what the brain does while we dream.",
                ],
            ),
            p(
                "Slow Train",
                60,
                0xA1,
                true,
                &[
                    "Along the coast from Porto to Vigo.",
                    "Across the Alps on a narrow-gauge line.",
                    "Through the tea hills of Sri Lanka.",
                ],
            ),
            p(
                "Night Sky",
                15,
                0x92,
                false,
                &["What to look for in the sky this month."],
            ),
            p(
                "Wild Islands",
                45,
                0x91,
                true,
                &[
                    "Puffins return to a North Atlantic rock.",
                    "The lemurs of a forest island.",
                ],
            ),
            p(
                "History Uncovered",
                60,
                0x81,
                true,
                &[
                    "Divers map a Roman merchant ship.",
                    "The lost library of a medieval abbey.",
                ],
            ),
            p(
                "Inventors",
                30,
                0x83,
                true,
                &[
                    "The engineer who gave the world the zip fastener.",
                    "A radio pioneer's race across the ocean.",
                ],
            ),
            p(
                "Circuits",
                30,
                0x92,
                true,
                &[
                    "How a computer adds two numbers.",
                    "From sand to silicon: making a chip.",
                ],
            ),
        ],
    },
    ServiceSpec {
        name: "dvbgate Three",
        language: b"eng",
        episode_word: "Episode",
        programmes: &[
            p(
                "Match Day Live",
                60,
                0x43,
                false,
                &[
                    "Live league football with full commentary.",
                    "The afternoon's big match, live.",
                ],
            ),
            p(
                "Sports Desk",
                15,
                0x40,
                false,
                &["Results, fixtures and the latest sports news."],
            ),
            p(
                "Tennis Review",
                45,
                0x44,
                true,
                &[
                    "The best rallies of the clay-court season.",
                    "Five-set classics from the grass.",
                ],
            ),
            p(
                "Motor Sport Weekly",
                30,
                0x47,
                true,
                &[
                    "Qualifying, the race and the championship table.",
                    "Rally stages through forest and snow.",
                ],
            ),
            p(
                "Concert Hall",
                60,
                0x62,
                true,
                &[
                    "Dvořák's Symphony No. 9, \"From the New World\".",
                    "The chamber orchestra plays Mozart and Haydn.",
                ],
            ),
            p(
                "Jazz Session",
                45,
                0x64,
                true,
                &[
                    "A trio plays standards late into the night.",
                    "Big band swing from the riverside stage.",
                ],
            ),
            p(
                "The Chart Show",
                30,
                0x61,
                false,
                &["The week's forty most-played songs, counted down."],
            ),
            p(
                "Track and Field",
                30,
                0x46,
                true,
                &[
                    "Sprints, hurdles and the high jump from the indoor meeting.",
                    "Distance running from the city stadium.",
                ],
            ),
        ],
    },
    ServiceSpec {
        name: "Télé Quatre",
        language: b"fra",
        episode_word: "Épisode",
        programmes: &[
            p(
                "Le Journal",
                30,
                0x20,
                false,
                &[
                    "L'actualité du jour en France et dans le monde.",
                    "Les titres, les reportages et la météo.",
                ],
            ),
            p(
                "Météo",
                15,
                0x21,
                false,
                &["Les prévisions pour les cinq prochains jours."],
            ),
            p(
                "On en débat",
                45,
                0x33,
                true,
                &[
                    "Un invité, trois chroniqueurs et vos questions.",
                    "Faut-il réinventer les vacances d'été ?",
                ],
            ),
            p(
                "Les Énigmes du littoral",
                60,
                0x11,
                true,
                &[
                    "Une commissaire enquête sur la disparition d'un gardien de phare.",
                    "Un tableau volé ressurgit dans une galerie de Honfleur.",
                ],
            ),
            p(
                "Cuisine de saison",
                30,
                0xA5,
                true,
                &[
                    "Tarte fine aux pommes et crème fraîche.",
                    "Bouillabaisse à la façon des pêcheurs.",
                    "Crêpes, galettes et cidre brut.",
                ],
            ),
            p(
                "Dessins animés",
                30,
                0x55,
                false,
                &["Une demi-heure de dessins animés pour les plus jeunes."],
            ),
            p(
                "Le Grand Quiz",
                30,
                0x31,
                true,
                &["Quatre candidats, une cagnotte et des questions à foison."],
            ),
            p(
                "Cinéma d'ici",
                45,
                0x76,
                true,
                &[
                    "Rencontre avec une réalisatrice et ses acteurs.",
                    "Les sorties de la semaine passées au crible.",
                ],
            ),
            p(
                "Reportage",
                45,
                0x81,
                true,
                &[
                    "La Côte d'Azur hors saison.",
                    "Vignerons d'Alsace : l'année des vendanges précoces.",
                ],
            ),
            p(
                "Musique !",
                30,
                0x61,
                false,
                &["Les chansons françaises qui font l'été."],
            ),
        ],
    },
];

// ----------------------------------------------------------------------------------------
// Options.

struct Options {
    input: String,
    output: String,
    start: i64,
    days: i64,
    network_id: Option<u16>,
    max_late_ns: i64,
    schedule_cycle_ns: i64,
}

const USAGE: &str =
    "usage: demo_si IN.ts OUT.ts [--start UNIX_SECONDS] [--days N] [--network-id ID]
               [--max-late-ms MS] [--schedule-cycle-s S]
  --start            UTC time of the first packet (default: now, rounded down to the hour)
  --days             days of EIT schedule (default 7)
  --network-id       NIT network_id (default: the input's original_network_id)
  --max-late-ms      how late a section may go out before we give up (default 500)
  --schedule-cycle-s longest time for one full EIT schedule cycle (default 10)";

fn parse_number(what: &str, s: &str) -> Result<i64> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("{what}: {s:?} is not a number ({e})").into())
}

fn parse_options() -> Result<Options> {
    let mut positional = Vec::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| format!("system clock before 1970: {e}"))?
        .as_secs() as i64;
    let mut o = Options {
        input: String::new(),
        output: String::new(),
        start: now - now.rem_euclid(3600),
        days: 7,
        network_id: None,
        max_late_ns: 500_000_000,
        schedule_cycle_ns: 10 * NS,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--start" => o.start = parse_number("--start", &value("--start")?)?,
            "--days" => o.days = parse_number("--days", &value("--days")?)?,
            "--network-id" => {
                let id = parse_number("--network-id", &value("--network-id")?)?;
                o.network_id = Some(u16::try_from(id).map_err(|_| "--network-id: out of range")?);
            }
            "--max-late-ms" => {
                o.max_late_ns = parse_number("--max-late-ms", &value("--max-late-ms")?)?
                    .saturating_mul(1_000_000)
            }
            "--schedule-cycle-s" => {
                o.schedule_cycle_ns =
                    parse_number("--schedule-cycle-s", &value("--schedule-cycle-s")?)?
                        .saturating_mul(NS);
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}").into()),
            _ => positional.push(arg),
        }
    }
    let [input, output]: [String; 2] = positional.try_into().map_err(|_| USAGE.to_string())?;
    (o.input, o.output) = (input, output);
    // MJD in 16 bits ends in 2038; EIT schedule table ids cover 64 days.
    if !(0..2_100_000_000).contains(&o.start) {
        return Err("--start: outside what DVB's MJD dates can carry (1970..2036)".into());
    }
    if !(1..=60).contains(&o.days) {
        return Err("--days: 1..=60 (16 schedule tables of 4 days, less today)".into());
    }
    if o.max_late_ns <= 0 || o.schedule_cycle_ns <= 0 {
        return Err("--max-late-ms and --schedule-cycle-s must be positive".into());
    }
    Ok(o)
}

// ----------------------------------------------------------------------------------------
// Dates (proleptic Gregorian, days since 1970-01-01), for the TOT's daylight saving times
// and for printing.

/// Howard Hinnant's `days_from_civil`; `m` in 1..=12, or 13 for January of the next year.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn iso8601(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// 01:00 UTC on the last Sunday of `month`: when the EU changes clocks (Directive 2000/84/EC).
fn eu_clock_change(year: i64, month: i64) -> i64 {
    let last_day = days_from_civil(year, month + 1, 1) - 1;
    let weekday = (last_day + 4).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Sunday
    (last_day - weekday) * 86_400 + 3600
}

/// Local time offset descriptor (EN 300 468 §6.2.20) for countries on EU summer time:
/// `(country, standard offset in minutes)`.
fn local_time_offset_descriptor(utc: i64, countries: &[(&[u8; 3], i64)]) -> Vec<u8> {
    let (year, _, _) = civil_from_days(utc.div_euclid(86_400));
    let (summer_start, summer_end) = (eu_clock_change(year, 3), eu_clock_change(year, 10));
    // (in summer now, when that changes)
    let (summer, change) = if utc < summer_start {
        (false, summer_start)
    } else if utc < summer_end {
        (true, summer_end)
    } else {
        (false, eu_clock_change(year + 1, 3))
    };
    let mut d = vec![tag::LOCAL_TIME_OFFSET, (13 * countries.len()) as u8];
    for &(country, standard_min) in countries {
        let offset = |in_summer: bool| {
            let minutes = standard_min + if in_summer { 60 } else { 0 };
            // hh mm in BCD; time::encode_duration writes hh mm ss, so reuse its first two.
            let bcd = time::encode_duration((minutes.unsigned_abs() * 60) as u32);
            (minutes < 0, [bcd[0], bcd[1]])
        };
        let (negative, now) = offset(summer);
        let (_, next) = offset(!summer);
        d.extend_from_slice(country);
        // country_region_id 0 (whole country), a reserved bit, then the polarity.
        d.push(0x02 | u8::from(negative));
        d.extend_from_slice(&now);
        d.extend_from_slice(&time::encode_utc(change));
        d.extend_from_slice(&next);
    }
    d
}

// ----------------------------------------------------------------------------------------
// The programme schedule.

struct Event {
    id: u16,
    start: i64,
    duration: u32,
    descriptors: Vec<u8>,
}

/// A small deterministic generator (xorshift64*), so that the same `--start` always gives the
/// same schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Back-to-back events of 15 to 60 minutes from `from` until `until` is covered.
fn make_schedule(index: usize, spec: &ServiceSpec, from: i64, until: i64) -> Vec<Event> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0x1000_0000_01B3));
    let mut episodes = vec![0u32; spec.programmes.len()];
    let mut events = Vec::new();
    let mut last = usize::MAX;
    let mut at = from;
    while at < until {
        // Never the same programme twice in a row.
        let mut pick = rng.below(spec.programmes.len());
        if pick == last {
            pick = (pick + 1) % spec.programmes.len();
        }
        last = pick;
        let prog = &spec.programmes[pick];
        episodes[pick] += 1;
        let episode = episodes[pick];
        let about = prog.about[(episode as usize - 1) % prog.about.len()];
        let text = if prog.series {
            format!("{about} {} {}.", spec.episode_word, episode)
        } else {
            about.to_string()
        };
        let mut descriptors = eit::short_event_descriptor(spec.language, prog.title, &text);
        descriptors.extend(eit::content_descriptor(prog.genre));
        let duration = prog.minutes * 60;
        events.push(Event {
            id: u16::try_from(events.len() + 1).expect("fewer than 65536 events in 60 days"),
            start: at,
            duration,
            descriptors,
        });
        at += i64::from(duration);
    }
    events
}

/// The event running at `utc` and the one after it.
fn present_following(events: &[Event], utc: i64) -> (Option<&Event>, Option<&Event>) {
    let next = events.partition_point(|e| e.start <= utc);
    let present = next
        .checked_sub(1)
        .map(|i| &events[i])
        .filter(|e| utc < e.start + i64::from(e.duration));
    (present, events.get(next))
}

fn entry(e: &Event, running_status: u8) -> EventEntry<'_> {
    EventEntry {
        event_id: e.id,
        start: e.start,
        duration: e.duration,
        running_status,
        descriptors: &e.descriptors,
    }
}

/// Ids shared by every EIT section of the multiplex.
#[derive(Clone, Copy)]
struct MuxIds {
    transport_stream_id: u16,
    original_network_id: u16,
}

/// One EIT schedule section, with the segment it belongs to (for ordering the cycle).
struct ScheduleSection {
    segment: i64,
    service_index: usize,
    bytes: Vec<u8>,
}

/// The EIT schedule actual of one service (EN 300 468 §5.2.4): events go into the 3-hour
/// segment (counted from midnight UTC of `day0`) in which they start; segment `s` is carried
/// by table 0x50 + s / 32 in sections 8 * (s % 32) .. + 7. Segments before the first event
/// are in the past and not sent; every segment from there to the last event is sent, an empty
/// one as a single section without events.
fn schedule_sections(
    ids: MuxIds,
    service_index: usize,
    service_id: u16,
    events: &[Event],
    day0: i64,
) -> Result<Vec<ScheduleSection>> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(Vec::new());
    };
    let segment_of = |e: &Event| (e.start - day0).div_euclid(SEGMENT_S);
    let (first_segment, last_segment) = (segment_of(first), segment_of(last));
    if first_segment < 0 || last_segment >= 16 * SEGMENTS_PER_TABLE {
        return Err(
            "schedule beyond the 64 days that EIT schedule tables 0x50..0x5F can carry".into(),
        );
    }
    let last_table = (last_segment / SEGMENTS_PER_TABLE) as u8;

    // Split each segment's events into sections of at most MAX_EIT_SECTION bytes.
    let mut segments: Vec<(i64, Vec<&[Event]>)> = Vec::new();
    let mut rest = events;
    for segment in first_segment..=last_segment {
        let n = rest.iter().take_while(|e| segment_of(e) == segment).count();
        let (mine, later) = rest.split_at(n);
        rest = later;
        let mut sections: Vec<&[Event]> = Vec::new();
        let mut from = 0;
        let mut size = EIT_OVERHEAD;
        for (i, e) in mine.iter().enumerate() {
            let len = 12 + e.descriptors.len();
            if size + len > MAX_EIT_SECTION && i > from {
                sections.push(&mine[from..i]);
                (from, size) = (i, EIT_OVERHEAD);
            }
            size += len;
        }
        sections.push(&mine[from..]); // possibly empty: an empty segment still has a section
        if sections.len() > 8 {
            return Err(format!(
                "service {service_id}: segment {segment} needs {} sections, 8 is the limit",
                sections.len()
            )
            .into());
        }
        segments.push((segment, sections));
    }

    // last_section_number is per sub-table: the last section of its last segment.
    let mut last_section_of_table = BTreeMap::new();
    for (segment, sections) in &segments {
        let number = (segment % SEGMENTS_PER_TABLE) as u8 * 8 + (sections.len() - 1) as u8;
        last_section_of_table.insert(segment / SEGMENTS_PER_TABLE, number);
    }

    let mut out = Vec::new();
    for (segment, sections) in &segments {
        let table = segment / SEGMENTS_PER_TABLE;
        let base = (segment % SEGMENTS_PER_TABLE) as u8 * 8;
        for (n, events) in sections.iter().enumerate() {
            let header = EitHeader {
                table_id: table_id::EIT_SCHEDULE_ACTUAL_FIRST + table as u8,
                service_id,
                version: 0,
                section_number: base + n as u8,
                last_section_number: last_section_of_table[&table],
                transport_stream_id: ids.transport_stream_id,
                original_network_id: ids.original_network_id,
                segment_last_section_number: base + (sections.len() - 1) as u8,
                last_table_id: table_id::EIT_SCHEDULE_ACTUAL_FIRST + last_table,
            };
            // Running status "undefined": the schedule is sent unchanged for the whole file,
            // so it cannot say which event is on; EIT p/f does.
            let entries: Vec<EventEntry<'_>> = events.iter().map(|e| entry(e, 0)).collect();
            out.push(ScheduleSection {
                segment: *segment,
                service_index,
                bytes: eit::build(&header, &entries),
            });
        }
    }
    Ok(out)
}

// ----------------------------------------------------------------------------------------
// Packet slots and their queues.

/// One of our PIDs: its packetizer (so its continuity counter runs on across tables) and the
/// packets waiting for a free slot, in order, since sections on a PID must not interleave.
struct Outlet {
    pid: u16,
    packetizer: Packetizer,
    waiting: VecDeque<RawPacket>,
    /// `(number of packets enqueued once this batch is in, when it was due)`.
    batches: VecDeque<(u64, i64)>,
    enqueued: u64,
    sent: u64,
    max_late_ns: i64,
}

impl Outlet {
    fn new(pid: u16) -> Self {
        Outlet {
            pid,
            packetizer: Packetizer::new(pid),
            waiting: VecDeque::new(),
            batches: VecDeque::new(),
            enqueued: 0,
            sent: 0,
            max_late_ns: 0,
        }
    }

    /// Queues sections due at `due_ns`, packed back to back.
    fn push(&mut self, sections: &[&[u8]], due_ns: i64) {
        let waiting = &mut self.waiting;
        let before = waiting.len();
        self.packetizer
            .packetize_many(sections, &mut |p| waiting.push_back(*p));
        self.enqueued += (waiting.len() - before) as u64;
        self.batches.push_back((self.enqueued, due_ns));
    }

    /// The next packet for a free slot at `now_ns`, noting how late its batch completes.
    fn pop(&mut self, now_ns: i64) -> Option<RawPacket> {
        let p = self.waiting.pop_front()?;
        self.sent += 1;
        while let Some(&(end, due)) = self.batches.front() {
            if end > self.sent {
                break;
            }
            self.max_late_ns = self.max_late_ns.max(now_ns - due);
            self.batches.pop_front();
        }
        Some(p)
    }
}

/// Stream time by packet position, from the PCRs of one PID (interpolated between them,
/// extrapolated at the ends; the mux is constant-rate).
struct Clock {
    anchors: Vec<(u64, i64)>,
}

impl Clock {
    fn at(&self, position: u64) -> i64 {
        let i = self.anchors.partition_point(|&(p, _)| p <= position);
        let (a, b) = match i {
            0 => (self.anchors[0], self.anchors[1]),
            i if i >= self.anchors.len() => (self.anchors[i - 2], self.anchors[i - 1]),
            i => (self.anchors[i - 1], self.anchors[i]),
        };
        let span = (b.0 - a.0).max(1) as i128;
        a.1 + ((b.1 - a.1) as i128 * (position as i128 - a.0 as i128) / span) as i64
    }
}

// ----------------------------------------------------------------------------------------

/// What we learned from ffmpeg's output.
struct Input {
    packets: usize,
    clock: Clock,
    ids: MuxIds,
    /// `(program_number, service_type)`, in program number order.
    programs: Vec<(u16, u8)>,
    nit_in_pat: bool,
}

fn packet_at(bytes: &[u8], i: usize) -> &RawPacket {
    bytes[i * PACKET_SIZE..(i + 1) * PACKET_SIZE]
        .try_into()
        .expect("a packet-sized slice")
}

fn read_input(bytes: &[u8]) -> Result<Input> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(PACKET_SIZE) {
        return Err(format!(
            "input is {} bytes, not a whole number of 188-byte packets",
            bytes.len()
        )
        .into());
    }
    let packets = bytes.len() / PACKET_SIZE;
    let mut monitor = MuxMonitor::new(EitInterest::All);
    let mut pcrs: BTreeMap<u16, Vec<(u64, Pcr, bool)>> = BTreeMap::new();
    for i in 0..packets {
        let p = packet_at(bytes, i);
        if p[0] != SYNC_BYTE {
            return Err(
                format!("packet {i}: lost sync; the input must be plain 188-byte packets").into(),
            );
        }
        let info = monitor.on_packet(p, &mut |_, _| {});
        if matches!(info.pid, pids::EIT | pids::TDT) {
            return Err(format!(
                "packet {i}: the input already has PID {:#x}; this expects ffmpeg's output",
                info.pid
            )
            .into());
        }
        if let Some(pcr) = info.pcr {
            pcrs.entry(info.pid)
                .or_default()
                .push((i as u64, pcr, info.discontinuity));
        }
    }
    if monitor.pids.totals().cc_errors > 0 {
        return Err("the input has continuity errors".into());
    }

    // All of ffmpeg's programs share one clock; take the PID with the most PCRs.
    let samples = pcrs
        .values()
        .max_by_key(|s| s.len())
        .filter(|s| s.len() >= 2)
        .ok_or("the input has fewer than two PCRs")?;
    let mut timeline = PcrTimeline::new(1_000_000);
    let anchors = samples
        .iter()
        .map(|&(pos, pcr, disc)| {
            let a = timeline.observe(pos, pcr, disc, 0);
            (a.position, a.stream_ns)
        })
        .collect();

    let model = &monitor.model;
    let transport_stream_id = model.transport_stream_id().ok_or("the input has no PAT")?;
    let original_network_id = model.original_network_id().unwrap_or_else(|| {
        eprintln!("demo_si: the input has no SDT to take original_network_id from; using 0xFF01");
        0xFF01
    });
    let mut programs = Vec::new();
    for &number in model.programs().keys() {
        let pmt = model
            .pmt(number)
            .ok_or_else(|| format!("program {number} has no PMT"))?;
        let video = pmt
            .streams
            .iter()
            .find(|s| s.kind == dvbgate_ts::tables::pmt::StreamKind::Video);
        // EN 300 468 Table 87.
        let service_type = match video.map(|s| s.codec) {
            Some("h264") => 0x16, // H.264/AVC SD digital television
            Some("hevc") => 0x1F, // HEVC digital television
            Some(_) => 0x01,      // MPEG-2 SD digital television
            None => 0x02,         // digital radio sound
        };
        programs.push((number, service_type));
    }
    if programs.is_empty() || programs.len() > SERVICES.len() {
        return Err(format!(
            "the input has {} programs; this example names 1 to {}",
            programs.len(),
            SERVICES.len()
        )
        .into());
    }
    Ok(Input {
        packets,
        clock: Clock { anchors },
        ids: MuxIds {
            transport_stream_id,
            original_network_id,
        },
        programs,
        nit_in_pat: model.network_pid() == pids::NIT
            && monitor.sections_seen()[usize::from(table_id::PAT)] > 0,
    })
}

/// One service of the demo: its program, what it shows, and its programme guide.
struct Service {
    id: u16,
    service_type: u8,
    spec: &'static ServiceSpec,
    events: Vec<Event>,
}

/// Everything we send, built once from the input and the options. Only EIT p/f and the
/// clock depend on the time of the packet that carries them.
struct Tables {
    ids: MuxIds,
    network_id: u16,
    start: i64,
    schedule_from: i64,
    schedule_until: i64,
    services: Vec<Service>,
    sdt: Vec<u8>,
    nit: Vec<u8>,
    /// One full EIT schedule cycle, nearest segments first so that a receiver fills its guide
    /// from now on.
    schedule: Vec<ScheduleSection>,
}

/// Per service: the event on air when EIT p/f was last built, and the p/f version, which
/// moves on when that event changes.
#[derive(Clone, Copy, Default)]
struct PfState {
    on_air: Option<u16>,
    version: u8,
}

impl Tables {
    fn new(o: &Options, input: &Input) -> Result<Self> {
        let ids = input.ids;
        let network_id = o.network_id.unwrap_or(ids.original_network_id);
        // The guide runs from the hour of --start for --days days; its segments count from
        // midnight UTC of that day.
        let schedule_from = o.start - o.start.rem_euclid(3600);
        let schedule_until = o.start + o.days * 86_400;
        let day0 = o.start - o.start.rem_euclid(86_400);
        let services: Vec<Service> = input
            .programs
            .iter()
            .zip(&SERVICES)
            .enumerate()
            .map(|(i, (&(id, service_type), spec))| Service {
                id,
                service_type,
                spec,
                events: make_schedule(i, spec, schedule_from, schedule_until),
            })
            .collect();

        let service_descriptors: Vec<Vec<u8>> = services
            .iter()
            .map(|s| sdt::service_descriptor(s.service_type, PROVIDER, s.spec.name))
            .collect();
        let sdt_entries: Vec<SdtEntry<'_>> = services
            .iter()
            .zip(&service_descriptors)
            .map(|(s, d)| SdtEntry {
                service_id: s.id,
                eit_schedule: true,
                eit_present_following: true,
                running_status: 4, // running
                free_ca_mode: false,
                descriptors: d,
            })
            .collect();
        let sdt = sdt::build(
            ids.transport_stream_id,
            ids.original_network_id,
            0,
            &sdt_entries,
        );

        let mut transport_descriptors = terrestrial_delivery_descriptor();
        transport_descriptors.extend(service_list_descriptor(&services));
        let nit = nit::build(
            network_id,
            0,
            &nit::network_name_descriptor(NETWORK_NAME),
            &[NitTransport {
                transport_stream_id: ids.transport_stream_id,
                original_network_id: ids.original_network_id,
                descriptors: &transport_descriptors,
            }],
        );

        let mut schedule = Vec::new();
        for (i, s) in services.iter().enumerate() {
            schedule.extend(schedule_sections(ids, i, s.id, &s.events, day0)?);
        }
        schedule.sort_by_key(|s| (s.segment, s.service_index));
        Ok(Tables {
            ids,
            network_id,
            start: o.start,
            schedule_from,
            schedule_until,
            services,
            sdt,
            nit,
            schedule,
        })
    }

    /// EIT present/following actual of every service at `utc`: section 0 the event on air
    /// (running_status 4, running), section 1 the next one (1, not running yet).
    fn present_following(&self, utc: i64, states: &mut [PfState]) -> Vec<Vec<u8>> {
        let mut sections = Vec::with_capacity(2 * self.services.len());
        for (s, state) in self.services.iter().zip(states.iter_mut()) {
            let (present, following) = present_following(&s.events, utc);
            let on_air = present.map(|e| e.id);
            if state.on_air.is_some() && state.on_air != on_air {
                state.version = (state.version + 1) % 32;
            }
            state.on_air = on_air;
            for (n, (event, running_status)) in
                [(present, 4), (following, 1)].into_iter().enumerate()
            {
                let header = EitHeader {
                    table_id: table_id::EIT_PF_ACTUAL,
                    service_id: s.id,
                    version: state.version,
                    section_number: n as u8,
                    last_section_number: 1,
                    transport_stream_id: self.ids.transport_stream_id,
                    original_network_id: self.ids.original_network_id,
                    segment_last_section_number: 1,
                    last_table_id: table_id::EIT_PF_ACTUAL,
                };
                let entries: Vec<EventEntry<'_>> =
                    event.iter().map(|e| entry(e, running_status)).collect();
                sections.push(eit::build(&header, &entries));
            }
        }
        sections
    }
}

/// Service list descriptor (EN 300 468 §6.2.35): the services of the multiplex, for the NIT.
fn service_list_descriptor(services: &[Service]) -> Vec<u8> {
    let mut d = vec![tag::SERVICE_LIST, (3 * services.len()) as u8];
    for s in services {
        d.extend_from_slice(&s.id.to_be_bytes());
        d.push(s.service_type);
    }
    d
}

/// Terrestrial delivery system descriptor (EN 300 468 §6.2.13.4): DVB-T, 8 MHz, 64-QAM,
/// code rate 2/3, guard interval 1/4, 8k. The demo is not on air; the descriptor is there
/// so that scans and probes have something real to show.
fn terrestrial_delivery_descriptor() -> Vec<u8> {
    let mut d = vec![tag::TERRESTRIAL_DELIVERY, 11];
    d.extend_from_slice(&((CENTRE_FREQUENCY_HZ / 10) as u32).to_be_bytes()); // units of 10 Hz
    let (bandwidth_8mhz, priority_hp, no_time_slicing, no_mpe_fec, reserved) =
        (0u8, 1u8, 1u8, 1u8, 0b11u8);
    d.push(
        bandwidth_8mhz << 5 | priority_hp << 4 | no_time_slicing << 3 | no_mpe_fec << 2 | reserved,
    );
    let (qam64, non_hierarchical, rate_2_3) = (0b10u8, 0u8, 0b001u8);
    d.push(qam64 << 6 | non_hierarchical << 3 | rate_2_3);
    // code_rate-LP is unused without hierarchy; other_frequency_flag 0.
    let (lp_rate, guard_1_4, mode_8k) = (0u8, 0b11u8, 0b01u8);
    d.push(lp_rate << 5 | guard_1_4 << 3 | mode_8k << 1);
    d.extend_from_slice(&[0xFF; 4]); // reserved_future_use
    d
}

#[derive(Clone, Copy)]
enum Kind {
    Time,
    Nit,
    Sdt,
    EitPf,
    EitSchedule,
}

/// A table (or group of tables) that goes out every `period_ns` from `next_ns`, on
/// `outlet`, at most `limit` more times.
struct Cadence {
    kind: Kind,
    outlet: usize,
    next_ns: i64,
    period_ns: i64,
    limit: u64,
}

/// The output and how it was made.
struct Filled {
    bytes: Vec<u8>,
    duration_ns: i64,
    /// Our PIDs, in the order they get free slots: the clock first (it is only right when
    /// on time), the EIT last (big and patient).
    outlets: [Outlet; 4],
    /// Null packets plus ffmpeg's SDT and NIT packets.
    slots: u64,
    replaced_ffmpeg: u64,
    sections_sent: BTreeMap<&'static str, u64>,
    schedule_cycles: i64,
    schedule_cycle_ns: i64,
}

/// Copies the input, putting our tables into its free slots as they fall due.
fn fill(bytes: &[u8], input: &Input, tables: &Tables, o: &Options) -> Result<Filled> {
    let t0 = input.clock.at(0);
    let now_at = |pos: usize| input.clock.at(pos as u64) - t0;
    let duration_ns = now_at(input.packets);
    // Nothing may fall due later than this, so that it can be out before the file ends.
    let cutoff_ns = duration_ns - o.max_late_ns;
    if cutoff_ns <= SCHEDULE_FIRST_NS {
        return Err(format!(
            "the input lasts {:.2} s: too short to carry the tables",
            duration_ns as f64 / 1e9
        )
        .into());
    }
    // Whole schedule cycles, each no longer than --schedule-cycle-s, so that every section
    // is sent equally often and the cycle carries on evenly when the file loops.
    let schedule_len = tables.schedule.len() as i64;
    let span_ns = cutoff_ns - SCHEDULE_FIRST_NS;
    let schedule_cycles = (span_ns + o.schedule_cycle_ns - 1) / o.schedule_cycle_ns;
    let schedule_period_ns = span_ns / (schedule_cycles * schedule_len).max(1);
    if schedule_period_ns <= 0 {
        return Err("too many EIT schedule sections for the length of the file".into());
    }

    let mut outlets = [
        Outlet::new(pids::TDT),
        Outlet::new(pids::NIT),
        Outlet::new(pids::SDT),
        Outlet::new(pids::EIT),
    ];
    let every = |kind, outlet, first_ns, period_ns| Cadence {
        kind,
        outlet,
        next_ns: first_ns,
        period_ns,
        limit: u64::MAX,
    };
    let mut cadences = [
        every(Kind::Time, 0, 0, TIME_PERIOD_NS),
        every(Kind::Nit, 1, NIT_FIRST_NS, NIT_PERIOD_NS),
        every(Kind::Sdt, 2, SDT_FIRST_NS, SDT_PERIOD_NS),
        every(Kind::EitPf, 3, PF_FIRST_NS, PF_PERIOD_NS),
        Cadence {
            kind: Kind::EitSchedule,
            outlet: 3,
            next_ns: SCHEDULE_FIRST_NS,
            period_ns: schedule_period_ns,
            limit: (schedule_cycles * schedule_len) as u64,
        },
    ];
    let mut pf_states = vec![PfState::default(); tables.services.len()];
    let mut schedule_next = 0usize;
    let mut sections_sent: BTreeMap<&'static str, u64> = BTreeMap::new();
    let null_packet = {
        let mut p = [0xFFu8; PACKET_SIZE];
        packet::write_header(&mut p, pids::NULL, false, 0);
        p
    };

    let mut out = Vec::with_capacity(bytes.len());
    let (mut slots, mut replaced_ffmpeg) = (0u64, 0u64);
    for pos in 0..input.packets {
        let now = now_at(pos);
        for c in cadences.iter_mut() {
            while c.next_ns <= now && c.next_ns <= cutoff_ns && c.limit > 0 {
                let due = c.next_ns;
                // Content is that of the time it is due (UTC has whole seconds only).
                let utc = tables.start + due.div_euclid(NS);
                let outlet = &mut outlets[c.outlet];
                let mut count = |name, n| *sections_sent.entry(name).or_default() += n;
                match c.kind {
                    Kind::Time => {
                        let lto = local_time_offset_descriptor(utc, &[(b"FRA", 60), (b"GBR", 0)]);
                        outlet.push(&[&time::build_tdt(utc), &time::build_tot(utc, &lto)], due);
                        count("TDT", 1);
                        count("TOT", 1);
                    }
                    Kind::Nit => {
                        outlet.push(&[&tables.nit], due);
                        count("NIT", 1);
                    }
                    Kind::Sdt => {
                        outlet.push(&[&tables.sdt], due);
                        count("SDT", 1);
                    }
                    Kind::EitPf => {
                        let sections = tables.present_following(utc, &mut pf_states);
                        let refs: Vec<&[u8]> = sections.iter().map(Vec::as_slice).collect();
                        outlet.push(&refs, due);
                        count("EIT p/f", sections.len() as u64);
                    }
                    Kind::EitSchedule => {
                        outlet.push(&[&tables.schedule[schedule_next].bytes], due);
                        schedule_next = (schedule_next + 1) % tables.schedule.len();
                        count("EIT schedule", 1);
                    }
                }
                c.next_ns += c.period_ns;
                c.limit -= 1;
            }
        }

        let p = packet_at(bytes, pos);
        let pid = packet::pid(p);
        // Null packets are free; ffmpeg's SDT and NIT are superseded by ours.
        if matches!(pid, pids::NULL | pids::SDT | pids::NIT) {
            slots += 1;
            replaced_ffmpeg += u64::from(pid != pids::NULL);
            let ours = outlets.iter_mut().find_map(|o| o.pop(now));
            out.extend_from_slice(ours.as_ref().unwrap_or(&null_packet));
        } else {
            out.extend_from_slice(p);
        }
    }
    Ok(Filled {
        bytes: out,
        duration_ns,
        outlets,
        slots,
        replaced_ffmpeg,
        sections_sent,
        schedule_cycles,
        schedule_cycle_ns: schedule_period_ns * schedule_len,
    })
}

fn report(input: &Input, tables: &Tables, filled: &Filled) {
    let seconds = filled.duration_ns as f64 / 1e9;
    let kbps = |packets: u64| packets as f64 * 1504.0 / seconds / 1e3;
    let ids = tables.ids;
    println!(
        "demo_si: {} packets, {seconds:.3} s, {:.0} kbit/s; transport_stream_id {}, original_network_id {:#06x}, network_id {:#06x}",
        input.packets,
        kbps(input.packets as u64),
        ids.transport_stream_id,
        ids.original_network_id,
        tables.network_id
    );
    println!(
        "demo_si: start {} (TDT of the first packet); schedule {} .. {}",
        iso8601(tables.start),
        iso8601(tables.schedule_from),
        iso8601(tables.schedule_until)
    );
    for s in &tables.services {
        println!(
            "demo_si:   service {}: {:?}, type {:#04x}, {} events",
            s.id,
            s.spec.name,
            s.service_type,
            s.events.len()
        );
    }
    let schedule_bytes: usize = tables.schedule.iter().map(|s| s.bytes.len()).sum();
    println!(
        "demo_si: EIT schedule: {} sections, {schedule_bytes} bytes, cycle {:.2} s ({} per file)",
        tables.schedule.len(),
        filled.schedule_cycle_ns as f64 / 1e9,
        filled.schedule_cycles
    );
    let sent: Vec<String> = filled
        .sections_sent
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("demo_si: sections written: {}", sent.join(", "));
    let used: u64 = filled.outlets.iter().map(|o| o.sent).sum();
    let left = filled.slots - used;
    println!(
        "demo_si: free slots {} ({} null, {} of ffmpeg's SDT/NIT); used {used}, left as null {left} ({:.1} %)",
        filled.slots,
        filled.slots - filled.replaced_ffmpeg,
        filled.replaced_ffmpeg,
        left as f64 * 100.0 / filled.slots.max(1) as f64
    );
    for o in &filled.outlets {
        println!(
            "demo_si:   PID {:#06x}: {} packets ({:.1} kbit/s), latest {:.0} ms after due",
            o.pid,
            o.sent,
            kbps(o.sent),
            o.max_late_ns as f64 / 1e6
        );
    }
}

/// Refuses output whose tables did not get out on time, or at all.
fn check_cadence(filled: &Filled, max_late_ns: i64) -> Result<()> {
    let mut problems = Vec::new();
    for o in &filled.outlets {
        if !o.waiting.is_empty() {
            problems.push(format!(
                "PID {:#06x}: {} packets found no free slot before the end",
                o.pid,
                o.waiting.len()
            ));
        }
        if o.max_late_ns > max_late_ns {
            problems.push(format!(
                "PID {:#06x}: a section went out {:.0} ms after it was due",
                o.pid,
                o.max_late_ns as f64 / 1e6
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "not enough null packets for the SI at this cadence (limit {} ms late): {}; \
         raise ffmpeg's -muxrate or lower the video bitrates",
        max_late_ns / 1_000_000,
        problems.join("; ")
    )
    .into())
}

fn run(o: &Options) -> Result<()> {
    let bytes = std::fs::read(&o.input).map_err(|e| format!("{}: {e}", o.input))?;
    let input = read_input(&bytes)?;
    if !input.nit_in_pat {
        eprintln!(
            "demo_si: warning: the PAT does not point at the NIT (ffmpeg's -mpegts_flags +nit does)"
        );
    }
    let tables = Tables::new(o, &input)?;
    let filled = fill(&bytes, &input, &tables, o)?;
    report(&input, &tables, &filled);
    check_cadence(&filled, o.max_late_ns)?;

    // Read back what we wrote with our own analyzer before handing it over.
    let analysis = analyze::analyze(&filled.bytes);
    let errors = &analysis.section_errors;
    if analysis.cc_errors > 0 || errors.crc > 0 || errors.malformed > 0 || errors.interrupted > 0 {
        return Err(format!(
            "self-check failed: {} continuity errors, {} CRC errors, {} malformed and {} interrupted sections",
            analysis.cc_errors, errors.crc, errors.malformed, errors.interrupted
        )
        .into());
    }
    std::fs::write(&o.output, &filled.bytes).map_err(|e| format!("{}: {e}", o.output))?;
    println!("demo_si: wrote {} ({} bytes)", o.output, filled.bytes.len());
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_options().and_then(|o| run(&o));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo_si: error: {e}");
            ExitCode::FAILURE
        }
    }
}
