//! The guide's hot spots: reading a changed schedule section, skipping a repeated one,
//! a channel's window, and the whole XMLTV document apps download.

use criterion::{Criterion, criterion_group, criterion_main};
use dvbgate_epg::xmltv::{self, XmltvChannel};
use dvbgate_epg::{Epg, EpgLimits, Event, IngestOptions, ServiceKey};
use dvbgate_ts::section::Section;
use dvbgate_ts::tables::eit::{self, EitHeader, EventEntry};
use std::hint::black_box;

const NOW: i64 = 1_700_000_000;

fn key(service_id: u16) -> ServiceKey {
    ServiceKey {
        original_network_id: 0x20FA,
        transport_stream_id: 1,
        service_id,
    }
}

/// A schedule section like the French DVB-T ones: 8 events of 30 minutes, each with a
/// short event (title and a summary), a ~240-byte extended event and a genre.
fn schedule_section(version: u8) -> Vec<u8> {
    let descriptors: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let mut d = eit::short_event_descriptor(
                b"fre",
                &format!("Programme numéro {i}"),
                "Série policière. 2012. Saison 15.",
            );
            let text = "Dans un cirque familial, un dresseur de lions est attaqué par un tigre. "
                .repeat(4);
            let text = &dvbgate_ts::text::encode(&text)[..230];
            let mut x = vec![0x4E, (6 + text.len()) as u8, 0x00];
            x.extend_from_slice(b"fre");
            x.push(0);
            x.push(text.len() as u8);
            x.extend_from_slice(text);
            d.extend(x);
            d.extend(eit::content_descriptor(0x11));
            d
        })
        .collect();
    let entries: Vec<EventEntry<'_>> = descriptors
        .iter()
        .enumerate()
        .map(|(i, d)| EventEntry {
            event_id: i as u16 + 100,
            start: NOW + i as i64 * 1800,
            duration: 1800,
            running_status: 0,
            descriptors: d,
        })
        .collect();
    eit::build(
        &EitHeader {
            table_id: 0x50,
            service_id: 1,
            version,
            section_number: 0,
            last_section_number: 0,
            transport_stream_id: 1,
            original_network_id: 0x20FA,
            segment_last_section_number: 0,
            last_table_id: 0x50,
        },
        &entries,
    )
}

/// `services` × 7 days × 30 events a day, 300-byte descriptions.
fn week(services: u16) -> Epg {
    let mut epg = Epg::new(EpgLimits::default());
    let description = "Une description détaillée du programme. ".repeat(8)[..300].to_string();
    for s in 0..services {
        let events = (0..210)
            .map(|i| Event {
                event_id: i as u16,
                start: NOW + i * 2880,
                duration: 2880,
                title: format!("Programme numéro {i}"),
                short_text: "Épisode 3 : la suite".into(),
                description: description.clone(),
                language: "fre".into(),
                genres: vec![0x10],
                ratings: vec![],
                running_status: 0,
                episode: String::new(),
            })
            .collect();
        epg.replace_service(key(s), events, NOW);
    }
    epg
}

fn bench(c: &mut Criterion) {
    let options = IngestOptions::default();
    let (v1, v2) = (schedule_section(1), schedule_section(2));
    let (s1, s2) = (Section::new(&v1).unwrap(), Section::new(&v2).unwrap());
    c.bench_function("ingest changed schedule section (8 events)", |b| {
        let mut epg = Epg::new(EpgLimits::default());
        let mut flip = false;
        b.iter(|| {
            flip = !flip;
            let s = if flip { &s1 } else { &s2 };
            black_box(epg.ingest(s, &options, NOW).unwrap())
        })
    });
    c.bench_function("ingest repeated schedule section", |b| {
        let mut epg = Epg::new(EpgLimits::default());
        epg.ingest(&s1, &options, NOW).unwrap();
        b.iter(|| black_box(epg.ingest(&s1, &options, NOW).unwrap()))
    });

    let guide = week(100);
    c.bench_function("between: one channel, 24 h of a week", |b| {
        b.iter(|| {
            black_box(
                guide
                    .between(&key(50), NOW + 3 * 86_400, NOW + 4 * 86_400)
                    .len(),
            )
        })
    });

    let guide = week(1000);
    let ids: Vec<String> = (0..1000).map(|i| format!("{i}.dvbgate")).collect();
    let channels: Vec<XmltvChannel<'_>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| XmltvChannel {
            id,
            display_name: "Une chaîne",
            number: Some(i as u16 + 1),
            icon: None,
        })
        .collect();
    let mut group = c.benchmark_group("xmltv");
    group.sample_size(10);
    group.bench_function("write 1000 channels x 7 days (210 000 programmes)", |b| {
        let mut out = String::new();
        b.iter(|| {
            out.clear();
            xmltv::write(&mut out, "dvbgate", &channels, |id| {
                let n: u16 = id.split('.').next().unwrap().parse().unwrap();
                guide.events(&key(n)).iter().collect()
            });
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
