//! Listeners and probes, run inside the lab's network namespaces.
//!
//! A listener accepts TCP connections and closes them, and echoes UDP datagrams. A
//! TCP probe succeeds when the connection is established; a UDP probe when the echo
//! comes back. A rejected packet shows at once (a reset or an ICMP error), a dropped
//! one as a timeout; a probe is retried once so that a first packet waiting for ARP is
//! not mistaken for a drop. SCTP is not probed yet
//! (the standard library has no SCTP sockets); its ports are reported as unprobed.

use kubeseg_model::Protocol;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// How long a probe waits before it counts the packet as dropped.
pub const TIMEOUT: Duration = Duration::from_millis(600);

/// Serves TCP and UDP on the given ports of every address, until killed; once every
/// socket is bound, creates `ready` (so that nothing probes a port not yet open).
pub fn serve(tcp: &[u16], udp: &[u16], ready: Option<&std::path::Path>) -> std::io::Result<()> {
    let mut threads = Vec::new();
    for &port in tcp {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?;
        threads.push(std::thread::spawn(move || {
            // The handshake is the answer: accept and close at once, so that the
            // backlog never fills when many pods probe this one at the same time.
            for stream in l.incoming() {
                drop(stream);
            }
        }));
    }
    for &port in udp {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))?;
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            // An ICMP error for an earlier answer (its sender's socket was gone, or its
            // rules refused it) surfaces as an error here: keep serving.
            loop {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let _ = s.send_to(&buf[..n], from);
                }
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
    /// The UDP source port, when the caller needs every probe to be a new flow: a
    /// datagram whose addresses and ports match a flow conntrack saw answered is part
    /// of that flow and passes as established, whatever the policy now says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
}

fn once(t: &Target) -> bool {
    let addr = SocketAddr::from((t.ip, t.port));
    match Protocol::parse(&t.protocol).unwrap_or(Protocol::Sctp) {
        Protocol::Tcp => TcpStream::connect_timeout(&addr, TIMEOUT).is_ok(),
        Protocol::Udp => {
            let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, t.source_port.unwrap_or(0))) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(TIMEOUT));
            if s.send_to(b"kubeseg", addr).is_err() {
                return false;
            }
            let mut buf = [0u8; 16];
            matches!(s.recv_from(&mut buf), Ok((7, from)) if from == addr)
        }
        // SCTP is not probed; ICMP never comes from a probe target (the Kubernetes
        // spelling names no ICMP).
        Protocol::Sctp | Protocol::Icmp | Protocol::IcmpV6 => false,
    }
}

/// Probes in flight at once, at most, from one source.
pub const IN_FLIGHT: usize = 64;

/// Probes every target, `in_flight` at a time; the answers in target order.
pub fn probe(targets: &[Target], in_flight: usize) -> Vec<bool> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let answers: Vec<AtomicBool> = targets.iter().map(|_| AtomicBool::new(false)).collect();
    std::thread::scope(|scope| {
        for _ in 0..in_flight.min(targets.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = targets.get(k) else { break };
                    answers[k].store(once(t) || once(t), Ordering::Relaxed);
                }
            });
        }
    });
    answers.into_iter().map(AtomicBool::into_inner).collect()
}

/// What a flood saw.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flood {
    /// Datagrams the kernel let out (a datagram the source's own rules drop fails to send).
    pub sent: usize,
    /// Datagrams the destination answered.
    pub answered: usize,
    /// Sends the source's rules refused.
    pub refused: usize,
}

/// Sends one UDP datagram every millisecond for `millis` milliseconds, each from its
/// own source port counting up from `first_port` (each a new flow), then counts the
/// answers: a way to see every instant of a policy update, not one probe per second.
pub fn flood(ip: Ipv4Addr, port: u16, millis: u64, first_port: u16) -> Flood {
    let addr = SocketAddr::from((ip, port));
    let mut sockets = Vec::new();
    let mut refused = 0;
    let start = std::time::Instant::now();
    let mut k: u16 = 0;
    while start.elapsed() < Duration::from_millis(millis) {
        let source = first_port.wrapping_add(k);
        k = k.wrapping_add(1);
        if let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, source)) {
            match s.send_to(b"kubeseg", addr) {
                Ok(_) => sockets.push(s),
                Err(_) => refused += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Answers come back within microseconds; give the last ones time, then count.
    std::thread::sleep(TIMEOUT);
    let mut answered = 0;
    for s in &sockets {
        let _ = s.set_nonblocking(true);
        let mut buf = [0u8; 16];
        if matches!(s.recv_from(&mut buf), Ok((7, from)) if from == addr) {
            answered += 1;
        }
    }
    Flood {
        sent: sockets.len(),
        answered,
        refused,
    }
}

/// Round trips to one listener: what the packet path costs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Rtt {
    /// Round trips completed, and those that got no answer.
    pub samples: usize,
    pub lost: usize,
    /// Microseconds, over the completed round trips.
    pub median_us: f64,
    pub p99_us: f64,
}

/// Times `count` round trips to `ip:port`, one after another: a TCP handshake each
/// (every one a new flow, which the rules evaluate), or a UDP echo, each from a new
/// socket with `new_flows`, else all over one socket (an established flow, which
/// conntrack passes before any policy rule).
pub fn rtt(ip: Ipv4Addr, port: u16, protocol: Protocol, count: usize, new_flows: bool) -> Rtt {
    let addr = SocketAddr::from((ip, port));
    let mut times = Vec::with_capacity(count);
    let mut lost = 0;
    let shared = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok();
    if let Some(s) = &shared {
        let _ = s.set_read_timeout(Some(TIMEOUT));
    }
    for _ in 0..count {
        let start = std::time::Instant::now();
        let answered = match protocol {
            Protocol::Tcp => TcpStream::connect_timeout(&addr, TIMEOUT).is_ok(),
            _ => {
                let own;
                let s = match (&shared, new_flows) {
                    (Some(s), false) => s,
                    _ => {
                        own = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0));
                        let Ok(s) = &own else {
                            lost += 1;
                            continue;
                        };
                        let _ = s.set_read_timeout(Some(TIMEOUT));
                        s
                    }
                };
                let mut buf = [0u8; 16];
                s.send_to(b"kubeseg", addr).is_ok()
                    && matches!(s.recv_from(&mut buf), Ok((7, from)) if from == addr)
            }
        };
        if answered {
            times.push(start.elapsed().as_secs_f64() * 1e6);
        } else {
            lost += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| -> f64 {
        if times.is_empty() {
            return 0.0;
        }
        times[((times.len() - 1) as f64 * q).round() as usize]
    };
    Rtt {
        samples: times.len(),
        lost,
        median_us: at(0.5),
        p99_us: at(0.99),
    }
}
