//! The render core's object DDIs through the C ABI (`docs/contract.md`,
//! "Render objects"): processes, devices, contexts, root page tables and
//! node metadata, each test asserting what the DDI did (objects created and
//! destroyed, handles refused afterwards, the context info and metadata
//! contents), not only its status.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::render::{ContextHandle, DeviceHandle, ProcessHandle};
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, MemorySegment};

/// VRAM as segment 2 (tracked, 4 KiB pages): the aperture is segment 1.
fn vram_at_2() -> AdapterConfig {
    AdapterConfig {
        segments: vec![MemorySegment {
            id: 2,
            size: 64 * MIB,
            page_size: 4096,
        }],
        max_bases: 64,
        partitions: None,
    }
}

fn adapter() -> (Driver, Adapter) {
    started_with(&vram_at_2())
}

#[test]
fn the_start_creates_the_paging_process_with_its_context_info_and_stop_destroys_it() {
    let (_d, mut a) = adapter();
    let p = a.paging_process().cloned().expect("the start's 2.4 phase");
    assert_ne!(p.devices[0], p.devices[1]);
    assert_eq!(p.system_contexts.len(), 1, "one node");
    for c in p.system_contexts.iter().chain([&p.paging_context]) {
        let info = c.info;
        assert_eq!(info.DmaBufferSize, 64 * 1024);
        assert_eq!(info.DmaBufferSegmentSet, 1 << 0, "the aperture, segment 1");
        assert_eq!(info.DmaBufferPrivateDataSize, 0);
        assert_eq!(
            (info.AllocationListSize, info.PatchLocationListSize),
            (0, 0),
            "a GPU-VA context has no allocation or patch list"
        );
    }
    // Handles are the driver's table handles, never addresses: distinct tags.
    let tag = |h: usize| h >> 56;
    assert_eq!(tag(p.devices[0].0), usize::from(b'D'));
    assert_eq!(tag(p.paging_context.handle.0), usize::from(b'X'));
    // A context on a system device is an ordinary driver object: it can be
    // destroyed and created again through the same DDIs.
    let extra = a
        .create_context(p.devices[1], 0, CreateContextFlags::SystemContext)
        .unwrap();
    a.destroy_context(extra.handle).unwrap();
    a.stop().unwrap();
    assert!(a.paging_process().is_none(), "destroyed at stop");
    // Everything is gone: each handle is refused now.
    assert_eq!(
        a.destroy_context(p.paging_context.handle),
        Err(STATUS_INVALID_HANDLE)
    );
    assert_eq!(a.destroy_device(p.devices[0]), Err(STATUS_INVALID_HANDLE));
}

#[test]
fn destroying_a_device_takes_its_contexts_and_ordinary_devices_need_no_process() {
    let (_d, a) = adapter();
    // The GPU-P host's vGPU device: an ordinary device, no flags, no process.
    let d = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    let c1 = a.create_context(d, 0, CreateContextFlags::empty()).unwrap();
    let c2 = a
        .create_context(d, 0, CreateContextFlags::VirtualAddressing)
        .unwrap();
    assert_ne!(c1.handle, c2.handle);
    a.destroy_context(c1.handle).unwrap();
    assert_eq!(a.destroy_context(c1.handle), Err(STATUS_INVALID_HANDLE));
    a.destroy_device(d).unwrap();
    assert_eq!(
        a.destroy_context(c2.handle),
        Err(STATUS_INVALID_HANDLE),
        "the device's remaining context went with it"
    );
    assert_eq!(a.destroy_device(d), Err(STATUS_INVALID_HANDLE));
}

#[test]
fn a_context_on_another_node_or_engine_or_a_forged_device_is_refused() {
    let (_d, a) = adapter();
    let d = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    assert_eq!(
        a.create_context(d, 1, CreateContextFlags::empty()).err(),
        Some(STATUS_INVALID_PARAMETER),
        "node 1 does not exist"
    );
    for forged in [0usize, 0x1000, d.0 ^ (1 << 20)] {
        assert_eq!(
            a.create_context(DeviceHandle(forged), 0, CreateContextFlags::empty())
                .err(),
            Some(STATUS_INVALID_PARAMETER),
            "{forged:#x}"
        );
        assert_eq!(
            a.destroy_device(DeviceHandle(forged)),
            Err(STATUS_INVALID_HANDLE)
        );
        assert_eq!(
            a.destroy_context(ContextHandle(forged)),
            Err(STATUS_INVALID_HANDLE)
        );
    }
    let f = a.driver().table().DxgkDdiCreateContext.unwrap();
    let mut args = DXGKARG_CREATECONTEXT::zeroed();
    args.EngineAffinity = 2;
    assert_eq!(
        unsafe { f(core::ptr::without_provenance_mut(d.0), &raw mut args) },
        STATUS_INVALID_PARAMETER,
        "engine 1 of node 0 does not exist"
    );
    assert!(args.hContext.is_null(), "nothing written on error");
    assert_eq!(
        unsafe {
            f(
                core::ptr::without_provenance_mut(d.0),
                core::ptr::null_mut(),
            )
        },
        STATUS_INVALID_PARAMETER
    );
}

#[test]
fn a_device_refuses_a_dead_process_and_handles_of_one_adapter_are_foreign_to_another() {
    let (_d, a) = adapter();
    let (_e, b) = adapter();
    let p = a.create_process(CreateProcessFlags::empty()).unwrap();
    assert_eq!(
        b.create_device(CreateDeviceFlags::empty(), Some(p)).err(),
        Some(STATUS_INVALID_PARAMETER),
        "another adapter's process"
    );
    let d = a
        .create_device(CreateDeviceFlags::SystemDevice, Some(p))
        .unwrap();
    assert_eq!(b.destroy_process(p), Err(STATUS_INVALID_HANDLE));
    a.destroy_process(p).unwrap();
    assert_eq!(
        a.create_device(CreateDeviceFlags::empty(), Some(p)).err(),
        Some(STATUS_INVALID_PARAMETER),
        "a destroyed process"
    );
    assert_eq!(
        a.create_device(CreateDeviceFlags::empty(), Some(ProcessHandle(0x1234)))
            .err(),
        Some(STATUS_INVALID_PARAMETER),
        "a forged process"
    );
    // The device of adapter a lives on, and is destroyed through its own
    // handle alone (it names its adapter).
    a.destroy_device(d).unwrap();
}

#[test]
fn devices_are_bounded_and_refused_with_no_memory_past_the_bound() {
    let (_d, a) = adapter();
    // The start made VidSch's two system devices (spec 2.4): 62 more fit.
    let devices: Vec<_> = (0..62)
        .map(|_| a.create_device(CreateDeviceFlags::empty(), None).unwrap())
        .collect();
    assert_eq!(
        a.create_device(CreateDeviceFlags::empty(), None).err(),
        Some(STATUS_NO_MEMORY)
    );
    a.destroy_device(devices[10]).unwrap();
    let again = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    assert_ne!(again, devices[10], "a slot is reused, never a handle");
}

#[test]
fn devices_and_contexts_end_with_their_adapter() {
    let driver = Driver::load().unwrap();
    let mut a = driver.start_adapter(&vram_at_2()).unwrap();
    let d = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    let c = a.create_context(d, 0, CreateContextFlags::empty()).unwrap();
    a.stop().unwrap();
    assert_eq!(a.destroy_context(c.handle), Err(STATUS_INVALID_HANDLE));
    assert_eq!(a.destroy_device(d), Err(STATUS_INVALID_HANDLE));
    a.start().unwrap();
    assert_eq!(
        a.destroy_device(d),
        Err(STATUS_INVALID_HANDLE),
        "a device of an earlier start"
    );
}

#[test]
fn the_root_page_table_size_follows_the_two_level_geometry() {
    let (_d, a) = adapter();
    assert_eq!(a.root_page_table_size(1, 0).unwrap(), (4096, 512));
    assert_eq!(a.root_page_table_size(512, 0).unwrap(), (4096, 512));
    // The 2-level geometry's root indexes 512 entries (src/mmu.rs, the
    // GPUMMUCAPS answer): more is refused with 0 bytes, nothing written.
    assert_eq!(a.root_page_table_size(513, 0).unwrap(), (0, 513));
    assert_eq!(
        a.root_page_table_size(1, 1).unwrap(),
        (0, 1),
        "physical adapter 1"
    );
    let d = a.create_device(CreateDeviceFlags::empty(), None).unwrap();
    let c = a.create_context(d, 0, CreateContextFlags::empty()).unwrap();
    // Recorded, not walked: a later SetRootPageTable of a destroyed context
    // is ignored (the DDI returns nothing), the live one is accepted.
    a.set_root_page_table(c.handle, 2, 0x20_0000, 512);
    a.destroy_context(c.handle).unwrap();
    a.set_root_page_table(c.handle, 2, 0, 512);
}

#[test]
fn node_zero_is_a_gpu_mmu_3d_node_named_for_task_manager() {
    let (_d, a) = adapter();
    let m = a.node_metadata(0, 0).unwrap();
    let engine = m.EngineType;
    assert_eq!(engine, DXGK_ENGINE_TYPE(DXGK_ENGINE_TYPE_3D));
    let name_units = m.FriendlyName;
    let end = name_units.iter().position(|&u| u == 0).unwrap();
    let name = String::from_utf16(&name_units[..end]).unwrap();
    assert_eq!(name, "GPU-P Software Compute");
    // GpuMmuSupported is what the driver caps report.
    let caps: DXGK_DRIVERCAPS = a.query_adapter_info(DXGKQAITYPE_DRIVERCAPS, &[]).unwrap();
    let gpu_mmu = caps
        .MemoryManagementCaps
        .Value
        .contains(VidMmCaps::GpuMmuSupported);
    assert_eq!(m.GpuMmuSupported != 0, gpu_mmu);
    assert_eq!(m.IoMmuSupported, 0);
    let flags = m.Flags;
    let bits = flags.Value;
    assert_eq!(bits, NodeMetadataFlags::empty());
    for (node, adapter_index) in [(1, 0), (0, 1), (0xFFFF, 0xFFFF)] {
        assert_eq!(
            a.node_metadata(node, adapter_index).err(),
            Some(STATUS_INVALID_PARAMETER),
            "node {node} of physical adapter {adapter_index}"
        );
    }
}
