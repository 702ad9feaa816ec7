//! The accept loop and one thread per connection (TLS handshake, then requests).

use crate::handler;
use crate::http::{self, Conn, ReadError};
use crate::server::{Shared, lock};
use crate::status::ApiError;
use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Binds a listener for the accept loop.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("listen on {addr}: {e}"))?;
    // Non-blocking, so the accept loop notices a stop within a few milliseconds.
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(listener)
}

/// Accepts connections until the server stops, one thread each.
pub(crate) fn spawn_accept(shared: Arc<Shared>, listener: TcpListener) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while shared.running.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    std::thread::spawn(move || serve(&shared, stream));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

/// What a connection knows about its client.
pub(crate) struct ConnInfo {
    /// The user a verified client certificate names.
    pub cert_user: Option<String>,
    /// The socket, so a watch on it can be cut.
    pub socket: Option<TcpStream>,
}

fn serve(shared: &Arc<Shared>, stream: TcpStream) {
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    if let Ok(s) = stream.try_clone() {
        lock(&shared.conns).insert(id, s);
    }
    let mut info = ConnInfo {
        cert_user: None,
        socket: stream.try_clone().ok(),
    };
    let conn = match &shared.tls_config {
        Some(config) => match handshake(config.clone(), stream) {
            Some((conn, der)) => {
                info.cert_user = der.and_then(|d| shared.pki.as_ref().and_then(|p| p.user_of(&d)));
                conn
            }
            None => {
                lock(&shared.conns).remove(&id);
                return;
            }
        },
        None => Conn::Plain(stream),
    };
    let mut reader = BufReader::new(conn);
    while shared.running.load(Ordering::SeqCst) {
        let req = match http::read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadError::Io(_)) => break,
            Err(ReadError::Bad(code, msg)) => {
                let body = ApiError::new(code, crate::status::reason_for(code), msg)
                    .to_status()
                    .to_string();
                let _ = http::write_response(
                    reader.get_mut(),
                    code,
                    "application/json",
                    body.as_bytes(),
                    false,
                );
                break;
            }
        };
        match handler::handle(shared, reader.get_mut(), &req, &info) {
            Ok(true) if req.keep_alive => {}
            _ => break,
        }
    }
    lock(&shared.conns).remove(&id);
}

/// Completes a TLS handshake; returns the stream and the client certificate, if any.
fn handshake(
    config: Arc<rustls::ServerConfig>,
    mut sock: TcpStream,
) -> Option<(Conn, Option<Vec<u8>>)> {
    let mut tls = rustls::ServerConnection::new(config).ok()?;
    while tls.is_handshaking() {
        tls.complete_io(&mut sock).ok()?;
    }
    let der = tls
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec());
    Some((
        Conn::Tls(Box::new(rustls::StreamOwned::new(tls, sock))),
        der,
    ))
}
