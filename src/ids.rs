//! Seeded, reproducible id generation.
//!
//! Each app partition owns an [`IdGen`] whose seed is derived from the
//! server's seed and the partition's key, so the ids one app sees depend only
//! on the seed and that app's own requests, never on what other apps do
//! concurrently on the same server.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A splitmix64 stream: tiny, fast, and identical on every platform.
#[derive(Clone, Debug)]
pub(crate) struct IdGen {
    /// The generator's whole state; the same state yields the same ids.
    state: u64,
}

impl IdGen {
    /// A generator whose stream is fixed by `seed` and the `parts` naming it.
    pub fn new(seed: u64, parts: &[&str]) -> Self {
        let mut hash = fnv1a(0xcbf2_9ce4_8422_2325, &seed.to_le_bytes());
        for part in parts {
            // A separator byte keeps ("ab", "c") apart from ("a", "bc").
            hash = fnv1a(hash, part.as_bytes());
            hash = fnv1a(hash, &[0xff]);
        }
        IdGen { state: hash }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `prefix` followed by `len` characters from `[0-9A-Za-z]`.
    pub fn id(&mut self, prefix: &str, len: usize) -> String {
        let mut out = Vec::with_capacity(prefix.len() + len);
        out.extend_from_slice(prefix.as_bytes());
        // 62 does not divide 2^64; the bias is below 1e-17, irrelevant here.
        out.extend((0..len).map(|_| ALPHABET[(self.next_u64() % 62) as usize]));
        // A `&str` and ASCII letters and digits: always UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// A Stripe-shaped request id: `req_` and 14 alphanumerics.
    pub fn request_id(&mut self) -> String {
        self.id("req_", 14)
    }

    /// A secret id: `appsecret_` and 30 alphanumerics.
    pub fn secret_id(&mut self) -> String {
        self.id("appsecret_", 30)
    }
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_parts_give_the_same_stream() {
        let mut a = IdGen::new(7, &["sk_test_1", ""]);
        let mut b = IdGen::new(7, &["sk_test_1", ""]);
        assert_eq!(a.secret_id(), b.secret_id());
        assert_eq!(a.request_id(), b.request_id());
    }

    #[test]
    fn different_seeds_or_parts_give_different_ids() {
        let base = IdGen::new(7, &["sk_test_1", ""]).secret_id();
        assert_ne!(base, IdGen::new(8, &["sk_test_1", ""]).secret_id());
        assert_ne!(base, IdGen::new(7, &["sk_test_2", ""]).secret_id());
        assert_ne!(base, IdGen::new(7, &["sk_test_1", "acct_1"]).secret_id());
    }

    #[test]
    fn ids_have_stripe_shapes() {
        let mut g = IdGen::new(0, &[]);
        let id = g.secret_id();
        assert!(id.starts_with("appsecret_"));
        assert_eq!(id.len(), "appsecret_".len() + 30);
        assert!(id[10..].bytes().all(|b| b.is_ascii_alphanumeric()));
        let req = g.request_id();
        assert_eq!(req.len(), 18);
        assert!(req[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
