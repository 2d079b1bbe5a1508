//! The foundation layer: vocabulary with no driver knowledge, shared by every
//! layer above (rank 0; it imports nothing else of the crate).
//!
//! - [`handle`]: the generation-checked handle and its table (memory bases,
//!   vGPU allocations and the adapter registry all use it).
//! - [`units`]: typed values converted once from raw OS integers
//!   (`SegmentId`, `PageSize`, `Span`, `VfIndex`, `Segment`).
//! - [`fallible`]: allocation that reports failure instead of aborting.
//! - [`le`]: little-endian fields of byte records.
//! - [`sort`]: an in-place sort with a constant stack (no recursion).
//! - [`status`]: the driver's error type and its NTSTATUS mapping.

pub(crate) mod fallible;
pub(crate) mod handle;
pub(crate) mod le;
pub(crate) mod sort;
pub(crate) mod status;
pub(crate) mod units;
