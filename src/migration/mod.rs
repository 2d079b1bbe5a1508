//! GPU-P live migration, as other crates see it: the saved-state format's
//! public API (the decoder as a library call, the triage event's wire
//! format), defined in the saved-state layer (`crate::savestate`) and
//! re-exported here under its public path.

pub use crate::savestate::triage;
pub use crate::savestate::{BlobKind, DecodeError, inspect, reencode};
