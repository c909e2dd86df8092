//! Port names from a services file (`/etc/services`: `name port/proto [aliases] # comment`), as
//! `getservbyport` reads it, for the `host_process` transform's `services` option and the
//! `network` transform's `add_service` rule. Parsed once at
//! build time into a map; a lookup is one hash probe per flow end.

use std::collections::HashMap;
use std::sync::Arc;

/// Service name per (IP protocol number, port): the first entry of the file wins, as in libc.
pub type PortNames = HashMap<(u8, u16), Arc<str>>;

/// Parses the text of a services file; lines that do not parse are skipped.
pub fn parse(text: &str) -> PortNames {
    let mut names = PortNames::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, proto)) = port_proto.split_once('/') else {
            continue;
        };
        let (Ok(port), Some(proto)) = (port.parse::<u16>(), protocol_number(proto)) else {
            continue;
        };
        names
            .entry((proto, port))
            .or_insert_with(|| Arc::from(name));
    }
    names
}

/// The IP protocol number of a name as services files and flow records spell it (`tcp`, `UDP`,
/// or a number).
pub fn protocol_number(name: &str) -> Option<u8> {
    match name.to_ascii_lowercase().as_str() {
        "tcp" => Some(6),
        "udp" => Some(17),
        "sctp" => Some(132),
        "dccp" => Some(33),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_per_protocol_and_keeps_the_first() {
        let names = parse(
            "# comment\n\
             ssh\t\t22/tcp\t\t\t# SSH Remote Login Protocol\n\
             domain\t\t53/tcp\n\
             domain\t\t53/udp\n\
             https\t\t443/tcp\n\
             https-alt\t443/tcp\n\
             garbage line\n\
             bad\t\t99999/tcp\n\
             ddp\t\t2/ddp\n",
        );
        assert_eq!(names.get(&(6, 22)).map(|n| &**n), Some("ssh"));
        assert_eq!(names.get(&(17, 53)).map(|n| &**n), Some("domain"));
        assert_eq!(names.get(&(6, 443)).map(|n| &**n), Some("https"));
        assert!(!names.contains_key(&(17, 22)));
        assert_eq!(names.len(), 4);
    }
}
