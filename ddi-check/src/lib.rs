//! `ddi-check`: the driver's DDIs as an operation language ([`ops`]), a
//! reference model of their contract ([`model`]), and a checker that runs
//! operation sequences through the C ABI, via `dxgkrnl-model`, and compares
//! every answer with the model ([`exec`]).
//!
//! Two front ends share it: the property tests (`tests/state_machine.rs`,
//! with the proptest strategies of `strategy`), and the fuzz targets under
//! `../fuzz`, whose bodies live in [`fuzz`] so that their seed corpus also
//! replays as an ordinary test (`tests/fuzz_seeds.rs`).
//!
//! It covers the dirty-tracking DDIs, the GPU-partition and live-migration
//! DDIs ([`ops::VgpuOp`], [`model::vgpu`]), and the VF-facing surface: the
//! SR-IOV and FlexIOV interfaces, SetVirtualGpuVmBus, GetVirtualGpuProfile,
//! QueryInterface and CreateAllocation with any private data
//! ([`ops::VfOp`], [`model::vgpu::vf`]; `docs/proofs.md` has the list), and
//! the software engine: paging buffers built, submitted, preempted and
//! waited for, with every fence, the bytes they wrote and the pages they
//! mark ([`ops::EngineOp`], [`model::engine`]).
//! Extending it to a new DDI: a variant in [`ops::Op`] (or [`ops::VgpuOp`],
//! [`ops::VfOp`]), its contract in
//! [`model::Model`], its call in [`exec::World::run`], a generator in
//! `strategy::op` and a decoder in `fuzz`. Nothing else changes.

// Test tooling: the no-panic rules of the driver crate do not apply here, and
// the model indexes freely (an out-of-bounds index is a bug in the model).
#![allow(clippy::cast_possible_truncation)]

pub mod exec;
pub mod fuzz;
pub mod model;
pub mod ops;
pub mod restore_fuzz;
#[cfg(feature = "proptest")]
pub mod strategy;

pub use exec::{Broken, Stats, World, check_sequence, check_sequence_with};
pub use model::Flaw;
