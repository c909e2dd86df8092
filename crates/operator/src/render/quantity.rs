//! Just enough of Kubernetes quantity parsing to compute `GOMEMLIMIT` (90% of a memory limit).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Bytes of a memory quantity (`800Mi`, `1Gi`, `1G`, `1e9`, `500000`), or None when it cannot be
/// parsed (the variable is then simply not set).
pub fn to_bytes(q: &Quantity) -> Option<u128> {
    let s = q.0.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let mult: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "m" => 1e-3,
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse().ok()?),
        _ => return None,
    };
    let bytes = (value * mult).ceil();
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u128)
}

/// 90% of the memory limit of `resources`, in bytes, as the Go runtime wants it.
pub fn go_mem_limit(resources: &k8s_openapi::api::core::v1::ResourceRequirements) -> Option<u128> {
    let limit = resources.limits.as_ref()?.get("memory")?;
    to_bytes(limit).map(|b| b * 9 / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let q = |s: &str| to_bytes(&Quantity(s.to_string()));
        assert_eq!(q("800Mi"), Some(838_860_800));
        assert_eq!(q("1G"), Some(1_000_000_000));
        assert_eq!(q("1e3"), Some(1000));
        assert_eq!(q("1.5Gi"), Some(1_610_612_736));
        assert_eq!(q("lots"), None);
    }
}
