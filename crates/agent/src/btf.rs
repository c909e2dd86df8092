//! A minimal reader of the kernel's BTF (`/sys/kernel/btf/vmlinux`) that finds struct member
//! byte offsets. Rust eBPF programs get no CO-RE relocations, so the hooks that read kernel
//! structs (`sock_common`, `tcp_sock`) receive these offsets as load-time constants instead.

use std::collections::HashMap;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// Why the BTF could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// Reading the file failed.
    #[error("reading BTF: {0}")]
    Io(#[from] std::io::Error),
    /// The data is not BTF as this reader understands it.
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
}

struct Member {
    name: u32,
    type_id: u32,
    bit_offset: u32,
}

struct Type {
    name: u32,
    kind: u32,
    size_or_type: u32,
    members: Vec<Member>,
}

/// Parsed type table.
pub struct Btf {
    types: Vec<Type>,
    strings: Vec<u8>,
    by_name: HashMap<String, Vec<u32>>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, BtfError> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(BtfError::Malformed("truncated"))
}

/// Offsets of `members` (struct, member) in the running kernel's BTF, in order, or which one is
/// missing: the kernel struct offsets a hook reads (Rust eBPF gets no CO-RE relocations).
pub fn kernel_member_offsets<const N: usize>(
    members: [(&str, &str); N],
) -> Result<[u32; N], String> {
    let btf = Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {e}"))?;
    let mut out = [0u32; N];
    for (slot, (s, m)) in out.iter_mut().zip(members) {
        *slot = btf
            .member_offset(s, m)
            .ok_or_else(|| format!("kernel BTF has no {s}.{m}"))?;
    }
    Ok(out)
}

impl Btf {
    /// Reads the running kernel's BTF.
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        Self::parse(&std::fs::read("/sys/kernel/btf/vmlinux")?)
    }

    /// Reads the BTF of kernel module `module` (`/sys/kernel/btf/NAME`), which is split BTF on
    /// top of vmlinux's: types that live in a module (e.g. `psample_group` when psample is
    /// built as a module) are only found there.
    pub fn module_from_sys_fs(module: &str, base: &Btf) -> Result<Self, BtfError> {
        Self::parse_split(
            &std::fs::read(format!("/sys/kernel/btf/{module}"))?,
            Some(base),
        )
    }

    /// Parses raw little-endian BTF.
    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        Self::parse_split(data, None)
    }

    /// Parses raw BTF; with `base`, as split BTF whose type ids and string offsets continue
    /// those of `base`.
    pub fn parse_split(data: &[u8], base: Option<&Btf>) -> Result<Self, BtfError> {
        if data.len() < 24 || u16::from_le_bytes([data[0], data[1]]) != 0xeb9f {
            return Err(BtfError::Malformed("bad magic"));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_start = hdr_len + type_off;
        let tdata = data
            .get(types_start..types_start + type_len)
            .ok_or(BtfError::Malformed("type section"))?;
        let own_strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or(BtfError::Malformed("string section"))?;
        // Split BTF: string offsets past the base's refer to this blob, type ids continue.
        let mut strings = base.map(|b| b.strings.clone()).unwrap_or_default();
        strings.extend_from_slice(own_strings);
        // Type id 0 is void.
        let mut types = match base {
            Some(b) => b
                .types
                .iter()
                .map(|t| Type {
                    name: t.name,
                    kind: t.kind,
                    size_or_type: t.size_or_type,
                    members: Vec::new(),
                })
                .collect(),
            None => vec![Type {
                name: 0,
                kind: 0,
                size_or_type: 0,
                members: Vec::new(),
            }],
        };
        let first_own = types.len();
        let mut pos = 0;
        while pos < tdata.len() {
            let name = u32_at(tdata, pos)?;
            let info = u32_at(tdata, pos + 4)?;
            let size_or_type = u32_at(tdata, pos + 8)?;
            pos += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kflag = info >> 31 == 1;
            let mut members = Vec::new();
            match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => pos += 4,
                KIND_ARRAY => pos += 12,
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = pos + i * 12;
                        let off = u32_at(tdata, m + 8)?;
                        members.push(Member {
                            name: u32_at(tdata, m)?,
                            type_id: u32_at(tdata, m + 4)?,
                            bit_offset: if kflag { off & 0x00ff_ffff } else { off },
                        });
                    }
                    pos += 12 * vlen;
                }
                KIND_ENUM | KIND_FUNC_PROTO => pos += 8 * vlen,
                KIND_DATASEC | KIND_ENUM64 => pos += 12 * vlen,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => {}
                _ => return Err(BtfError::Malformed("unknown kind")),
            }
            types.push(Type {
                name,
                kind,
                size_or_type,
                members,
            });
        }
        let mut btf = Btf {
            types,
            strings,
            by_name: HashMap::new(),
        };
        for (id, t) in btf.types.iter().enumerate().skip(first_own) {
            if matches!(t.kind, KIND_STRUCT | KIND_UNION) && t.name != 0 {
                let n = btf.name(t.name).to_string();
                btf.by_name.entry(n).or_default().push(id as u32);
            }
        }
        Ok(btf)
    }

    fn name(&self, off: u32) -> &str {
        let s = self.strings.get(off as usize..).unwrap_or_default();
        let end = s.iter().position(|b| *b == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or_default()
    }

    /// Skips typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            let t = self.types.get(id as usize)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type;
                }
                _ => return Some(t),
            }
        }
        None
    }

    /// Byte offset and type id of `member` in `t`.
    fn find_in(&self, t: &Type, member: &str) -> Option<(u32, u32)> {
        for m in &t.members {
            if m.name != 0 && self.name(m.name) == member {
                return Some((m.bit_offset / 8, m.type_id));
            }
        }
        // Members of anonymous structs/unions are reachable directly, as in C.
        for m in &t.members {
            if m.name == 0
                && let Some(inner) = self.resolve(m.type_id)
                && matches!(inner.kind, KIND_STRUCT | KIND_UNION)
                && let Some((off, ty)) = self.find_in(inner, member)
            {
                return Some((m.bit_offset / 8 + off, ty));
            }
        }
        None
    }

    /// Byte offset of `member` in `struct name` (anonymous members included).
    pub fn member_offset(&self, name: &str, member: &str) -> Option<u32> {
        self.by_name
            .get(name)?
            .iter()
            .find_map(|id| {
                let t = self.types.get(*id as usize)?;
                (t.kind == KIND_STRUCT).then(|| self.find_in(t, member))?
            })
            .map(|(off, _)| off)
    }

    /// Byte offset of a nested member, e.g. `["dst", "u3"]` in `nf_conntrack_tuple`: each step
    /// descends into the previous member's struct or union type (nested kernel structs the
    /// hooks read, whose inner types may be anonymous and so cannot be named directly).
    pub fn member_path_offset(&self, name: &str, path: &[&str]) -> Option<u32> {
        let mut t = self.by_name.get(name)?.iter().find_map(|id| {
            let t = self.types.get(*id as usize)?;
            (t.kind == KIND_STRUCT).then_some(t)
        })?;
        let mut total = 0;
        for (i, member) in path.iter().enumerate() {
            let (off, ty) = self.find_in(t, member)?;
            total += off;
            if i + 1 < path.len() {
                t = self.resolve(ty)?;
                if !matches!(t.kind, KIND_STRUCT | KIND_UNION) {
                    return None;
                }
            }
        }
        Some(total)
    }

    /// Size in bytes of `struct name`, to step through arrays of it (e.g. `tuplehash[2]`).
    pub fn struct_size(&self, name: &str) -> Option<u32> {
        self.by_name.get(name)?.iter().find_map(|id| {
            let t = self.types.get(*id as usize)?;
            (t.kind == KIND_STRUCT).then_some(t.size_or_type)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw BTF blob: header, then the type and string sections.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let type_len = (types.len() * 4) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9fu16.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, type_len, type_len, strings.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for t in types {
            b.extend_from_slice(&t.to_le_bytes());
        }
        b.extend_from_slice(strings);
        b
    }

    #[test]
    fn module_types_are_found_in_split_btf() {
        // Base ("vmlinux"): type 1 = int "u32".
        let base_strings = b"\0u32\0";
        let base = Btf::parse(&blob(&[1, KIND_INT << 24, 4, 32], base_strings)).unwrap();
        // Module: type 2 = struct psample_group { u32 group_num at byte 24 }, its names in the
        // module's own strings (offsets continue the base's), its member typed by the base.
        let off = base_strings.len() as u32;
        let module_strings = b"psample_group\0group_num\0";
        let module = Btf::parse_split(
            &blob(
                &[off, (KIND_STRUCT << 24) | 1, 32, off + 14, 1, 24 * 8],
                module_strings,
            ),
            Some(&base),
        )
        .unwrap();
        assert_eq!(module.member_offset("psample_group", "group_num"), Some(24));
        assert_eq!(base.member_offset("psample_group", "group_num"), None);
    }

    #[test]
    fn finds_socket_offsets_in_the_running_kernel() {
        // Every machine this agent targets exposes BTF; a missing file is a real failure here.
        let btf = Btf::from_sys_fs().expect("/sys/kernel/btf/vmlinux");
        assert_eq!(btf.member_offset("sock_common", "skc_family"), Some(16));
        assert!(btf.member_offset("sock_common", "skc_daddr").is_some());
        assert!(btf.member_offset("sock_common", "skc_dport").is_some());
        let srtt = btf.member_offset("tcp_sock", "srtt_us").expect("srtt_us");
        assert!(srtt > 1000, "srtt_us lies deep in tcp_sock: {srtt}");
        assert_eq!(btf.member_offset("sock_common", "no_such_member"), None);
    }

    #[test]
    fn finds_conntrack_offsets_in_the_running_kernel() {
        let btf = Btf::from_sys_fs().expect("/sys/kernel/btf/vmlinux");
        // The tuple layout has been stable for years: src.u3 at 0, src.u at 16, l3num at 18,
        // dst.u3 at 20, dst.u at 36, protonum at 38.
        let t = "nf_conntrack_tuple";
        assert_eq!(btf.member_path_offset(t, &["src", "u3"]), Some(0));
        assert_eq!(btf.member_path_offset(t, &["src", "u"]), Some(16));
        assert_eq!(btf.member_path_offset(t, &["src", "l3num"]), Some(18));
        assert_eq!(btf.member_path_offset(t, &["dst", "u3"]), Some(20));
        assert_eq!(btf.member_path_offset(t, &["dst", "u"]), Some(36));
        assert_eq!(btf.member_path_offset(t, &["dst", "protonum"]), Some(38));
        let hash = btf
            .struct_size("nf_conntrack_tuple_hash")
            .expect("tuple hash");
        assert!(hash >= 40, "{hash}");
        assert!(btf.member_offset("nf_conn", "tuplehash").is_some());
        assert_eq!(btf.member_path_offset(t, &["dst", "nope"]), None);
    }
}
