#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod book;
pub mod capture;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
pub mod encode;
pub mod frame;
#[cfg(feature = "client")]
pub mod latency;
pub mod odds;
pub mod parse;
pub mod price;
pub mod seqlock;
#[cfg(feature = "sim")]
pub mod sim;
pub mod snapshot;
pub mod store;
pub mod sweep;

pub use book::{Book, BookError, Dirty, Ladder, MAX_LEVELS_PER_SIDE};
pub use encode::{FrameWriter, MarketSelector};
pub use frame::{
    ActivityFrame, ActivityKind, BookFrame, Change, ConnectedFrame, DeltaFrame, ErrorFrame,
    FeedState, Frame, Level, Line, MarketRef, OddsFrame, OddsRow, OddsRows, RowAction, Side,
    StreamStatusFrame, TradeSide, WalletActivityFrame, WireBookState,
};
pub use parse::{FrameParser, ParseError, ParserStats, MAX_FRAME_LEN};
pub use price::{Decimal, NumberError, Price, Size, UNITS_PER_ONE};
pub use seqlock::{SeqLock, SeqLockWriter};
pub use snapshot::{BookReader, BookSnapshot, BookState, MAX_DEPTH};
pub use store::{
    Applied, BookKey, BookStore, Counters, ResyncRequest, StoreConfig, StoreError,
    MAX_BOOK_KEY_LEN, MAX_RESYNC_BUFFER,
};
pub use sweep::Sweep;
