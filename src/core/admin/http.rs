//! Just enough HTTP/1.1 for the admin server: one request per connection,
//! its head and body bounded in size, answered and closed. A small
//! surface on purpose (no keep-alive, no chunked bodies, no upgrades):
//! what an operator's browser, the CLI and a probe need, and nothing an
//! attacker could stretch.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The request line and headers may take this many bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// A body may take this many bytes (a control action's JSON is tiny).
pub const MAX_BODY: usize = 1024 * 1024;
const MAX_HEADERS: usize = 48;

/// One request as read off the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The target's path, percent-encoding kept.
    pub path: String,
    /// The target's query, without the `?`.
    pub query: String,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of that (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A request that cannot be served: its status and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// HTTP status (400, 411, 413, 431, 505).
    pub status: u16,
    /// The JSON `error`.
    pub error: &'static str,
}

fn malformed(status: u16, error: &'static str) -> Malformed {
    Malformed { status, error }
}

/// Reads one request. `Ok(None)`: the peer closed before sending one.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> io::Result<Result<Option<Request>, Malformed>> {
    let mut buffer = Vec::with_capacity(1024);
    let (head_len, mut request, length) = loop {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(if buffer.is_empty() {
                Ok(None)
            } else {
                Err(malformed(400, "bad_request"))
            });
        }
        buffer.extend_from_slice(&chunk[..read]);
        match parse_head(&buffer) {
            // Complete, but past the bound (it arrived in one read).
            Ok(Some((head_len, ..))) if head_len > MAX_HEAD => {
                return Ok(Err(malformed(431, "head_too_large")))
            }
            Ok(Some(parsed)) => break parsed,
            Ok(None) if buffer.len() > MAX_HEAD => {
                return Ok(Err(malformed(431, "head_too_large")))
            }
            Ok(None) => continue,
            Err(problem) => return Ok(Err(problem)),
        }
    };
    if length > MAX_BODY {
        return Ok(Err(malformed(413, "body_too_large")));
    }
    let mut body = buffer.split_off(head_len);
    if body.len() > length {
        // Bytes past the body: a pipelined request this server will not read.
        body.truncate(length);
    }
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(Err(malformed(400, "bad_request")));
        }
        body.extend_from_slice(&chunk[..read]);
    }
    request.body = body;
    Ok(Ok(Some(request)))
}

/// The head, if complete: its length, the request without body, and the
/// body's length.
fn parse_head(buffer: &[u8]) -> Result<Option<(usize, Request, usize)>, Malformed> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(malformed(431, "too_many_headers")),
        Err(_) => return Err(malformed(400, "bad_request")),
    };
    if parsed.version != Some(1) && parsed.version != Some(0) {
        return Err(malformed(505, "http_version_not_supported"));
    }
    let target = parsed.path.unwrap_or("/");
    if !target.starts_with('/') {
        // An absolute-form target (a proxy request) names another server.
        return Err(malformed(400, "bad_request"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: parsed.method.unwrap_or("").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: Vec::with_capacity(parsed.headers.len()),
        body: Vec::new(),
    };
    let mut length: Option<usize> = None;
    for header in parsed.headers.iter() {
        let name = header.name.to_ascii_lowercase();
        let Ok(value) = std::str::from_utf8(header.value) else {
            return Err(malformed(400, "bad_request"));
        };
        match name.as_str() {
            "transfer-encoding" => return Err(malformed(411, "length_required")),
            "content-length" => {
                let value: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| malformed(400, "bad_request"))?;
                // Two lengths that disagree: a smuggling attempt.
                if length.is_some_and(|known| known != value) {
                    return Err(malformed(400, "bad_request"));
                }
                length = Some(value);
            }
            "host" if request.header("host").is_some() => {
                return Err(malformed(400, "bad_request"));
            }
            _ => {}
        }
        request.headers.push((name, value.trim().to_owned()));
    }
    Ok(Some((head_len, request, length.unwrap_or(0))))
}

/// One response: status, headers, body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers (the server adds its own safety headers and the length).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Headers every answer carries: no framing, no sniffing, no caching, no
/// script or style but the server's own files.
pub const SAFETY_HEADERS: [(&str, &str); 6] = [
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
];

/// Writes `response` (its body left out for a HEAD) and closes the write side.
pub async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response,
    head_only: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    let mut cache_set = false;
    for (name, value) in &response.headers {
        let ours = SAFETY_HEADERS
            .iter()
            .any(|(safe, _)| safe.eq_ignore_ascii_case(name))
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("connection");
        // A handler's header with a line break would split the response.
        if ours || name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
            continue;
        }
        cache_set |= name.eq_ignore_ascii_case("cache-control");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !cache_set {
        head.push_str("Cache-Control: no-store\r\n");
    }
    for (name, value) in SAFETY_HEADERS {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(&response.body).await?;
    }
    stream.flush().await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> Result<Option<Request>, Malformed> {
        let mut stream = bytes;
        read_request(&mut stream).await.unwrap()
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_request_is_read_whole() {
        let raw = b"POST /api/baldur/cb/x/reset?a=1 HTTP/1.1\r\nHost: localhost:9\r\n\
                    X-Baldur-Key: k\r\nContent-Length: 5\r\n\r\nhello";
        let request = run(read(raw)).unwrap().unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/baldur/cb/x/reset");
        assert_eq!(request.query, "a=1");
        assert_eq!(request.header("x-baldur-key"), Some("k"));
        assert_eq!(request.body, b"hello");
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let chunked = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(run(read(chunked)).unwrap_err().status, 411);
        let two = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(run(read(two)).unwrap_err().status, 400);
        let hosts = b"GET / HTTP/1.1\r\nHost: localhost:9\r\nHost: evil\r\n\r\n";
        assert_eq!(run(read(hosts)).unwrap_err().status, 400);
        let absolute = b"GET http://evil/ HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(run(read(absolute)).unwrap_err().status, 400);
    }

    #[test]
    fn sizes_are_bounded() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(run(read(&big)).unwrap_err().status, 431);
        big.extend_from_slice(b"\r\nHost: h\r\n\r\n");
        assert_eq!(run(read(&big)).unwrap_err().status, 431);
        let huge = format!(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(run(read(huge.as_bytes())).unwrap_err().status, 413);
        assert_eq!(run(read(b"")), Ok(None));
        assert_eq!(run(read(b"GET / HT")).unwrap_err().status, 400);
    }

    #[test]
    fn a_response_carries_the_safety_headers_and_drops_injected_ones() {
        let response = Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("X-Frame-Options".into(), "ALLOWALL".into()),
                ("X-Evil".into(), "a\r\nSet-Cookie: x=1".into()),
            ],
            body: b"hi".to_vec(),
        };
        let mut out = Vec::new();
        run(write_response(&mut out, &response, false)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("X-Frame-Options: DENY\r\n"));
        assert!(!text.contains("ALLOWALL"));
        assert!(!text.contains("Set-Cookie"));
        assert!(text.contains("Content-Security-Policy: default-src 'self'"));
        assert!(text.contains("Cache-Control: no-store\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\nhi"));
    }
}
