//! Interface discovery over rtnetlink: an initial dump of the links, then the kernel's link
//! notifications (`RTMGRP_LINK`), so interfaces created after start are hooked at once and
//! removed ones are forgotten.

use crate::netns::in_netns;
use futures::{StreamExt, TryStreamExt};
use regex::Regex;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::sys::{AsyncSocket, SocketAddr};
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// Interface names for the records: by index in the observed namespace, and by (index, MAC)
/// for interfaces of secondary namespaces, whose indexes may repeat the observed ones.
#[derive(Default, Clone)]
pub(crate) struct IfaceNames {
    pub(crate) by_index: HashMap<u32, String>,
    pub(crate) by_mac: HashMap<(u32, [u8; 6]), String>,
}

/// The names, shared by the attacher (which learns them) and eviction (which reads them).
pub(crate) type Names = Arc<RwLock<IfaceNames>>;

/// An interface selector: an exact name or a `/regex/`.
#[derive(Debug, Clone)]
pub enum NameMatcher {
    /// Matches this exact name.
    Exact(String),
    /// Matches names the regex finds a match in (upstream semantics).
    Regex(Regex),
}

impl NameMatcher {
    /// Parses one comma-separated item of `INTERFACES`/`EXCLUDE_INTERFACES`.
    pub fn parse(item: &str) -> Result<Self, regex::Error> {
        let item = item.trim();
        if item.len() >= 2 && item.starts_with('/') && item.ends_with('/') {
            Ok(Self::Regex(Regex::new(&item[1..item.len() - 1])?))
        } else {
            Ok(Self::Exact(item.to_string()))
        }
    }

    /// Whether `name` is selected by this matcher.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(s) => s == name,
            Self::Regex(r) => r.is_match(name),
        }
    }
}

/// A change of an interface relevant to attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfaceEvent {
    /// The link exists, is administratively up and has an Ethernet-sized address.
    Up {
        /// Interface index.
        index: u32,
        /// Interface name.
        name: String,
        /// Hardware address: tells apart interfaces of different namespaces that share an index.
        mac: [u8; 6],
    },
    /// The link was deleted.
    Gone {
        /// Interface index.
        index: u32,
        /// Interface name.
        name: String,
    },
}

/// Classifies a link message; `None` for links the agent ignores (down, or without a 6-byte
/// hardware address, since the classifiers parse an Ethernet header).
fn classify(msg: &LinkMessage, deleted: bool) -> Option<IfaceEvent> {
    let index = msg.header.index;
    let mut name = None;
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Address(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            _ => {}
        }
    }
    let name = name?;
    if deleted {
        return Some(IfaceEvent::Gone { index, name });
    }
    let mac = mac?;
    if !msg.header.flags.contains(LinkFlags::Up) {
        return None;
    }
    Some(IfaceEvent::Up { index, name, mac })
}

/// Stops a link watcher when dropped. Its netlink socket holds a reference on the network
/// namespace, so a watcher left running would keep a deleted namespace (and its interfaces)
/// alive.
pub struct WatchGuard {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl WatchGuard {
    /// Lets the watcher run for the rest of the process (the agent's own namespace).
    pub fn keep(mut self) {
        self.tasks.clear();
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts watching the links of the network namespace `netns` (the agent's own when `None`).
/// Existing links are reported first, then changes as they happen.
pub async fn watch(netns: Option<PathBuf>) -> io::Result<mpsc::UnboundedReceiver<IfaceEvent>> {
    let (rx, guard) = watch_guarded(netns).await?;
    guard.keep();
    Ok(rx)
}

/// Like [`watch`], with a guard that stops the watcher (and releases the namespace) on drop.
pub async fn watch_guarded(
    netns: Option<PathBuf>,
) -> io::Result<(mpsc::UnboundedReceiver<IfaceEvent>, WatchGuard)> {
    let rt = tokio::runtime::Handle::current();
    let (conn, handle, mut messages) = in_netns(netns.as_deref(), move || {
        let _guard = rt.enter();
        let (mut conn, handle, messages) = rtnetlink::new_connection()?;
        let groups = rtnetlink::constants::RTMGRP_LINK;
        conn.socket_mut()
            .socket_mut()
            .bind(&SocketAddr::new(0, groups))?;
        Ok::<_, io::Error>((conn, handle, messages))
    })??;
    let conn_task = tokio::spawn(conn);
    let (tx, rx) = mpsc::unbounded_channel();
    let events_task = tokio::spawn(async move {
        let mut links = handle.link().get().execute();
        loop {
            match links.try_next().await {
                Ok(Some(msg)) => {
                    if let Some(ev) = classify(&msg, false)
                        && tx.send(ev).is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "listing network interfaces");
                    break;
                }
            }
        }
        while let Some((msg, _)) = messages.next().await {
            let ev = match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    classify(&l, false)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => classify(&l, true),
                _ => None,
            };
            if let Some(ev) = ev
                && tx.send(ev).is_err()
            {
                return;
            }
        }
    });
    Ok((
        rx,
        WatchGuard {
            tasks: vec![conn_task, events_task],
        },
    ))
}
