//! The (C)UDN objects as index entries: kept apart from `udn` (which the index itself uses for
//! pod attachments and labels) so that neither module needs the other both ways.

use super::index::{Indexed, KubeIndex};
use super::udn::{ClusterUserDefinedNetwork, UdnObject, UserDefinedNetwork};
use kube::core::PartialObjectMeta;

/// (C)UDN objects feed the index's registry; a change relabels the pods' UDN keys.
macro_rules! indexed_udn {
    ($ty:ty, $add:ident, $remove:ident, $clear:ident, $count:tt) => {
        impl Indexed for $ty {
            fn apply_to(&self, index: &mut KubeIndex) {
                index.update_udns(|r| r.$add(self.udn_meta()));
            }
            fn delete_from(&self, index: &mut KubeIndex) {
                index.update_udns(|r| r.$remove(self.udn_meta()));
            }
            fn clear_kind(index: &mut KubeIndex) {
                index.update_udns(|r| {
                    let had = r.counts().$count > 0;
                    r.$clear();
                    had
                });
            }
        }
    };
}

indexed_udn!(UserDefinedNetwork, add_udn, remove_udn, clear_udns, 0);
indexed_udn!(
    PartialObjectMeta<UserDefinedNetwork>,
    add_udn,
    remove_udn,
    clear_udns,
    0
);
indexed_udn!(
    ClusterUserDefinedNetwork,
    add_cudn,
    remove_cudn,
    clear_cudns,
    1
);
indexed_udn!(
    PartialObjectMeta<ClusterUserDefinedNetwork>,
    add_cudn,
    remove_cudn,
    clear_cudns,
    1
);
