//! Configuration digests: FNV-1a 64 rendered in base 36, put in a pod-template annotation so that
//! a configuration change changes the template and rolls the pods, while an unchanged
//! configuration leaves the template (and the pods) alone.

/// FNV-1a 64-bit hash.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Base-36 rendering of a number (lowercase), the form of the upstream digest annotations.
pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_string();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Digest of a configuration text.
pub fn digest(text: &str) -> String {
    base36(fnv1a64(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn digest_changes_with_content() {
        assert_ne!(digest("{\"a\":1}"), digest("{\"a\":2}"));
        assert_eq!(digest("x"), digest("x"));
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
