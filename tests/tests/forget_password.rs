//! `dvbgate forget-password`: a box whose administrator password is lost goes back to its
//! setup code, and keeps its channels.

use dvbgate_e2e::{Daemon, dvbgate, request};
use std::process::Command;

#[test]
fn a_forgotten_password_returns_the_box_to_its_setup_code_with_its_channels() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let channels = {
        let demo = Daemon::demo(&["--data", dir]);
        assert_eq!(demo.printed("setup code:"), None, "the demo has a password");
        let (status, session) = request("GET", &demo.url("/api/v1/session"), None);
        assert_eq!(status, 200);
        assert_eq!(session["setup_required"], false, "{session}");
        let (_, channels) = demo.get("/api/v1/channels");
        demo.terminate();
        channels.as_array().unwrap().len()
    };
    assert!(channels >= 4);

    let out = Command::new(dvbgate())
        .args(["forget-password", "--data", dir])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("password is gone"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let daemon = Daemon::run(data.path(), &[]);
    let code = daemon
        .printed("setup code:")
        .expect("the daemon prints a setup code once the password is gone");
    assert_eq!(code.len(), 14, "{code}");
    let (_, session) = request("GET", &daemon.url("/api/v1/session"), None);
    assert_eq!(session["setup_required"], true, "{session}");
    let (_, kept) = daemon.get("/api/v1/channels");
    assert_eq!(
        kept.as_array().unwrap().len(),
        channels,
        "the channels stay"
    );
    // The old password no longer logs in.
    let (status, _) = request(
        "POST",
        &daemon.url("/api/v1/session"),
        Some(serde_json::json!({"password": "dvbgate-demo"})),
    );
    assert_ne!(status, 200);
}

#[test]
fn forget_password_refuses_a_store_in_use() {
    let data = tempfile::tempdir().unwrap();
    let _daemon = Daemon::run(data.path(), &[]);
    let out = Command::new(dvbgate())
        .args(["forget-password", "--data", data.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is the daemon still running"), "{err}");
}
