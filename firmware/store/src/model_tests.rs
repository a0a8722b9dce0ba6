//! Unit tests of the record types: JSON shapes and one test per validation rule.

use super::*;

fn channel() -> ChannelConfig {
    NewChannel::new(1, 28106, "Arte").into_config(7, 3, "239.255.1.1:5000".parse().expect("addr"))
}

fn invalid_message(result: Result<(), StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn settings_defaults() {
    let settings = Settings::default();
    assert_eq!(settings.pool.to_string(), "239.255.1.0/24");
    assert_eq!(settings.base_port, 5000);
    assert_eq!(settings.ttl, 1);
    assert_eq!(settings.dscp, 0);
    assert!(settings.sap);
    assert_eq!(settings.packets_per_datagram, 7);
    assert_eq!(settings.multicast_interface, None);
    validate_settings(&settings).expect("defaults are valid");
    // Missing fields take their defaults; unknown ones are refused.
    let partial: Settings = serde_json::from_str(r#"{"ttl": 4}"#).expect("partial settings");
    assert_eq!(
        partial,
        Settings {
            ttl: 4,
            ..Settings::default()
        }
    );
    assert!(serde_json::from_str::<Settings>(r#"{"tll": 4}"#).is_err());
}

#[test]
fn settings_validation_rules() {
    let check = |change: fn(&mut Settings)| {
        let mut settings = Settings::default();
        change(&mut settings);
        invalid_message(validate_settings(&settings))
    };
    assert!(
        check(|s| s.pool = "10.0.0.0/24".parse().expect("cidr")).contains("not IPv4 multicast")
    );
    assert!(check(|s| s.pool = "239.0.0.0/8".parse().expect("cidr")).contains("/16 to /30"));
    assert!(check(|s| s.pool = "239.255.1.0/31".parse().expect("cidr")).contains("/16 to /30"));
    assert!(check(|s| s.base_port = 0).contains("port 0"));
    assert!(check(|s| s.ttl = 0).contains("TTL 0"));
    assert!(check(|s| s.dscp = 64).contains("DSCP 64"));
    assert!(check(|s| s.packets_per_datagram = 0).contains("packets per datagram"));
    assert!(check(|s| s.packets_per_datagram = 8).contains("packets per datagram"));
    assert!(check(|s| s.multicast_interface = Some("eth 0".into())).contains("interface"));
    let settings = Settings {
        pool: "239.192.0.0/16".parse().expect("cidr"),
        multicast_interface: Some("192.168.1.10".into()),
        dscp: 63,
        ttl: 255,
        ..Settings::default()
    };
    validate_settings(&settings).expect("edge values are valid");
}

#[test]
fn channel_json_shape() {
    let mut channel = channel();
    channel.strip_es = vec![
        EsFilter::Pid(256),
        EsFilter::StreamType(6),
        EsFilter::Language("qad".into()),
    ];
    channel.output.protocol = Protocol::Rtp;
    channel.category_id = Some(5);
    channel.xmltv_id = Some("arte.fr".into());
    channel.created_at = 1_750_000_000;
    channel.hls = false;
    let json = serde_json::to_value(&channel).expect("serialize");
    assert_eq!(
        json,
        serde_json::json!({
            "id": 7, "input_id": 1, "service_id": 28106, "number": 3, "name": "Arte",
            "enabled": true,
            "output": {"address": "239.255.1.1:5000", "protocol": "rtp", "multicast": true,
                       "ttl": null, "dscp": null, "interface": null},
            "strip_ca": false,
            "strip_es": [{"pid": 256}, {"stream_type": 6}, {"language": "qad"}],
            "category_id": 5, "xmltv_id": "arte.fr", "created_at": 1_750_000_000,
            "hls": false,
        })
    );
    let back: ChannelConfig = serde_json::from_value(json.clone()).expect("deserialize");
    assert_eq!(back, channel);
    // A record written before `multicast` existed reads as multicast on.
    let mut old = json;
    old["output"]
        .as_object_mut()
        .expect("output")
        .remove("multicast");
    let back: ChannelConfig =
        serde_json::from_value(old.clone()).expect("deserialize an older record");
    assert!(back.output.multicast);
    // A record written before schema 5 is offered over HLS.
    old.as_object_mut().expect("channel").remove("hls");
    let back: ChannelConfig = serde_json::from_value(old.clone()).expect("deserialize a v4 record");
    assert!(back.hls);
    // A record written before schema 4: no category, no XMLTV id, created at 0.
    for field in ["category_id", "xmltv_id", "created_at"] {
        old.as_object_mut().expect("channel").remove(field);
    }
    let back: ChannelConfig = serde_json::from_value(old).expect("deserialize a v3 record");
    assert_eq!(
        (back.category_id, back.xmltv_id, back.created_at, back.hls),
        (None, None, 0, true)
    );
}

#[test]
fn hls_flag_in_requests_and_patches() {
    let channel: NewChannel =
        serde_json::from_str(r#"{"input_id": 1, "service_id": 2, "name": "ZDF"}"#)
            .expect("channel");
    assert!(channel.hls);
    let off: NewChannel =
        serde_json::from_str(r#"{"input_id": 1, "service_id": 2, "name": "ZDF", "hls": false}"#)
            .expect("channel");
    let config = off.into_config(4, 2, "239.255.1.2:5000".parse().expect("addr"));
    assert!(!config.hls);
    let mut config = config;
    let patch: ChannelPatch = serde_json::from_str(r#"{"hls": true}"#).expect("patch");
    assert_eq!(patch.hls, Some(true));
    patch.apply(&mut config);
    assert!(config.hls);
    // A patch without it leaves it alone.
    let patch: ChannelPatch = serde_json::from_str(r#"{"enabled": false}"#).expect("patch");
    config.hls = false;
    patch.apply(&mut config);
    assert!(!config.hls && !config.enabled);
}

#[test]
fn new_requests_take_defaults() {
    let input: NewInput =
        serde_json::from_str(r#"{"name": "Sat", "url": "udp://@239.1.1.1:1234"}"#).expect("input");
    assert!(input.enabled);
    assert!(!input.auto_channels);
    let channel: NewChannel =
        serde_json::from_str(r#"{"input_id": 1, "service_id": 2, "name": "ZDF"}"#)
            .expect("channel");
    assert_eq!(channel, NewChannel::new(1, 2, "ZDF"));
    assert!(
        serde_json::from_str::<NewChannel>(
            r#"{"input_id": 1, "service_id": 2, "name": "x", "colour": 1}"#
        )
        .is_err()
    );
}

#[test]
fn channel_patch_tells_clear_from_leave_alone() {
    let patch: ChannelPatch = serde_json::from_str(r#"{"ttl": null, "dscp": 46}"#).expect("patch");
    assert_eq!(patch.ttl, Some(None));
    assert_eq!(patch.dscp, Some(Some(46)));
    assert_eq!(patch.interface, None);

    let mut channel = channel();
    channel.output.ttl = Some(8);
    channel.output.interface = Some("eth1".into());
    patch.apply(&mut channel);
    assert_eq!(channel.output.ttl, None);
    assert_eq!(channel.output.dscp, Some(46));
    assert_eq!(channel.output.interface.as_deref(), Some("eth1"));
}

#[test]
fn canonical_addresses() {
    let mapped: SocketAddr = "[::ffff:239.255.1.1]:5000".parse().expect("addr");
    assert_eq!(address_key(mapped), "239.255.1.1:5000");
    let v6: SocketAddr = "[ff15::1]:5000".parse().expect("addr");
    assert_eq!(address_key(v6), "[ff15::1]:5000");
    let SocketAddr::V6(mut with_flow) = v6 else {
        unreachable!()
    };
    with_flow.set_flowinfo(42);
    assert_eq!(canonical_address(SocketAddr::V6(with_flow)), v6);
}

#[test]
fn output_address_rules() {
    let check = |text: &str| validate_output_address(text.parse().expect("addr"));
    assert!(invalid_message(check("239.255.1.1:0")).contains("port 0"));
    assert!(invalid_message(check("0.0.0.0:5000")).contains("unspecified"));
    assert!(invalid_message(check("[::]:5000")).contains("unspecified"));
    assert!(invalid_message(check("255.255.255.255:5000")).contains("broadcast"));
    assert!(invalid_message(check("224.0.0.251:5000")).contains("local network control block"));
    assert!(invalid_message(check("[::ffff:224.0.0.1]:5000")).contains("control block"));
    for fine in [
        "224.0.1.1:5000",
        "239.255.1.1:5000",
        "[ff15::1]:5000",
        "192.168.1.20:1234",
        "[2001:db8::1]:1234",
        "10.0.0.255:1234",
    ] {
        check(fine).unwrap_or_else(|error| panic!("{fine}: {error}"));
    }
}

#[test]
fn channel_rules() {
    let check = |change: fn(&mut ChannelConfig)| {
        let mut channel = channel();
        change(&mut channel);
        invalid_message(validate_channel(&channel))
    };
    validate_channel(&channel()).expect("valid");
    assert!(check(|c| c.name = String::new()).contains("must not be empty"));
    assert!(check(|c| c.name = "  ".into()).contains("must not be empty"));
    assert!(check(|c| c.name = "x".repeat(129)).contains("at most 128"));
    assert!(check(|c| c.name = "Arte\nm=video".into()).contains("control characters"));
    assert!(check(|c| c.number = 0).contains("out of range 1..=9999"));
    assert!(check(|c| c.number = 10000).contains("out of range 1..=9999"));
    assert!(check(|c| c.service_id = 0).contains("service id 0"));
    assert!(
        check(|c| c.output.address = "0.0.0.0:1".parse().expect("addr")).contains("unspecified")
    );
    assert!(check(|c| c.output.ttl = Some(0)).contains("TTL 0"));
    assert!(check(|c| c.output.dscp = Some(64)).contains("DSCP 64"));
    assert!(check(|c| c.output.interface = Some("a/b".into())).contains("interface"));
    assert!(check(|c| c.output.interface = Some("x".repeat(16))).contains("interface"));
    assert!(check(|c| c.strip_es = vec![EsFilter::Pid(0x2000)]).contains("PID 8192"));
    assert!(check(|c| c.strip_es = vec![EsFilter::Language("de".into())]).contains("3-letter"));
    assert!(check(|c| c.strip_es = vec![EsFilter::StreamType(6); 65]).contains("at most 64"));
    let mut edge = channel();
    edge.name = "é".repeat(128);
    edge.number = 9999;
    edge.output.interface = Some("enp0s31f6".into());
    validate_channel(&edge).expect("edge values are valid");
}

#[test]
fn input_rules() {
    let mut input = InputConfig {
        id: 1,
        name: "Sat".into(),
        url: "file:///data/mux.ts".into(),
        enabled: true,
        auto_channels: false,
    };
    validate_input(&input).expect("valid");
    input.url = String::new();
    assert!(invalid_message(validate_input(&input)).contains("URL must not be empty"));
    input.url = "x".repeat(1025);
    assert!(invalid_message(validate_input(&input)).contains("at most 1024"));
    input.url = "x".repeat(1024);
    validate_input(&input).expect("1024 bytes are fine");
    input.name = String::new();
    assert!(invalid_message(validate_input(&input)).contains("input name"));
}

fn epg_settings() -> EpgSettings {
    EpgSettings {
        charsets: vec![
            CharsetRule {
                original_network_id: 0x20fa,
                service_id: None,
                charset: Charset::Iso8859(9),
                force: false,
            },
            CharsetRule {
                original_network_id: 0x20fa,
                service_id: Some(8201),
                charset: Charset::Utf8,
                force: true,
            },
        ],
        xmltv_sources: vec![
            XmltvSource {
                url: "file:///var/lib/dvbgate/guide.xml".into(),
                refresh_hours: 1,
            },
            XmltvSource {
                url: "http://192.168.1.10:8080/epg/guide.xml?country=de".into(),
                refresh_hours: MAX_REFRESH_HOURS,
            },
        ],
        snapshot_hours: 6,
    }
}

#[test]
fn epg_settings_rules() {
    validate_epg_settings(&EpgSettings::default()).expect("defaults are valid");
    validate_epg_settings(&epg_settings()).expect("valid");

    let mut bad = epg_settings();
    bad.charsets[1].charset = Charset::Iso8859(12);
    let message = invalid_message(validate_epg_settings(&bad));
    assert!(
        message.contains("network 0x20fa, service 8201"),
        "{message}"
    );
    assert!(message.contains("Iso8859(12)"), "{message}");

    let mut bad = epg_settings();
    bad.charsets[1].service_id = None;
    let message = invalid_message(validate_epg_settings(&bad));
    assert!(
        message.contains("two rules for network 0x20fa"),
        "{message}"
    );

    for (url, why) in [
        ("https://example.com/guide.xml", "https is not supported"),
        ("ftp://example.com/guide.xml", "use file:///"),
        ("file://guide.xml", "absolute path"),
        ("file:///", "absolute path"),
        ("http:///guide.xml", "no host"),
        ("http://:80/guide.xml", "no host"),
        ("http://host/a guide.xml", "spaces"),
        ("guide.xml", "use file:///"),
    ] {
        let mut bad = epg_settings();
        bad.xmltv_sources[0].url = url.into();
        let message = invalid_message(validate_epg_settings(&bad));
        assert!(message.contains("XMLTV source url"), "{url}: {message}");
        assert!(message.contains(why), "{url}: {message}");
    }
    for hours in [0, MAX_REFRESH_HOURS + 1] {
        let mut bad = epg_settings();
        bad.xmltv_sources[0].refresh_hours = hours;
        let message = invalid_message(validate_epg_settings(&bad));
        assert!(message.contains("refresh_hours"), "{message}");
    }
    let mut bad = epg_settings();
    bad.xmltv_sources[1].url = bad.xmltv_sources[0].url.clone();
    assert!(invalid_message(validate_epg_settings(&bad)).contains("listed twice"));
    for hours in [0, MAX_SNAPSHOT_HOURS + 1] {
        let bad = EpgSettings {
            snapshot_hours: hours,
            ..epg_settings()
        };
        let message = invalid_message(validate_epg_settings(&bad));
        assert!(message.contains("snapshot_hours"), "{message}");
    }
    // Settings validation covers the EPG part.
    let settings = Settings {
        epg: EpgSettings {
            snapshot_hours: 0,
            ..EpgSettings::default()
        },
        ..Settings::default()
    };
    assert!(invalid_message(validate_settings(&settings)).contains("snapshot_hours"));
}

#[test]
fn epg_settings_json() {
    // Settings written before the EPG part existed read with its defaults, and a
    // partial EPG part with defaults for the rest.
    let old: Settings = serde_json::from_str(
        r#"{"multicast_interface": null, "pool": "239.255.1.0/24", "base_port": 5000,
            "ttl": 1, "dscp": 0, "sap": true, "packets_per_datagram": 7}"#,
    )
    .expect("v3 settings");
    assert_eq!(old, Settings::default());
    let partial: Settings =
        serde_json::from_str(r#"{"epg": {"snapshot_hours": 3}}"#).expect("partial epg");
    assert_eq!(partial.epg.snapshot_hours, 3);
    assert!(partial.epg.xmltv_sources.is_empty());
    let json = serde_json::to_value(epg_settings()).expect("serialize");
    assert_eq!(json["xmltv_sources"][0]["refresh_hours"], 1);
    assert_eq!(json["charsets"][0]["original_network_id"], 0x20fa);
    let back: EpgSettings = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, epg_settings());
    let source: XmltvSource = serde_json::from_str(r#"{"url": "file:///g.xml"}"#).expect("source");
    assert_eq!(source.refresh_hours, 12);
    let rule: CharsetRule = serde_json::from_value(serde_json::json!({
        "original_network_id": 1, "charset": serde_json::to_value(Charset::Utf8).expect("charset"),
    }))
    .expect("rule");
    assert_eq!((rule.service_id, rule.force), (None, false));
    assert!(serde_json::from_str::<EpgSettings>(r#"{"snapshot": 3}"#).is_err());
}
