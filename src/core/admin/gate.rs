//! The admin server's gate: what every request must pass before a handler
//! sees it, decided from its head and body alone. Public routes (the
//! console's files, the five health probes) need no key; everything else
//! needs the admin or the viewer key; a state change must be a POST from
//! an allowed origin (or none: a CLI), by the admin role, on an unlocked
//! server, with `"confirm": "CONFIRM"` in its body.

use crate::core::admin::address::{HostRule, Origin};

/// Under this prefix are the API's routes.
pub const API_PREFIX: &str = "/api/baldur/";

/// The health routes a probe reads without a key (public view).
const PUBLIC_HEALTH: [&str; 5] = [
    "health",
    "health/live",
    "health/ready",
    "health/pool",
    "health/ping",
];

/// A key holder's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, state changes included.
    Admin,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The role's name, as an actor and the handler see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// What the gate is configured with.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// The admin key (never empty: the embedder generates one when none is set).
    pub admin_key: String,
    /// The viewer key, if any.
    pub viewer_key: Option<String>,
    /// Hosts an operator added to the loopback ones.
    pub extra_hosts: Vec<String>,
    /// Origins an operator added to the server's own.
    pub extra_origins: Vec<String>,
    /// Whether destructive actions are allowed at all.
    pub unlocked: bool,
}

/// The gate of one server, on its port.
#[derive(Debug, Clone)]
pub struct Gate {
    admin_key: String,
    viewer_key: Option<String>,
    hosts: Vec<HostRule>,
    origins: Vec<Origin>,
    unlocked: bool,
}

/// A request as the gate reads it.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The URL's path (no query).
    pub path: &'a str,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `X-Baldur-Key` header.
    pub key: Option<&'a str>,
    /// The `X-Baldur-Actor` header.
    pub actor: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// Let through: with no key on a public route, or as a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// A public route, no key given.
    Public,
    /// A key holder.
    Holder {
        /// The key's role.
        role: Role,
        /// `role` or `role:name` (the name from `X-Baldur-Actor`).
        actor: String,
    },
}

/// Turned away: the status, the JSON `error` and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// The machine-readable reason (`unauthorized`, `locked`, ...).
    pub error: &'static str,
    /// What to do about it; never holds a key.
    pub detail: String,
}

fn refused(status: u16, error: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        status,
        error,
        detail: detail.into(),
    }
}

/// Longest actor name kept (the rest is cut): it goes into logs and records.
const ACTOR_MAX: usize = 64;

impl Gate {
    /// The gate of a server on `port`; an error names a bad list entry.
    pub fn new(config: GateConfig, port: u16) -> Result<Self, String> {
        if config.admin_key.is_empty() {
            return Err("the admin key is empty".into());
        }
        let mut hosts = HostRule::loopback(port);
        for entry in config.extra_hosts.iter().filter(|e| !e.trim().is_empty()) {
            hosts.push(HostRule::parse(entry)?);
        }
        let mut origins = Origin::loopback(port);
        for entry in config.extra_origins.iter().filter(|e| !e.trim().is_empty()) {
            origins.push(Origin::parse(entry)?);
        }
        Ok(Self {
            admin_key: config.admin_key,
            viewer_key: config.viewer_key.filter(|key| !key.is_empty()),
            hosts,
            origins,
            unlocked: config.unlocked,
        })
    }

    /// Whether destructive actions are allowed.
    pub fn unlocked(&self) -> bool {
        self.unlocked
    }

    /// The gate's decision on one request.
    pub fn admit(&self, asked: &Asked<'_>) -> Result<Admitted, Refused> {
        let host_ok = asked
            .host
            .is_some_and(|host| self.hosts.iter().any(|rule| rule.matches(host)));
        if !host_ok {
            // DNS rebinding: a page on another name reaching this port.
            return Err(refused(
                403,
                "host_not_allowed",
                "this Host is not one the admin server answers to (BALDUR_ADMIN_ALLOWED_HOSTS)",
            ));
        }
        let reads = matches!(asked.method, "GET" | "HEAD");
        if !reads && asked.method != "POST" {
            return Err(refused(
                405,
                "method_not_allowed",
                "use GET to read, POST to act",
            ));
        }
        if !reads {
            if let Some(origin) = asked.origin {
                if !self.origins.iter().any(|allowed| allowed.matches(origin)) {
                    return Err(refused(
                        403,
                        "origin_not_allowed",
                        "this Origin may not change state (BALDUR_ADMIN_ALLOWED_ORIGINS)",
                    ));
                }
            }
        }
        let role = match asked.key {
            None if reads && is_public(asked.path) => return Ok(Admitted::Public),
            None => {
                return Err(refused(
                    401,
                    "unauthorized",
                    "send the admin or viewer key in the X-Baldur-Key header",
                ))
            }
            Some(key) => self.role_of(key).ok_or_else(|| {
                refused(
                    401,
                    "unauthorized",
                    "the X-Baldur-Key header holds no valid key",
                )
            })?,
        };
        if !reads {
            self.may_change(role, asked)?;
        }
        Ok(Admitted::Holder {
            role,
            actor: actor(role, asked.actor),
        })
    }

    /// A POST's further conditions: the admin role, an unlocked server,
    /// and the confirmation in its body.
    fn may_change(&self, role: Role, asked: &Asked<'_>) -> Result<(), Refused> {
        if role != Role::Admin {
            return Err(refused(403, "forbidden", "the viewer key may only read"));
        }
        if !asked.path.starts_with(API_PREFIX) {
            return Ok(());
        }
        if !self.unlocked {
            return Err(refused(
                403,
                "locked",
                "destructive actions are locked: start the server with BALDUR_ADMIN_UNLOCK=1",
            ));
        }
        if !confirmed(asked.body) {
            return Err(refused(
                400,
                "confirm_required",
                "a destructive action needs \"confirm\": \"CONFIRM\" in its JSON body",
            ));
        }
        Ok(())
    }

    fn role_of(&self, key: &str) -> Option<Role> {
        // Both compared in full, whichever matches: the time taken says
        // nothing about either key.
        let admin = same(key.as_bytes(), self.admin_key.as_bytes());
        let viewer = self
            .viewer_key
            .as_ref()
            .is_some_and(|viewer| same(key.as_bytes(), viewer.as_bytes()));
        if admin {
            Some(Role::Admin)
        } else if viewer {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

/// Whether `path` is one a probe or a browser may read without a key.
pub fn is_public(path: &str) -> bool {
    if path == "/" || path.starts_with("/static/") {
        return true;
    }
    path.strip_prefix(API_PREFIX)
        .map(|route| route.trim_end_matches('/'))
        .is_some_and(|route| PUBLIC_HEALTH.contains(&route))
}

/// Whether a JSON body's `confirm` field is exactly `CONFIRM`.
fn confirmed(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("confirm")
                .and_then(|c| c.as_str())
                .map(|c| c == "CONFIRM")
        })
        .unwrap_or(false)
}

/// `role` or `role:name`, the name cut to printable characters (it lands
/// in logs and audit records: no line breaks, no escapes).
fn actor(role: Role, name: Option<&str>) -> String {
    let name: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(ACTOR_MAX)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        role.as_str().to_owned()
    } else {
        format!("{}:{name}", role.as_str())
    }
}

/// Compares two keys in time that depends only on their lengths.
fn same(given: &[u8], expected: &[u8]) -> bool {
    let mut differ = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        let theirs = given.get(index).copied().unwrap_or(0);
        differ |= usize::from(theirs ^ byte);
    }
    differ == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(unlocked: bool) -> Gate {
        let config = GateConfig {
            admin_key: "admin-key".into(),
            viewer_key: Some("viewer-key".into()),
            extra_hosts: vec!["ops.internal".into()],
            extra_origins: vec!["https://ops.internal".into()],
            unlocked,
        };
        Gate::new(config, 9090).unwrap()
    }

    fn ask<'a>(method: &'a str, path: &'a str) -> Asked<'a> {
        Asked {
            method,
            path,
            host: Some("127.0.0.1:9090"),
            origin: None,
            key: None,
            actor: None,
            body: b"",
        }
    }

    const CONFIRM: &[u8] = br#"{"confirm": "CONFIRM"}"#;

    #[test]
    fn public_routes_need_no_key_and_the_rest_do() {
        let gate = gate(true);
        for path in [
            "/",
            "/static/console.js",
            "/api/baldur/health/",
            "/api/baldur/health/ping",
        ] {
            assert_eq!(
                gate.admit(&ask("GET", path)),
                Ok(Admitted::Public),
                "{path}"
            );
        }
        for path in [
            "/api/baldur/cb/",
            "/api/baldur/dlq/",
            "/api/baldur/metrics/",
            "/api/baldur/health/x/",
        ] {
            assert_eq!(
                gate.admit(&ask("GET", path)).unwrap_err().status,
                401,
                "{path}"
            );
        }
    }

    #[test]
    fn a_wrong_key_is_401_even_on_a_public_route() {
        let gate = gate(true);
        let asked = Asked {
            key: Some("admin-ke"),
            ..ask("GET", "/api/baldur/health/")
        };
        assert_eq!(gate.admit(&asked).unwrap_err().status, 401);
        let asked = Asked {
            key: Some("admin-keyy"),
            ..ask("GET", "/api/baldur/cb/")
        };
        assert_eq!(gate.admit(&asked).unwrap_err().error, "unauthorized");
    }

    #[test]
    fn keys_give_their_roles_and_the_actor_its_name() {
        let gate = gate(true);
        let asked = Asked {
            key: Some("viewer-key"),
            ..ask("GET", "/api/baldur/cb/")
        };
        assert_eq!(
            gate.admit(&asked),
            Ok(Admitted::Holder {
                role: Role::Viewer,
                actor: "viewer".into()
            })
        );
        let asked = Asked {
            key: Some("admin-key"),
            actor: Some("alice\n[forged] line"),
            ..ask("GET", "/api/baldur/cb/")
        };
        assert_eq!(
            gate.admit(&asked),
            Ok(Admitted::Holder {
                role: Role::Admin,
                actor: "admin:alice[forged] line".into()
            })
        );
    }

    #[test]
    fn a_foreign_host_is_refused_before_anything_else() {
        let gate = gate(true);
        for host in [
            None,
            Some("evil.example:9090"),
            Some("localhost:9091"),
            Some("127.0.0.1"),
        ] {
            let asked = Asked {
                host,
                key: Some("admin-key"),
                ..ask("GET", "/")
            };
            assert_eq!(
                gate.admit(&asked).unwrap_err().error,
                "host_not_allowed",
                "{host:?}"
            );
        }
        let listed = Asked {
            host: Some("ops.internal:80"),
            ..ask("GET", "/")
        };
        assert_eq!(gate.admit(&listed), Ok(Admitted::Public));
    }

    #[test]
    fn a_change_needs_post_admin_unlock_and_confirm() {
        let path = "/api/baldur/cb/payments/force-open";
        let locked = gate(false);
        let unlocked = gate(true);
        let admin = Asked {
            key: Some("admin-key"),
            body: CONFIRM,
            ..ask("POST", path)
        };
        assert_eq!(locked.admit(&admin).unwrap_err().error, "locked");
        assert!(matches!(
            unlocked.admit(&admin),
            Ok(Admitted::Holder {
                role: Role::Admin,
                ..
            })
        ));
        let viewer = Asked {
            key: Some("viewer-key"),
            ..admin
        };
        assert_eq!(unlocked.admit(&viewer).unwrap_err().error, "forbidden");
        for body in [
            &b""[..],
            b"{}",
            br#"{"confirm": "confirm"}"#,
            br#"{"confirm": true}"#,
            b"CONFIRM",
        ] {
            let asked = Asked { body, ..admin };
            let refusal = unlocked.admit(&asked).unwrap_err();
            assert_eq!((refusal.status, refusal.error), (400, "confirm_required"));
        }
        for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            let asked = Asked { method, ..admin };
            assert_eq!(unlocked.admit(&asked).unwrap_err().status, 405, "{method}");
        }
    }

    #[test]
    fn a_post_from_a_foreign_origin_is_refused_whatever_it_carries() {
        let gate = gate(true);
        let path = "/api/baldur/kill-switch/disable";
        let admin = Asked {
            key: Some("admin-key"),
            body: CONFIRM,
            ..ask("POST", path)
        };
        for origin in [
            "null",
            "http://localhost:9090.evil.example",
            "http://evil.example",
            "http://127.0.0.1:9090/",
            "https://127.0.0.1:9090",
            // The request's own Host as an Origin is no pass (a rebound name).
            "http://ops.internal:80",
        ] {
            let asked = Asked {
                origin: Some(origin),
                ..admin
            };
            assert_eq!(
                gate.admit(&asked).unwrap_err().error,
                "origin_not_allowed",
                "{origin}"
            );
        }
        for origin in [
            "http://127.0.0.1:9090",
            "http://localhost:9090",
            "https://ops.internal",
        ] {
            let asked = Asked {
                origin: Some(origin),
                ..admin
            };
            assert!(gate.admit(&asked).is_ok(), "{origin}");
        }
        // A CLI sends no Origin at all.
        assert!(gate.admit(&admin).is_ok());
    }

    #[test]
    fn keys_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"abcd", b"abc"));
        assert!(!same(b"", b"abc"));
        assert!(!same(b"abd", b"abc"));
    }

    #[test]
    fn bad_list_entries_are_named() {
        let config = GateConfig {
            admin_key: "k".into(),
            viewer_key: None,
            extra_hosts: vec![],
            extra_origins: vec!["null".into()],
            unlocked: false,
        };
        assert!(Gate::new(config.clone(), 1)
            .unwrap_err()
            .contains("\"null\""));
        let empty = GateConfig {
            admin_key: String::new(),
            extra_origins: vec![],
            ..config
        };
        assert!(Gate::new(empty, 1).is_err());
    }
}
