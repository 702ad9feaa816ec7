//! A small HTTP/1.1 server side: request parsing with limits, responses with
//! Content-Length, and chunked streams for watches.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;

/// Longest request head (request line and headers) accepted.
const MAX_HEAD: u64 = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A connection, plain or TLS.
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A parsed request.
#[derive(Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The request line as sent, for the request log.
    pub line: String,
}

impl Request {
    /// A header's value (the first one of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value (the first of that name, as Go's server reads it).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed or timed out: close it without answering.
    Io(io::Error),
    /// The request is malformed: answer with this status code and close.
    Bad(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads one request; `None` when the peer closed the connection between requests.
/// `Expect: 100-continue` gets no interim answer: clients send the body after a short
/// wait, which is all the tests need.
pub fn read_request<R: BufRead>(r: &mut R) -> Result<Option<Request>, ReadError> {
    let mut head = Vec::new();
    let mut limited = r.take(MAX_HEAD);
    loop {
        let before = head.len();
        let n = limited.read_until(b'\n', &mut head)?;
        if n == 0 {
            if head.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            return Err(ReadError::Bad(400, "truncated request head"));
        }
        let line = &head[before..];
        // Blank lines before the request line are tolerated (RFC 9112, 2.2).
        if line == b"\r\n" || line == b"\n" {
            if head[..before].iter().all(u8::is_ascii_whitespace) {
                head.clear();
                continue;
            }
            break;
        }
        if !line.ends_with(b"\n") {
            return Err(ReadError::Bad(431, "request head too large"));
        }
    }
    let r = limited.into_inner();
    let text =
        std::str::from_utf8(&head).map_err(|_| ReadError::Bad(400, "request head is not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let line = lines.next().unwrap_or_default().to_string();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(ReadError::Bad(400, "malformed request line"));
    }
    let mut req = Request {
        method: method.to_string(),
        line: line.clone(),
        ..Request::default()
    };
    for l in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = l.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header"));
        };
        req.headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    req.path = decode(path, false);
    req.query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect();
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.keep_alive = if version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Bad(400, "bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        req.body = vec![0; len];
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        r.take(1024).read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size =
            usize::from_str_radix(size, 16).map_err(|_| ReadError::Bad(400, "bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                line.clear();
                if r.take(8192).read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::Bad(413, "request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

/// Percent-decodes; in a query `+` is a space.
fn decode(s: &str, query: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes a whole response.
pub fn write_response(
    w: &mut impl Write,
    code: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache, private\r\n",
        crate::status::reason_phrase(code),
        body.len()
    );
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// Starts a chunked response (a watch stream). The connection closes after it: the
/// server watches the socket for the client going away, so it cannot read a next
/// request from it.
pub fn start_chunked(w: &mut impl Write, content_type: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache, private\r\nConnection: close\r\n\r\n"
    );
    w.write_all(head.as_bytes())?;
    w.flush()
}

/// Writes one chunk and flushes it, so the client sees each event as it happens.
pub fn write_chunk(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

/// Ends a chunked response cleanly.
pub fn end_chunked(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<Request>, ReadError> {
        read_request(&mut io::BufReader::new(raw))
    }

    #[test]
    fn parses_query_headers_and_body() {
        let raw = b"POST /api/v1/namespaces/a/pods?labelSelector=app%3Dx+y&watch HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
        let Ok(Some(r)) = parse(raw) else {
            panic!("no request")
        };
        assert_eq!(r.path, "/api/v1/namespaces/a/pods");
        assert_eq!(r.param("labelSelector"), Some("app=x y"));
        assert_eq!(r.param("watch"), Some(""));
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive);
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small linear congruential generator: no dependency, reproducible.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        };
        let pieces: &[&[u8]] = &[
            b"GET ",
            b"POST ",
            b"/api/v1/",
            b"?",
            b"&",
            b"=",
            b"%",
            b"%4",
            b" HTTP/1.1",
            b"\r\n",
            b"\n",
            b":",
            b"Content-Length: ",
            b"Transfer-Encoding: chunked",
            b"0",
            b"ff",
            b"\xff",
        ];
        for _ in 0..3000 {
            let mut raw = Vec::new();
            for _ in 0..(next() % 24) {
                if next() % 3 == 0 {
                    raw.push(next());
                } else {
                    raw.extend_from_slice(pieces[usize::from(next()) % pieces.len()]);
                }
            }
            let _ = parse(&raw);
        }
    }

    #[test]
    fn chunked_body_and_garbage() {
        let raw =
            b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
        let Ok(Some(r)) = parse(raw) else {
            panic!("no request")
        };
        assert_eq!(r.body, b"abc");
        for bad in [
            &b"GET\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nnocolon\r\n\r\n",
            b"\xff\xfe / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
            b"GET /%zz%4 HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                !matches!(parse(bad), Ok(Some(ref r)) if r.method == "GET" && r.path == "/"),
                "{bad:?}"
            );
        }
        assert!(matches!(parse(b""), Ok(None)));
    }
}
