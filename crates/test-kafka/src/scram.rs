//! SCRAM-SHA-512 credentials as a Kafka admin client creates them for
//! `AlterUserScramCredentials` (RFC 5802 SaltedPassword: PBKDF2 with HMAC-SHA-512 over the
//! password and a per-user salt; the broker derives the stored and server keys from it).

use krafka::admin::ScramCredentialUpsertion;
use krafka::auth::ScramMechanism;

/// Iterations of the derivation (Kafka's minimum is 4096).
const ITERATIONS: u32 = 4096;

/// The credential of `user` for `password`.
pub(crate) fn credential(user: &str, password: &str) -> ScramCredentialUpsertion {
    // Unique, not secret: a test broker's salt only has to differ between users and runs.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut salt = nanos.to_be_bytes().to_vec();
    salt.extend_from_slice(user.as_bytes());
    let mut salted = vec![0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), &salt, ITERATIONS, &mut salted);
    ScramCredentialUpsertion {
        name: user.to_string(),
        mechanism: ScramMechanism::Sha512,
        iterations: ITERATIONS as i32,
        salt: zeroize::Zeroizing::new(salt),
        salted_password: zeroize::Zeroizing::new(salted),
    }
}
