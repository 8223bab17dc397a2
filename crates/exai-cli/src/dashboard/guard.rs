//! Who may talk to the dashboard: the token, and `Host`/`Origin` checks against DNS rebinding.
//!
//! Pure functions over header values, so every rule has a unit test.

use std::net::SocketAddr;

/// The dashboard's access rules.
pub(crate) struct Policy {
    token: String,
    bound: SocketAddr,
}

/// How a request proved it holds the token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Proof {
    /// `?token=` in the URL (the link the hub printed).
    Query,
    /// The cookie set after a `?token=` page load.
    Cookie,
    /// `Authorization: Bearer`.
    Bearer,
    /// None, or a wrong token.
    Missing,
}

impl Policy {
    pub(crate) fn new(token: String, bound: SocketAddr) -> Policy {
        Policy { token, bound }
    }

    /// The cookie that carries the token. Cookies ignore ports, so two hubs on one machine
    /// must not share a name.
    pub(crate) fn cookie_name(&self) -> String {
        format!("exai_dashboard_{}", self.bound.port())
    }

    /// The `Set-Cookie` value that hands the token from the printed link to the page. Lax, not
    /// Strict: a link clicked in another site (a browser IDE, a chat) must still carry it on
    /// the redirect; the Origin check guards the POST routes.
    pub(crate) fn set_cookie(&self) -> String {
        format!(
            "{}={}; HttpOnly; SameSite=Lax; Path=/",
            self.cookie_name(),
            self.token
        )
    }

    /// Whether `Host` names this dashboard. Bound to loopback (the default), only loopback names
    /// pass (`localhost`, `127.0.0.1`, `[::1]`, on any port, so an SSH tunnel may use another
    /// local port): a rebinding DNS name does not. Bound elsewhere on purpose, any host passes
    /// (the token still guards it).
    pub(crate) fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host.filter(|host| !host.is_empty()) else {
            return false;
        };
        if !self.bound.ip().is_loopback() {
            return true;
        }
        let host = host.to_ascii_lowercase();
        let name = match host.rsplit_once(':') {
            // `[::1]:8080` and `localhost:8080`; a bare `[::1]` has its colons inside brackets.
            Some((name, port))
                if !port.contains(']') && port.chars().all(|c| c.is_ascii_digit()) =>
            {
                name
            }
            _ => host.as_str(),
        };
        ["localhost", "127.0.0.1", "[::1]"].contains(&name) || name == self.bound.ip().to_string()
    }

    /// Whether an `Origin` header is this dashboard's own page.
    pub(crate) fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(host) = host else { return false };
        self.host_allowed(Some(host)) && origin.eq_ignore_ascii_case(&format!("http://{host}"))
    }

    /// How (and whether) the request carries the token.
    pub(crate) fn proof(
        &self,
        query: Option<&str>,
        cookie: Option<&str>,
        authorization: Option<&str>,
    ) -> Proof {
        let from_query = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("token="));
        if from_query.is_some_and(|token| self.matches(token)) {
            return Proof::Query;
        }
        let name = self.cookie_name();
        let from_cookie = cookie
            .into_iter()
            .flat_map(|c| c.split(';'))
            .find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name).then_some(value)
            });
        if from_cookie.is_some_and(|token| self.matches(token)) {
            return Proof::Cookie;
        }
        let from_header = authorization.and_then(|value| value.strip_prefix("Bearer "));
        if from_header.is_some_and(|token| self.matches(token.trim())) {
            return Proof::Bearer;
        }
        Proof::Missing
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A fresh random token: 32 bytes as hex.
pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Policy {
        Policy::new(
            "s3cret-token-0123456789".into(),
            "127.0.0.1:4567".parse().unwrap(),
        )
    }

    #[test]
    fn loopback_hosts_pass_and_rebinding_names_do_not() {
        let policy = loopback();
        for host in [
            "127.0.0.1:4567",
            "localhost:4567",
            "LOCALHOST:4567",
            "[::1]:4567",
            "[::1]",
            "localhost",
            // An SSH tunnel to another local port.
            "127.0.0.1:9000",
        ] {
            assert!(policy.host_allowed(Some(host)), "{host}");
        }
        for host in [
            "evil.example:4567",
            "evil.example",
            "127.0.0.1.evil.example:4567",
            "localhost.evil.example",
            "127.0.0.2:4567",
            "",
        ] {
            assert!(!policy.host_allowed(Some(host)), "{host}");
        }
        assert!(!policy.host_allowed(None));
    }

    #[test]
    fn an_explicit_non_loopback_bind_accepts_any_host() {
        let policy = Policy::new("t".repeat(20), "0.0.0.0:4567".parse().unwrap());
        assert!(policy.host_allowed(Some("devbox.lan:4567")));
        assert!(!policy.host_allowed(None));
    }

    #[test]
    fn only_the_dashboards_own_origin_passes() {
        let policy = loopback();
        let host = Some("127.0.0.1:4567");
        assert!(policy.origin_allowed("http://127.0.0.1:4567", host));
        assert!(!policy.origin_allowed("http://evil.example", host));
        assert!(!policy.origin_allowed("https://127.0.0.1:4567", host));
        assert!(!policy.origin_allowed("null", host));
        assert!(!policy.origin_allowed("http://evil.example:4567", Some("evil.example:4567")));
    }

    #[test]
    fn the_token_is_accepted_from_query_cookie_or_bearer_and_nothing_else() {
        let policy = loopback();
        let token = "s3cret-token-0123456789";
        assert_eq!(
            policy.proof(Some(&format!("a=1&token={token}")), None, None),
            Proof::Query
        );
        let cookie = format!("other=1; exai_dashboard_4567={token}");
        assert_eq!(policy.proof(None, Some(&cookie), None), Proof::Cookie);
        assert_eq!(
            policy.proof(None, None, Some(&format!("Bearer {token}"))),
            Proof::Bearer
        );
        assert_eq!(
            policy.proof(Some("token=wrong"), None, None),
            Proof::Missing
        );
        assert_eq!(
            policy.proof(Some("token=s3cret-token-012345678"), None, None),
            Proof::Missing
        );
        // Another hub's cookie (another port) does not count.
        let other = format!("exai_dashboard_9999={token}");
        assert_eq!(policy.proof(None, Some(&other), None), Proof::Missing);
        assert_eq!(policy.proof(None, None, None), Proof::Missing);
    }

    #[test]
    fn random_tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
