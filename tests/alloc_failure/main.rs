//! Allocation-failure injection: for every DDI that allocates, fail each of
//! its allocations in turn and check that the DDI returns its documented
//! failure, that nothing it touched changed, and that nothing leaked.
//!
//! Its own test binary, because the hook is the process's global allocator:
//! it counts, and fails on request, only the allocations of threads that
//! armed it (thread-local state), so the harness's parallel tests do not
//! disturb each other. A failed allocation returns NULL, which is what the
//! kernel's pool allocator does and what `try_reserve*` turns into an error;
//! any infallible allocation on a driver path would instead abort this test
//! process (`handle_alloc_error`), which is how such a bug shows up here.
//!
//! The armed call is the raw DDI call alone, with its argument blocks and
//! buffers built beforehand: the model's helpers allocate on the host, and an
//! armed thread counts every allocation, the driver's or not.
//!
//! Walked, memory bases and dirty tracking: StartDevice (one and three
//! segments), CreateMemoryBasis (one and five ranges) and StartDirtyTracking
//! (one and five ranges); shown to allocate nothing: AddDevice and
//! RemoveDevice, QueryDirtyBitData, the software backend's mark,
//! StopDirtyTracking, DestroyMemoryBasis (tracked and not), QueryAdapterInfo
//! (caps 39, 40) and StopDevice.
//!
//! Walked, GPU partitioning, vGPU allocations, SR-IOV and live migration:
//! SetGpuPartitionCount (a first count, and a change), CreateVirtualGpu (alone,
//! and beside a running vGPU), CreateAllocation of vGPU reserves (one, and two
//! in one call), SetVirtualGpuResources, SetVirtualGpuResources2 (a reserve
//! scattered over four pieces), DestroyAllocation (of a bound reserve, and
//! after DestroyVirtualGpu), WriteVirtualFunctionConfig,
//! RestoreImmutableMigrationData and RestoreMutableMigrationData, each for a
//! contiguous VF and for a scattered one with a second memory basis. State
//! unchanged means: a failed SetGpuPartitionCount keeps the old count and
//! slots; a failed CreateVirtualGpu writes no output, leaves the slot free
//! and the next CreateVirtualGpu gets what it gets on a fresh adapter (the
//! same reserve request and instance); a failed CreateAllocation writes no
//! entry and keeps no table slot; a failed SetVirtualGpuResources(2) binds
//! nothing (the VF cannot run; the retry binds it where it should, checked
//! by a GPU write landing on the right dirty bit); a failed DestroyAllocation
//! destroys nothing; a failed config write changes no byte of the space; a
//! failed Restore logs no
//! triage event, applies nothing and leaves the target restorable by a
//! retry, after which the target VF's state equals the source's. Shown to
//! allocate nothing: SetGpuPartitionCount to the current count,
//! GetGpuPartitionInfo, GetVirtualGpuProfile, QueryInterface of the three
//! interfaces and their InterfaceReference/Dereference,
//! GetStandardAllocationDriverData, GetVirtualGpuInfo, SetVirtualGpuVmBus,
//! the three VirtualGpuDriverEscape commands, ReadVirtualFunctionConfig and
//! the virtual-PCI probe (GetVendorAndDevice, GetDeviceLocation,
//! QueryProbedBars, QueryVirtualFunctionLuid, the FlexIOV GetMmioRangeCount
//! and GetMmioRanges), SetVirtualFunctionPowerState, ResetVirtualFunction,
//! DestroyVirtualGpu, QueryAdapterInfo (GPUPCAPS, SCATTER_RESERVE),
//! PrepareLiveMigration (source and target), the sizing and the filling call
//! of SaveImmutableMigrationData and SaveMutableMigrationData (contiguous and
//! scattered VF: the blackout path; what they saved restores),
//! SetVirtualFunctionPauseState,
//! WriteVirtualizedInterrupt, EndLiveMigration, and StopDevice with live
//! vGPUs.
//!
//! Walked, the software engine (`engine.rs`): StartDevice with the engine's
//! attach (built-in segments): after each failure the adapter is not started
//! and has no engine; the retried start's engine runs a FILL built by
//! BuildPagingBuffer and submitted with SubmitCommandVirtual to completion,
//! its bytes in VRAM. Shown to allocate nothing: BuildPagingBuffer,
//! SubmitCommandVirtual, PreemptCommand, QueryEngineStatus,
//! QueryDependentEngineGroup, ResetEngine, DpcRoutine, ResetFromTimeout and
//! RestartFromTimeout, and StopDevice with an engine (only the calling thread
//! is armed: the worker's execution is not counted).
//!
//! Walked, the VRAM backing (`src/memory/backing.rs`, through the host
//! export): a byte write, a fill and a copy that each commit one chunk, and
//! the C ABI's write; each failed commit returns `NoMemory` with no chunk
//! committed. Shown to allocate nothing: writes into committed chunks, reads,
//! copies, comparisons. StartDevice's walks above include each segment's
//! chunk table.
//!
//! Run it with `GPUP_TRACE=1` too: the driver's host trace output must not
//! allocate either (it once went through `eprintln!`, which writes into the
//! harness's capture buffer).

// Raw DDI calls with argument blocks built here; each call's soundness is
// the driver's contract under test.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

#[path = "../common/mod.rs"]
mod common;

mod basis;
mod caps;
mod engine;
mod harness;
mod migrate;
mod raw;
mod vgpu;
mod vgpu_walks;
mod vram;

use harness::{report, walk};

#[test]
fn every_allocation_failure_is_reported_with_nothing_changed_or_leaked() {
    let mut walked = Vec::new();
    basis::device_and_basis_creation(&mut walked);
    basis::calls_on_a_tracked_basis(&mut walked);
    vram::commits(&mut walked);
    engine::engine_ddis(&mut walked);
    report("memory bases, dirty tracking and the VRAM backing", &walked);
    let total: u64 = walked.iter().map(|w| w.points).sum();
    assert!(
        total >= 10,
        "the walks reach the driver's allocations ({total})"
    );
}

/// Every partition, SR-IOV, FlexIOV, vGPU-allocation and live-migration
/// DDI that allocates, walked; those that do not, shown to allocate nothing.
#[test]
fn every_vgpu_allocation_failure_is_reported_with_nothing_changed_or_leaked() {
    let mut walked = Vec::new();
    vgpu_walks::partition_interface(&mut walked);
    vgpu_walks::vgpus_and_allocations(&mut walked);
    vgpu_walks::sriov_and_teardown(&mut walked);
    vgpu_walks::migration_preparation(&mut walked);
    vgpu_walks::migration_data_and_end(&mut walked);
    report(
        "partitioning, SR-IOV, vGPU allocations, live migration",
        &walked,
    );
    let total: u64 = walked.iter().map(|w| w.points).sum();
    assert!(
        total >= 20,
        "the walks reach the driver's allocations ({total})"
    );
}

/// The walker itself can fail: a leak, an ignored failure, and a call that
/// does not allocate the second time are each reported.
#[test]
fn the_walk_reports_leaks_and_ignored_failures() {
    let leaky = walk(
        "leaky",
        || (),
        |()| {
            // Keeps its first allocation when the second one fails.
            let mut first: Vec<u8> = Vec::new();
            let mut second: Vec<u8> = Vec::new();
            if first.try_reserve_exact(8).is_err() {
                return false;
            }
            if second.try_reserve_exact(8).is_err() {
                std::mem::forget(first);
                return false;
            }
            true
        },
        |(), ok| if ok { Ok(()) } else { Err("failed".into()) },
        |(), ok| if ok { Err("succeeded".into()) } else { Ok(()) },
    );
    assert!(leaky.err().is_some_and(|e| e.contains("leaked 1")));
    let careless = walk(
        "careless",
        || (),
        |()| {
            let mut v: Vec<u8> = Vec::new();
            // Ignores the failure and reports success.
            let _ = v.try_reserve_exact(8);
            true
        },
        |(), ok| if ok { Ok(()) } else { Err("failed".into()) },
        |(), ok| {
            if ok {
                Err("reported success after a failed allocation".into())
            } else {
                Ok(())
            }
        },
    );
    assert!(
        careless
            .err()
            .is_some_and(|e| e.contains("reported success"))
    );
}
