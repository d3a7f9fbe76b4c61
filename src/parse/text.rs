//! The parser's one `unsafe` operation: viewing a frame the fast path fully
//! validated as `&str` without validating it a second time.
//!
//! Measured: re-validating the five market strings of a delta with
//! `std::str::from_utf8` cost about 500 instructions of ~1,700 (callgrind);
//! this costs a handful. Everywhere else the crate is safe code.

#![allow(unsafe_code)]

/// Proof that every byte of a buffer was checked to be valid UTF-8.
///
/// Only the fast path's scan constructs it, after it consumed the whole buffer:
/// structural bytes it accepts are ASCII, and every string body was either all
/// ASCII (seen by the word scan) or passed `std::str::from_utf8`.
/// It names the buffer it speaks for (address and length).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validated {
    addr: usize,
    len: usize,
}

impl Validated {
    /// Only for `fast::scan`, once it accepted all of `buf`.
    pub(super) fn new_after_full_scan(buf: &[u8]) -> Validated {
        Validated {
            addr: buf.as_ptr() as usize,
            len: buf.len(),
        }
    }
}

/// The buffer as text, given the scan's proof for this very buffer.
#[inline(always)]
pub(crate) fn as_str(buf: &[u8], proof: Validated) -> &str {
    if buf.as_ptr() as usize != proof.addr || buf.len() != proof.len {
        // Not the buffer the proof was made for: validate the slow way.
        return std::str::from_utf8(buf).unwrap_or("");
    }
    debug_assert!(
        std::str::from_utf8(buf).is_ok(),
        "scan accepted invalid UTF-8"
    );
    // SAFETY: the proof was made by `fast::scan` for this address and length
    // after it consumed every byte as described on `Validated`; the caller held
    // the buffer borrowed from the scan to here (`FrameParser::parse` runs no
    // code between them), so its bytes are the ones that were checked.
    unsafe { std::str::from_utf8_unchecked(buf) }
}
