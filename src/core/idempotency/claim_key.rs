//! A claim's namespaced key, kept inside the claim when it is short (most
//! keys are): a claim on the memory store then allocates nothing, where
//! building and freeing a `String` per call was a tenth of its cost.

use std::fmt;

/// Bytes kept inline: a short namespace and a UUID fit, and the claim
/// stays small (it is moved a few times a call).
const INLINE: usize = 46;

/// `namespace:key`, inline when it fits.
///
/// ```
/// use baldur::core::idempotency::ClaimKey;
/// let key = ClaimKey::joined("charge", "order-1");
/// assert_eq!(key.as_str(), "charge:order-1");
/// assert_eq!(key, ClaimKey::from("charge:order-1".to_owned()));
/// ```
#[derive(Clone)]
pub struct ClaimKey(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(String),
}

impl ClaimKey {
    /// `namespace:key`, in one copy of each part.
    pub fn joined(namespace: &str, key: &str) -> Self {
        let len = namespace.len() + 1 + key.len();
        if len > INLINE {
            let mut joined = String::with_capacity(len);
            joined.push_str(namespace);
            joined.push(':');
            joined.push_str(key);
            return Self(Repr::Heap(joined));
        }
        let mut bytes = [0; INLINE];
        bytes[..namespace.len()].copy_from_slice(namespace.as_bytes());
        bytes[namespace.len()] = b':';
        bytes[namespace.len() + 1..len].copy_from_slice(key.as_bytes());
        Self(Repr::Inline {
            len: len as u8,
            bytes,
        })
    }

    /// The key's bytes (UTF-8), without checking them again.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Heap(text) => text.as_bytes(),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Built from whole `&str`s: always UTF-8.
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Heap(text) => text,
        }
    }
}

impl From<String> for ClaimKey {
    fn from(key: String) -> Self {
        Self(Repr::Heap(key))
    }
}

impl PartialEq for ClaimKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ClaimKey {}

impl fmt::Debug for ClaimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
