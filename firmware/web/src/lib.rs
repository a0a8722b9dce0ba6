//! The technician's web page.
//!
//! One single-page application in plain HTML, CSS and JavaScript (no framework, no build
//! step, nothing fetched from the internet: a box on a hotel LAN often has none). The
//! files under `assets/` are compiled into the binary with `include_bytes!`, so the page
//! always matches the daemon that serves it.
//!
//! [`asset`] is the only way in: a fixed table from a name to its bytes. A name that is
//! not in the table (`../etc/passwd`, `%2e%2e/…`, `app.js/`) is simply not found, so no
//! path ever reaches a file system. Each asset carries a strong `ETag` (a SHA-256 of its
//! bytes, computed once on first use) and, for the text ones, a gzip copy compressed once,
//! for the HTTP layer (`dvbgate-api`'s `web` module) to answer conditional requests and
//! `Accept-Encoding: gzip`.

#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;

/// One embedded file, ready to serve.
#[derive(Debug)]
pub struct Asset {
    /// The name under `/ui/` (`app.js`); the page itself is `index.html`.
    pub name: &'static str,
    /// `Content-Type`, charset included for text.
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// A strong entity tag, quotes included (`"5f1c…"`), of `bytes`.
    pub etag: String,
    /// The same bytes gzip-compressed, when that makes them smaller.
    pub gzip: Option<Vec<u8>>,
    /// The entity tag of the gzip copy (a different representation needs its own tag).
    pub gzip_etag: String,
}

/// The files: name, content type, bytes.
const FILES: [(&str, &str, &[u8]); 4] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, content_type, bytes)| {
            let digest = Sha256::digest(bytes);
            // 16 bytes of the digest are plenty to tell versions apart.
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            Asset {
                name,
                content_type,
                bytes,
                etag: format!("\"{hex}\""),
                gzip: gzip(bytes).filter(|z| z.len() < bytes.len()),
                gzip_etag: format!("\"{hex}-gz\""),
            }
        })
        .collect()
});

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// The asset of that name (`index.html`, `app.js`…), or None: the table is the whole
/// namespace, so anything else, traversal attempts included, is not found.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Every asset, for size reports and tests.
pub fn assets() -> &'static [Asset] {
    &ASSETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_serves_its_files_and_nothing_else() {
        let js = asset("app.js").expect("app.js is embedded");
        assert!(js.content_type.starts_with("text/javascript"));
        assert!(!js.bytes.is_empty());
        for name in [
            "",
            "/app.js",
            "../app.js",
            "app.js/",
            "APP.JS",
            "%2e%2e/Cargo.toml",
            "../../Cargo.toml",
            "src/lib.rs",
        ] {
            assert!(asset(name).is_none(), "{name:?} must not be found");
        }
    }

    #[test]
    fn etags_are_strong_distinct_and_follow_the_bytes() {
        let tags: Vec<&str> = assets().iter().map(|a| a.etag.as_str()).collect();
        for tag in &tags {
            assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"));
        }
        let mut unique = tags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), tags.len(), "{tags:?}");
        let css = asset("app.css").expect("app.css");
        let hex: String = Sha256::digest(css.bytes)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(css.etag, format!("\"{hex}\""));
    }

    #[test]
    fn the_gzip_copy_decompresses_to_the_file() {
        use std::io::Read;
        let js = asset("app.js").expect("app.js");
        let z = js.gzip.as_ref().expect("javascript compresses");
        assert!(
            z.len() < js.bytes.len() / 2,
            "{} of {}",
            z.len(),
            js.bytes.len()
        );
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .expect("valid gzip");
        assert_eq!(out, js.bytes);
        assert_ne!(js.etag, js.gzip_etag);
    }

    /// The page must stay within what CSP `script-src 'self'; style-src 'self'` allows:
    /// no inline script, style element, style attribute or event handler attribute.
    #[test]
    fn the_page_has_nothing_inline_that_the_csp_would_block() {
        let html = std::str::from_utf8(asset("index.html").expect("index").bytes).expect("utf-8");
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<style"), "inline <style>");
        assert!(!lower.contains(" style="), "style attribute");
        assert!(!lower.contains(" onclick="), "inline handler");
        assert!(!lower.contains(" onload="), "inline handler");
        for script in lower.split("<script").skip(1) {
            let tag_end = script.find('>').expect("closed tag");
            assert!(script[..tag_end].contains("src="), "inline <script>");
        }
        assert!(
            !lower.contains("http://") && !lower.contains("https://"),
            "external URL"
        );
    }

    #[test]
    fn the_page_is_small() {
        let raw: usize = assets().iter().map(|a| a.bytes.len()).sum();
        assert!(raw < 100 * 1024, "{raw} bytes raw");
    }
}
