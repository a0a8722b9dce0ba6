//! `dvbgate`: the daemon and its tools.
//!
//! - `dvbgate demo`: plays bundled (or given) transport stream files as virtual tuners and
//!   sends every service to a multicast group on the loopback interface;
//! - `dvbgate run`: production mode, configuration from the store;
//! - `dvbgate probe`: what a file, a UDP/RTP stream or a tuned multiplex carries, and how
//!   healthy it is;
//! - `dvbgate tuners`: the DVB tuners of the box;
//! - `dvbgate scan`: find multiplexes and services, and add them to the configuration;
//! - `dvbgate forget-password`: back to the setup code, the configuration kept.

// The commands talk to a person on a terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd;
mod daemon;
mod logging;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dvbgate",
    version,
    about = "DVB-to-IP gateway: multiplexes in, channels out over multicast UDP/RTP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play transport stream files as virtual tuners and multicast every service on loopback.
    Demo(cmd::demo::DemoArgs),
    /// Run the gateway from its stored configuration.
    Run(cmd::run::RunArgs),
    /// Show what a multiplex carries: services, PIDs, errors, bitrate.
    Probe(cmd::probe::ProbeArgs),
    /// Show the programme guide (EIT) a multiplex carries, decoded.
    Epg(cmd::epg::EpgArgs),
    /// List the DVB tuners of this box and what each receives.
    Tuners(cmd::tuners::TunersArgs),
    /// Scan for multiplexes and services and add them to the configuration.
    Scan(cmd::scan::ScanArgs),
    /// Forget the administrator password (the configuration stays): at its next start the
    /// daemon prints a setup code for the web page.
    ForgetPassword(cmd::password::ForgetPasswordArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Probe(args) => cmd::probe::run(args),
        Command::Epg(args) => cmd::epg::run(args),
        Command::Tuners(args) => cmd::tuners::run(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::ForgetPassword(args) => cmd::password::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dvbgate: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
