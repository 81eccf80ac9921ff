//! The static files under `/static/`: stylesheet, session and service-worker
//! registration scripts, logo, icons and the web app manifest, all compiled into the
//! binary; and the service worker itself, which the control plane serves at `/sw.js`
//! (its scope is then the whole dashboard).
//!
//! Why it exists: the dashboard must work with no internet access (the original
//! loaded HTMX and its CSS from CDNs and broke offline), and deploying one binary
//! is simpler than deploying a folder beside it.
//!
//! What it must not do: reference anything outside `/static/` (tests assert that no
//! asset or template contains an `http://` or `https://` URL), or read files at run time.

/// Every asset: (name under `/static/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
    (
        "session.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/session.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/live.js"),
    ),
    (
        "approvals.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/approvals.js"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_bytes!("../static/logo.svg"),
    ),
    (
        "icon-192.png",
        "image/png",
        include_bytes!("../static/icon-192.png"),
    ),
    (
        "icon-512.png",
        "image/png",
        include_bytes!("../static/icon-512.png"),
    ),
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_bytes!("../static/manifest.webmanifest"),
    ),
    (
        "pwa.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/pwa.js"),
    ),
    (
        "favicon.ico",
        "image/x-icon",
        include_bytes!("../static/favicon.ico"),
    ),
    // The original's paths, so a dashboard it installed on a phone keeps its icon.
    (
        "manifest.json",
        "application/manifest+json",
        include_bytes!("../static/manifest.webmanifest"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../static/logo.svg"),
    ),
    // The API reference page the control plane serves at `/api/docs`.
    (
        "api-docs.html",
        "text/html; charset=utf-8",
        include_bytes!("../static/api-docs.html"),
    ),
    (
        "api-docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/api-docs.js"),
    ),
    (
        "api-docs.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/api-docs.css"),
    ),
];

/// The names of every asset under `/static/`, e.g. `"app.css"`.
pub const ASSET_PATHS: &[&str] = &[
    "app.css",
    "session.js",
    "live.js",
    "approvals.js",
    "logo.svg",
    "icon-192.png",
    "icon-512.png",
    "manifest.webmanifest",
    "pwa.js",
    "favicon.ico",
    "manifest.json",
    "favicon.svg",
    "api-docs.html",
    "api-docs.js",
    "api-docs.css",
];

/// Looks up an asset by its URL path (`/static/app.css`) or its bare name (`app.css`).
/// Returns its content type and bytes; `None` for anything else (serve a 404).
/// A query string (`?v=...`, the cache buster the pages add) is ignored.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let name = path.strip_prefix("/static/").unwrap_or(path);
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, content_type, bytes)| (content_type, bytes))
}

/// The service worker's script, with the assets' version written in: it caches the
/// shell under `/static/...?v=VERSION`, the URLs the pages use, and drops the caches
/// of other versions. Served at `/sw.js` as `text/javascript`.
pub fn service_worker() -> String {
    include_str!("../static/sw.js")
        .replace("__CLAUDEOPS_ASSET_VERSION__", &fingerprint())
        .replace("__CLAUDEOPS_BUILD__", env!("CARGO_PKG_VERSION"))
}

/// A short fingerprint of all assets, added to their URLs as `?v=` so a browser
/// fetches them again after an upgrade even if it cached them for long.
pub(crate) fn fingerprint() -> String {
    // FNV-1a, 64 bits: not for security, only to change when any byte changes.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (_, _, bytes) in ASSETS {
        for &b in *bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{:012x}", hash >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_list_matches_table() {
        let names: Vec<&str> = ASSETS.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names, ASSET_PATHS);
    }

    #[test]
    fn lookup_by_url_or_name() {
        let (ct, css) = asset("/static/app.css").expect("css by url");
        assert!(ct.starts_with("text/css"));
        assert!(!css.is_empty());
        assert_eq!(asset("app.css").map(|a| a.0), Some(ct));
        assert_eq!(asset("/static/app.css?v=abc").map(|a| a.0), Some(ct));
        assert!(asset("/static/../Cargo.toml").is_none());
        assert!(asset("/static/").is_none());
        assert!(asset("nope.js").is_none());
    }

    #[test]
    fn the_service_worker_knows_the_version_and_caches_no_page() {
        let sw = service_worker();
        assert!(!sw.contains("__CLAUDEOPS_"), "placeholders filled");
        assert!(sw.contains("\"/static/app.css?v=\" + VERSION"));
        assert!(sw.contains(&format!("const VERSION = \"{}\"", fingerprint())));
        // Pages and the API are never put in the cache: the only write is the
        // shell at install.
        assert_eq!(sw.matches("cache.addAll(SHELL)").count(), 1);
        assert!(!sw.contains("cache.put"));
    }

    #[test]
    fn the_favicon_is_an_icon_file_holding_the_png() {
        let (content_type, ico) = asset("favicon.ico").expect("favicon");
        assert_eq!(content_type, "image/x-icon");
        assert_eq!(&ico[..6], &[0, 0, 1, 0, 1, 0], "ICO header, one image");
        assert_eq!(&ico[22..26], b"\x89PNG");
        let (_, png) = asset("icon-192.png").expect("png");
        assert_eq!(&ico[22..], png);
    }

    #[test]
    fn fingerprint_is_stable() {
        assert_eq!(fingerprint(), fingerprint());
        assert_eq!(fingerprint().len(), 12);
    }
}
