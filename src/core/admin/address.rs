//! The two browser-safety lists: which `Host` headers the admin server
//! answers (DNS rebinding) and which `Origin`s may send it a state change
//! (CSRF). Both are matched exactly on parsed parts, never by prefix and
//! never against the request's own `Host` (an attacker who rebinds a name
//! controls both headers).

/// A host the server answers to: a name or address, and a port (`None`:
/// any port, for a host an operator listed without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    host: String,
    port: Option<u16>,
}

impl HostRule {
    /// `localhost`, `127.0.0.1` and `[::1]` on the server's own port.
    pub fn loopback(port: u16) -> Vec<Self> {
        ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(|host| Self {
                host: host.to_owned(),
                port: Some(port),
            })
            .collect()
    }

    /// An operator's entry: `name`, `name:port`, `[v6]` or `[v6]:port`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (host, port) = split_host_port(entry.trim())
            .ok_or_else(|| format!("{entry:?} is not a host or host:port"))?;
        Ok(Self { host, port })
    }

    /// Whether a request's `Host` header names this host.
    pub fn matches(&self, header: &str) -> bool {
        match split_host_port(header.trim()) {
            Some((host, port)) => host == self.host && (self.port.is_none() || port == self.port),
            None => false,
        }
    }
}

/// An origin that may send a state change: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// `http://localhost:PORT` and `http://127.0.0.1:PORT`: the console
    /// served by this server.
    pub fn loopback(port: u16) -> Vec<Self> {
        ["localhost", "127.0.0.1"]
            .into_iter()
            .map(|host| Self {
                scheme: "http".to_owned(),
                host: host.to_owned(),
                port,
            })
            .collect()
    }

    /// `scheme://host[:port]`, nothing after it; `null` is not an origin.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let problem = || format!("{text:?} is not an origin (http(s)://host[:port])");
        let (scheme, rest) = text.split_once("://").ok_or_else(problem)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(problem()),
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(problem());
        }
        let (host, port) = split_host_port(rest).ok_or_else(problem)?;
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }

    /// Whether a request's `Origin` header is this origin, part by part.
    pub fn matches(&self, header: &str) -> bool {
        Self::parse(header).is_ok_and(|origin| origin == *self)
    }
}

/// `host[:port]` split and checked: the host lowercased (DNS is
/// case-insensitive), an IPv6 address kept in its brackets. `None` for
/// anything else: an empty host, a bad port, stray characters.
fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        if host.is_empty() || !host.chars().all(valid) {
            return None;
        }
        (host.to_owned(), port)
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_match_only_on_the_servers_port() {
        let rules = HostRule::loopback(9090);
        let allowed = |header: &str| rules.iter().any(|rule| rule.matches(header));
        assert!(allowed("localhost:9090"));
        assert!(allowed("LOCALHOST:9090"));
        assert!(allowed("127.0.0.1:9090"));
        assert!(allowed("[::1]:9090"));
        assert!(!allowed("localhost:9091"));
        assert!(!allowed("localhost"));
        assert!(!allowed("evil.example:9090"));
        assert!(!allowed("localhost.evil.example:9090"));
        assert!(!allowed("127.0.0.1.nip.io:9090"));
        assert!(!allowed("localhost:9090@evil"));
        assert!(!allowed(""));
    }

    #[test]
    fn a_listed_host_without_a_port_matches_any_port() {
        let rule = HostRule::parse("Ops.Internal").unwrap();
        assert!(rule.matches("ops.internal:8080"));
        assert!(rule.matches("ops.internal"));
        assert!(!rule.matches("ops.internal.evil:8080"));
        let pinned = HostRule::parse("ops.internal:9090").unwrap();
        assert!(pinned.matches("ops.internal:9090"));
        assert!(!pinned.matches("ops.internal:9091"));
        assert!(HostRule::parse("a b").is_err());
        assert!(HostRule::parse("host:port").is_err());
    }

    #[test]
    fn origins_match_scheme_host_and_port_exactly() {
        let origins = Origin::loopback(9090);
        let allowed = |header: &str| origins.iter().any(|origin| origin.matches(header));
        assert!(allowed("http://localhost:9090"));
        assert!(allowed("http://127.0.0.1:9090"));
        assert!(!allowed("null"));
        assert!(!allowed("https://localhost:9090"));
        assert!(!allowed("http://localhost:9091"));
        assert!(!allowed("http://localhost"));
        assert!(!allowed("http://localhost:9090.evil.example"));
        assert!(!allowed("http://localhost.evil.example:9090"));
        assert!(!allowed("http://localhost:9090/path"));
        assert!(!allowed("http://user@localhost:9090"));
        assert!(!allowed(""));
    }

    #[test]
    fn an_origin_without_a_port_means_the_schemes_default() {
        let origin = Origin::parse("https://ops.example.com").unwrap();
        assert!(origin.matches("https://ops.example.com"));
        assert!(origin.matches("https://ops.example.com:443"));
        assert!(!origin.matches("http://ops.example.com"));
        assert!(!origin.matches("https://ops.example.com.evil"));
        assert!(Origin::parse("null").is_err());
        assert!(Origin::parse("ftp://x").is_err());
        assert!(Origin::parse("https://x/").is_err());
    }
}
