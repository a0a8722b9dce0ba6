//! When two tunings are one multiplex: what tuner sharing and rescans rely on.

use dvbgate_tuning::Tuning;

fn t(url: &str) -> Tuning {
    url.parse().unwrap_or_else(|e| panic!("{url}: {e}"))
}

#[test]
fn terrestrial_offsets_and_rounding_are_the_same_multiplex() {
    let a = t("dvb-t://474MHz?bandwidth=8MHz");
    assert!(a.same_multiplex(&t("dvb-t://474.166MHz?bandwidth=8MHz")));
    assert!(a.same_multiplex(&t("dvb-t://473.834MHz?bandwidth=8MHz")));
    assert!(!a.same_multiplex(&t("dvb-t://482MHz?bandwidth=8MHz")));
    // A channel carries DVB-T or DVB-T2, not both: an old DVB-T tuning file and a
    // DVB-T2 delivery descriptor for the same channel name one multiplex.
    assert!(a.same_multiplex(&t("dvb-t2://474MHz?bandwidth=8MHz")));
    assert!(!a.same_multiplex(&t("dvb-c://474MHz?symbol_rate=6900000")));
}

#[test]
fn plps_and_input_streams_on_one_frequency_are_different_multiplexes() {
    let p0 = t("dvb-t2://474MHz?bandwidth=8MHz&plp=0");
    let p1 = t("dvb-t2://474MHz?bandwidth=8MHz&plp=1");
    assert!(!p0.same_multiplex(&p1));
    assert!(p0.same_multiplex(&t("dvb-t2://474MHz?bandwidth=8MHz&plp=0")));
    let s = "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000";
    assert!(!t(&format!("{s}&stream_id=1")).same_multiplex(&t(&format!("{s}&stream_id=2"))));
}

#[test]
fn satellite_needs_the_same_polarisation_and_dish() {
    let h = t("dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000");
    assert!(h.same_multiplex(&t("dvb-s2://11364MHz?polarisation=h&symbol_rate=22000000")));
    assert!(!h.same_multiplex(&t("dvb-s2://11362MHz?polarisation=v&symbol_rate=22000000")));
    assert!(!h.same_multiplex(&t(
        "dvb-s2://11362MHz?polarisation=h&symbol_rate=22000000&diseqc=2"
    )));
    assert!(!h.same_multiplex(&t("dvb-s2://11392MHz?polarisation=h&symbol_rate=22000000")));
}
