//! The console's `filters` parameter, parsed once into groups of matches that every source (SQL,
//! LogQL, PromQL) translates.
//!
//! Syntax: `|` separates groups (OR), `&` separates matches inside a group (AND). A match is
//! `Key=v1,v2` (any value), `Key!=v`, `Key>=n`, `Key~regex` or `Key!~regex`. A quoted value
//! (`"abc"`) is exact, an unquoted one a case-insensitive substring; `*` is a wildcard and `""`
//! matches an absent or empty field. Keys are record field names or the frontend's filter ids
//! (`src_namespace`, `namespace`, `resource`...); an id naming both ends (`namespace`) becomes
//! two groups, source side and destination side. Values may be percent-encoded.

use crate::fields::{self, Field, Kind};
use std::net::IpAddr;

/// How a match compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`: any of the values.
    Equal,
    /// `!=`: none of the values (an absent field passes).
    NotEqual,
    /// `>=`: numeric, at least the value.
    GreaterOrEqual,
    /// `~`: the regex matches.
    Regex,
    /// `!~`: the regex does not match (an absent field passes).
    NotRegex,
}

impl Op {
    /// The operator as written in the `filters` syntax.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equal => "=",
            Op::NotEqual => "!=",
            Op::GreaterOrEqual => ">=",
            Op::Regex => "~",
            Op::NotRegex => "!~",
        }
    }

    /// Whether the operator is a negation.
    pub fn negated(self) -> bool {
        matches!(self, Op::NotEqual | Op::NotRegex)
    }
}

/// An address filter value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrMatch {
    /// One address.
    Ip(IpAddr),
    /// A CIDR.
    Net(ipnet::IpNet),
    /// An inclusive range `a-b`.
    Range(IpAddr, IpAddr),
}

impl AddrMatch {
    /// Lowest and highest address, as 16-byte IPv6 (IPv4 mapped), for range comparisons.
    pub fn bounds(&self) -> ([u8; 16], [u8; 16]) {
        let (lo, hi) = match self {
            AddrMatch::Ip(ip) => (*ip, *ip),
            AddrMatch::Net(n) => (n.network(), n.broadcast()),
            AddrMatch::Range(a, b) => (*a, *b),
        };
        (to16(lo), to16(hi))
    }

    /// The CIDR or range as Loki's `ip("...")` filter takes it.
    pub fn loki_text(&self) -> String {
        match self {
            AddrMatch::Ip(ip) => ip.to_string(),
            AddrMatch::Net(n) => n.to_string(),
            AddrMatch::Range(a, b) => format!("{a}-{b}"),
        }
    }
}

/// 16-byte form of an address (IPv4 mapped into IPv6), ordered like the numbers.
pub fn to16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// One value of a match.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
    /// `""`: the field is absent or empty.
    Empty,
    /// A quoted string: equal (with `*` wildcards).
    Exact(String),
    /// An unquoted string: contains, case-insensitively (with `*` wildcards).
    Contains(String),
    /// A number (numeric fields).
    Number(i64),
    /// An address, CIDR or range (address fields).
    Addr(AddrMatch),
    /// A regular expression (`~`, `!~`), already checked to compile.
    Regex(String),
}

/// One `Key op values` term.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// The field.
    pub field: &'static Field,
    /// The comparison.
    pub op: Op,
    /// The values (any of them for `=` / `~`).
    pub values: Vec<FilterValue>,
}

/// Matches all true together.
pub type Group = Vec<Match>;

/// The parsed `filters` parameter: any group true. No group means no filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters {
    /// The groups.
    pub groups: Vec<Group>,
}

/// Why a `filters` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filters: {0}")]
pub struct FilterError(pub String);

impl Filters {
    /// Parses the `filters` parameter (already URL-decoded once by the HTTP layer).
    pub fn parse(input: &str) -> Result<Self, FilterError> {
        let mut groups = Vec::new();
        for group in input.split('|') {
            if group.trim().is_empty() {
                continue;
            }
            // Each alternative is a list of single-field matches; ids naming both ends fork.
            let mut alternatives: Vec<Group> = vec![Vec::new()];
            for term in group.split('&') {
                if term.trim().is_empty() {
                    continue;
                }
                let expanded = parse_term(term)?;
                let mut next = Vec::new();
                for alt in &alternatives {
                    for e in &expanded {
                        let mut g = alt.clone();
                        g.extend(e.iter().cloned());
                        next.push(g);
                    }
                }
                alternatives = next;
                if alternatives.len() > 64 {
                    return Err(FilterError(
                        "too many combinations of both-ends filters in one group (over 64)".into(),
                    ));
                }
            }
            groups.extend(alternatives.into_iter().filter(|g| !g.is_empty()));
        }
        Ok(Self { groups })
    }

    /// Whether there is no filter at all.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether any match names `field`.
    pub fn mentions(&self, field: &str) -> bool {
        self.fields().any(|f| f == field)
    }

    /// Every field named by a match.
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.groups.iter().flatten().map(|m| m.field.name)
    }

    /// Whether any match is `>=`.
    pub fn has_greater_or_equal(&self) -> bool {
        self.groups
            .iter()
            .flatten()
            .any(|m| m.op == Op::GreaterOrEqual)
    }

    /// Adds `extra` to every group (or makes it the only group when there is none).
    pub fn and(&mut self, extra: Match) {
        if self.groups.is_empty() {
            self.groups.push(vec![extra]);
        } else {
            for g in &mut self.groups {
                g.push(extra.clone());
            }
        }
    }
}

const OPS: &[(&str, Op)] = &[
    ("!=", Op::NotEqual),
    (">=", Op::GreaterOrEqual),
    ("!~", Op::NotRegex),
    ("=~", Op::Regex),
    ("~", Op::Regex),
    ("=", Op::Equal),
];

/// One term, expanded to its alternatives (one per end for a both-ends id), each a list of
/// single-field matches.
fn parse_term(term: &str) -> Result<Vec<Group>, FilterError> {
    let term = term.trim();
    let key_end = term
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| FilterError(format!("`{term}` has no operator (=, !=, >=, ~, !~)")))?;
    let (key, rest) = term.split_at(key_end);
    if key.is_empty() {
        return Err(FilterError(format!("`{term}` has no field name")));
    }
    let (op, raw) = OPS
        .iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|r| (*op, r)))
        .ok_or_else(|| {
            FilterError(format!(
                "`{term}`: expected =, !=, >=, ~ or !~ after `{key}`"
            ))
        })?;
    let resolved = resolve_key(key)?;
    let mut out = Vec::new();
    for side in resolved {
        let mut group = Vec::new();
        for (field, value_override) in side {
            let raw = value_override.as_deref().unwrap_or(raw);
            group.push(parse_match(field, op, raw)?);
        }
        out.push(group);
    }
    Ok(out)
}

/// Fields a key stands for: one alternative per end, each a list of (field, fixed value).
type Resolved = Vec<Vec<(&'static Field, Option<String>)>>;

fn resolve_key(key: &str) -> Result<Resolved, FilterError> {
    if let Some(f) = fields::field(key) {
        return Ok(vec![vec![(f, None)]]);
    }
    let unknown = || {
        FilterError(format!(
            "unknown filter field `{key}` (use a record field name such as SrcK8S_Namespace, or a filter id listed in /api/frontend-config)"
        ))
    };
    let (sides, id): (&[&str], &str) = if let Some(id) = key.strip_prefix("src_") {
        (&["Src"], id)
    } else if let Some(id) = key.strip_prefix("dst_") {
        (&["Dst"], id)
    } else {
        (&["Src", "Dst"], key)
    };
    if let Some(&(_, single)) = FILTER_IDS.iter().find(|(i, _)| *i == key) {
        let f = fields::field(single).ok_or_else(unknown)?;
        return Ok(vec![vec![(f, None)]]);
    }
    let suffix = ENDPOINT_IDS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, s)| *s)
        .ok_or_else(unknown)?;
    sides
        .iter()
        .map(|side| {
            fields::field(&format!("{side}{suffix}"))
                .map(|f| vec![(f, None)])
                .ok_or_else(unknown)
        })
        .collect()
}

/// Filter ids of one field (no source / destination variant).
pub const FILTER_IDS: &[(&str, &str)] = &[
    ("cluster_name", "K8S_ClusterName"),
    ("protocol", "Proto"),
    ("dscp", "Dscp"),
    ("icmp_type", "IcmpType"),
    ("icmp_code", "IcmpCode"),
    ("tcp_flags", "Flags"),
    ("node_direction", "FlowDirection"),
    ("flow_layer", "K8S_FlowLayer"),
    ("interfaces", "Interfaces"),
    ("ifdirections", "IfDirections"),
    ("udns", "Udns"),
    ("id", "_HashId"),
    ("pkt_drop_state", "PktDropLatestState"),
    ("pkt_drop_cause", "PktDropLatestDropCause"),
    ("dns_id", "DnsId"),
    ("dns_name", "DnsName"),
    ("dns_latency", "DnsLatencyMs"),
    ("dns_flag_response_code", "DnsFlagsResponseCode"),
    ("dns_errno", "DnsErrno"),
    ("time_flow_rtt", "TimeFlowRttNs"),
    ("network_events", "NetworkEvents"),
    ("xlat_zone_id", "ZoneId"),
    ("xlat_src_address", "XlatSrcAddr"),
    ("xlat_dst_address", "XlatDstAddr"),
    ("xlat_src_port", "XlatSrcPort"),
    ("xlat_dst_port", "XlatDstPort"),
    ("ipsec_status", "IPSecStatus"),
];

/// Filter ids with `src_` / `dst_` variants (the bare id means either end), and the field
/// suffix after `Src` / `Dst`.
pub const ENDPOINT_IDS: &[(&str, &str)] = &[
    ("namespace", "K8S_Namespace"),
    ("kind", "K8S_Type"),
    ("name", "K8S_Name"),
    ("owner_name", "K8S_OwnerName"),
    ("zone", "K8S_Zone"),
    ("subnet_label", "SubnetLabel"),
    ("address", "Addr"),
    ("port", "Port"),
    ("mac", "Mac"),
    ("host_address", "K8S_HostIP"),
    ("host_name", "K8S_HostName"),
    ("network", "K8S_NetworkName"),
];

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a value list on commas outside double quotes.
fn split_values(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in raw.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

const PROTOCOLS: &[(&str, i64)] = &[
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("icmpv6", 58),
    ("sctp", 132),
];

const DIRECTIONS: &[(&str, i64)] = &[("ingress", 0), ("egress", 1), ("inner", 2)];

fn parse_match(field: &'static Field, op: Op, raw: &str) -> Result<Match, FilterError> {
    let name = field.name;
    let mut values = Vec::new();
    if matches!(op, Op::Regex | Op::NotRegex) {
        let re = percent_decode(raw);
        regex::Regex::new(&re)
            .map_err(|e| FilterError(format!("`{name}{}`: bad regex: {e}", op.as_str())))?;
        values.push(FilterValue::Regex(re));
        return Ok(Match { field, op, values });
    }
    for part in split_values(raw) {
        let v = percent_decode(part.trim());
        if let Some(bad) = v
            .chars()
            .find(|c| !(c.is_alphanumeric() || " -_.,\"*:/@+".contains(*c)))
        {
            return Err(FilterError(format!(
                "`{name}`: character `{bad}` is not allowed in a value (use ~ for a regex)"
            )));
        }
        let (exact, text) = match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) if v.len() >= 2 => (true, inner.to_string()),
            _ => (false, v.clone()),
        };
        if text.contains('"') {
            return Err(FilterError(format!("`{name}`: unbalanced quote in `{v}`")));
        }
        if exact && text.is_empty() {
            values.push(FilterValue::Empty);
            continue;
        }
        if text.is_empty() {
            return Err(FilterError(format!(
                "`{name}{}` has an empty value (write \"\" to match an absent field)",
                op.as_str()
            )));
        }
        values.push(typed_value(field, op, exact, text)?);
    }
    if op == Op::GreaterOrEqual && values.len() != 1 {
        return Err(FilterError(format!("`{name}>=` takes exactly one number")));
    }
    Ok(Match { field, op, values })
}

fn typed_value(
    field: &'static Field,
    op: Op,
    exact: bool,
    text: String,
) -> Result<FilterValue, FilterError> {
    let name = field.name;
    if op == Op::GreaterOrEqual && field.kind != Kind::Int {
        return Err(FilterError(format!(
            "`{name}>=`: >= only applies to numeric fields"
        )));
    }
    match field.kind {
        Kind::Int => {
            let lower = text.to_ascii_lowercase();
            let named = match name {
                "Proto" => PROTOCOLS.iter().find(|(n, _)| *n == lower).map(|p| p.1),
                "FlowDirection" => DIRECTIONS.iter().find(|(n, _)| *n == lower).map(|p| p.1),
                _ => None,
            };
            named
                .or_else(|| text.parse().ok())
                .map(FilterValue::Number)
                .ok_or_else(|| FilterError(format!("`{name}` expects a number, got `{text}`")))
        }
        Kind::Addr => parse_addr(&text).map(FilterValue::Addr).ok_or_else(|| {
            FilterError(format!(
                "`{name}` expects an IP address, a CIDR (10.0.0.0/8) or a range (a-b), got `{text}`"
            ))
        }),
        _ if exact => Ok(FilterValue::Exact(text)),
        _ => Ok(FilterValue::Contains(text)),
    }
}

fn parse_addr(text: &str) -> Option<AddrMatch> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(AddrMatch::Ip(ip));
    }
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Some(AddrMatch::Net(net.trunc()));
    }
    let (a, b) = text.split_once('-')?;
    let (a, b) = (
        a.trim().parse::<IpAddr>().ok()?,
        b.trim().parse::<IpAddr>().ok()?,
    );
    (a.is_ipv4() == b.is_ipv4() && to16(a) <= to16(b)).then_some(AddrMatch::Range(a, b))
}
