//! Whose address a request comes from: the one rule the API's allowlist, the gateway's address
//! limits and every log's remote-IP column share (DESIGN, "Producer credentials and
//! environments", IP allowlist; issue 16, item 5).
//!
//! The client address is the TCP peer, unless the peer is one of `api.trusted_proxies`: then
//! the forwarding chain (`Forwarded`, RFC 7239 `for=`, or `X-Forwarded-For`) is walked from
//! the right, past every trusted proxy, and the first address that is not trusted is the
//! client (when every hop is trusted, the leftmost). Only the part of the chain that trusted
//! proxies wrote is read, so what a client writes itself never counts. Fail safe, never open:
//! - a spoofed header from an untrusted peer is ignored (the peer, always);
//! - a malformed entry reached on the walk, an obfuscated identifier (`_hidden`) or `unknown`
//!   gives the peer: an address nobody can vouch for is not believed;
//! - a `Forwarded` line that does not parse (an unterminated quote, a hop without `for=`) counts
//!   as one malformed entry;
//! - when both headers are present and they name different clients, the peer: a proxy that
//!   writes only one of them would otherwise pass the other, which the client wrote, as its own.
//!
//! `X-Forwarded-For` entries may be bare IPv4 or IPv6 addresses, `1.2.3.4:port` or
//! `[v6]:port`; `Forwarded` follows RFC 7239 (IPv6 and ports quoted: `for="[::1]:8080"`).
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.7`) count as the IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::dev::RequestHead;
use actix_web::http::header::{self, HeaderMap, HeaderName};
use ipnet::IpNet;

/// The rule of one process, from `api.trusted_proxies`. The default trusts nobody (the peer).
#[derive(Debug, Clone, Default)]
pub struct ClientRule {
    trusted: Vec<IpNet>,
}

/// A `trusted_proxies` entry that is neither a CIDR nor an address: start-up fails with it.
#[derive(Debug, thiserror::Error)]
#[error(
    "api.trusted_proxies: {entry:?} is neither a CIDR nor an IP address \
     (expected e.g. 10.0.0.0/8, 192.0.2.7 or ::1/128)"
)]
pub struct InvalidProxy {
    pub entry: String,
}

impl ClientRule {
    /// The rule trusting `trusted_proxies` (CIDRs or bare addresses).
    pub fn new(trusted_proxies: &[String]) -> Result<Self, InvalidProxy> {
        let trusted = trusted_proxies
            .iter()
            .map(|entry| {
                parse_cidr(entry).ok_or_else(|| InvalidProxy {
                    entry: entry.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { trusted })
    }

    /// The client address of a request (`None` only when the peer is unknown, as in tests that
    /// build requests without a connection).
    pub fn client_address(&self, head: &RequestHead) -> Option<IpAddr> {
        let peer = head.peer_addr?.ip();
        Some(self.resolve(peer, head.headers()))
    }

    /// The client address of a request from `peer` with `headers` (module docs).
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let forwarded = self.walk(headers, &header::FORWARDED, forwarded_entries);
        let x_forwarded = self.walk(headers, &header::X_FORWARDED_FOR, x_forwarded_entries);
        let client = match (forwarded, x_forwarded) {
            (None, None) => None,
            (Some(one), None) | (None, Some(one)) => one,
            (Some(one), Some(other)) => one.filter(|client| other == Some(*client)),
        };
        client.unwrap_or(peer)
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&address))
    }

    /// `None` when the header is absent; `Some(None)` when the walk found nothing to believe.
    fn walk(
        &self,
        headers: &HeaderMap,
        name: &HeaderName,
        entries: fn(&str) -> Vec<Option<IpAddr>>,
    ) -> Option<Option<IpAddr>> {
        let lines: Vec<_> = headers.get_all(name).collect();
        if lines.is_empty() {
            return None;
        }
        let mut nearest = None;
        for line in lines.iter().rev() {
            let parsed = line.to_str().map_or_else(|_| vec![None], entries);
            for entry in parsed.into_iter().rev() {
                let Some(address) = entry else {
                    return Some(None);
                };
                if !self.is_trusted(address) {
                    return Some(Some(address));
                }
                nearest = Some(address);
            }
        }
        Some(nearest)
    }
}

/// A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a bare address (one host: /32 or /128), with its
/// host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`); `None` for anything else.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(text.parse::<IpAddr>().ok()?),
    };
    Some(net.trunc())
}

/// The entries of one `X-Forwarded-For` line, left to right (`None`: malformed).
fn x_forwarded_entries(line: &str) -> Vec<Option<IpAddr>> {
    line.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let address = entry.parse::<IpAddr>().ok().or_else(|| node_address(entry));
            address.map(|address| address.to_canonical())
        })
        .collect()
}

/// The `for=` of each element of one `Forwarded` line, left to right (`None`: malformed); a
/// line that does not parse is one malformed entry.
fn forwarded_entries(line: &str) -> Vec<Option<IpAddr>> {
    let Some(elements) = split_outside_quotes(line, ',') else {
        return vec![None];
    };
    elements
        .iter()
        .map(|element| element.trim())
        .filter(|element| !element.is_empty())
        .map(|element| element_for(element).and_then(|node| node_address(&node)))
        .map(|address| address.map(|address| address.to_canonical()))
        .collect()
}

/// The node of an element's one `for` pair, unquoted; `None` without exactly one.
fn element_for(element: &str) -> Option<String> {
    let mut found = None;
    for pair in split_outside_quotes(element, ';')? {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        if !is_token(name) {
            return None;
        }
        if name.eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            found = Some(unquote(value.trim())?);
        }
    }
    found
}

/// A value as RFC 7239 allows it: a token, or a quoted string (with `\` escapes).
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return is_token(value).then(|| value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(chars.next()?),
            '"' => return None,
            c => text.push(c),
        }
    }
    Some(text)
}

/// `text` split at `separator` outside quoted strings; `None` on an unterminated quote.
fn split_outside_quotes(text: &str, separator: char) -> Option<Vec<&str>> {
    let (mut parts, mut start) = (Vec::new(), 0);
    let (mut quoted, mut escaped) = (false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    (!quoted).then_some(parts)
}

/// An RFC 7230 token (what a `Forwarded` name or unquoted value may be).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The address of an RFC 7239 node (`192.0.2.7`, `192.0.2.7:80`, `[2001:db8::1]:_port`);
/// `None` for `unknown`, an obfuscated name or anything malformed.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let address = v6.parse::<Ipv6Addr>().ok()?;
        return port_ok(after).then_some(IpAddr::V6(address));
    }
    let (host, after) = node.find(':').map_or((node, ""), |at| node.split_at(at));
    let address = host.parse::<Ipv4Addr>().ok()?;
    port_ok(after).then_some(IpAddr::V4(address))
}

/// Nothing, or `:` and a port (1 to 5 digits, at most 65535) or an obfuscated port (`_abc`).
fn port_ok(after: &str) -> bool {
    let Some(port) = after.strip_prefix(':') else {
        return after.is_empty();
    };
    let obfuscated = port.strip_prefix('_').is_some_and(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    let numeric = (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok();
    obfuscated || numeric
}

#[cfg(test)]
mod tests;
