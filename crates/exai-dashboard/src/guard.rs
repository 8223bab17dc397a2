//! Who may talk to the dashboard: the token, and `Host`/`Origin` checks against DNS rebinding.
//!
//! Pure functions over raw header bytes, so every rule has a unit test and a property test.
//!
//! The token travels only as `Authorization: Bearer`: the page keeps it in memory (and its tab's
//! `sessionStorage`), never in a cookie, because browsers send a cookie to every port of a host
//! and so to every other web server on `127.0.0.1`. The built UI itself is public (it holds no
//! secret), so the page loads without the token and asks the API with it.

use std::net::SocketAddr;

/// The dashboard's access rules.
pub(crate) struct Policy {
    token: String,
    bound: SocketAddr,
}

/// What the guard decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve it.
    Allow,
    /// `Host` is missing or names another site (DNS rebinding): 403.
    ForeignHost,
    /// `Origin` names another site (a cross-site request): 403.
    ForeignOrigin,
    /// The route needs the token and the request did not carry it (or a wrong one): 401.
    NoToken,
}

impl Policy {
    pub(crate) fn new(token: String, bound: SocketAddr) -> Policy {
        Policy { token, bound }
    }

    /// The one decision for a request: `Host` first, then `Origin` when sent, then the bearer
    /// token when the route needs it (every `/api` route does; the built UI does not).
    pub(crate) fn check(
        &self,
        needs_token: bool,
        host: Option<&[u8]>,
        origin: Option<&[u8]>,
        authorization: Option<&[u8]>,
    ) -> Verdict {
        let host = host.and_then(|host| std::str::from_utf8(host).ok());
        if !self.host_allowed(host) {
            return Verdict::ForeignHost;
        }
        if let Some(origin) = origin
            && !std::str::from_utf8(origin).is_ok_and(|origin| self.origin_allowed(origin, host))
        {
            return Verdict::ForeignOrigin;
        }
        if needs_token && !self.bearer_matches(authorization) {
            return Verdict::NoToken;
        }
        Verdict::Allow
    }

    /// Whether `Host` names this dashboard. Bound to loopback (the default), only loopback names
    /// pass (`localhost`, `127.0.0.1`, `[::1]`, on any port, so an SSH tunnel may use another
    /// local port): a rebinding DNS name does not. Bound elsewhere on purpose, any host passes
    /// (the token still guards it).
    fn host_allowed(&self, host: Option<&str>) -> bool {
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
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(host) = host else { return false };
        self.host_allowed(Some(host)) && origin.eq_ignore_ascii_case(&format!("http://{host}"))
    }

    /// Whether `Authorization` is `Bearer <our token>` (the scheme in any case).
    fn bearer_matches(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, token)) = value.split_at_checked(b"Bearer ".len()) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"Bearer ") && self.matches(token.trim_ascii())
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, candidate: &[u8]) -> bool {
        let (a, b) = (self.token.as_bytes(), candidate);
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
    use proptest::prelude::*;

    const TOKEN: &str = "s3cret-token-0123456789";

    fn loopback() -> Policy {
        Policy::new(TOKEN.into(), "127.0.0.1:4567".parse().unwrap())
    }

    fn bearer() -> String {
        format!("Bearer {TOKEN}")
    }

    /// `check` for a request that needs the token, with text headers.
    fn api(
        policy: &Policy,
        host: Option<&str>,
        origin: Option<&str>,
        auth: Option<&str>,
    ) -> Verdict {
        policy.check(
            true,
            host.map(str::as_bytes),
            origin.map(str::as_bytes),
            auth.map(str::as_bytes),
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
            assert_eq!(
                api(&policy, Some(host), None, Some(&bearer())),
                Verdict::ForeignHost
            );
        }
        assert!(!policy.host_allowed(None));
        assert_eq!(
            api(&policy, None, None, Some(&bearer())),
            Verdict::ForeignHost
        );
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
        assert_eq!(
            api(&policy, host, Some("http://evil.example"), Some(&bearer())),
            Verdict::ForeignOrigin
        );
        // Not UTF-8: refused, not a panic.
        assert_eq!(
            policy.check(
                true,
                Some(b"127.0.0.1:4567"),
                Some(b"http://\xff"),
                Some(bearer().as_bytes())
            ),
            Verdict::ForeignOrigin
        );
    }

    #[test]
    fn the_token_is_accepted_only_as_a_bearer() {
        let policy = loopback();
        let host = Some("127.0.0.1:4567");
        assert_eq!(api(&policy, host, None, Some(&bearer())), Verdict::Allow);
        assert_eq!(
            api(&policy, host, None, Some(&format!("bearer {TOKEN}"))),
            Verdict::Allow
        );
        for wrong in [
            "Bearer wrong".to_owned(),
            "Bearer s3cret-token-012345678".to_owned(),
            format!("Bearer {TOKEN}0"),
            format!("Basic {TOKEN}"),
            format!("Bearer{TOKEN}"),
            TOKEN.to_owned(),
            String::new(),
        ] {
            assert_eq!(
                api(&policy, host, None, Some(&wrong)),
                Verdict::NoToken,
                "{wrong}"
            );
        }
        assert_eq!(api(&policy, host, None, None), Verdict::NoToken);
        // The built UI needs no token, but still the right Host and Origin.
        assert_eq!(
            policy.check(false, host.map(str::as_bytes), None, None),
            Verdict::Allow
        );
        assert_eq!(
            policy.check(false, Some(b"evil.example"), None, None),
            Verdict::ForeignHost
        );
    }

    #[test]
    fn random_tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    /// The rules restated as plainly as possible, for the properties to compare against.
    fn oracle(
        needs_token: bool,
        host: Option<&[u8]>,
        origin: Option<&[u8]>,
        auth: Option<&[u8]>,
    ) -> bool {
        let host_ok = host.is_some_and(|host| {
            let host = host.to_ascii_lowercase();
            let name = match host.iter().rposition(|&b| b == b':') {
                Some(colon)
                    if host[colon + 1..].iter().all(u8::is_ascii_digit)
                        && !host[colon + 1..].contains(&b']') =>
                {
                    &host[..colon]
                }
                _ => &host[..],
            };
            [&b"localhost"[..], b"127.0.0.1", b"[::1]"].contains(&name)
        });
        let origin_ok = match (origin, host) {
            (None, _) => true,
            (Some(origin), Some(host)) => {
                let own = [&b"http://"[..], host].concat();
                origin.eq_ignore_ascii_case(&own)
            }
            (Some(_), None) => false,
        };
        let token_ok = !needs_token
            || auth.is_some_and(|auth| {
                auth.len() >= 7
                    && auth[..7].eq_ignore_ascii_case(b"Bearer ")
                    && auth[7..].trim_ascii() == TOKEN.as_bytes()
            });
        host_ok && origin_ok && token_ok
    }

    /// Hosts a browser or an attacker might send: loopback names with and without ports, in
    /// any case, near misses, and arbitrary bytes.
    fn host() -> impl Strategy<Value = Vec<u8>> {
        let name = prop_oneof![
            Just("localhost".to_owned()),
            Just("LocalHost".to_owned()),
            Just("127.0.0.1".to_owned()),
            Just("[::1]".to_owned()),
            Just("127.0.0.2".to_owned()),
            Just("localhost.evil.example".to_owned()),
            Just("evil.example".to_owned()),
            "[a-z0-9.:\\[\\]-]{0,24}",
        ];
        let port = prop_oneof![
            Just(String::new()),
            any::<u16>().prop_map(|port| format!(":{port}")),
            "[:0-9a-z\\]]{0,6}",
        ];
        prop_oneof![
            4 => (name, port).prop_map(|(name, port)| format!("{name}{port}").into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..32),
        ]
    }

    /// An `Origin`: absent, the page's own (for the host), or something else.
    fn origin_for(host: Vec<u8>) -> impl Strategy<Value = (Vec<u8>, Option<Vec<u8>>)> {
        let own = [&b"http://"[..], &host].concat();
        let shouty = own.to_ascii_uppercase();
        let https = [&b"https://"[..], &host].concat();
        prop_oneof![
            Just(None),
            Just(Some(own)),
            Just(Some(shouty)),
            Just(Some(https)),
            Just(Some(b"null".to_vec())),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
        ]
        .prop_map(move |origin| (host.clone(), origin))
    }

    /// An `Authorization`: absent, ours (any case of the scheme, spaces around), near misses,
    /// arbitrary bytes.
    fn authorization() -> impl Strategy<Value = Option<Vec<u8>>> {
        prop_oneof![
            Just(None),
            Just(Some(format!("Bearer {TOKEN}").into_bytes())),
            Just(Some(format!("bEaReR  {TOKEN} ").into_bytes())),
            Just(Some(format!("Bearer {}", &TOKEN[1..]).into_bytes())),
            Just(Some(format!("Basic {TOKEN}").into_bytes())),
            "Bearer [a-z0-9-]{0,30}".prop_map(|auth| Some(auth.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
        ]
    }

    proptest! {
        // 256 cases unless PROPTEST_CASES says otherwise; failures are printed, not saved.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Arbitrary header bytes never panic the guard.
        #[test]
        fn no_header_bytes_panic_the_guard(
            needs_token: bool,
            host in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
            origin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
            auth in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..96)),
        ) {
            let policy = loopback();
            let _ = policy.check(needs_token, host.as_deref(), origin.as_deref(), auth.as_deref());
        }

        /// Bound to loopback, a request is allowed iff its Host is a loopback name, its Origin
        /// is absent or the page's own, and (on a route that needs it) it carries the token.
        #[test]
        fn allowed_iff_loopback_host_own_origin_and_token(
            needs_token: bool,
            (host, origin) in host().prop_flat_map(origin_for),
            has_host in prop::bool::weighted(0.95),
            auth in authorization(),
        ) {
            let policy = loopback();
            let host = has_host.then_some(host);
            let verdict = policy.check(needs_token, host.as_deref(), origin.as_deref(), auth.as_deref());
            let expected = oracle(needs_token, host.as_deref(), origin.as_deref(), auth.as_deref());
            prop_assert_eq!(verdict == Verdict::Allow, expected, "{:?}", verdict);
        }
    }
}
