//! Listeners and probes, run inside the lab's network namespaces.
//!
//! A listener accepts TCP connections and closes them, and echoes UDP datagrams. A
//! TCP probe succeeds when the connection is established; a UDP probe when the echo
//! comes back. A dropped packet shows as a timeout; a probe is retried once so that a
//! first packet waiting for ARP is not mistaken for a drop. SCTP is not probed yet
//! (the standard library has no SCTP sockets); its ports are reported as unprobed.

use kubeseg_model::Protocol;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// How long a probe waits before it counts the packet as dropped.
pub const TIMEOUT: Duration = Duration::from_millis(400);

/// Serves TCP and UDP on the given ports of every address, until killed; once every
/// socket is bound, creates `ready` (so that nothing probes a port not yet open).
pub fn serve(tcp: &[u16], udp: &[u16], ready: Option<&std::path::Path>) -> std::io::Result<()> {
    let mut threads = Vec::new();
    for &port in tcp {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?;
        threads.push(std::thread::spawn(move || {
            for mut stream in l.incoming().flatten() {
                // Read nothing; closing the connection is the answer.
                let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
                let _ = stream.read(&mut [0u8; 1]);
            }
        }));
    }
    for &port in udp {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))?;
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let _ = s.send_to(&buf[..n], from);
            }
        }));
    }
    if let Some(path) = ready {
        std::fs::write(path, b"")?;
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// One probe to make.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Target {
    pub ip: Ipv4Addr,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    pub port: u16,
}

fn once(t: &Target) -> bool {
    let addr = SocketAddr::from((t.ip, t.port));
    match Protocol::parse(&t.protocol).unwrap_or(Protocol::Sctp) {
        Protocol::Tcp => TcpStream::connect_timeout(&addr, TIMEOUT).is_ok(),
        Protocol::Udp => {
            let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(TIMEOUT));
            if s.send_to(b"kubeseg", addr).is_err() {
                return false;
            }
            let mut buf = [0u8; 16];
            matches!(s.recv_from(&mut buf), Ok((7, from)) if from == addr)
        }
        Protocol::Sctp => false,
    }
}

/// Probes every target at once (one thread each); the answers in target order.
pub fn probe(targets: &[Target]) -> Vec<bool> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| scope.spawn(move || once(t) || once(t)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .collect()
    })
}
