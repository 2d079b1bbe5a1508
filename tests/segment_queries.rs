//! The segment queries of `DxgkDdiQueryAdapterInfo` through the C ABI
//! (`../shared/spec/adapter-start.md` 4.1-4.5): QUERYSEGMENT4 (two calls,
//! descriptors stepped through by the stride Dxgkrnl passes), the PBMM set
//! 42-46, and DIRTYBITTRACKINGSEGMENTCAPS for the aperture. Every field of
//! every answer is asserted.

// These tests hand the driver raw records holding pointers into their own
// buffers, as Dxgkrnl does: the soundness of each call is the contract
// under test.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::Adapter;

/// The bytes of a record.
fn bytes_of<T: Copy>(value: &T) -> Vec<u8> {
    let p = core::ptr::from_ref(value).cast::<u8>();
    unsafe { core::slice::from_raw_parts(p, size_of::<T>()) }.to_vec()
}

/// A record read from the start of `bytes`.
fn read<T: Copy>(bytes: &[u8]) -> T {
    assert!(bytes.len() >= size_of::<T>());
    unsafe { bytes.as_ptr().cast::<T>().read_unaligned() }
}

const MIB64: u64 = 64 << 20;

/// The segments [`layout`] gives, as VidMm must be told them: (id, size,
/// flags, base), aperture first, the rest one after another.
fn expected() -> Vec<(u32, u64, SegmentFlags, u64)> {
    vec![
        (APERTURE, MIB64, SegmentFlags::Aperture, 0),
        (SEG_4K, 64 * MIB, SegmentFlags::LocalBudgetGroup, MIB64),
        (
            SEG_64K,
            32 * MIB,
            SegmentFlags::LocalBudgetGroup,
            MIB64 + 64 * MIB,
        ),
        (
            SEG_UNTRACKED,
            8 * MIB,
            SegmentFlags::LocalBudgetGroup,
            MIB64 + 96 * MIB,
        ),
    ]
}

/// QUERYSEGMENT4 with `out` as the in/out record, physical adapter `index`.
fn query4(a: &Adapter, index: u32, out: &mut DXGK_QUERYSEGMENTOUT4) -> NTSTATUS {
    let mut raw = bytes_of(out);
    let status =
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYSEGMENT4, &index.to_le_bytes(), &mut raw);
    *out = read(&raw);
    status
}

#[test]
fn querysegment4_counts_first_then_fills_by_the_stride_it_is_given() {
    let (_d, a) = started();
    // First call: no array, the count and the paging-buffer fields.
    let mut out = DXGK_QUERYSEGMENTOUT4::zeroed();
    assert_eq!(query4(&a, 0, &mut out), STATUS_SUCCESS);
    assert_eq!(out.NbSegment, 4);
    assert!(out.pSegmentDescriptor.is_null());
    assert_eq!(out.PagingBufferSegmentId, 1, "the aperture");
    assert_eq!(out.PagingBufferSize, 64 * 1024);
    assert_eq!(
        out.PagingBufferPrivateDataSize, 16,
        "the record naming the buffer"
    );
    assert_eq!(out.SegmentDescriptorStride, 0, "left as Dxgkrnl passed it");
    // Second call, with the 26100 header's stride (96) and the decompiled
    // build's (104): descriptor i at i * stride, the stride's tail zeroed.
    for stride in [96usize, 104, 128] {
        let mut array = vec![0xEEu8; stride * 4 + 16];
        let mut out = DXGK_QUERYSEGMENTOUT4::zeroed();
        out.NbSegment = 4;
        out.pSegmentDescriptor = array.as_mut_ptr();
        out.SegmentDescriptorStride = stride;
        assert_eq!(query4(&a, 0, &mut out), STATUS_SUCCESS, "stride {stride}");
        assert_eq!(
            (
                out.NbSegment,
                out.PagingBufferSegmentId,
                out.PagingBufferSize
            ),
            (4, 1, 65536)
        );
        for (i, (id, size, flags, base)) in expected().into_iter().enumerate() {
            let at = i * stride;
            let d: DXGK_SEGMENTDESCRIPTOR4 = read(&array[at..]);
            assert_eq!(d.Flags.Value, flags, "segment {id}");
            assert_eq!(d.BaseAddress.QuadPart, base as i64, "segment {id}");
            assert_eq!(d.Size as u64, size, "segment {id}");
            assert_eq!(d.CommitLimit as u64, size, "segment {id}");
            assert_eq!(d.SystemMemoryEndAddress, 0);
            assert_eq!(d.CpuHostAperture.PhysicalAddress, 0, "not CPU-visible");
            assert_eq!(d.CpuHostAperture.SizeInPages, 0);
            assert_eq!(
                (d.NumInvalidMemoryRanges, d.NumUEFIFrameBufferRanges),
                (0, 0)
            );
            assert_eq!((d.VprRangeStartOffset, d.VprRangeSize), (0, 0));
            assert_eq!(
                (d.VprAlignment, d.NumVprSupported, d.VprReserveSize),
                (0, 0, 0)
            );
            assert!(
                array[at + size_of::<DXGK_SEGMENTDESCRIPTOR4>()..at + stride]
                    .iter()
                    .all(|&b| b == 0),
                "stride {stride}: the bytes past the record are zeroed"
            );
            assert!(!flags.contains(SegmentFlags::CpuVisible));
        }
        assert!(
            array[stride * 4..].iter().all(|&b| b == 0xEE),
            "stride {stride}: nothing past the last descriptor"
        );
    }
}

#[test]
fn querysegment4_refuses_a_short_stride_a_short_array_and_other_adapters() {
    let (_d, a) = started();
    let mut array = vec![0xEEu8; 104 * 4];
    let mut out = DXGK_QUERYSEGMENTOUT4::zeroed();
    out.NbSegment = 4;
    out.pSegmentDescriptor = array.as_mut_ptr();
    for stride in [0usize, 8, 95] {
        out.SegmentDescriptorStride = stride;
        assert_eq!(
            query4(&a, 0, &mut out),
            STATUS_INVALID_PARAMETER,
            "stride {stride}"
        );
    }
    out.SegmentDescriptorStride = 96;
    out.NbSegment = 3;
    assert_eq!(
        query4(&a, 0, &mut out),
        STATUS_BUFFER_TOO_SMALL,
        "room for 3 of 4"
    );
    assert!(array.iter().all(|&b| b == 0xEE), "nothing written");
    out.NbSegment = 4;
    assert_eq!(
        query4(&a, 1, &mut out),
        STATUS_INVALID_PARAMETER,
        "physical adapter 1"
    );
    assert!(array.iter().all(|&b| b == 0xEE), "nothing written");
    // A short output record, a missing input.
    let mut short = [0u8; 39];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYSEGMENT4, &[0; 4], &mut short),
        STATUS_BUFFER_TOO_SMALL
    );
    let mut whole = [0u8; 40];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYSEGMENT4, &[0; 3], &mut whole),
        STATUS_INVALID_PARAMETER
    );
}

#[test]
fn the_builtin_configuration_is_the_aperture_and_one_tracked_gib() {
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let mut a = driver.add_device().unwrap();
    a.start().unwrap();
    let mut array = vec![0u8; 104 * 2];
    let mut out = DXGK_QUERYSEGMENTOUT4::zeroed();
    out.NbSegment = 2;
    out.pSegmentDescriptor = array.as_mut_ptr();
    out.SegmentDescriptorStride = 104;
    assert_eq!(query4(&a, 0, &mut out), STATUS_SUCCESS);
    let aperture: DXGK_SEGMENTDESCRIPTOR4 = read(&array);
    let vram: DXGK_SEGMENTDESCRIPTOR4 = read(&array[104..]);
    assert_eq!(
        (aperture.Flags.Value, aperture.Size),
        (SegmentFlags::Aperture, 64 << 20)
    );
    assert_eq!(
        (vram.Flags.Value, vram.Size),
        (SegmentFlags::LocalBudgetGroup, 1 << 30)
    );
    let page = |id: u32| {
        a.query_adapter_info::<DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS>(
            DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS,
            &id.to_le_bytes(),
        )
    };
    assert_eq!(page(1).err(), Some(STATUS_NOT_IMPLEMENTED), "the aperture");
    assert_eq!(
        page(2).unwrap().PageSize,
        4096,
        "every local segment tracked"
    );
    assert_eq!(page(3).err(), Some(STATUS_INVALID_PARAMETER), "unknown");
}

#[test]
fn querypagingbufferinfo_writes_its_fields_within_the_size_given() {
    let (_d, a) = started();
    // The 26100 header's 8 bytes.
    let mut out = [0xEEu8; 8];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYPAGINGBUFFERINFO, &[0; 4], &mut out),
        STATUS_SUCCESS
    );
    let info: DXGK_QUERYPAGINGBUFFERINFOOUT = read(&out);
    assert_eq!(
        (info.PagingBufferSize, info.PagingBufferPrivateDataSize),
        (65536, 16)
    );
    // The 16 bytes the decompiled build reads: the same, then zeros.
    let mut out = [0xEEu8; 16 + 4];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYPAGINGBUFFERINFO, &[0; 4], &mut out[..16]),
        STATUS_SUCCESS
    );
    let info: DXGK_QUERYPAGINGBUFFERINFOOUT = read(&out);
    assert_eq!(
        (info.PagingBufferSize, info.PagingBufferPrivateDataSize),
        (65536, 16)
    );
    assert_eq!(out[8..16], [0; 8], "past the known fields: zeros");
    assert_eq!(out[16..], [0xEE; 4], "nothing past OutputDataSize");
    // Too short, another physical adapter, a short input.
    let mut short = [0xEEu8; 7];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYPAGINGBUFFERINFO, &[0; 4], &mut short),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(short, [0xEE; 7]);
    let mut out = [0u8; 8];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYPAGINGBUFFERINFO, &[1, 0, 0, 0], &mut out),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYPAGINGBUFFERINFO, &[0; 3], &mut out),
        STATUS_INVALID_PARAMETER
    );
}

#[test]
fn the_pbmm_set_describes_the_same_segments_and_one_mmu() {
    let (_d, a) = started();
    let count: DXGK_QUERYSEGMENTCOUNTOUT = a
        .query_adapter_info(DXGKQAITYPE_QUERYSEGMENTCOUNT, &[0; 8])
        .unwrap();
    assert_eq!(
        (count.SegmentCount, count.Padding, count.Reserved),
        (4, 0, 0)
    );
    let mmus: DXGK_QUERYMMUCOUNTOUT = a
        .query_adapter_info(DXGKQAITYPE_QUERYMMUCOUNT, &[0; 8])
        .unwrap();
    assert_eq!((mmus.MmuCount, mmus.Padding, mmus.Reserved), (1, 0, 0));

    // QUERYSEGMENT5 into an array of SegmentCount descriptors (and one more,
    // which must stay untouched).
    let mut array = vec![DXGK_SEGMENTDESCRIPTOR5::zeroed(); 5];
    array[4].Size = 0xDEAD;
    let mut out = DXGK_QUERYSEGMENTOUT5::zeroed();
    out.SegmentDescriptors = array.as_mut_ptr();
    let mut raw = bytes_of(&out);
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYSEGMENT5, &[0; 8], &mut raw),
        STATUS_SUCCESS
    );
    for (d, (id, size, flags, base)) in array.iter().zip(expected()) {
        let ty = if id == APERTURE {
            DXGK_SEGMENTTYPE_SYSMEM
        } else {
            DXGK_SEGMENTTYPE_LOCAL
        };
        assert_eq!(d.SegmentType, ty, "segment {id}");
        assert_eq!(d.Flags.Value, flags, "segment {id}");
        assert_eq!(d.BaseAddress.QuadPart, base as i64, "segment {id}");
        assert_eq!(d.Size, size, "segment {id}");
        assert_eq!(d.SlabSize, DXGK_PAGESIZE_4KB);
        assert_eq!(
            (d.SystemMemoryEndAddress, d.CpuHostAperture.PhysicalAddress),
            (0, 0)
        );
        assert_eq!(
            (d.NumInvalidMemoryRanges, d.NumUEFIFrameBufferRanges),
            (0, 0)
        );
    }
    assert_eq!(array[4].Size, 0xDEAD, "nothing past SegmentCount");
    // The same segments as QUERYSEGMENT4 says.
    let mut four = vec![0u8; 96 * 4];
    let mut out4 = DXGK_QUERYSEGMENTOUT4::zeroed();
    out4.NbSegment = 4;
    out4.pSegmentDescriptor = four.as_mut_ptr();
    out4.SegmentDescriptorStride = 96;
    assert_eq!(query4(&a, 0, &mut out4), STATUS_SUCCESS);
    for (i, d5) in array.iter().take(4).enumerate() {
        let d4: DXGK_SEGMENTDESCRIPTOR4 = read(&four[i * 96..]);
        assert_eq!((d4.Flags.Value, d4.Size as u64), (d5.Flags.Value, d5.Size));
        assert_eq!(d4.BaseAddress.QuadPart, d5.BaseAddress.QuadPart);
    }

    // QUERYMMUS: the one MMU, spanning every segment; no display MMU.
    let mut mmu = [DXGK_MMUDESCRIPTOR::zeroed(); 2];
    mmu[1].Size = 0xBEEF;
    let mut out = DXGK_QUERYMMUSOUT::zeroed();
    out.MmuDescriptors = mmu.as_mut_ptr();
    out.DisplayMmuId = 7;
    out.Reserved = [9; 4];
    let mut raw = bytes_of(&out);
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYMMUS, &[0; 2], &mut raw),
        STATUS_SUCCESS
    );
    let out: DXGK_QUERYMMUSOUT = read(&raw);
    assert_eq!(
        (out.DisplayMmuId, out.Reserved0, out.Reserved),
        (0, 0, [0; 4])
    );
    assert_eq!(
        out.MmuDescriptors,
        mmu.as_mut_ptr(),
        "the array pointer kept"
    );
    assert_eq!(mmu[0].Flags.Value, 0);
    assert_eq!(mmu[0].Size, MIB64 + 104 * MIB);
    assert_eq!(mmu[1].Size, 0xBEEF, "one MMU only");
}

#[test]
fn the_pbmm_set_refuses_null_arrays_short_buffers_and_other_adapters() {
    let (_d, a) = started();
    let mut out = [0u8; 32];
    for (ty, input_len, output_len) in [
        (DXGKQAITYPE_QUERYSEGMENTCOUNT, 8, 8),
        (DXGKQAITYPE_QUERYMMUCOUNT, 8, 8),
        (DXGKQAITYPE_QUERYSEGMENT5, 8, 24),
        (DXGKQAITYPE_QUERYMMUS, 2, 32),
    ] {
        let input = vec![0u8; input_len];
        let mut other = input.clone();
        other[0] = 1;
        assert_eq!(
            a.query_adapter_info_raw(ty, &other, &mut out[..output_len]),
            STATUS_INVALID_PARAMETER,
            "{ty:?}: physical adapter 1"
        );
        assert_eq!(
            a.query_adapter_info_raw(ty, &input[..input_len - 1], &mut out[..output_len]),
            STATUS_INVALID_PARAMETER,
            "{ty:?}: short input"
        );
        let mut short = vec![0xEEu8; output_len - 1];
        assert_eq!(
            a.query_adapter_info_raw(ty, &input, &mut short),
            STATUS_BUFFER_TOO_SMALL,
            "{ty:?}: short output"
        );
        assert!(short.iter().all(|&b| b == 0xEE));
    }
    // A NULL descriptor array.
    let mut out = [0u8; 24];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYSEGMENT5, &[0; 8], &mut out),
        STATUS_INVALID_PARAMETER
    );
    let mut out = [0u8; 32];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_QUERYMMUS, &[0; 2], &mut out),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(out, [0; 32], "nothing written");
}

#[test]
fn segment_queries_need_a_started_adapter() {
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let a = driver.add_device().unwrap();
    let mut out = [0u8; 40];
    for ty in [
        DXGKQAITYPE_QUERYSEGMENT4,
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO,
        DXGKQAITYPE_QUERYSEGMENTCOUNT,
        DXGKQAITYPE_QUERYSEGMENT5,
        DXGKQAITYPE_QUERYMMUCOUNT,
        DXGKQAITYPE_QUERYMMUS,
    ] {
        assert_eq!(
            a.query_adapter_info_raw(ty, &[0; 8], &mut out),
            STATUS_INVALID_DEVICE_STATE,
            "{ty:?}"
        );
    }
}

#[test]
fn elsewhere_the_aperture_is_an_untracked_segment() {
    let (_d, a) = started();
    assert!(
        a.create_memory_basis(APERTURE, &[(0, 4096)]).is_none(),
        "no basis in the aperture"
    );
    let basis = tracked(&a, SEG_4K, &[(0, 4 * 4096)]);
    assert_eq!(a.mark_dirty(APERTURE, 0, MIB64), STATUS_SUCCESS);
    assert_eq!(a.mark_dirty(APERTURE, MIB64, 1), STATUS_INVALID_PARAMETER);
    assert_eq!(
        query_all(&a, basis, 4, false),
        vec![0],
        "a mark in the aperture dirties nothing"
    );
    assert_eq!(a.mark_dirty(SEG_4K, 4096, 1), STATUS_SUCCESS);
    assert_eq!(query_all(&a, basis, 4, false), vec![0b10]);
}
