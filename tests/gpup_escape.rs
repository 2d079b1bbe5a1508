//! VirtualGpuDriverEscape, the driver's private vGPU escape, through the C
//! ABI: the framing and LUID checks, aliasing input and output buffers, and
//! the write notification's bounds.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::gpup::*;
use common::*;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, VgpuRequest};
use gpup_miniport::vgpu::escape::*;

const PAGE: u64 = 4096;

fn escape_raw(
    a: &Adapter,
    partition: u32,
    input: &mut [u8],
    output: *mut u8,
    out_size: u32,
) -> (NTSTATUS, u32) {
    let (p, _, _) = ifaces(a);
    let mut args = DXGK_VIRTUALGPUDRIVERESCAPE {
        PartitionId: partition,
        InputBufferSize: input.len() as u32,
        OutputBufferSize: out_size,
        pInputBuffer: input.as_mut_ptr().cast(),
        pOutputBuffer: output.cast(),
    };
    let s = unsafe { (p.DxgkDdiVirtualGpuDriverEscape.unwrap())(p.Context, &raw mut args) };
    (s, args.OutputBufferSize)
}

fn escape_input(luid: LUID, command: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(luid.LowPart.to_le_bytes());
    v.extend(luid.HighPart.to_le_bytes());
    v.extend(command.to_le_bytes());
    v.extend((payload.len() as u32).to_le_bytes());
    v.extend(payload);
    v
}

/// Escapes that must be refused, each named with its status: `good` is a
/// valid QUERY of `v`; `w` is another vGPU.
fn malformed_escapes(
    v: &dxgkrnl_model::VgpuInfo,
    w: &dxgkrnl_model::VgpuInfo,
    good: &[u8],
) -> [(&'static str, Vec<u8>, NTSTATUS); 10] {
    [
        ("LUID only", good[..8].to_vec(), STATUS_INVALID_PARAMETER),
        ("header cut", good[..15].to_vec(), STATUS_INVALID_PARAMETER),
        (
            "another vGPU's LUID",
            escape_input(w.luid, GPUP_VGPU_ESCAPE_QUERY, &[]),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "an unknown LUID",
            escape_input(
                LUID {
                    LowPart: 7,
                    HighPart: 0,
                },
                GPUP_VGPU_ESCAPE_QUERY,
                &[],
            ),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "payload size lies",
            {
                let mut i = good.to_vec();
                i[12] = 4;
                i
            },
            STATUS_INVALID_PARAMETER,
        ),
        (
            "extra bytes",
            {
                let mut i = good.to_vec();
                i.push(0);
                i
            },
            STATUS_INVALID_PARAMETER,
        ),
        (
            "QUERY with a payload",
            escape_input(v.luid, GPUP_VGPU_ESCAPE_QUERY, &[0; 4]),
            STATUS_INVALID_PARAMETER,
        ),
        (
            "unknown command",
            escape_input(v.luid, 77, &[]),
            STATUS_NOT_SUPPORTED,
        ),
        (
            "command 0",
            escape_input(v.luid, 0, &[]),
            STATUS_NOT_SUPPORTED,
        ),
        (
            "too long for any command",
            escape_input(v.luid, 77, &[0; 64]),
            STATUS_INVALID_PARAMETER,
        ),
    ]
}

#[test]
fn escape_refuses_short_input_foreign_luids_unknown_commands_and_short_output() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let w = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let mut out = [0x99u8; 64];
    let o = out.as_mut_ptr();
    let good = escape_input(v.luid, GPUP_VGPU_ESCAPE_QUERY, &[]);
    for (what, mut input, status) in malformed_escapes(&v, &w, &good) {
        let (s, size) = escape_raw(&a, v.partition, &mut input, o, 64);
        assert_eq!(
            (s, size),
            (status, 64),
            "{what}: status, OutputBufferSize unchanged"
        );
        assert_eq!(out, [0x99; 64], "{what}: nothing written");
    }
    let mut input = good.clone();
    // (The reply is 32 bytes since issue 15 dropped the VM-bus handle and
    // the segment offset; it was 48.)
    assert_eq!(
        escape_raw(&a, v.partition, &mut input, o, 31),
        (STATUS_BUFFER_TOO_SMALL, 31)
    );
    assert_eq!(
        escape_raw(&a, v.partition, &mut input, core::ptr::null_mut(), 64),
        (STATUS_BUFFER_TOO_SMALL, 64)
    );
    assert_eq!(out, [0x99; 64]);
    let mut input = good.clone();
    assert_eq!(
        escape_raw(&a, 1, &mut input, o, 64),
        (STATUS_INVALID_PARAMETER, 64),
        "the LUID is not partition 1's"
    );
    assert_eq!(
        escape_raw(&a, v.partition, &mut input, o, 64),
        (STATUS_SUCCESS, 32)
    );
    assert_eq!(
        GPUP_VGPU_ESCAPE_INFO::decode(&out[..32])
            .unwrap()
            .PartitionId,
        v.partition
    );
}

#[test]
fn escape_with_the_same_input_and_output_buffer_reads_all_input_first() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let mut buf = [0u8; 64];
    let input = escape_input(v.luid, GPUP_VGPU_ESCAPE_QUERY, &[]);
    buf[..16].copy_from_slice(&input);
    let (p, _, _) = ifaces(&a);
    let mut args = DXGK_VIRTUALGPUDRIVERESCAPE {
        PartitionId: v.partition,
        InputBufferSize: 16,
        OutputBufferSize: 64,
        pInputBuffer: buf.as_mut_ptr().cast(),
        pOutputBuffer: buf.as_mut_ptr().cast(),
    };
    assert_eq!(
        unsafe { (p.DxgkDdiVirtualGpuDriverEscape.unwrap())(p.Context, &raw mut args) },
        STATUS_SUCCESS
    );
    assert_eq!(args.OutputBufferSize, 32, "bytes written");
    let info = GPUP_VGPU_ESCAPE_INFO::decode(&buf[..32]).unwrap();
    assert_eq!(info, a.vgpu_query(&v).unwrap());
    assert_eq!(
        (info.LuidLowPart, info.ReserveSize),
        (v.luid.LowPart, v.reserves[0].size)
    );
}

#[test]
fn escape_write_notify_needs_a_running_vgpu_and_stays_inside_its_reserve() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(MIB)).unwrap();
    let pages = MIB / PAGE;
    let basis = v.reserves[0].basis.unwrap();
    for (offset, len) in [(MIB - 1, 2), (MIB, 1), (u64::MAX, 2), (0, MIB + 1)] {
        assert_eq!(
            a.vf_write_notify(&v, offset, len),
            Err(STATUS_INVALID_PARAMETER),
            "{offset}+{len}"
        );
    }
    assert!(
        set_bits(&query_all(&a, basis, pages, false), pages).is_empty(),
        "nothing marked"
    );
    a.vf_write_notify(&v, MIB - 1, 1).unwrap();
    a.vf_write_notify(&v, 0, 0).unwrap();
    a.vf_write_notify(&v, PAGE - 1, 2).unwrap();
    assert_eq!(
        set_bits(&query_all(&a, basis, pages, true), pages),
        vec![0, 1, pages - 1]
    );
    a.set_vf_power(v.partition, POWER_DEVICE_D3, false).unwrap();
    assert_eq!(
        a.vf_write_notify(&v, 0, 1),
        Err(STATUS_INVALID_DEVICE_STATE),
        "stopped VFs do not write"
    );
    assert!(set_bits(&query_all(&a, basis, pages, false), pages).is_empty());
}
