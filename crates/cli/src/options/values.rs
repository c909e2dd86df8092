//! Parsers of single option values. Each returns a message that clap prints after the option's
//! name (`invalid value 'x' for '--port <PORT>': <message>`), so the user sees which option is
//! wrong and why.

use std::net::IpAddr;
use std::time::Duration;

/// A port number, 1 to 65535.
pub fn port(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err("expected a port number from 1 to 65535".into()),
        Ok(p) => Ok(p),
    }
}

/// A `start-end` port range with `start < end`.
pub fn port_range(s: &str) -> Result<String, String> {
    let err = || "expected a port range `start-end`, e.g. 80-100".to_string();
    let (a, b) = s.split_once('-').ok_or_else(err)?;
    let (a, b) = (port(a).map_err(|_| err())?, port(b).map_err(|_| err())?);
    if a >= b {
        return Err(format!("the range start ({a}) must be below its end ({b})"));
    }
    Ok(format!("{a}-{b}"))
}

/// Two ports `a,b` (the agent matches either).
pub fn port_pair(s: &str) -> Result<String, String> {
    let err = || "expected two ports `a,b`, e.g. 80,443".to_string();
    let (a, b) = s.split_once(',').ok_or_else(err)?;
    let (a, b) = (port(a).map_err(|_| err())?, port(b).map_err(|_| err())?);
    Ok(format!("{a},{b}"))
}

/// An IPv4 or IPv6 CIDR, normalised (`10.0.0.1/8` is refused: host bits set).
pub fn cidr(s: &str) -> Result<String, String> {
    let net: ipnet::IpNet = s
        .trim()
        .parse()
        .map_err(|_| "expected a CIDR such as 10.0.0.0/8 or fd00::/8".to_string())?;
    if net.trunc() != net {
        return Err(format!("host bits set: did you mean {}?", net.trunc()));
    }
    Ok(net.to_string())
}

/// An IPv4 or IPv6 address.
pub fn ip(s: &str) -> Result<String, String> {
    s.trim()
        .parse::<IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| "expected an IP address such as 10.0.0.1".into())
}

/// An ICMP type or code, 0 to 255.
pub fn icmp(s: &str) -> Result<u8, String> {
    s.trim()
        .parse::<u8>()
        .map_err(|_| "expected a number from 0 to 255".into())
}

/// A duration in Go's notation (`30s`, `5m`, `1h30m`), as upstream's `--max-time`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = netobserv_pipeline::config::parse_go_duration(s.trim())
        .map_err(|_| "expected a duration such as 30s, 5m or 1h".to_string())?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// A byte count: a number with an optional unit (`k`, `M`, `G` are powers of 1000, `Ki`, `Mi`,
/// `Gi` of 1024; a trailing `B` is allowed), e.g. `50000000`, `50MB`, `64Mi`.
pub fn bytes(s: &str) -> Result<u64, String> {
    let err = || "expected a byte count such as 50000000, 50MB or 64MiB".to_string();
    let t = s.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| err())?;
    let mult: u64 = match unit {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(err()),
    };
    let v = n.checked_mul(mult).ok_or_else(err)?;
    if v == 0 {
        return Err("must be more than zero bytes".into());
    }
    Ok(v)
}

/// A node selector `key:value` (upstream's form; `key=value` is accepted too).
pub fn node_selector(s: &str) -> Result<Label, String> {
    let (k, v) = s
        .split_once(':')
        .or_else(|| s.split_once('='))
        .ok_or_else(|| "expected `key:value`, e.g. kubernetes.io/hostname:worker-1".to_string())?;
    let (k, v) = (k.trim(), v.trim());
    let key_ok = !k.is_empty()
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let value_ok = v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !key_ok {
        return Err(format!("`{k}` is not a label key"));
    }
    if !value_ok {
        return Err(format!("`{v}` is not a label value"));
    }
    Ok(Label {
        key: k.to_string(),
        value: v.to_string(),
    })
}

/// A `--sampling` ratio: 1 keeps every packet, N one in N.
pub fn sampling(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err("expected a ratio of 1 or more (1 keeps every packet)".into()),
        Ok(n) => Ok(n),
    }
}

/// A comma-separated list of interface names (`--interfaces`, `--exclude_interfaces`); a
/// `/regex/` entry is passed on to the agent as such.
pub fn interface_list(s: &str) -> Result<NameList, String> {
    let names: Vec<String> = s
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err("expected interface names separated by commas, e.g. eth0,br-ex".into());
    }
    Ok(NameList(names))
}

/// Names given as one comma-separated value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameList(pub Vec<String>);

/// A label `key` = `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}
