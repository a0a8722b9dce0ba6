//! The monitoring routes on a daemon without pipelines (the end-to-end test,
//! `tests/tests/metrics.rs`, runs them against the demo's live channels).

use super::*;
use axum::body::Body;
use axum::http::Request;
use dvbgate_control::{Supervisor, SupervisorOptions};
use dvbgate_store::Store;
use futures_util::StreamExt;
use tower::ServiceExt;

struct Fixture {
    app: Arc<AppState>,
    _dir: tempfile::TempDir,
}

fn fixture(logbook: Option<Arc<LogBook>>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("store")).expect("store"));
    let input = store
        .add_input(
            serde_json::from_value(serde_json::json!({
                "name": "mux \"A\"", "url": "file:///nonexistent.ts", "enabled": false
            }))
            .unwrap(),
        )
        .expect("input");
    store
        .add_channel(
            serde_json::from_value(serde_json::json!({
                "input_id": input.id, "service_id": 101, "name": "One"
            }))
            .unwrap(),
        )
        .expect("channel");
    let sup = Supervisor::new(store, SupervisorOptions::default());
    let options = crate::AppOptions {
        logbook,
        ..Default::default()
    };
    Fixture {
        app: AppState::new(sup, options),
        _dir: dir,
    }
}

async fn get(app: &Arc<AppState>, uri: &str) -> Response {
    admin_routes()
        .with_state(Arc::clone(app))
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .expect("infallible")
}

async fn text(r: Response) -> String {
    let bytes = axum::body::to_bytes(r.into_body(), 16 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let f = fixture(None);
    f.app.monitor.count_admin_login(false);
    let r = get(&f.app, "/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = text(r).await;
    assert!(body.contains("# TYPE dvbgate_input_up gauge\n"), "{body}");
    assert!(body.contains("dvbgate_input_up{input=\"1\",name=\"mux \\\"A\\\"\"} 0\n"));
    assert!(body.contains("dvbgate_channel_hls_viewers{channel=\"1\",name=\"One\"} 0\n"));
    assert!(body.contains("dvbgate_admin_logins_total{outcome=\"failed\"} 1\n"));
    assert!(body.contains("# TYPE dvbgate_epg_sections_total counter\n"));
    let rss = body
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .unwrap();
    assert!(rss.parse::<u64>().unwrap() > 1 << 20, "{rss}");
    f.app.supervisor.stop();
}

#[tokio::test]
async fn history_and_live_come_from_the_background_task() {
    let f = fixture(None);
    start_background(&f.app);
    let r = get(&f.app, "/api/v1/live").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = r.into_body().into_data_stream();
    let mut events = Vec::new();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < 2 {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("two events within 10 s")
            .expect("stream goes on")
            .unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event
                .strip_prefix("event: stats\ndata: ")
                .map(|d| d.trim_end())
            {
                events.push(serde_json::from_str::<serde_json::Value>(data).unwrap());
            }
        }
    }
    let (a, b) = (&events[0], &events[1]);
    assert!(b["time"].as_i64() > a["time"].as_i64(), "{a} {b}");
    assert_eq!(a["channels"][0]["number"], 1);
    assert_eq!(a["channels"][0]["status"], "input_down");
    assert_eq!(a["inputs"][0]["state"], "disabled");
    assert!(a["rss_bytes"].as_u64().unwrap() > 0);

    // The first sample was taken at once.
    let h: serde_json::Value =
        serde_json::from_str(&text(get(&f.app, "/api/v1/history").await).await).unwrap();
    assert_eq!(h["interval_s"], 10);
    assert_eq!(h["channels"]["1"]["bitrate_bps"][0][1], 0.0);
    assert_eq!(h["inputs"]["1"]["bitrate_bps"].as_array().unwrap().len(), 1);

    // Shutting down ends the stream.
    f.app.monitor.shutdown();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = body.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(end.is_ok(), "the event stream ended at shutdown");
    f.app.supervisor.stop();
}

#[tokio::test]
async fn logs_pages_and_rejects_bad_queries() {
    let book = Arc::new(LogBook::new());
    for i in 1..=5 {
        let level = if i == 4 { Level::Warn } else { Level::Info };
        book.push(
            level,
            "dvbgate",
            format!("line {i} key=value"),
            "input{name=\"A\"}".into(),
        );
    }
    let f = fixture(Some(Arc::clone(&book)));
    let page = |uri: &'static str| {
        let app = Arc::clone(&f.app);
        async move {
            let r = get(&app, uri).await;
            (
                r.status(),
                serde_json::from_str::<serde_json::Value>(&text(r).await).unwrap(),
            )
        }
    };
    let (status, v) = page("/api/v1/logs?after=2&limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["lines"].as_array().unwrap().len(), 2);
    assert_eq!(v["lines"][0]["seq"], 3);
    assert_eq!(v["lines"][0]["message"], "line 3 key=value");
    assert_eq!(v["lines"][0]["spans"], "input{name=\"A\"}");
    assert_eq!(v["lines"][1]["level"], "WARN");
    assert_eq!(v["next"], 4);
    assert_eq!(v["dropped"], 0);
    let (_, v) = page("/api/v1/logs?level=warn").await;
    assert_eq!(v["lines"].as_array().unwrap().len(), 1);
    assert_eq!(v["next"], 5);
    for bad in [
        "/api/v1/logs?level=loud",
        "/api/v1/logs?limit=1001",
        "/api/v1/logs?limit=0",
        "/api/v1/logs?after=-1",
    ] {
        let (status, v) = page(bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(v["error"].as_str().unwrap().contains("got"), "{v}");
    }
    f.app.supervisor.stop();
}

#[tokio::test]
async fn a_large_history_is_rendered_whole() {
    let f = fixture(None);
    let now = unix_ms() / 1000;
    // 40 channels for an hour: more points than are rendered on an async worker.
    let mut frame = frame::tests::sample_frame(now);
    let template = frame.channels[0].clone();
    frame.channels = (1..=40u16)
        .map(|n| {
            let mut c = template.clone();
            c.number = n;
            c.bitrate_bps = u64::from(n) * 1000;
            c
        })
        .collect();
    {
        let mut h = f.app.monitor.history();
        for i in (0..history::POINTS as i64).rev() {
            h.record(now - i * history::INTERVAL_S, &frame);
        }
    }
    let r = get(&f.app, "/api/v1/history").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    let channels = v["channels"].as_object().unwrap();
    assert_eq!(channels.len(), 40);
    let series = v["channels"]["40"]["bitrate_bps"].as_array().unwrap();
    assert!(series.len() >= history::POINTS - 1, "{}", series.len());
    assert_eq!(series.last().unwrap()[1], 40_000.0);
    assert!(
        f.app.monitor.history().snapshot(now).points() > LARGE_HISTORY_POINTS,
        "the test exercises the blocking path"
    );
}
