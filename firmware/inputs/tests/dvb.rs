//! Tuner inputs by address, on a machine without (or with) DVB adapters.

#![allow(clippy::print_stderr)] // a skipped half says so on stderr

#[test]
fn tuner_addresses_are_parsed_and_their_errors_named() {
    use dvbgate_inputs::{InputOptions, is_tuner_address, open};
    assert!(is_tuner_address("dvb-t://474MHz?bandwidth=8MHz"));
    assert!(is_tuner_address("atsc://57028615"));
    assert!(!is_tuner_address("udp://@239.1.1.1:1234"));
    assert!(!is_tuner_address("/data/dvb-t.ts"));

    let e = open("dvb-c://474MHz?symbol_rate=fast", &InputOptions::default())
        .err()
        .expect("a bad symbol rate is refused")
        .to_string();
    assert!(e.contains("symbol_rate"), "{e}");

    if std::path::Path::new("/dev/dvb").exists() {
        eprintln!("SKIPPED the no-adapter half: this machine has /dev/dvb");
        return;
    }
    let e = open("dvb-t://474MHz?bandwidth=8MHz", &InputOptions::default())
        .err()
        .expect("no adapter, no input")
        .to_string();
    assert!(e.contains("no DVB adapter found under /dev/dvb"), "{e}");
    assert!(e.contains("DVB-T 474 MHz"), "{e}");
}
