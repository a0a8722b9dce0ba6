//! Finds libdvbv5 with pkg-config, compiles the log shim, and generates the bindings
//! with bindgen from the headers of the library that will be linked (the target's, when
//! cross-compiling).
//!
//! Every way this can fail for want of a package ends with a message naming the Debian
//! package to install, not with a panic from deep inside pkg-config or clang.

// A build script reports to the person building through stderr.
#![allow(clippy::print_stderr)]

use std::env;
use std::path::PathBuf;

/// Oldest libdvbv5 with everything used here (`dvb_fe_open_flags`, DVBv5 statistics).
const MIN_VERSION: &str = "1.12";

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();
    let cross = !target.is_empty() && target != host;
    println!("cargo:rerun-if-changed=shim");
    // pkg-config announces its own variables; clang-sys's are ours to announce.
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");

    let library = find_libdvbv5(&target, cross);
    check_libclang(&target);
    compile_shim();
    generate_bindings(&library, &target);
}

/// Debian's name for the target's architecture, for the install hints (`arm64`).
fn debian_arch(target: &str) -> &'static str {
    match target.split('-').next().unwrap_or_default() {
        "aarch64" => "arm64",
        "x86_64" => "amd64",
        "i686" | "i586" => "i386",
        "armv7" | "arm" | "armv7hf" => "armhf",
        "riscv64gc" | "riscv64" => "riscv64",
        _ => "<arch>",
    }
}

/// Debian's multiarch triplet (`aarch64-linux-gnu`), where the target's .pc files live.
fn multiarch(target: &str) -> String {
    let arch = target.split('-').next().unwrap_or_default();
    match arch {
        "armv7" => "arm-linux-gnueabihf".to_string(),
        "riscv64gc" => "riscv64-linux-gnu".to_string(),
        _ => format!("{arch}-linux-gnu"),
    }
}

fn fail(lines: &[String]) -> ! {
    eprintln!();
    for line in lines {
        eprintln!("dvbv5-sys: {line}");
    }
    eprintln!();
    std::process::exit(1);
}

fn find_libdvbv5(target: &str, cross: bool) -> pkg_config::Library {
    let result = pkg_config::Config::new()
        .atleast_version(MIN_VERSION)
        .probe("libdvbv5");
    let error = match result {
        Ok(library) => return library,
        Err(error) => error,
    };
    let arch = debian_arch(target);
    let suffix = if cross {
        format!(":{arch}")
    } else {
        String::new()
    };
    let packages = format!("libdvbv5-dev{suffix} libudev-dev{suffix}");
    let mut lines = match &error {
        pkg_config::Error::Command { cause, .. }
            if cause.kind() == std::io::ErrorKind::NotFound =>
        {
            vec![
                "pkg-config is not installed; it finds libdvbv5 and its flags.".to_string(),
                format!("Install it: apt-get install pkg-config {packages}"),
            ]
        }
        pkg_config::Error::CrossCompilation => vec![
            format!("cross-compiling for {target}, and pkg-config is not set up for it."),
            format!(
                "Install the target's libraries ({packages}, after \
                 `dpkg --add-architecture {arch}`) and point pkg-config at them:"
            ),
            format!(
                "  PKG_CONFIG_ALLOW_CROSS=1 PKG_CONFIG_LIBDIR_{}=/usr/lib/{}/pkgconfig:/usr/share/pkgconfig",
                target.replace('-', "_"),
                multiarch(target)
            ),
            "(scripts/cross-aarch64 does both.)".to_string(),
        ],
        _ => vec![
            format!("libdvbv5 >= {MIN_VERSION} was not found by pkg-config (target {target})."),
            format!("Install it: apt-get install {packages} pkg-config"),
            "(libdvbv5's .pc file requires libudev's, so libudev-dev is needed too.)".to_string(),
        ],
    };
    if cross && !matches!(error, pkg_config::Error::CrossCompilation) {
        lines.push(format!(
            "Cross-compiling: pkg-config must search the target's directory, e.g. \
             PKG_CONFIG_LIBDIR_{}=/usr/lib/{}/pkgconfig:/usr/share/pkgconfig",
            target.replace('-', "_"),
            multiarch(target)
        ));
    }
    lines.push(String::new());
    lines.push("pkg-config said:".to_string());
    lines.extend(error.to_string().lines().map(|l| format!("  {l}")));
    fail(&lines)
}

/// bindgen loads libclang at run time and panics with a long search report when it is
/// absent; ask first, and say which package has it.
fn check_libclang(target: &str) {
    if let Err(why) = clang_sys::load() {
        fail(&[
            "libclang was not found; bindgen needs it to read libdvbv5's headers.".to_string(),
            "Install it: apt-get install libclang-dev".to_string(),
            "(or set LIBCLANG_PATH to the directory that holds libclang.so)".to_string(),
            format!("target {target}; clang-sys said: {why}"),
        ]);
    }
}

fn compile_shim() {
    cc::Build::new()
        .file("shim/dvbgate_log.c")
        .include("shim")
        .warnings(true)
        .extra_warnings(true)
        .compile("dvbgate_dvbv5_log");
}

fn generate_bindings(library: &pkg_config::Library, target: &str) {
    let mut builder = bindgen::Builder::default()
        .header("shim/wrapper.h")
        .clang_arg("-Ishim")
        .clang_args(
            library
                .include_paths
                .iter()
                .map(|path| format!("-I{}", path.display())),
        )
        .rust_edition(bindgen::RustEdition::Edition2024)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        // Opening, closing, tuning and statistics of a frontend.
        .allowlist_function("dvb_fe_open_flags")
        .allowlist_function("dvb_fe_close")
        .allowlist_function("dvb_set_sys")
        .allowlist_function("dvb_fe_store_parm")
        .allowlist_function("dvb_fe_retrieve_parm")
        .allowlist_function("dvb_fe_set_parms")
        .allowlist_function("dvb_fe_get_stats")
        .allowlist_function("dvb_fe_retrieve_stats")
        .allowlist_function("dvb_fe_retrieve_stats_layer")
        .allowlist_function("dvb_cmd_name")
        // Satellite equipment control.
        .allowlist_function("dvb_fe_sec_voltage")
        .allowlist_function("dvb_fe_sec_tone")
        .allowlist_function("dvb_fe_diseqc_cmd")
        .allowlist_function("dvb_fe_diseqc_burst")
        // Demux PID filters.
        .allowlist_function("dvb_set_pesfilter")
        .allowlist_function("dvb_dmx_stop")
        // The log shim.
        .allowlist_function("dvbgate_.*")
        .allowlist_type("dvbgate_log_sink")
        .allowlist_type("dvb_v5_fe_parms")
        .allowlist_type("dtv_stats")
        // Which properties libdvbv5 keeps for each delivery system (tests check that
        // dvbgate only stores those).
        .allowlist_var("dvb_v5_delivery_system")
        .allowlist_var("DTV_[A-Z0-9_]+")
        .allowlist_var("MAX_DELIVERY_SYSTEMS")
        .allowlist_var("LOG_(EMERG|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG)")
        .allowlist_type("fe_delivery_system")
        .allowlist_type("fe_status")
        .allowlist_type("fe_caps")
        .allowlist_type("fe_type")
        .allowlist_type("fe_modulation")
        .allowlist_type("fe_code_rate")
        .allowlist_type("fe_transmit_mode")
        .allowlist_type("fe_guard_interval")
        .allowlist_type("fe_hierarchy")
        .allowlist_type("fe_rolloff")
        .allowlist_type("fe_pilot")
        .allowlist_type("fe_spectral_inversion")
        .allowlist_type("fe_sec_voltage")
        .allowlist_type("fe_sec_tone_mode")
        .allowlist_type("fecap_scale_params")
        .allowlist_type("dmx_output")
        .allowlist_type("dmx_ts_pes")
        // Kernel enums as modules of constants: the driver may report values this
        // header did not know, which a Rust enum could not hold.
        .constified_enum_module("fe_.*|fecap_scale_params|dmx_output|dmx_ts_pes")
        .derive_default(true);
    if !target.is_empty() {
        // The target's ABI decides struct layouts; bindgen would guess it from TARGET
        // too, but saying it keeps a cross build from silently using the host's.
        builder = builder.clang_arg(format!("--target={target}"));
    }
    let bindings = builder.generate().unwrap_or_else(|error| {
        fail(&[
            format!("bindgen could not read libdvbv5's headers for {target}: {error}"),
            "Check that libdvbv5-dev (of the target's architecture) and the C headers \
             (libc6-dev, linux-libc-dev) are installed."
                .to_string(),
        ])
    });
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|error| fail(&[format!("cannot write the bindings: {error}")]));
}
