//! A throwaway preview server for working on the pages: serves every page from the test
//! fixtures, the embedded assets, and a fake SSE stream that replays a Tier 1 run.
//!
//! ```text
//! cargo run -p claudeops-web-ui --example preview            # http://127.0.0.1:8099/
//! cargo run -p claudeops-web-ui --example preview -- 127.0.0.1:9000
//! cargo run -p claudeops-web-ui --example preview -- --out /tmp/claudeops-pages
//! ```
//!
//! `/sessions/18` is a running session whose lines arrive one by one; `/sessions/17`
//! is finished and replays at once. It is not the control plane and must not grow
//! into one: no auth, no state, std only.

#[path = "../tests/common/mod.rs"]
mod common;

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use claudeops_web_ui::{ErrorPage, Nav, Ui, asset};
use serde_json::json;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ui = Ui::new()?;
    if let [flag, dir] = args.as_slice()
        && flag == "--out"
    {
        return write_pages(&ui, dir);
    }
    let addr = args.first().map_or("127.0.0.1:8099", String::as_str);
    let listener = TcpListener::bind(addr)?;
    println!("preview on http://{}/", listener.local_addr()?);
    let ui = std::sync::Arc::new(ui);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let ui = ui.clone();
        thread::spawn(move || {
            if let Err(e) = serve(&ui, stream) {
                eprintln!("preview: {e}");
            }
        });
    }
    Ok(())
}

fn write_pages(ui: &Ui, dir: &str) -> Res<()> {
    std::fs::create_dir_all(format!("{dir}/static"))?;
    let pages = [
        ("overview.html", ui.overview(&common::overview_page())?),
        ("events.html", ui.events(&common::events_page())?),
        ("cooldowns.html", ui.cooldowns(&common::cooldowns_page())?),
        ("login.html", ui.login(&common::login_page())?),
        ("sessions.html", ui.sessions(&common::sessions_page())?),
        ("session.html", ui.session(&common::session_page(true))?),
        (
            "session-finished.html",
            ui.session(&common::session_page(false))?,
        ),
        ("sites.html", ui.sites(&common::sites_page())?),
        ("run.html", ui.run_now(&common::run_now_page())?),
        ("error.html", ui.error(&common::error_page())?),
    ];
    for (name, html) in pages {
        // Relative asset paths so the files open from disk.
        std::fs::write(
            format!("{dir}/{name}"),
            html.replace("\"/static/", "\"static/"),
        )?;
    }
    for name in claudeops_web_ui::ASSET_PATHS {
        if let Some((_, bytes)) = asset(name) {
            std::fs::write(format!("{dir}/static/{name}"), bytes)?;
        }
    }
    println!("wrote pages to {dir}");
    Ok(())
}

fn serve(ui: &Ui, mut stream: TcpStream) -> Res<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut last_event_id: i64 = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("last-event-id:") {
            last_event_id = v.trim().parse().unwrap_or(0);
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);

    if let Some((content_type, bytes)) = path.strip_prefix("/static/").and_then(asset) {
        return respond(&mut stream, 200, content_type, bytes);
    }
    let page = match path {
        "/" => Some(ui.overview(&common::overview_page())?),
        "/sessions" => Some(ui.sessions(&common::sessions_page())?),
        "/events" => Some(ui.events(&common::events_page())?),
        "/cooldowns" => Some(ui.cooldowns(&common::cooldowns_page())?),
        "/sessions/18" => Some(ui.session(&common::session_page(true))?),
        "/sessions/17" => {
            let mut page = common::session_page(false);
            page.session.id = 17;
            Some(ui.session(&page)?)
        }
        "/sites" => Some(ui.sites(&common::sites_page())?),
        "/run" => Some(ui.run_now(&common::run_now_page())?),
        "/login" => Some(ui.login(&common::login_page())?),
        "/sessions/16" => {
            let mut page = common::session_page(false);
            page.session.id = 16;
            Some(ui.session(&page)?)
        }
        "/sessions/18/stream" => return stream_session(&mut stream, last_event_id, Mode::Live),
        "/sessions/17/stream" => return stream_session(&mut stream, last_event_id, Mode::Replay),
        "/sessions/16/stream" => return stream_session(&mut stream, last_event_id, Mode::Messy),
        _ => None,
    };
    match page {
        Some(html) => respond(
            &mut stream,
            200,
            "text/html; charset=utf-8",
            html.as_bytes(),
        ),
        None => {
            let html = ui.error(&ErrorPage {
                layout: common::layout(Nav::None),
                status: 404,
                title: "Not found".into(),
                message: format!("Nothing at {path} in the preview."),
                next: None,
            })?;
            respond(
                &mut stream,
                404,
                "text/html; charset=utf-8",
                html.as_bytes(),
            )
        }
    }
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> Res<()> {
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'self'\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// One line every 700 ms, then `completed`.
    Live,
    /// Everything at once, then `failed`.
    Replay,
    /// Every line twice and two swapped, as a reconnect could deliver them.
    Messy,
}

/// The SSE contract: `line` events with `id: <seq>`, then one `status` event.
fn stream_session(stream: &mut TcpStream, after: i64, mode: Mode) -> Res<()> {
    let live = mode == Mode::Live;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    )?;
    let mut lines = common::demo_lines();
    if mode == Mode::Messy {
        lines.swap(1, 2);
        lines = lines.iter().flat_map(|l| [l.clone(), l.clone()]).collect();
    }
    let ended_at_ms = common::STARTED_MS + 84_000;
    for (line, events) in &lines {
        if line.seq <= after {
            continue;
        }
        let data = common::line_event(line, events);
        write!(stream, "id: {}\nevent: line\ndata: {data}\n\n", line.seq)?;
        stream.flush()?;
        if live {
            thread::sleep(Duration::from_millis(700));
        }
    }
    let status = if live {
        json!({"status": "completed", "cost_usd": 0.0731, "turns": 9, "ended_at_ms": ended_at_ms, "error": null})
    } else {
        json!({"status": "failed", "cost_usd": 0.0731, "turns": 9, "ended_at_ms": ended_at_ms, "error": common::EVIL_ERROR})
    };
    write!(stream, "event: status\ndata: {status}\n\n")?;
    stream.flush()?;
    Ok(())
}
