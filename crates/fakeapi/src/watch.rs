//! Watch streams: one JSON event per line in a chunked response.

use crate::conn::ConnInfo;
use crate::http::{self, Conn, Request};
use crate::kinds::KINDS;
use crate::selector::Selector;
use crate::server::{Shared, lock};
use crate::status::ApiError;
use crate::store::{Delivery, Filter};
use serde_json::{Value, json};
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long a watch without timeoutSeconds lasts (the real server picks 30 to 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// The longest timeoutSeconds honoured.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// Serves a watch on a collection; returns whether the connection may be reused.
pub(crate) fn serve(
    shared: &Arc<Shared>,
    w: &mut Conn,
    req: &Request,
    kind: usize,
    namespace: Option<String>,
    info: &ConnInfo,
) -> io::Result<bool> {
    let k = &KINDS[kind];
    let selector = match Selector::parse(req.param("labelSelector"), req.param("fieldSelector")) {
        Ok(s) => s.map(Arc::new),
        Err(e) => return error(w, req, &ApiError::bad_request(e)),
    };
    let bookmarks = req
        .param("allowWatchBookmarks")
        .is_some_and(|v| v == "true" || v == "1");
    let initial_events = req
        .param("sendInitialEvents")
        .is_some_and(|v| v == "true" || v == "1");
    if initial_events && (!bookmarks || req.param("resourceVersionMatch") != Some("NotOlderThan")) {
        return error(
            w,
            req,
            &ApiError::new(
                422,
                "Invalid",
                "sendInitialEvents requires allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan",
            ),
        );
    }
    let timeout = match req.param("timeoutSeconds").filter(|t| !t.is_empty()) {
        None => DEFAULT_TIMEOUT,
        Some(t) => match t.parse::<u64>() {
            // Capped, so an absurd value cannot overflow the deadline.
            Ok(s) => Duration::from_secs(s.min(MAX_TIMEOUT_SECS)),
            Err(_) => {
                return error(
                    w,
                    req,
                    &ApiError::bad_request(format!("invalid timeoutSeconds: {t}")),
                );
            }
        },
    };
    let rv_param = req.param("resourceVersion").unwrap_or("");
    let from_now = rv_param.is_empty() || rv_param == "0";
    let from: u64 = if from_now {
        0
    } else {
        match rv_param.parse() {
            Ok(n) => n,
            Err(_) => {
                return error(
                    w,
                    req,
                    &ApiError::bad_request(format!("invalid resource version: {rv_param}")),
                );
            }
        }
    };
    let filter = Filter {
        kind,
        namespace,
        selector,
    };
    let (tx, rx) = channel();
    // The backlog and the subscription are taken under one lock, so no write falls
    // between them.
    let (backlog, start_rv, id) = {
        let mut store = lock(&shared.store);
        let backlog = if from_now || initial_events {
            Ok(store.current_as_added(&filter))
        } else {
            store.events_since(&filter, from)
        };
        let start_rv = if from_now || initial_events {
            store.rv()
        } else {
            from
        };
        match backlog {
            Ok(b) => {
                let id = store.subscribe(
                    filter,
                    tx,
                    info.socket.as_ref().and_then(|s| s.try_clone().ok()),
                );
                (b, start_rv, id)
            }
            Err(e) => {
                // A watch from a compacted resourceVersion is accepted, then answered
                // with one ERROR event (410 Expired) and ended, as the real server does.
                drop(store);
                http::start_chunked(w, "application/json")?;
                http::write_chunk(w, &line("ERROR", &e.to_status()))?;
                http::end_chunked(w)?;
                return Ok(false);
            }
        }
    };
    let socket = info.socket.as_ref().and_then(|s| s.try_clone().ok());
    if let Some(sock) = socket.as_ref().and_then(|s| s.try_clone().ok()) {
        spawn_hangup_watch(shared.clone(), sock, id);
    }
    let result = stream(
        shared,
        w,
        k,
        backlog,
        start_rv,
        initial_events,
        bookmarks,
        timeout,
        rx,
    );
    lock(&shared.store).unsubscribe(id);
    if let Some(s) = socket {
        // Wakes the hang-up thread; the response said Connection: close.
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    result.map(|_| false)
}

/// Reads the socket while the watch streams: a client that hangs up is noticed at once
/// (as Go's server notices it), and its watch is dropped, which ends the stream.
fn spawn_hangup_watch(shared: Arc<Shared>, mut sock: std::net::TcpStream, id: u64) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
        }
        lock(&shared.store).unsubscribe(id);
    });
}

fn error(w: &mut Conn, req: &Request, e: &ApiError) -> io::Result<bool> {
    http::write_response(
        w,
        e.code,
        "application/json",
        e.to_status().to_string().as_bytes(),
        req.keep_alive,
    )?;
    Ok(true)
}

fn line(ty: &str, object: &Value) -> Vec<u8> {
    let mut out = json!({"type": ty, "object": object})
        .to_string()
        .into_bytes();
    out.push(b'\n');
    out
}

fn bookmark(k: &crate::kinds::Kind, rv: u64, initial_end: bool) -> Vec<u8> {
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": k.kind, "apiVersion": k.api_version(), "metadata": meta}),
    )
}

#[allow(clippy::too_many_arguments)]
fn stream(
    shared: &Shared,
    w: &mut Conn,
    k: &crate::kinds::Kind,
    backlog: Vec<Delivery>,
    start_rv: u64,
    initial_events: bool,
    bookmarks: bool,
    timeout: Duration,
    rx: std::sync::mpsc::Receiver<Delivery>,
) -> io::Result<bool> {
    http::start_chunked(w, "application/json")?;
    let mut last = start_rv;
    for d in backlog {
        http::write_chunk(w, &line(d.ty.as_str(), &d.object))?;
        last = last.max(d.rv);
    }
    if initial_events {
        http::write_chunk(w, &bookmark(k, last, true))?;
    }
    let deadline = Instant::now() + timeout;
    let after_interval = || {
        Instant::now()
            .checked_add(shared.bookmark_interval)
            .unwrap_or(deadline)
    };
    let mut next_bookmark = after_interval();
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = if bookmarks {
            deadline.min(next_bookmark)
        } else {
            deadline
        } - now;
        match rx.recv_timeout(wait) {
            Ok(d) => {
                http::write_chunk(w, &line(d.ty.as_str(), &d.object))?;
                last = last.max(d.rv);
            }
            // The server cut the watch (a fault, or stop): end without the last chunk.
            Err(RecvTimeoutError::Disconnected) => return Ok(false),
            Err(RecvTimeoutError::Timeout) => {
                if bookmarks && Instant::now() >= next_bookmark {
                    // Every event up to the current resourceVersion was queued before it
                    // was read, so sending the queue first keeps the bookmark truthful.
                    let rv = lock(&shared.store).rv();
                    while let Ok(d) = rx.try_recv() {
                        http::write_chunk(w, &line(d.ty.as_str(), &d.object))?;
                        last = last.max(d.rv);
                    }
                    last = last.max(rv);
                    http::write_chunk(w, &bookmark(k, last, false))?;
                    next_bookmark = after_interval();
                }
            }
        }
    }
    http::end_chunked(w)?;
    Ok(true)
}
