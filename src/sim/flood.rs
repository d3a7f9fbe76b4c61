//! Flood mode: deltas as fast as the connection takes them, for throughput
//! benches. Each book cycles through a ring of pre-written deltas (two size
//! changes at existing prices, so any order of them is a valid book); a
//! block of whole WebSocket frames (every book's ring, interleaved) is
//! written once, and each pass over it only patches the sequence numbers and
//! timestamps in place before handing the block to the socket in one write.

use super::market::View;
use super::wire::{BookId, Condition, ServerWriter};
use crate::frame::{Change, Side};
use crate::price::Size;

/// Deltas in one book's ring.
pub(super) const RING: usize = 64;
/// Digits of a millisecond timestamp (until the year 2286).
const TS_WIDTH: usize = 13;

/// One book's ring: each entry is the `changes` array's inside and its changes.
pub(super) struct FloodRing {
    prefix: String,
    pub(super) entries: Vec<(String, Vec<Change>)>,
}

impl FloodRing {
    /// A ring over the top five prices of each side of `view`.
    pub(super) fn new(
        out: &mut ServerWriter,
        id: BookId<'_>,
        view: &View,
        rng: &mut fastrand::Rng,
    ) -> FloodRing {
        let full = out.delta(id, &[], 0, 0, Condition::Healthy, 0);
        let cut = full
            .find("\"changes\":[")
            .map_or(full.len(), |i| i + "\"changes\":[".len());
        let prefix = full[..cut].to_owned();
        let mut entries = Vec::with_capacity(RING);
        for _ in 0..RING {
            let mut changes = Vec::with_capacity(2);
            for (side, levels) in [(Side::Bid, &view.bids), (Side::Ask, &view.asks)] {
                if levels.is_empty() {
                    continue;
                }
                let l = levels[rng.usize(0..levels.len().min(5))];
                changes.push(Change {
                    side,
                    price: l.price,
                    size: Size::from_units(rng.u64(1..=1000) * 50_000_000),
                });
            }
            let text = out.delta(id, &changes, 0, 0, Condition::Healthy, 0);
            let end = text.find("],\"server_seq\"").unwrap_or(text.len());
            entries.push((text[prefix.len()..end].to_owned(), changes));
        }
        FloodRing { prefix, entries }
    }
}

/// Where one frame of the block keeps its patched fields.
pub(super) struct Slot {
    /// Index of the book (in the rings the block was built from).
    pub(super) book: usize,
    /// Ring entry.
    pub(super) entry: usize,
    seq_at: usize,
    ts_at: [usize; 2],
}

/// Whole WebSocket frames, every book's ring interleaved.
pub(super) struct FloodBlock {
    pub(super) bytes: Vec<u8>,
    pub(super) slots: Vec<Slot>,
    width: usize,
}

fn digits(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// Writes `value` into `width` digits at `at` (the caller checked it fits exactly).
fn patch(buf: &mut [u8], at: usize, width: usize, mut value: u64) {
    for b in buf[at..at + width].iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl FloodBlock {
    /// A block for `rings` whose sequence numbers have `width` digits.
    pub(super) fn build(rings: &[&FloodRing], width: usize, stale_after_ms: u64) -> FloodBlock {
        let mut bytes = Vec::new();
        let mut slots = Vec::with_capacity(RING * rings.len());
        let mut payload = String::new();
        for entry in 0..RING {
            for (book, ring) in rings.iter().enumerate() {
                payload.clear();
                payload.push_str(&ring.prefix);
                payload.push_str(&ring.entries[entry].0);
                payload.push_str("],\"server_seq\":");
                let seq_at = payload.len();
                payload.extend(std::iter::repeat_n('1', width));
                payload.push_str(&format!(
                    ",\"book_state\":\"fresh\",\"feed_state\":\"healthy\",\"stale_after_ms\":{stale_after_ms},\"exchange_ts_ms\":"
                ));
                let ts0 = payload.len();
                payload.extend(std::iter::repeat_n('1', TS_WIDTH));
                payload.push_str(",\"ingest_ts_ms\":");
                let ts1 = payload.len();
                payload.extend(std::iter::repeat_n('1', TS_WIDTH));
                payload.push('}');
                // A final, unmasked text frame (RFC 6455 5.2).
                bytes.push(0x81);
                let len = payload.len();
                if len < 126 {
                    bytes.push(len as u8);
                } else if len <= 0xffff {
                    bytes.push(126);
                    bytes.extend_from_slice(&(len as u16).to_be_bytes());
                } else {
                    bytes.push(127);
                    bytes.extend_from_slice(&(len as u64).to_be_bytes());
                }
                let base = bytes.len();
                bytes.extend_from_slice(payload.as_bytes());
                slots.push(Slot {
                    book,
                    entry,
                    seq_at: base + seq_at,
                    ts_at: [base + ts0, base + ts1],
                });
            }
        }
        FloodBlock {
            bytes,
            slots,
            width,
        }
    }

    /// Whether every seq from `first` to `last` fits the block's digits.
    pub(super) fn fits(&self, first: u64, last: u64) -> bool {
        digits(first) == self.width && digits(last) == self.width
    }

    /// The digit count a block needs for `seq`.
    pub(super) fn width_for(seq: u64) -> usize {
        digits(seq)
    }

    /// Sets frame `i`'s sequence number.
    pub(super) fn set_seq(&mut self, i: usize, seq: u64) {
        let at = self.slots[i].seq_at;
        patch(&mut self.bytes, at, self.width, seq);
    }

    /// Sets every frame's timestamps (exchange 3 ms before ingest).
    pub(super) fn set_times(&mut self, ts_ms: u64) {
        if digits(ts_ms) != TS_WIDTH {
            return;
        }
        for s in &self.slots {
            patch(&mut self.bytes, s.ts_at[0], TS_WIDTH, ts_ms - 3);
            patch(&mut self.bytes, s.ts_at[1], TS_WIDTH, ts_ms);
        }
    }

    /// The changes of frame `i`, from its ring.
    pub(super) fn changes<'r>(&self, rings: &[&'r FloodRing], i: usize) -> &'r [Change] {
        let s = &self.slots[i];
        &rings[s.book].entries[s.entry].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, FrameParser, Level, Price};

    #[test]
    fn a_patched_block_is_valid_websocket_frames_of_valid_deltas() {
        let mut out = ServerWriter::default();
        let l = |p: u64| {
            Level::new(
                Price::from_units(p * 1_000_000).unwrap(),
                Size::from_units(100_000_000),
            )
        };
        let view = View {
            bids: vec![l(45), l(44)],
            asks: vec![l(47)],
        };
        let id = BookId {
            parsec_id: "sim:0",
            market_id: "0",
            outcome: "yes",
            token_id: "",
        };
        let ring = FloodRing::new(&mut out, id, &view, &mut fastrand::Rng::with_seed(1));
        let mut block = FloodBlock::build(&[&ring], FloodBlock::width_for(1_000_000_000_123), 5000);
        assert!(block.fits(1_000_000_000_124, 1_000_000_000_124 + RING as u64));
        for i in 0..block.slots.len() {
            block.set_seq(i, 1_000_000_000_124 + i as u64);
        }
        block.set_times(1_763_000_000_000);
        let mut parser = FrameParser::new();
        let (mut at, mut n) = (0, 0);
        while at < block.bytes.len() {
            assert_eq!(block.bytes[at], 0x81);
            let (len, head) = match block.bytes[at + 1] {
                126 => (
                    u16::from_be_bytes([block.bytes[at + 2], block.bytes[at + 3]]) as usize,
                    4,
                ),
                l => (l as usize, 2),
            };
            let payload = &block.bytes[at + head..at + head + len];
            let mut buf = payload.to_vec();
            let Ok(Frame::Delta(d)) = parser.parse(&mut buf) else {
                panic!("{}", String::from_utf8_lossy(payload))
            };
            assert_eq!(d.server_seq, 1_000_000_000_124 + n);
            assert_eq!(d.ingest_ts_ms, Some(1_763_000_000_000));
            assert_eq!(d.changes, block.changes(&[&ring], n as usize));
            at += head + len;
            n += 1;
        }
        assert_eq!(n, RING as u64);
    }

    #[test]
    fn interleaved_books_parse_like_simd_json() {
        let mut out = ServerWriter::default();
        let l = |p: u64| {
            Level::new(
                Price::from_units(p * 1_000_000).unwrap(),
                Size::from_units(100_000_000),
            )
        };
        let view = View {
            bids: vec![l(45), l(44)],
            asks: vec![l(47)],
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let ids = [
            ("sim:0", "0", "yes"),
            ("sim:0", "0", "no"),
            ("sim:1", "1", "yes"),
            ("sim:1", "1", "no"),
        ];
        let rings: Vec<FloodRing> = ids
            .iter()
            .map(|&(p, m, o)| {
                FloodRing::new(
                    &mut out,
                    BookId {
                        parsec_id: p,
                        market_id: m,
                        outcome: o,
                        token_id: "",
                    },
                    &view,
                    &mut rng,
                )
            })
            .collect();
        let refs: Vec<&FloodRing> = rings.iter().collect();
        let mut block = FloodBlock::build(&refs, 13, 5000);
        for i in 0..block.slots.len() {
            block.set_seq(i, 1_000_000_000_124 + i as u64);
        }
        block.set_times(1_763_000_000_000);
        let (mut fast, mut general) = (FrameParser::new(), FrameParser::new());
        let mut at = 0;
        while at < block.bytes.len() {
            let len = u16::from_be_bytes([block.bytes[at + 2], block.bytes[at + 3]]) as usize;
            let payload = &block.bytes[at + 4..at + 4 + len];
            let mut spare = Vec::new();
            let a = format!("{:?}", fast.parse_shared(payload, &mut spare));
            let b = format!("{:?}", general.parse_general(&mut payload.to_vec()));
            assert_eq!(a, b, "{}", String::from_utf8_lossy(payload));
            at += 4 + len;
        }
    }
}
