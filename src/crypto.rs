//! Sealing of sensitive values (encrypt-then-MAC with AES-256-CBC and HMAC-SHA256).
//!
//! A sealed blob is `version (1 byte) || IV (16 bytes, fresh from the OS RNG) ||
//! AES-256-CBC/PKCS7 ciphertext (a non-zero multiple of 16 bytes) || HMAC-SHA256 tag (32 bytes)`.
//! Version 1 encrypts the plaintext as it is; version 2 ([`Keys::seal_packed`], when it makes the
//! blob smaller) encrypts the plaintext compressed as raw DEFLATE (RFC 1951). The version byte is
//! under the tag, so a blob cannot be passed off as the other kind.
//! The tag is computed over `version || IV || ciphertext || aad || u64_be(aad.len())`, where
//! `aad` is an associated-data label naming the row and field (e.g. `b"reading:42:question"`),
//! so a blob copied to another row or field does not open. Version and IV have fixed sizes and
//! the aad length is a fixed-size suffix, so the MAC input parses back uniquely. On opening, the
//! tag is verified in constant time (`Mac::verify_slice`) before anything is decrypted.
//!
//! Keys: a 32-byte [`MasterKey`] is either random (kept in a key file by the store) or derived
//! from a passphrase with PBKDF2-HMAC-SHA256 ([`PBKDF2_ROUNDS`] rounds, a random 16-byte salt
//! kept by the caller). HKDF-SHA256 (no salt, info `b"iching v1 enc"` / `b"iching v1 mac"` /
//! `b"iching v1 tag"`) derives separate 32-byte encryption, MAC and tag keys ([`Keys`]). The
//! tag key authenticates values kept in the clear ([`Keys::tag`]: HMAC-SHA256 over
//! `label || u64_be(label.len()) || data`), such as a stored row's plain columns. Key types zeroize on drop and
//! their `Debug` output never shows key bytes.

use aes::Aes256;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use std::cell::RefCell;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Format version written as the first byte of a sealed blob whose plaintext is stored as it is.
pub const SEAL_VERSION: u8 = 1;
/// Format version of a sealed blob whose plaintext is stored compressed (raw DEFLATE).
pub const SEAL_VERSION_DEFLATED: u8 = 2;
/// The DEFLATE level of [`Keys::seal_packed`]: 1 (fastest) to 10. Level 6 makes a reading's
/// JSON about a tenth smaller than level 1 at a few times the cost (BENCHMARKS.md, "A reading's
/// footprint").
const DEFLATE_LEVEL: u8 = 6;
/// Below this many bytes a plaintext is not worth trying to compress.
const DEFLATE_FROM: usize = 96;
/// The most a deflated blob may open to: far beyond anything the store seals (the largest is
/// a request of a few hundred kilobytes), so a blob written by someone holding the key cannot
/// make opening it allocate without bound.
const INFLATED_MAX: usize = 64 << 20;
/// PBKDF2-HMAC-SHA256 iteration count of passphrase stores made before Argon2id (they keep
/// opening; changing their passphrase moves them to Argon2id).
pub const PBKDF2_ROUNDS: u32 = 600_000;

/// Argon2id cost parameters (RFC 9106): memory in KiB, passes, lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory, in KiB.
    pub m_kib: u32,
    /// Passes over the memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Argon2Params {
    /// OWASP's first recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const DEFAULT: Self = Self {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };
}

const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const BLOCK_LEN: usize = 16;
const TAG_LEN: usize = 32;
/// Smallest valid blob: version + IV + one ciphertext block + tag.
const MIN_SEALED_LEN: usize = 1 + IV_LEN + BLOCK_LEN + TAG_LEN;
const INFO_ENC: &[u8] = b"iching v1 enc";
const INFO_MAC: &[u8] = b"iching v1 mac";
const INFO_TAG: &[u8] = b"iching v1 tag";
/// The HKDF label of a sync folder's master key ([`Keys::sync_master`]).
const INFO_SYNC: &[u8] = b"iching v1 sync";
/// The length of a [`Keys::tag`].
pub const TAG_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;
type Aes256CbcEnc = cbc::Encryptor<Aes256>;
type Aes256CbcDec = cbc::Decryptor<Aes256>;

/// Errors from opening a sealed blob. Messages never contain key or plaintext bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Shorter than a version byte, an IV and a MAC.
    #[error("sealed data is too short")]
    TooShort,
    /// A format version this build does not know.
    #[error("unknown sealed data version {0}")]
    UnknownVersion(u8),
    /// The MAC does not match: changed data, a different label, or the wrong key.
    #[error("integrity check failed: the data was changed or the key is wrong")]
    IntegrityCheckFailed,
    /// The plaintext's PKCS#7 padding is wrong (cannot happen once the MAC matched).
    #[error("decrypted data has invalid padding")]
    BadPadding,
    /// A deflated plaintext that does not inflate (cannot happen once the MAC matched).
    #[error("decrypted data does not decompress")]
    BadDeflate,
    /// Opened as text, but the plaintext is not UTF-8.
    #[error("decrypted data is not valid UTF-8")]
    NotUtf8,
}

#[allow(
    clippy::expect_used,
    reason = "without a working OS random source nothing can be sealed safely; there is nothing to recover to"
)]
fn os_random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // Without a working OS RNG nothing can be sealed safely, so this is not recoverable.
    OsRng
        .try_fill_bytes(&mut buf)
        .expect("the operating system random number generator failed");
    buf
}

/// A fresh random 16-byte salt for [`MasterKey::from_passphrase`].
pub fn new_salt() -> [u8; 16] {
    os_random()
}

/// The 32-byte master key. Zeroized on drop; `Debug` is redacted.
pub struct MasterKey([u8; KEY_LEN]);

// By hand rather than through zeroize's derive: the same code without a proc-macro crate to
// build.
impl Zeroize for MasterKey {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for MasterKey {}

impl MasterKey {
    /// A new random key from the OS RNG.
    pub fn generate() -> Self {
        Self(os_random())
    }

    /// The key read from a key file.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes, for writing the key file.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Argon2id (version 0x13) of `passphrase` and `salt` with `params`; `None` when the
    /// parameters are ones Argon2 refuses.
    pub fn from_argon2id(passphrase: &str, salt: &[u8], params: Argon2Params) -> Option<Self> {
        let params = argon2::Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN)).ok()?;
        let mut key = Self([0u8; KEY_LEN]);
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), salt, &mut key.0)
            .ok()?;
        Some(key)
    }

    /// PBKDF2-HMAC-SHA256 with [`PBKDF2_ROUNDS`] rounds.
    pub fn from_passphrase(passphrase: &str, salt: &[u8]) -> Self {
        Self::from_passphrase_with_rounds(passphrase, salt, PBKDF2_ROUNDS)
    }

    /// PBKDF2-HMAC-SHA256 with an explicit round count (tests use few rounds).
    pub fn from_passphrase_with_rounds(passphrase: &str, salt: &[u8], rounds: u32) -> Self {
        let mut key = Self([0u8; KEY_LEN]);
        pbkdf2::pbkdf2_hmac::<Sha256>(passphrase.as_bytes(), salt, rounds, &mut key.0);
        key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(**redacted**)")
    }
}

/// Encryption, MAC and tag keys derived from a [`MasterKey`]. Zeroized on drop; `Debug` is
/// redacted.
pub struct Keys {
    enc: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
    tag: [u8; KEY_LEN],
}

impl Zeroize for Keys {
    fn zeroize(&mut self) {
        self.enc.zeroize();
        self.mac.zeroize();
        self.tag.zeroize();
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Keys {}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(**redacted**)")
    }
}

impl Keys {
    /// HKDF-SHA256 (no salt) with separate info labels for the two keys.
    #[allow(
        clippy::expect_used,
        reason = "32 bytes is far below the HKDF-SHA256 output limit"
    )]
    pub fn derive(master: &MasterKey) -> Self {
        let hk = Hkdf::<Sha256>::new(None, &master.0);
        let mut keys = Self {
            enc: [0u8; KEY_LEN],
            mac: [0u8; KEY_LEN],
            tag: [0u8; KEY_LEN],
        };
        // 32 bytes is far below HKDF-SHA256's 255 * 32 byte limit, so these cannot fail.
        hk.expand(INFO_ENC, &mut keys.enc)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hk.expand(INFO_MAC, &mut keys.mac)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hk.expand(INFO_TAG, &mut keys.tag)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        keys
    }

    /// The master key of a sync folder: HKDF-SHA256 (no salt) of the encryption key with its
    /// own label, `b"iching v1 sync"`, so nothing sealed under it opens in any store. Stores
    /// with the same master key have the same sync master.
    #[allow(
        clippy::expect_used,
        reason = "32 bytes is far below the HKDF-SHA256 output limit"
    )]
    pub fn sync_master(&self) -> MasterKey {
        let mut key = MasterKey([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(None, &self.enc)
            .expand(INFO_SYNC, &mut key.0)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        key
    }

    /// An authentication tag for `data` kept in the clear, bound to `label` (which names what
    /// the data is, e.g. `reading:42:row`): HMAC-SHA256 under the tag key over
    /// `label || u64_be(label.len()) || data`.
    pub fn tag(&self, label: &[u8], data: &[u8]) -> [u8; TAG_BYTES] {
        self.tagger(label, data).finalize().into_bytes().into()
    }

    /// Whether `tag` is [`Keys::tag`] of `label` and `data` (compared in constant time).
    pub fn verify_tag(&self, label: &[u8], data: &[u8], tag: &[u8]) -> bool {
        self.tagger(label, data).verify_slice(tag).is_ok()
    }

    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    fn tagger(&self, label: &[u8], data: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.tag)
            .expect("HMAC accepts keys of any length");
        mac.update(label);
        mac.update(&(label.len() as u64).to_be_bytes());
        mac.update(data);
        mac
    }

    /// Encrypts and authenticates `plaintext`, bound to `aad`, with a fresh random IV.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Sealed {
        self.seal_with_iv(aad, plaintext, os_random())
    }

    /// Like [`Keys::seal`], compressing the plaintext first (version 2) when that makes the
    /// blob smaller; otherwise exactly [`Keys::seal`]. [`Keys::open`] opens either.
    pub fn seal_packed(&self, aad: &[u8], plaintext: &[u8]) -> Sealed {
        self.seal_packed_with_iv(aad, plaintext, os_random())
    }

    /// [`Keys::seal_packed`] with a caller-chosen IV (pinned test vectors only).
    pub(crate) fn seal_packed_with_iv(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        iv: [u8; IV_LEN],
    ) -> Sealed {
        if plaintext.len() >= DEFLATE_FROM
            && let Some(deflated) = deflate(plaintext).map(Zeroizing::new)
            // PKCS#7 always adds 1 to 16 bytes: compare the padded lengths.
            && deflated.len() / BLOCK_LEN < plaintext.len() / BLOCK_LEN
        {
            return self.seal_as(SEAL_VERSION_DEFLATED, aad, &deflated, iv);
        }
        self.seal_as(SEAL_VERSION, aad, plaintext, iv)
    }

    /// Like [`Keys::seal`] with a caller-chosen IV. Only for pinned test vectors: reusing an
    /// IV leaks plaintext equality.
    pub(crate) fn seal_with_iv(&self, aad: &[u8], plaintext: &[u8], iv: [u8; IV_LEN]) -> Sealed {
        self.seal_as(SEAL_VERSION, aad, plaintext, iv)
    }

    /// `version || IV || AES-256-CBC(payload) || tag`.
    fn seal_as(&self, version: u8, aad: &[u8], payload: &[u8], iv: [u8; IV_LEN]) -> Sealed {
        let ciphertext = Aes256CbcEnc::new((&self.enc).into(), (&iv).into())
            .encrypt_padded_vec::<Pkcs7>(payload);
        let mut out = Vec::with_capacity(1 + IV_LEN + ciphertext.len() + TAG_LEN);
        out.push(version);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ciphertext);
        let tag = self.mac_over(&out, aad).finalize().into_bytes();
        out.extend_from_slice(&tag);
        Sealed(out)
    }

    /// Verifies the tag (constant time) and then decrypts. Never panics on any input.
    pub fn open(&self, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        let blob = sealed.as_bytes();
        let &version = blob.first().ok_or(CryptoError::TooShort)?;
        if version != SEAL_VERSION && version != SEAL_VERSION_DEFLATED {
            return Err(CryptoError::UnknownVersion(version));
        }
        if blob.len() < MIN_SEALED_LEN {
            return Err(CryptoError::TooShort);
        }
        let (body, tag) = blob.split_at(blob.len() - TAG_LEN);
        self.mac_over(body, aad)
            .verify_slice(tag)
            .map_err(|_| CryptoError::IntegrityCheckFailed)?;
        let (iv, ciphertext) = body[1..]
            .split_first_chunk::<IV_LEN>()
            .ok_or(CryptoError::TooShort)?;
        let payload = Aes256CbcDec::new((&self.enc).into(), iv.into())
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| CryptoError::BadPadding)?;
        if version == SEAL_VERSION {
            return Ok(payload);
        }
        let payload = Zeroizing::new(payload);
        miniz_oxide::inflate::decompress_to_vec_with_limit(&payload, INFLATED_MAX)
            .map_err(|_| CryptoError::BadDeflate)
    }

    /// [`Keys::open`] and require the plaintext to be UTF-8.
    pub fn open_string(&self, aad: &[u8], sealed: &Sealed) -> Result<String, CryptoError> {
        String::from_utf8(self.open(aad, sealed)?).map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            CryptoError::NotUtf8
        })
    }

    /// HMAC over `body (= version || IV || ciphertext) || aad || u64_be(aad.len())`.
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    fn mac_over(&self, body: &[u8], aad: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.mac)
            .expect("HMAC accepts keys of any length");
        mac.update(body);
        mac.update(aad);
        mac.update(&(aad.len() as u64).to_be_bytes());
        mac
    }
}

thread_local! {
    /// This thread's compressor, reset for each value: making a new one allocates and clears
    /// some 250 KB of tables, which took longer than compressing a section's few hundred bytes
    /// (BENCHMARKS.md, "A reading's footprint at its content").
    static DEFLATER: RefCell<Option<Box<CompressorOxide>>> = const { RefCell::new(None) };
}

/// `input` as raw DEFLATE at [`DEFLATE_LEVEL`]; `None` if the compressor fails (it does not).
fn deflate(mut input: &[u8]) -> Option<Vec<u8>> {
    DEFLATER.with_borrow_mut(|slot| {
        let compressor = slot.get_or_insert_with(|| {
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                i32::from(DEFLATE_LEVEL),
                -15,
                0,
            )))
        });
        compressor.reset();
        let mut out = vec![0; input.len() / 2 + 64];
        let mut at = 0;
        loop {
            let (status, read, written) =
                compress(compressor, input, &mut out[at..], TDEFLFlush::Finish);
            at += written;
            match status {
                TDEFLStatus::Done => {
                    out.truncate(at);
                    return Some(out);
                }
                TDEFLStatus::Okay if read <= input.len() => {
                    input = &input[read..];
                    if out.len() - at < 64 {
                        out.resize(out.len() * 2, 0);
                    }
                }
                _ => return None,
            }
        }
    })
}

/// A sealed blob, as stored. `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// A blob as read from the database.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes to store, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"reading:42:question";

    fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write;
        bytes.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    fn test_master() -> MasterKey {
        MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    fn test_keys() -> Keys {
        Keys::derive(&test_master())
    }

    #[test]
    fn round_trips_all_sizes() {
        let keys = test_keys();
        for len in [0usize, 1, 15, 16, 17, 1024, 16 * 1024] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let sealed = keys.seal(AAD, &pt);
            let padded = (len / BLOCK_LEN + 1) * BLOCK_LEN;
            assert_eq!(sealed.as_bytes().len(), 1 + IV_LEN + padded + TAG_LEN);
            assert_eq!(sealed.as_bytes()[0], SEAL_VERSION);
            assert_eq!(keys.open(AAD, &sealed).unwrap(), pt, "len {len}");
        }
        let text = "乾 ☰ — «Qián», the Creative: ñ, ü, 🐉";
        let sealed = keys.seal(AAD, text.as_bytes());
        assert_eq!(keys.open_string(AAD, &sealed).unwrap(), text);
        let copy = Sealed::from_bytes(sealed.clone().into_bytes());
        assert_eq!(copy, sealed);
        assert_eq!(keys.open_string(AAD, &copy).unwrap(), text);
    }

    #[test]
    fn sealing_twice_differs() {
        let keys = test_keys();
        let (a, b) = (keys.seal(AAD, b"same"), keys.seal(AAD, b"same"));
        assert_ne!(a, b);
        assert_ne!(a.as_bytes()[1..=IV_LEN], b.as_bytes()[1..=IV_LEN]);
    }

    #[test]
    fn every_single_byte_change_fails() {
        let keys = test_keys();
        let sealed = keys.seal(AAD, b"hi");
        assert_eq!(sealed.as_bytes().len(), MIN_SEALED_LEN);
        for i in 0..sealed.as_bytes().len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bytes = sealed.as_bytes().to_vec();
                bytes[i] ^= mask;
                let err = keys.open(AAD, &Sealed::from_bytes(bytes)).unwrap_err();
                let expected = if i == 0 {
                    CryptoError::UnknownVersion(SEAL_VERSION ^ mask)
                } else {
                    CryptoError::IntegrityCheckFailed
                };
                assert_eq!(err, expected, "byte {i} mask {mask:#x}");
            }
        }
    }

    #[test]
    fn truncation_and_extension_fail() {
        let keys = test_keys();
        let sealed = keys.seal(AAD, &[7u8; 40]);
        let bytes = sealed.as_bytes();
        for len in 0..bytes.len() {
            let cut = Sealed::from_bytes(bytes[..len].to_vec());
            assert!(
                keys.open(AAD, &cut).is_err(),
                "prefix of {len} bytes opened"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(
            keys.open(AAD, &Sealed::from_bytes(longer)),
            Err(CryptoError::IntegrityCheckFailed)
        );
    }

    #[test]
    fn other_aad_fails() {
        let keys = test_keys();
        let sealed = keys.seal(AAD, b"what lies ahead?");
        for other in [
            &b"reading:43:question"[..],
            b"reading:42:answer",
            b"reading:42:question ",
            b"reading:4",
            b"",
        ] {
            assert_eq!(
                keys.open(other, &sealed),
                Err(CryptoError::IntegrityCheckFailed)
            );
        }
        assert!(keys.open(AAD, &sealed).is_ok());
    }

    #[test]
    fn wrong_master_key_fails() {
        let sealed = test_keys().seal(AAD, b"secret");
        for master in [MasterKey::generate(), MasterKey::from_bytes([0u8; 32])] {
            let err = Keys::derive(&master).open(AAD, &sealed).unwrap_err();
            assert_eq!(err, CryptoError::IntegrityCheckFailed);
            assert_eq!(
                err.to_string(),
                "integrity check failed: the data was changed or the key is wrong"
            );
        }
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let keys = test_keys();
        let open = |b: &[u8]| keys.open(AAD, &Sealed::from_bytes(b.to_vec()));
        assert_eq!(open(&[]), Err(CryptoError::TooShort));
        assert_eq!(open(&[2]), Err(CryptoError::TooShort));
        assert_eq!(open(&[3]), Err(CryptoError::UnknownVersion(3)));
        assert_eq!(open(&[0; 100]), Err(CryptoError::UnknownVersion(0)));
        assert_eq!(open(&[1; MIN_SEALED_LEN - 1]), Err(CryptoError::TooShort));
        for len in MIN_SEALED_LEN..MIN_SEALED_LEN + 40 {
            let mut junk: Vec<u8> = (0..len).map(|i| (i * 31 + 5) as u8).collect();
            junk[0] = SEAL_VERSION;
            assert_eq!(open(&junk), Err(CryptoError::IntegrityCheckFailed));
        }
        for _ in 0..200 {
            let len = usize::from(os_random::<1>()[0]);
            let mut junk = vec![0u8; len];
            OsRng.try_fill_bytes(&mut junk).unwrap();
            assert!(open(&junk).is_err());
        }
    }

    #[test]
    fn bad_padding_behind_a_valid_tag_is_reported() {
        // Only someone holding the MAC key can get here; still must be an error, not a panic.
        let keys = test_keys();
        let iv = [9u8; IV_LEN];
        let mut block = [0u8; BLOCK_LEN]; // last byte 0: never valid PKCS7
        Aes256CbcEnc::new((&keys.enc).into(), (&iv).into())
            .encrypt_padded::<cbc::cipher::block_padding::NoPadding>(&mut block, BLOCK_LEN)
            .unwrap();
        let mut body = vec![SEAL_VERSION];
        body.extend_from_slice(&iv);
        body.extend_from_slice(&block);
        let tag = keys.mac_over(&body, AAD).finalize().into_bytes();
        body.extend_from_slice(&tag);
        let sealed = Sealed::from_bytes(body);
        assert_eq!(keys.open(AAD, &sealed), Err(CryptoError::BadPadding));
    }

    #[test]
    fn open_string_rejects_non_utf8() {
        let keys = test_keys();
        let sealed = keys.seal(AAD, &[0xff, 0xfe, 0x00]);
        assert_eq!(keys.open_string(AAD, &sealed), Err(CryptoError::NotUtf8));
    }

    #[test]
    fn passphrase_derivation_is_deterministic_and_salted() {
        let (salt_a, salt_b) = (new_salt(), new_salt());
        assert_ne!(salt_a, salt_b);
        let a1 = MasterKey::from_passphrase_with_rounds("hexagram", &salt_a, 10);
        let a2 = MasterKey::from_passphrase_with_rounds("hexagram", &salt_a, 10);
        let b = MasterKey::from_passphrase_with_rounds("hexagram", &salt_b, 10);
        let other_pass = MasterKey::from_passphrase_with_rounds("hexagrams", &salt_a, 10);
        let other_rounds = MasterKey::from_passphrase_with_rounds("hexagram", &salt_a, 11);
        assert_eq!(a1.as_bytes(), a2.as_bytes());
        for other in [&b, &other_pass, &other_rounds] {
            assert_ne!(a1.as_bytes(), other.as_bytes());
        }
        let sealed = Keys::derive(&a1).seal(AAD, b"x");
        assert_eq!(Keys::derive(&a2).open(AAD, &sealed).unwrap(), b"x");
        assert!(Keys::derive(&b).open(AAD, &sealed).is_err());
    }

    // Pinned PBKDF2 outputs, cross-checked with Python's hashlib.pbkdf2_hmac("sha256", ...).
    #[test]
    fn passphrase_pinned_vector() {
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        let mk = MasterKey::from_passphrase_with_rounds("correct horse", &salt, 1000);
        assert_eq!(
            hex(mk.as_bytes()),
            "c914cc4f06cc6e8f46d157e3a1b5aa7abceebb17bb0444cd4c4ac16ca2ae9864"
        );
        let full = MasterKey::from_passphrase("correct horse", &salt);
        assert_eq!(
            hex(full.as_bytes()),
            "96a5904c2e08c8da42305dbcc5d7cf18ead2636d49f59526b606f26696281473"
        );
    }

    // Pinned Argon2id outputs, cross-checked with Python's argon2-cffi 25
    // (argon2.low_level.hash_secret_raw(..., type=Type.ID, version=19, hash_len=32)).
    #[test]
    fn argon2id_pinned_vectors() {
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        let small = Argon2Params {
            m_kib: 64,
            t: 1,
            p: 1,
        };
        let mk = MasterKey::from_argon2id("correct horse", &salt, small).unwrap();
        assert_eq!(
            hex(mk.as_bytes()),
            "25ce5233cc1e4d37e9bca31bfef41710e40446cd1cb575932791c5fd3780bd3c"
        );
        let full = MasterKey::from_argon2id("correct horse", &salt, Argon2Params::DEFAULT).unwrap();
        assert_eq!(
            hex(full.as_bytes()),
            "d00b90c40f918cf889780d7d3a9ec3c2b1719df87dc5e4d4d93ea6163db04e17"
        );
        // Parameters Argon2 refuses are `None`, never a panic.
        for bad in [(0, 1, 1), (64, 0, 1), (64, 1, 0), (7, 1, 1)] {
            let params = Argon2Params {
                m_kib: bad.0,
                t: bad.1,
                p: bad.2,
            };
            assert!(
                MasterKey::from_argon2id("x", &salt, params).is_none(),
                "{bad:?}"
            );
        }
    }

    // Pinned sealed output. Cross-checked independently with Python `cryptography` 48
    // (HKDF-SHA256 salt=None, AES-256-CBC + PKCS7, HMAC-SHA256 over
    // version || IV || ct || aad || u64_be(len(aad))): identical bytes.
    #[test]
    fn pinned_vector() {
        let keys = test_keys();
        let iv: [u8; 16] = std::array::from_fn(|i| 0xa0 + i as u8);
        let pt = "Crossing the great water. 利涉大川";
        let sealed = keys.seal_with_iv(AAD, pt.as_bytes(), iv);
        assert_eq!(
            hex(sealed.as_bytes()),
            "01a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0087500519d42c71aba9252c8f1614ef57\
             dee52a8d761482b097d64e9aa210ad41d158be324e1403d4d825bd39670a904b861a\
             a436983a0ea60c4e2eeb547c2b197c814ddd8ac4ab39ddc508f533bf17"
        );
        assert_eq!(keys.open_string(AAD, &sealed).unwrap(), pt);
    }

    /// A text that compresses: a reading's JSON repeats its keys and much of its wording.
    fn repetitive_text() -> String {
        (1..=40).fold(String::new(), |mut s, n| {
            s.push_str(&format!(
                "{{\"line\": {n}, \"text\": \"Crossing the great water.\"}}, "
            ));
            s
        })
    }

    #[test]
    fn packed_seals_compress_only_where_it_pays() {
        let keys = test_keys();
        let text = repetitive_text();
        let packed = keys.seal_packed(AAD, text.as_bytes());
        assert_eq!(packed.as_bytes()[0], SEAL_VERSION_DEFLATED);
        assert!(packed.as_bytes().len() * 4 < keys.seal(AAD, text.as_bytes()).as_bytes().len());
        assert_eq!(keys.open_string(AAD, &packed).unwrap(), text);
        // Bound to its label like any blob.
        assert_eq!(
            keys.open(b"reading:43:question", &packed),
            Err(CryptoError::IntegrityCheckFailed)
        );
        // Short or random plaintexts are sealed as they are: version 1, byte for byte the size
        // `seal` makes.
        let random: Vec<u8> = (0..4096).map(|_| os_random::<1>()[0]).collect();
        for pt in [&b"short"[..], &random, &[]] {
            let sealed = keys.seal_packed(AAD, pt);
            assert_eq!(sealed.as_bytes()[0], SEAL_VERSION);
            assert_eq!(sealed.as_bytes().len(), keys.seal(AAD, pt).as_bytes().len());
            assert_eq!(keys.open(AAD, &sealed).unwrap(), pt);
        }
    }

    #[test]
    fn one_threads_compressor_serves_value_after_value() {
        // The compressor is reused: each value must come out whole, whatever came before it.
        let keys = test_keys();
        let texts: Vec<String> = (0..6)
            .map(|n| {
                repetitive_text()
                    .repeat(n + 1)
                    .replace("water", &"x".repeat(n))
            })
            .collect();
        let sealed: Vec<Sealed> = texts
            .iter()
            .map(|t| keys.seal_packed(AAD, t.as_bytes()))
            .collect();
        for (text, sealed) in texts.iter().zip(&sealed) {
            assert_eq!(sealed.as_bytes()[0], SEAL_VERSION_DEFLATED);
            assert_eq!(&keys.open_string(AAD, sealed).unwrap(), text);
        }
    }

    #[test]
    fn the_version_byte_is_authenticated() {
        // A deflated blob relabelled as plain (and the reverse) fails its tag.
        let keys = test_keys();
        for (text, from) in [
            (repetitive_text(), SEAL_VERSION_DEFLATED),
            ("plain".to_owned(), SEAL_VERSION),
        ] {
            let mut bytes = keys.seal_packed(AAD, text.as_bytes()).into_bytes();
            assert_eq!(bytes[0], from);
            bytes[0] = SEAL_VERSION + SEAL_VERSION_DEFLATED - from;
            assert_eq!(
                keys.open(AAD, &Sealed::from_bytes(bytes)),
                Err(CryptoError::IntegrityCheckFailed)
            );
        }
    }

    #[test]
    fn a_deflated_blob_that_does_not_inflate_is_an_error() {
        // Only someone holding the keys can make one; still an error, not a panic.
        let keys = test_keys();
        let sealed = keys.seal_as(SEAL_VERSION_DEFLATED, AAD, &[0xff; 40], [3; IV_LEN]);
        assert_eq!(keys.open(AAD, &sealed), Err(CryptoError::BadDeflate));
    }

    // Pinned deflated blob: version 2, then as version 1 with the payload raw DEFLATE (RFC
    // 1951, no zlib header). Cross-checked with Python `cryptography` 48: the tag verifies, and
    // AES-256-CBC decryption under the derived key gives bytes that `zlib.decompress(b, -15)`
    // inflates to the plaintext. (The DEFLATE bytes are miniz_oxide's at level 6; another
    // compressor may write other bytes for the same text, which open all the same.)
    #[test]
    fn pinned_deflated_vector() {
        let keys = test_keys();
        let iv: [u8; 16] = std::array::from_fn(|i| 0xb0 + i as u8);
        let pt = "利涉大川. Crossing the great water. Crossing the great water. Crossing the great \
                  water. Crossing the great water. Crossing the great water.";
        let sealed = keys.seal_packed_with_iv(AAD, pt.as_bytes(), iv);
        assert_eq!(
            hex(sealed.as_bytes()),
            "02b0b1b2b3b4b5b6b7b8b9babbbcbdbebf3cafa899e3a0ae6a8cd307b2b8f50cda91\
             940bd92ab8aec12ec9ba8a9a04e7188eb4c93557cc65f929bcf3a90814fb8c448151\
             4d896a4d8630885dc1b51957cfca6d79691859902c67915d2152f688eaea5de5d21e\
             5450cc2deccd819885ca34"
        );
        assert_eq!(keys.open_string(AAD, &sealed).unwrap(), pt);
        let body = &sealed.as_bytes()[1 + IV_LEN..sealed.as_bytes().len() - TAG_LEN];
        let payload = Aes256CbcDec::new((&keys.enc).into(), (&iv).into())
            .decrypt_padded_vec::<Pkcs7>(body)
            .unwrap();
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec(&payload).unwrap(),
            pt.as_bytes()
        );
    }

    #[test]
    fn tags_bind_label_data_and_key() {
        let keys = test_keys();
        let tag = keys.tag(b"reading:1:row", b"lines=9,8,7,7,6,8");
        assert!(keys.verify_tag(b"reading:1:row", b"lines=9,8,7,7,6,8", &tag));
        // The label/data boundary is fixed by the length suffix: moving bytes across it fails.
        assert!(!keys.verify_tag(b"reading:1:ro", b"wlines=9,8,7,7,6,8", &tag));
        assert!(!keys.verify_tag(b"reading:2:row", b"lines=9,8,7,7,6,8", &tag));
        assert!(!keys.verify_tag(b"reading:1:row", b"lines=9,8,7,7,6,9", &tag));
        assert!(!keys.verify_tag(b"reading:1:row", b"lines=9,8,7,7,6,8", &tag[..31]));
        let other = Keys::derive(&MasterKey::from_bytes([7; 32]));
        assert!(!other.verify_tag(b"reading:1:row", b"lines=9,8,7,7,6,8", &tag));
    }

    #[test]
    fn derived_keys_are_distinct() {
        let master = test_master();
        let keys = Keys::derive(&master);
        assert_ne!(keys.enc, keys.mac);
        assert_ne!(keys.tag, keys.mac);
        assert_ne!(keys.tag, keys.enc);
        assert_ne!(&keys.enc, master.as_bytes());
        assert_ne!(&keys.mac, master.as_bytes());
        assert_ne!(
            MasterKey::generate().as_bytes(),
            MasterKey::generate().as_bytes()
        );
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let master = MasterKey::from_bytes([0xab; 32]);
        let keys = Keys::derive(&master);
        assert_eq!(format!("{master:?}"), "MasterKey(**redacted**)");
        let keys_dbg = format!("{keys:?}");
        assert_eq!(keys_dbg, "Keys(**redacted**)");
        for secret in [master.as_bytes(), &keys.enc, &keys.mac, &keys.tag] {
            for shown in [format!("{master:?}"), keys_dbg.clone()] {
                assert!(!shown.contains(&hex(&secret[..4])));
                assert!(!shown.contains(&format!("{:?}", &secret[..4])[1..10]));
            }
        }
        let sealed = keys.seal(AAD, b"plaintext");
        assert_eq!(format!("{sealed:?}"), "Sealed(65 bytes)");
    }
}
