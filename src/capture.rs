//! Capture files: every raw frame a connection received, with its receive
//! time, for replaying what happened (`wirebook replay`).
//!
//! The format is compact and append-only:
//!
//! ```text
//! header  b"WIREBOOK" (8 bytes), format version (u32, little-endian) = 1
//! record  payload length (u32 LE), receive time in ns since the Unix epoch (u64 LE),
//!         kind (u8: 0 text, 1 binary), payload
//! ```
//!
//! [`CaptureWriter`] hands each record to the file in one `write`, so a crash
//! of the process loses at most the frame being written; [`CaptureReader`]
//! reads a file cut anywhere up to the cut, then reports the truncation.
//!
//! ```
//! use wirebook::capture::{CaptureReader, CaptureWriter, FrameKind};
//! let mut file = Vec::new();
//! let mut w = CaptureWriter::new(&mut file).unwrap();
//! w.write_frame(1_700_000_000_000_000_000, FrameKind::Text, br#"{"type":"heartbeat","ts_ms":1}"#).unwrap();
//! let frames: Vec<_> = CaptureReader::new(&file[..]).unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(frames[0].payload, br#"{"type":"heartbeat","ts_ms":1}"#);
//! ```

use std::io::{self, Read, Write};

/// The file's first eight bytes.
///
/// ```
/// use wirebook::capture::{CaptureWriter, MAGIC};
/// let file = CaptureWriter::new(Vec::new()).unwrap().into_inner().unwrap();
/// assert_eq!(MAGIC, b"WIREBOOK");
/// assert_eq!(&file[..8], MAGIC);
/// ```
pub const MAGIC: &[u8; 8] = b"WIREBOOK";
/// The format version this crate writes and reads.
///
/// ```
/// use wirebook::capture::{CaptureWriter, VERSION};
/// let file = CaptureWriter::new(Vec::new()).unwrap().into_inner().unwrap();
/// assert_eq!(VERSION, 1);
/// assert_eq!(file[8..12], VERSION.to_le_bytes());
/// ```
pub const VERSION: u32 = 1;
/// Bytes of a record's header.
const RECORD_HEADER: usize = 13;
/// Largest payload a record may claim (the parser's limit).
const MAX_PAYLOAD: usize = crate::parse::MAX_FRAME_LEN;

/// Why a capture could not be written or read.
///
/// ```
/// use wirebook::capture::{CaptureError, CaptureReader};
/// let err = CaptureReader::new(&b"WIREBOOK\x02\0\0\0"[..]).unwrap_err();
/// assert!(matches!(err, CaptureError::UnsupportedVersion { found: 2 }));
/// assert_eq!(err.to_string(), "capture format version 2 is not supported (this build reads 1)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading or writing the file failed.
    #[error("capture I/O: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the capture header. Not a capture file.
    #[error("not a wirebook capture (bad header)")]
    BadMagic,
    /// A format version this build does not read. Use the wirebook that wrote it.
    #[error("capture format version {found} is not supported (this build reads {VERSION})")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
    },
    /// The file ends inside a record (a crash while writing, or a cut copy):
    /// every frame before it was read.
    #[error("capture truncated at byte {offset}, after {frames} complete frames")]
    Truncated {
        /// Complete frames before the cut.
        frames: u64,
        /// Where the incomplete record starts.
        offset: u64,
    },
    /// A frame larger than a capture holds (the largest frame the parser
    /// takes) was not written: the file would not read back past it.
    #[error("frame of {len} bytes not captured (at most {max})")]
    FrameTooLarge {
        /// The frame's length.
        len: u64,
        /// The most a record holds.
        max: u64,
    },
    /// A record claims a payload larger than any frame. The file is corrupt from there.
    #[error("corrupt record at byte {offset}: length {len}")]
    Corrupt {
        /// Where the record starts.
        offset: u64,
        /// The length it claims.
        len: u64,
    },
}

/// Text or binary WebSocket message.
///
/// ```
/// use wirebook::capture::{CaptureReader, CaptureWriter, FrameKind};
/// let mut w = CaptureWriter::new(Vec::new()).unwrap();
/// w.write_frame(1, FrameKind::Binary, &[0xff]).unwrap();
/// let file = w.into_inner().unwrap();
/// let frame = CaptureReader::new(&file[..]).unwrap().next().unwrap().unwrap();
/// assert_eq!(frame.kind, FrameKind::Binary);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A text message (all frames of both protocols).
    Text,
    /// A binary message.
    Binary,
}

/// One frame read back from a capture.
///
/// ```
/// use wirebook::capture::{CaptureReader, CaptureWriter, CapturedFrame, FrameKind};
/// let mut w = CaptureWriter::new(Vec::new()).unwrap();
/// w.write_frame(42, FrameKind::Text, b"{}").unwrap();
/// let file = w.into_inner().unwrap();
/// let frame = CaptureReader::new(&file[..]).unwrap().next().unwrap().unwrap();
/// assert_eq!(frame, CapturedFrame { received_ns: 42, kind: FrameKind::Text, payload: b"{}".to_vec() });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Receive time, ns since the Unix epoch.
    pub received_ns: u64,
    /// Text or binary.
    pub kind: FrameKind,
    /// The message, byte for byte.
    pub payload: Vec<u8>,
}

/// Writes a capture: the header at once, then one record per frame.
///
/// ```
/// use wirebook::capture::{CaptureWriter, FrameKind};
/// let mut w = CaptureWriter::new(Vec::new()).unwrap();
/// w.write_frame(7, FrameKind::Text, b"hi").unwrap();
/// let file = w.into_inner().unwrap();
/// assert_eq!(file.len(), 12 + 13 + 2); // file header, record header, payload
/// ```
#[derive(Debug)]
pub struct CaptureWriter<W: Write> {
    out: W,
    record: Vec<u8>,
    frames: u64,
}

impl<W: Write> CaptureWriter<W> {
    /// Starts a capture on `out` (writes the header).
    ///
    /// ```
    /// let mut file = Vec::new();
    /// wirebook::capture::CaptureWriter::new(&mut file).unwrap();
    /// assert_eq!(&file[..8], b"WIREBOOK");
    /// ```
    pub fn new(mut out: W) -> Result<CaptureWriter<W>, CaptureError> {
        let mut header = [0u8; 12];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&VERSION.to_le_bytes());
        out.write_all(&header)?;
        out.flush()?;
        Ok(CaptureWriter {
            out,
            record: Vec::with_capacity(4096),
            frames: 0,
        })
    }

    /// Appends one frame, handing the whole record to the writer in one
    /// `write_all` (no buffering here: a file gets one `write` per frame).
    ///
    /// ```
    /// use wirebook::capture::{CaptureWriter, FrameKind};
    /// let mut file = Vec::new();
    /// let mut w = CaptureWriter::new(&mut file).unwrap();
    /// w.write_frame(5, FrameKind::Binary, b"\x01\x02").unwrap();
    /// assert_eq!(w.frames(), 1);
    /// // A frame larger than any the parser takes is refused, not written.
    /// let huge = vec![b' '; wirebook::parse::MAX_FRAME_LEN + 1];
    /// assert!(w.write_frame(6, FrameKind::Text, &huge).is_err());
    /// assert_eq!(w.frames(), 1);
    /// ```
    pub fn write_frame(
        &mut self,
        received_ns: u64,
        kind: FrameKind,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        // The reader refuses a record past MAX_PAYLOAD (it would be a
        // corrupt length): never write one.
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|_| payload.len() <= MAX_PAYLOAD)
            .ok_or(CaptureError::FrameTooLarge {
                len: payload.len() as u64,
                max: MAX_PAYLOAD as u64,
            })?;
        self.record.clear();
        self.record.extend_from_slice(&len.to_le_bytes());
        self.record.extend_from_slice(&received_ns.to_le_bytes());
        self.record.push(match kind {
            FrameKind::Text => 0,
            FrameKind::Binary => 1,
        });
        self.record.extend_from_slice(payload);
        self.out.write_all(&self.record)?;
        self.frames += 1;
        Ok(())
    }

    /// Frames written so far.
    ///
    /// ```
    /// use wirebook::capture::{CaptureWriter, FrameKind};
    /// let mut w = CaptureWriter::new(Vec::new()).unwrap();
    /// assert_eq!(w.frames(), 0);
    /// w.write_frame(1, FrameKind::Text, b"{}").unwrap();
    /// assert_eq!(w.frames(), 1);
    /// ```
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and returns the writer.
    ///
    /// ```
    /// use wirebook::capture::{CaptureReader, CaptureWriter, FrameKind};
    /// let mut w = CaptureWriter::new(Vec::new()).unwrap();
    /// w.write_frame(1, FrameKind::Text, b"{}").unwrap();
    /// let file: Vec<u8> = w.into_inner().unwrap();
    /// assert_eq!(CaptureReader::new(&file[..]).unwrap().count(), 1);
    /// ```
    pub fn into_inner(mut self) -> Result<W, CaptureError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a capture frame by frame (an iterator of results; after an error it ends).
///
/// ```
/// use wirebook::capture::{CaptureError, CaptureReader, CaptureWriter, FrameKind};
/// let mut w = CaptureWriter::new(Vec::new()).unwrap();
/// w.write_frame(1, FrameKind::Text, b"{}").unwrap();
/// let file = w.into_inner().unwrap();
/// let mut r = CaptureReader::new(&file[..file.len() - 1]).unwrap(); // cut inside the record
/// assert!(matches!(r.next(), Some(Err(CaptureError::Truncated { frames: 0, offset: 12 }))));
/// assert!(r.next().is_none());
/// ```
#[derive(Debug)]
pub struct CaptureReader<R: Read> {
    input: R,
    offset: u64,
    frames: u64,
    done: bool,
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read> CaptureReader<R> {
    /// Checks the header.
    ///
    /// ```
    /// use wirebook::capture::{CaptureError, CaptureReader};
    /// assert!(matches!(CaptureReader::new(&b"NOTACAPTURE!"[..]), Err(CaptureError::BadMagic)));
    /// ```
    pub fn new(mut input: R) -> Result<CaptureReader<R>, CaptureError> {
        let mut header = [0u8; 12];
        if read_full(&mut input, &mut header)? < 12 || &header[..8] != MAGIC {
            return Err(CaptureError::BadMagic);
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version != VERSION {
            return Err(CaptureError::UnsupportedVersion { found: version });
        }
        Ok(CaptureReader {
            input,
            offset: 12,
            frames: 0,
            done: false,
        })
    }

    /// Complete frames read so far.
    ///
    /// ```
    /// use wirebook::capture::{CaptureReader, CaptureWriter, FrameKind};
    /// let mut w = CaptureWriter::new(Vec::new()).unwrap();
    /// w.write_frame(1, FrameKind::Text, b"{}").unwrap();
    /// w.write_frame(2, FrameKind::Text, b"{}").unwrap();
    /// let file = w.into_inner().unwrap();
    /// let mut r = CaptureReader::new(&file[..]).unwrap();
    /// assert!(r.next().is_some());
    /// assert_eq!(r.frames(), 1);
    /// ```
    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn next_frame(&mut self) -> Result<Option<CapturedFrame>, CaptureError> {
        let mut head = [0u8; RECORD_HEADER];
        let got = read_full(&mut self.input, &mut head)?;
        if got == 0 {
            return Ok(None);
        }
        let truncated = CaptureError::Truncated {
            frames: self.frames,
            offset: self.offset,
        };
        if got < RECORD_HEADER {
            return Err(truncated);
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let mut ns = [0u8; 8];
        ns.copy_from_slice(&head[4..12]);
        let kind = match head[12] {
            0 => FrameKind::Text,
            1 => FrameKind::Binary,
            _ => {
                return Err(CaptureError::Corrupt {
                    offset: self.offset,
                    len: len as u64,
                })
            }
        };
        if len > MAX_PAYLOAD {
            return Err(CaptureError::Corrupt {
                offset: self.offset,
                len: len as u64,
            });
        }
        let mut payload = vec![0u8; len];
        if read_full(&mut self.input, &mut payload)? < len {
            return Err(truncated);
        }
        self.offset += (RECORD_HEADER + len) as u64;
        self.frames += 1;
        Ok(Some(CapturedFrame {
            received_ns: u64::from_le_bytes(ns),
            kind,
            payload,
        }))
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<CapturedFrame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_frame() {
            Ok(Some(f)) => Some(Ok(f)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, Vec<CapturedFrame>) {
        let frames: Vec<CapturedFrame> = (0..50u64)
            .map(|i| CapturedFrame {
                received_ns: 1_700_000_000_000_000_000 + i * 1_000,
                kind: if i % 7 == 0 {
                    FrameKind::Binary
                } else {
                    FrameKind::Text
                },
                payload: format!("{{\"type\":\"heartbeat\",\"ts_ms\":{i}}}")
                    .repeat(1 + (i as usize % 5))
                    .into_bytes(),
            })
            .collect();
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        for f in &frames {
            w.write_frame(f.received_ns, f.kind, &f.payload).unwrap();
        }
        (w.into_inner().unwrap(), frames)
    }

    #[test]
    fn a_capture_round_trips_byte_for_byte() {
        let (file, frames) = sample();
        let back: Vec<CapturedFrame> = CaptureReader::new(&file[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, frames);
        // And writing what was read gives the same file.
        let mut again = CaptureWriter::new(Vec::new()).unwrap();
        for f in &back {
            again
                .write_frame(f.received_ns, f.kind, &f.payload)
                .unwrap();
        }
        assert_eq!(again.into_inner().unwrap(), file);
    }

    #[test]
    fn a_capture_cut_anywhere_reads_up_to_the_cut() {
        let (file, frames) = sample();
        for cut in 12..file.len() {
            let mut r = CaptureReader::new(&file[..cut]).unwrap();
            let good: Vec<CapturedFrame> = r.by_ref().map_while(Result::ok).collect();
            assert_eq!(good[..], frames[..good.len()], "cut at {cut}");
            let clean_end = 12
                + frames[..good.len()]
                    .iter()
                    .map(|f| 13 + f.payload.len())
                    .sum::<usize>();
            if clean_end != cut {
                let mut r = CaptureReader::new(&file[..cut]).unwrap();
                let err = r
                    .by_ref()
                    .find_map(Result::err)
                    .expect("the cut is reported");
                assert!(
                    matches!(err, CaptureError::Truncated { frames, offset } if frames == good.len() as u64 && offset == clean_end as u64),
                    "cut at {cut}: {err}"
                );
            }
        }
    }

    #[test]
    fn bad_headers_and_lengths_are_typed_errors() {
        assert!(matches!(
            CaptureReader::new(&b"WIREBOOK\x02\0\0\0"[..]),
            Err(CaptureError::UnsupportedVersion { found: 2 })
        ));
        assert!(matches!(
            CaptureReader::new(&b"WIRE"[..]),
            Err(CaptureError::BadMagic)
        ));
        let mut file = b"WIREBOOK\x01\0\0\0".to_vec();
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        file.extend_from_slice(&[0; 9]);
        let err = CaptureReader::new(&file[..])
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, CaptureError::Corrupt { offset: 12, .. }),
            "{err}"
        );
        assert_eq!(
            CaptureError::Truncated {
                frames: 3,
                offset: 99
            }
            .to_string(),
            "capture truncated at byte 99, after 3 complete frames"
        );
    }
}
