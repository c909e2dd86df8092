//! The observed host's own addresses, so that flows say which end is this machine: the pipeline's
//! first subnet label, `host`, holds each of them as a single-address network (before
//! `loopback`, `private`, ... which would otherwise describe them). Read once at start, in the
//! observed network namespace; an address added later is labelled by its range only.

use std::net::IpAddr;
use std::path::Path;

/// The addresses of every interface in `netns` (`None`: this namespace), loopback included.
pub fn host_addresses(netns: Option<&Path>) -> std::io::Result<Vec<IpAddr>> {
    netobserv_agent::netns::in_netns(netns, read_addresses)?
}

fn read_addresses() -> std::io::Result<Vec<IpAddr>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let entry = unsafe { &*cur };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
            let addr = match family {
                libc::AF_INET => {
                    // SAFETY: an AF_INET address is a sockaddr_in.
                    let sin = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
                    // s_addr holds the address bytes in network order.
                    Some(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()))
                }
                libc::AF_INET6 => {
                    // SAFETY: an AF_INET6 address is a sockaddr_in6.
                    let sin6 = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in6>() };
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            };
            if let Some(a) = addr
                && !out.contains(&a)
            {
                out.push(a);
            }
        }
        cur = entry.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_namespace_has_its_loopback_address() {
        let addrs = super::host_addresses(None).expect("getifaddrs");
        assert!(
            addrs.contains(&"127.0.0.1".parse().expect("ip")),
            "{addrs:?}"
        );
    }
}
