//! Who asked for a change, for the audit log and the rotation limit.

/// Who asked for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `operator`, `cli:<user>`, or a client id.
    pub name: String,
    /// The caller's address, when it came over the network.
    pub remote_addr: Option<String>,
    /// Whether the tenant's rotation limit applies. The CLI is the break-glass path: exempt.
    pub rate_limited: bool,
}

impl Actor {
    /// The dashboard operator, acting from `from`.
    pub fn operator(from: Option<std::net::IpAddr>) -> Self {
        Self {
            name: "operator".to_owned(),
            remote_addr: from.map(|addr| addr.to_string()),
            rate_limited: true,
        }
    }

    /// A person at the command line: the break-glass path, so the rotation limit does not apply.
    pub fn command_line(user: &str) -> Self {
        Self {
            name: format!("cli:{user}"),
            remote_addr: None,
            rate_limited: false,
        }
    }

    /// The tenant's rotation schedule: named in the audit log, never rate-limited.
    pub fn schedule() -> Self {
        Self {
            name: "schedule".to_owned(),
            remote_addr: None,
            rate_limited: false,
        }
    }
}
