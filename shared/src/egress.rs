//! The egress policy: where a request made on a producer's behalf may go (issue 14, finding 3).
//!
//! Deliveries (HTTP, XML-RPC, SMTP) and OAuth (discovery, token, keys) go to addresses a
//! producer chose. Without a policy they reach the operator's own network: the vault's
//! internal API on loopback, the cloud metadata service, private hosts — and the delivery
//! status tells the producer how each answered. So every such request is judged on the
//! address actually connected to:
//! - names are resolved once, the refused addresses dropped, and the connection made to
//!   exactly the addresses kept (reqwest: [`PolicyResolver`]; SMTP: [`EgressPolicy::resolve`]
//!   and a connection to the checked IP) — no second lookup, so no DNS-rebinding window;
//! - IP literals, which reqwest connects to without resolving, are checked by
//!   [`EgressPolicy::check_url`] (the URL parser has already normalised `2130706433`,
//!   `0x7f.1` and `[::ffff:127.0.0.1]` to the address they mean);
//! - redirects are not followed and no proxy is used ([`EgressPolicy::http_client`]).
//!
//! [`classify`] refuses loopback, unspecified, link-local (the metadata address
//! 169.254.169.254), private, shared (CGNAT), unique-local, multicast, broadcast, documentation
//! and reserved ranges, and IPv6 forms embedding such an IPv4 address; `egress.allow` (CIDRs)
//! reopens ranges for an operator (and for the tests' loopback receivers). A refusal is
//! reported as "refused by egress policy" and nothing about the target.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::config::EgressSettings;

/// What a refused request says, wherever it is reported.
pub const REFUSED: &str = "refused by egress policy";

/// A request the policy refused (its only message is [`REFUSED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refused by egress policy")]
pub struct Refused;

/// Why a destination could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The name did not resolve (never says which name).
    #[error("the name could not be resolved")]
    Unresolved,
}

/// Why an address is refused by default; `Public` is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    Loopback,
    Unspecified,
    LinkLocal,
    Private,
    /// 100.64.0.0/10, carrier-grade NAT.
    Shared,
    UniqueLocal,
    Multicast,
    Broadcast,
    /// Documentation, benchmarking, "this network", reserved and IETF protocol ranges.
    Reserved,
}

/// The class of `ip`. IPv6 forms that embed an IPv4 address (v4-mapped `::ffff:a.b.c.d`,
/// v4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) take its class.
pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip.is_unspecified() => Class::Unspecified,
        _ if ip.is_broadcast() => Class::Broadcast,
        (127, _, _) => Class::Loopback,
        (0, _, _) => Class::Reserved,
        (169, 254, _) => Class::LinkLocal,
        (10, _, _) | (192, 168, _) => Class::Private,
        (172, 16..=31, _) => Class::Private,
        (100, 64..=127, _) => Class::Shared,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Class::Reserved,
        (198, 18..=19, _) => Class::Reserved,
        (224..=239, _, _) => Class::Multicast,
        (240..=255, _, _) => Class::Reserved,
        _ => Class::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let segments = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [h1, h2] = high.to_be_bytes();
        let [l1, l2] = low.to_be_bytes();
        classify_v4(Ipv4Addr::new(h1, h2, l1, l2))
    };
    match segments {
        _ if ip.is_unspecified() => Class::Unspecified,
        _ if ip.is_loopback() => Class::Loopback,
        // v4-mapped ::ffff:a.b.c.d and the deprecated v4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff | 0, high, low] => embedded(high, low),
        // NAT64 (RFC 6052) well-known prefix: the gateway would connect to the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => embedded(high, low),
        // NAT64 local-use prefix (RFC 8215): a site's own translator.
        [0x64, 0xff9b, 1, ..] => Class::Reserved,
        // 6to4 (RFC 3056): the IPv4 address is bits 16..48.
        [0x2002, high, low, ..] => embedded(high, low),
        [first, ..] if first & 0xfe00 == 0xfc00 => Class::UniqueLocal,
        [first, ..] if first & 0xffc0 == 0xfe80 => Class::LinkLocal,
        // Deprecated site-local fec0::/10: private by intent.
        [first, ..] if first & 0xffc0 == 0xfec0 => Class::Private,
        [first, ..] if first & 0xff00 == 0xff00 => Class::Multicast,
        // Documentation 2001:db8::/32, discard 100::/64.
        [0x2001, 0x0db8, ..] | [0x0100, 0, 0, 0, ..] => Class::Reserved,
        _ => Class::Public,
    }
}

/// Which addresses a client may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Public addresses and the allowlist.
    Default,
    /// The allowlist only: for plain-`http` OAuth endpoints (a client secret and tokens cross
    /// the wire in clear, so only to networks the operator vouches for).
    AllowlistOnly,
}

/// The policy: [`classify`] plus the operator's allowlist.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allow: Vec<IpNet>,
}

impl EgressPolicy {
    /// The policy of `settings`; an entry that is not a CIDR (or a bare address) is an error
    /// naming it.
    pub fn from_settings(settings: &EgressSettings) -> Result<Self, String> {
        let allow = settings
            .allow
            .iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("egress.allow: {entry:?} is not a CIDR such as 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    /// Whether `ip` is in the allowlist (a v4-mapped address counts as its IPv4 form).
    pub fn allowlisted(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    /// Whether `ip` may be connected to within `scope`.
    pub fn permits(&self, ip: IpAddr, scope: Scope) -> bool {
        self.allowlisted(ip) || (scope == Scope::Default && classify(ip) == Class::Public)
    }

    /// Refuses a URL whose host is an IP literal the policy refuses (reqwest connects to those
    /// without resolving); names are judged by [`PolicyResolver`] when connecting.
    pub fn check_url(&self, url: &reqwest::Url, scope: Scope) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(Refused),
        };
        if self.permits(ip, scope) {
            Ok(())
        } else {
            Err(Refused)
        }
    }

    /// Resolves `host` (a name or an IP literal, brackets allowed) once and keeps the
    /// addresses the policy permits: connect to exactly these. `Refused` when it resolved
    /// only to refused addresses.
    pub async fn resolve(
        &self,
        host: &str,
        port: u16,
        scope: Scope,
    ) -> Result<Vec<SocketAddr>, EgressError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| EgressError::Unresolved)?
                .collect(),
        };
        if found.is_empty() {
            return Err(EgressError::Unresolved);
        }
        let kept: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| self.permits(addr.ip(), scope))
            .collect();
        if kept.is_empty() {
            return Err(Refused.into());
        }
        Ok(kept)
    }

    /// `builder` with this policy: names resolved by [`PolicyResolver`], no redirects
    /// followed, no proxy (a proxy would be the address judged). Callers still run
    /// [`check_url`](Self::check_url) for IP literals.
    ///
    /// Idle connections are reused for [`POOL_IDLE`] only, not reqwest's 90 s: a peer closing
    /// one at the moment it is reused fails the call (hyperium/hyper#2136).
    pub fn http_client(
        self: &Arc<Self>,
        builder: reqwest::ClientBuilder,
        scope: Scope,
    ) -> reqwest::ClientBuilder {
        builder
            .dns_resolver(PolicyResolver {
                policy: self.clone(),
                scope,
            })
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(POOL_IDLE)
    }
}

/// How long an idle connection to a peer is kept for reuse: below the shortest keep-alive of
/// common servers (Node.js closes idle connections after 5 s, nginx after 75 s).
pub const POOL_IDLE: Duration = Duration::from_secs(2);

/// Whether `error` (or any error in its source chain) is a refusal by the policy.
pub fn is_refusal(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<Refused>() {
            return true;
        }
        if let Some(EgressError::Refused(_)) = error.downcast_ref::<EgressError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// reqwest's resolver under the policy: one lookup, refused addresses dropped.
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
    scope: Scope,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let scope = self.scope;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = policy.resolve(&host, 0, scope).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Why a capped body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is longer than {0} bytes")]
    TooLong(usize),
    #[error("reading the answer failed")]
    Read(#[source] reqwest::Error),
}

/// Reads `response`'s body, chunk by chunk, giving up as soon as it passes `max` bytes: a
/// peer streaming without end costs at most `max` bytes of memory (issue 14, finding 4). The
/// client's total timeout bounds the time.
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(BodyError::TooLong(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLong(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn policy(allow: &[&str]) -> EgressPolicy {
        EgressPolicy::from_settings(&EgressSettings {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn ranges_refused_by_default() {
        let cases = [
            ("127.0.0.1", Class::Loopback),
            ("127.255.0.9", Class::Loopback),
            ("::1", Class::Loopback),
            ("0.0.0.0", Class::Unspecified),
            ("::", Class::Unspecified),
            ("0.1.2.3", Class::Reserved),
            ("169.254.169.254", Class::LinkLocal),
            ("169.254.0.1", Class::LinkLocal),
            ("fe80::1", Class::LinkLocal),
            ("10.0.0.1", Class::Private),
            ("172.16.0.1", Class::Private),
            ("172.31.255.255", Class::Private),
            ("192.168.1.1", Class::Private),
            ("100.64.0.1", Class::Shared),
            ("100.127.255.254", Class::Shared),
            ("fc00::1", Class::UniqueLocal),
            ("fd00:ec2::254", Class::UniqueLocal),
            ("224.0.0.1", Class::Multicast),
            ("ff02::1", Class::Multicast),
            ("255.255.255.255", Class::Broadcast),
            ("240.0.0.1", Class::Reserved),
            ("192.0.2.1", Class::Reserved),
            ("2001:db8::1", Class::Reserved),
        ];
        for (text, class) in cases {
            assert_eq!(classify(ip(text)), class, "{text}");
            assert!(!policy(&[]).permits(ip(text), Scope::Default), "{text}");
        }
    }

    #[test]
    fn embedded_ipv4_takes_its_class() {
        let cases = [
            ("::ffff:127.0.0.1", Class::Loopback),
            ("::ffff:10.0.0.1", Class::Private),
            ("::ffff:169.254.169.254", Class::LinkLocal),
            ("::ffff:0.0.0.0", Class::Unspecified),
            ("::127.0.0.1", Class::Loopback),
            ("64:ff9b::a9fe:a9fe", Class::LinkLocal),
            ("64:ff9b::7f00:1", Class::Loopback),
            ("2002:0a00:0001::1", Class::Private),
            ("::ffff:8.8.8.8", Class::Public),
        ];
        for (text, class) in cases {
            assert_eq!(classify(ip(text)), class, "{text}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(classify(ip(text)), Class::Public, "{text}");
            assert!(policy(&[]).permits(ip(text), Scope::Default), "{text}");
            // Plain-http OAuth reaches only the allowlist.
            assert!(
                !policy(&[]).permits(ip(text), Scope::AllowlistOnly),
                "{text}"
            );
        }
    }

    #[test]
    fn the_allowlist_reopens_ranges() {
        let policy = policy(&["127.0.0.0/8", "::1/128", "10.1.2.3"]);
        for text in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.1.2.3"] {
            assert!(policy.permits(ip(text), Scope::Default), "{text}");
            assert!(policy.permits(ip(text), Scope::AllowlistOnly), "{text}");
        }
        for text in ["0.0.0.0", "10.1.2.4", "169.254.169.254", "::ffff:10.0.0.1"] {
            assert!(!policy.permits(ip(text), Scope::Default), "{text}");
        }
        let bad = EgressSettings {
            allow: vec!["localhost".into()],
        };
        assert!(EgressPolicy::from_settings(&bad).is_err());
    }

    #[test]
    fn url_literals_as_the_url_parser_normalises_them() {
        let policy = policy(&[]);
        for text in [
            "http://127.0.0.1:8080/x",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://0.0.0.0/",
            "http://[::1]:9/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            let url = reqwest::Url::parse(text).unwrap();
            assert_eq!(
                policy.check_url(&url, Scope::Default),
                Err(Refused),
                "{text}"
            );
        }
        // The decimal form is 127.0.0.1 once parsed.
        let url = reqwest::Url::parse("http://2130706433:81/").unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        // Names pass here: the resolver judges them.
        let url = reqwest::Url::parse("https://localhost/").unwrap();
        assert_eq!(policy.check_url(&url, Scope::Default), Ok(()));
        let url = reqwest::Url::parse("https://8.8.8.8/").unwrap();
        assert_eq!(policy.check_url(&url, Scope::Default), Ok(()));
    }

    #[tokio::test]
    async fn resolving_judges_every_address() {
        // `localhost` resolves through /etc/hosts: no traffic is sent.
        let refused = policy(&[]).resolve("localhost", 25, Scope::Default).await;
        assert!(matches!(refused, Err(EgressError::Refused(Refused))));
        let refused = policy(&[])
            .resolve("[::ffff:127.0.0.1]", 25, Scope::Default)
            .await;
        assert!(matches!(refused, Err(EgressError::Refused(Refused))));
        let kept = policy(&["127.0.0.0/8"])
            .resolve("127.0.0.1", 25, Scope::Default)
            .await
            .unwrap();
        assert_eq!(kept, [SocketAddr::new(ip("127.0.0.1"), 25)]);
        let error: Box<dyn StdError + Send + Sync> = Box::new(EgressError::from(Refused));
        assert!(is_refusal(error.as_ref()));
        assert_eq!(Refused.to_string(), REFUSED);
    }
}
