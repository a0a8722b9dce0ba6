//! Prints the analysis of TS files as JSON: `cargo run -p dvbgate-ts --example analyze -- FILE...`
//! (`dvbgate probe` is the real tool; this is for working on the parser alone.)

#![allow(clippy::print_stdout)]

fn main() -> std::io::Result<()> {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path)?;
        let analysis = dvbgate_ts::analyze::analyze(&bytes);
        println!(
            "{}",
            serde_json::to_string_pretty(&analysis).expect("serialisable")
        );
    }
    Ok(())
}
