//! The client-address rule, case by case.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{ClientRule, parse_cidr};

fn rule(trusted: &[&str]) -> ClientRule {
    let entries: Vec<String> = trusted.iter().map(|s| (*s).to_owned()).collect();
    ClientRule::new(&entries).unwrap()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The client address of a request from `peer` with `pairs`, behind 10.0.0.0/8 and ::1.
fn client(peer: &str, pairs: &[(&'static str, &str)]) -> IpAddr {
    rule(&["10.0.0.0/8", "::1"]).resolve(ip(peer), &headers(pairs))
}

const XFF: &str = "x-forwarded-for";
const FWD: &str = "forwarded";

#[test]
fn no_trusted_proxies_means_the_peer_whatever_the_headers() {
    let none = ClientRule::default();
    let spoofed = headers(&[(XFF, "192.0.2.1"), (FWD, "for=192.0.2.1")]);
    assert_eq!(none.resolve(ip("10.1.1.1"), &spoofed), ip("10.1.1.1"));
}

#[test]
fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
    for pairs in [
        &[(XFF, "10.9.9.9")][..],
        &[(FWD, "for=192.0.2.1")][..],
        &[(XFF, "192.0.2.1"), (FWD, "for=192.0.2.1")][..],
    ] {
        assert_eq!(client("203.0.113.5", pairs), ip("203.0.113.5"));
    }
}

#[test]
fn a_trusted_peer_without_headers_is_the_client() {
    assert_eq!(client("10.0.0.1", &[]), ip("10.0.0.1"));
}

#[test]
fn x_forwarded_for_is_walked_from_the_right_past_trusted_proxies() {
    assert_eq!(client("10.0.0.1", &[(XFF, "192.0.2.1")]), ip("192.0.2.1"));
    let chain = "198.51.100.9, 192.0.2.1, 10.0.0.3, 10.0.0.2";
    assert_eq!(client("10.0.0.1", &[(XFF, chain)]), ip("192.0.2.1"));
    // Several header lines are one list, in order.
    let lines = [(XFF, "198.51.100.9, 192.0.2.1"), (XFF, "10.0.0.2")];
    assert_eq!(client("10.0.0.1", &lines), ip("192.0.2.1"));
}

#[test]
fn a_chain_of_trusted_hops_only_gives_its_leftmost() {
    let chain = "10.0.0.9, 10.0.0.3";
    assert_eq!(client("10.0.0.1", &[(XFF, chain)]), ip("10.0.0.9"));
}

#[test]
fn what_the_client_wrote_left_of_its_own_address_never_counts() {
    // The client sent "garbage, 10.0.0.7" hoping to look trusted; the proxy appended its
    // real address.
    let chain = "not-an-address, 10.0.0.7, 203.0.113.5";
    assert_eq!(client("10.0.0.1", &[(XFF, chain)]), ip("203.0.113.5"));
}

#[test]
fn a_malformed_entry_reached_on_the_walk_gives_the_peer() {
    for chain in [
        "not-an-address",
        "192.0.2.1, junk, 10.0.0.2",
        "1.2.3",
        "01.2.3.4",
    ] {
        assert_eq!(
            client("10.0.0.1", &[(XFF, chain)]),
            ip("10.0.0.1"),
            "{chain}"
        );
    }
    for forwarded in ["for=junk", "for=\"192.0.2.1", "by=10.0.0.1", "for=1;for=2"] {
        assert_eq!(client("10.0.0.1", &[(FWD, forwarded)]), ip("10.0.0.1"));
    }
}

#[test]
fn ipv6_and_ports() {
    let peer = "::1";
    assert_eq!(client(peer, &[(XFF, "2001:db8::7")]), ip("2001:db8::7"));
    assert_eq!(
        client(peer, &[(XFF, "[2001:db8::7]:4711")]),
        ip("2001:db8::7")
    );
    assert_eq!(client(peer, &[(XFF, "192.0.2.1:4711")]), ip("192.0.2.1"));
    let quoted = "for=\"[2001:db8::7]:4711\"";
    assert_eq!(client(peer, &[(FWD, quoted)]), ip("2001:db8::7"));
    assert_eq!(
        client(peer, &[(FWD, "for=\"192.0.2.1:80\"")]),
        ip("192.0.2.1")
    );
    // IPv6 must be quoted and bracketed in Forwarded; a port must be a port.
    for bad in [
        "for=2001:db8::7",
        "for=\"2001:db8::7\"",
        "for=\"192.0.2.1:99999\"",
    ] {
        assert_eq!(client(peer, &[(FWD, bad)]), ip("::1"), "{bad}");
    }
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    assert_eq!(
        client("::ffff:10.0.0.1", &[(XFF, "192.0.2.1")]),
        ip("192.0.2.1")
    );
    assert_eq!(
        client("10.0.0.1", &[(XFF, "::ffff:192.0.2.1")]),
        ip("192.0.2.1")
    );
}

#[test]
fn forwarded_elements_pairs_and_case() {
    let chain = "for=198.51.100.9;proto=https, For=\"192.0.2.1\";by=10.0.0.1, for=10.0.0.2";
    assert_eq!(client("10.0.0.1", &[(FWD, chain)]), ip("192.0.2.1"));
    let escaped = "for=\"\\[2001:db8::7\\]\"";
    assert_eq!(client("::1", &[(FWD, escaped)]), ip("2001:db8::7"));
    // A quoted comma is no element separator.
    let quoted_comma = "for=192.0.2.1;host=\"a,b\"";
    assert_eq!(client("10.0.0.1", &[(FWD, quoted_comma)]), ip("192.0.2.1"));
}

#[test]
fn obfuscated_identifiers_and_unknown_give_the_peer() {
    for node in ["for=_hidden", "for=unknown", "for=\"_abc:_port\""] {
        assert_eq!(client("10.0.0.1", &[(FWD, node)]), ip("10.0.0.1"), "{node}");
    }
    // An obfuscated port beside a real address is fine.
    let port = "for=\"192.0.2.1:_p1\"";
    assert_eq!(client("10.0.0.1", &[(FWD, port)]), ip("192.0.2.1"));
}

#[test]
fn both_headers_must_name_the_same_client() {
    let agree = [(FWD, "for=192.0.2.1"), (XFF, "192.0.2.1")];
    assert_eq!(client("10.0.0.1", &agree), ip("192.0.2.1"));
    let disagree = [(FWD, "for=192.0.2.1"), (XFF, "198.51.100.9")];
    assert_eq!(client("10.0.0.1", &disagree), ip("10.0.0.1"));
}

#[test]
fn header_values_that_are_not_text_give_the_peer() {
    let mut map = HeaderMap::new();
    let value = HeaderValue::from_bytes(b"192.0.2.1\xff").unwrap();
    map.insert(HeaderName::from_static(XFF), value);
    assert_eq!(
        rule(&["10.0.0.0/8"]).resolve(ip("10.0.0.1"), &map),
        ip("10.0.0.1")
    );
}

#[test]
fn invalid_trusted_proxies_are_refused_by_name() {
    let error = ClientRule::new(&["10.0.0.0/8".to_owned(), "localhost".to_owned()]).unwrap_err();
    assert!(error.to_string().contains("\"localhost\""), "{error}");
    assert!(ClientRule::new(&["10.0.0.0/33".to_owned()]).is_err());
}

#[test]
fn cidrs_are_normalised_and_bare_addresses_are_one_host() {
    let cases = [
        ("192.0.2.7", "192.0.2.7/32"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        (" 2001:db8::1 ", "2001:db8::1/128"),
        ("2001:db8::1/32", "2001:db8::/32"),
    ];
    for (text, normal) in cases {
        assert_eq!(parse_cidr(text).unwrap().to_string(), normal);
    }
    for bad in ["", "10.0.0.0/", "10.0.0.256", "::1/129", "example.com"] {
        assert!(parse_cidr(bad).is_none(), "{bad}");
    }
}
