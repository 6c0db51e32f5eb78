//! The blob opener (`iching::crypto::Keys::open` / `open_string`) with a fixed key, the key of the
//! crate's pinned test vector (`MasterKey` bytes 0, 1, .., 31).
//!
//! Input: a mode byte (its value mod 3), an aad length byte (mod 48), the aad, then the payload:
//! - 0, open: the payload is a stored blob, opened as read from the database. Its failure must
//!   be the one its shape calls for; a blob that opens must seal and open again, and no longer
//!   open with any byte changed.
//! - 1, forged: the payload is `version || IV || ciphertext`, and the target appends the tag the
//!   documented format gives (HKDF-SHA256 keys, HMAC-SHA256 over body || aad || u64_be(len)),
//!   computed here with hkdf/hmac directly. So the fuzzer gets past the MAC to the decryption
//!   and the padding check, which must fail cleanly, and the crate's MAC must be the documented
//!   one.
//! - 2, seal: the payload is a plaintext. Sealed then opened, it comes back; one changed byte,
//!   one byte less or more, another aad or another key, and it does not open. Sealed packed
//!   (compressed where it pays, version 2), it comes back too, and is never larger than sealed.
#![no_main]

use std::sync::LazyLock;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use iching::crypto::{CryptoError, Keys, MasterKey, SEAL_VERSION, SEAL_VERSION_DEFLATED, Sealed};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

/// version + IV + one block + tag.
const MIN_LEN: usize = 1 + 16 + 16 + 32;

fn master_bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

static KEYS: LazyLock<Keys> =
    LazyLock::new(|| Keys::derive(&MasterKey::from_bytes(master_bytes())));
static OTHER_KEYS: LazyLock<Keys> =
    LazyLock::new(|| Keys::derive(&MasterKey::from_bytes([0x5a; 32])));
/// The MAC key as the format documents it, derived without the crate.
static MAC_KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut k = [0u8; 32];
    Hkdf::<Sha256>::new(None, &master_bytes())
        .expand(b"iching v1 mac", &mut k)
        .expect("32 bytes is a valid HKDF output");
    k
});

fn tag(body: &[u8], aad: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(&*MAC_KEY).expect("any key length");
    mac.update(body);
    mac.update(aad);
    mac.update(&(aad.len() as u64).to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// `open` and `open_string` agree, and a blob that opens round-trips through `seal`.
fn open_checked(aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sealed = Sealed::from_bytes(blob.to_vec());
    let opened = KEYS.open(aad, &sealed);
    match (&opened, KEYS.open_string(aad, &sealed)) {
        (Ok(b), Ok(s)) => assert_eq!(b, s.as_bytes()),
        (Ok(b), Err(e)) => {
            assert_eq!(e, CryptoError::NotUtf8);
            assert!(std::str::from_utf8(b).is_err());
        }
        (Err(a), Err(b)) => assert_eq!(*a, b),
        (Err(_), Ok(_)) => panic!("open_string opened what open did not"),
    }
    // The structural failures come first, whatever the key.
    match blob.first() {
        None => assert_eq!(opened, Err(CryptoError::TooShort)),
        Some(&v) if v != SEAL_VERSION && v != SEAL_VERSION_DEFLATED => {
            assert_eq!(opened, Err(CryptoError::UnknownVersion(v)));
        }
        Some(_) if blob.len() < MIN_LEN => assert_eq!(opened, Err(CryptoError::TooShort)),
        Some(_) => assert_ne!(opened, Err(CryptoError::TooShort)),
    }
    if let Ok(pt) = &opened {
        let ct_len = blob.len() - MIN_LEN + 16;
        assert!(ct_len.is_multiple_of(16));
        // A deflated blob opens to what its ciphertext inflates to; a plain one to its padding.
        if blob[0] == SEAL_VERSION {
            assert!(pt.len() < ct_len && ct_len - pt.len() <= 16);
        }
        let again = KEYS.seal_packed(aad, pt);
        assert_eq!(KEYS.open(aad, &again).as_ref(), Ok(pt));
        let again = KEYS.seal(aad, pt);
        assert_eq!(KEYS.open(aad, &again).as_ref(), Ok(pt));
        assert!(OTHER_KEYS.open(aad, &sealed).is_err());
    }
    opened
}

fuzz_target!(|input: &[u8]| {
    let [mode, aad_len, rest @ ..] = input else {
        return;
    };
    let (aad, payload) = rest.split_at(usize::from(aad_len % 48).min(rest.len()));
    match mode % 3 {
        0 => {
            if open_checked(aad, payload).is_ok() {
                // A real blob: every single changed byte is caught (short blobs only).
                for i in 0..payload.len().min(256) {
                    let mut bad = payload.to_vec();
                    bad[i] ^= 0x01 << (i % 8);
                    assert!(
                        KEYS.open(aad, &Sealed::from_bytes(bad)).is_err(),
                        "byte {i}"
                    );
                }
            }
        }
        1 => {
            let mut blob = payload.to_vec();
            blob.extend_from_slice(&tag(payload, aad));
            let opened = open_checked(aad, &blob);
            if payload.first() == Some(&SEAL_VERSION) && blob.len() >= MIN_LEN {
                assert_ne!(
                    opened,
                    Err(CryptoError::IntegrityCheckFailed),
                    "the crate's MAC is not the documented one"
                );
                if !(payload.len() - 17).is_multiple_of(16) {
                    assert_eq!(opened, Err(CryptoError::BadPadding));
                }
            }
        }
        _ => {
            let pt = payload;
            let sealed = KEYS.seal(aad, pt);
            let blob = sealed.as_bytes();
            assert_eq!(blob.len(), 1 + 16 + (pt.len() / 16 + 1) * 16 + 32);
            assert_eq!(blob[0], SEAL_VERSION);
            assert_eq!(
                &blob[blob.len() - 32..],
                &tag(&blob[..blob.len() - 32], aad)
            );
            assert_eq!(open_checked(aad, blob).as_deref(), Ok(pt));
            // One changed byte, at a place and with a bit the input chooses.
            let i = (usize::from(*mode / 3) * 7 + pt.len()) % blob.len();
            let mut bad = blob.to_vec();
            bad[i] ^= 1 << (mode % 8);
            assert!(KEYS.open(aad, &Sealed::from_bytes(bad)).is_err());
            assert!(
                KEYS.open(aad, &Sealed::from_bytes(blob[..blob.len() - 1].to_vec()))
                    .is_err()
            );
            let mut longer = blob.to_vec();
            longer.push(0);
            assert!(KEYS.open(aad, &Sealed::from_bytes(longer)).is_err());
            let mut other_aad = aad.to_vec();
            other_aad.push(b'x');
            assert!(KEYS.open(&other_aad, &sealed).is_err());
            assert!(OTHER_KEYS.open(aad, &sealed).is_err());
            let packed = KEYS.seal_packed(aad, pt);
            assert!(packed.as_bytes().len() <= blob.len());
            assert!(matches!(
                packed.as_bytes()[0],
                SEAL_VERSION | SEAL_VERSION_DEFLATED
            ));
            assert_eq!(open_checked(aad, packed.as_bytes()).as_deref(), Ok(pt));
        }
    }
});
