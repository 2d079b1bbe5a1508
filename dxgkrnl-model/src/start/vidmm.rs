//! The VidMm and paging-process phases of the start sequence
//! (`sequence.rs`): segments (4.1-4.3), HISTORYBUFFERPRECISION (2.3 step 11),
//! the paging process (2.4) and the closing checks of 2.2 (s, t). Shared with
//! the Wine fixture through `#[path]`, like its siblings.

use super::rules::abi::{bits, ddi, qai, rec};
use super::rules::bytes::{put_u32, put_u64, u16_at, u32_at, u64_at};
use super::rules::status::{NOT_IMPLEMENTED, UNSUCCESSFUL};
use super::rules::*;
use super::sequence::{MAX_SEGMENTS, Run, Segment, Step, Target, failed};

/// The token Dxgkrnl passes as its own `hDevice` to CreateDevice.
const KERNEL_DEVICE_TOKEN: u64 = 0x5D5D_0000;
/// Physical adapter 0, as the 4-byte input of the per-physical-adapter queries.
const ADAPTER_0: [u8; 4] = [0; 4];
/// Physical adapter 0, as the 8-byte input of the PBMM count/segment queries.
const ADAPTER_0_PBMM: [u8; 8] = [0; 8];

impl<T: Target + ?Sized> Run<'_, T> {
    /// 4.1: QUERYSEGMENT4 (two calls) and the checks of its answer.
    // Its buffers get a frame of their own (the fixture's kernel image
    // keeps every frame under a page: no stack probes).
    #[inline(never)]
    pub(super) fn segments(&mut self) -> Step {
        if !self.core(&QUERY_SEGMENT4)? {
            for rule in [
                &SEGMENT_COUNT,
                &SEGMENT_DESCRIPTORS,
                &LOCAL_BUDGET,
                &PAGING_BUFFER_SEGMENT,
            ] {
                self.not_applicable(rule, format_args!("no render core"))?;
            }
            return Ok(());
        }
        let mut out = [0_u8; rec::SEG4_OUT_SIZE];
        let status = self.query(qai::QUERYSEGMENT4, &ADAPTER_0, &mut out);
        let count = u32_at(&out, rec::SEG4_NB);
        let mut descriptors = [0_u8; MAX_SEGMENTS * rec::SEG4_STRIDE_GIVEN];
        let mut second = None;
        if !failed(status) && (1..=32).contains(&count) {
            put_u64(
                &mut out,
                rec::SEG4_DESCRIPTORS,
                descriptors.as_mut_ptr().addr() as u64,
            );
            put_u64(&mut out, rec::SEG4_STRIDE, rec::SEG4_STRIDE_GIVEN as u64);
            second = Some(self.query(qai::QUERYSEGMENT4, &ADAPTER_0, &mut out));
        }
        match second {
            _ if failed(status) => self.refuse(
                &QUERY_SEGMENT4,
                Some(status),
                format_args!("first call: status {status:#x}"),
            )?,
            Some(s) if failed(s) => self.refuse(
                &QUERY_SEGMENT4,
                Some(s),
                format_args!("second call: status {s:#x}"),
            )?,
            _ => self.pass(
                &QUERY_SEGMENT4,
                format_args!("NbSegment {count}, stride {}", rec::SEG4_STRIDE_GIVEN),
            )?,
        }
        if !(1..=32).contains(&count) {
            self.refuse(&SEGMENT_COUNT, None, format_args!("NbSegment {count}"))?;
        } else {
            self.pass(&SEGMENT_COUNT, format_args!("NbSegment {count}"))?;
        }
        let n = usize::try_from(count).unwrap_or(0).min(MAX_SEGMENTS);
        if second.is_some_and(|s| !failed(s)) {
            for (i, (dst, src)) in self
                .learned
                .segments
                .iter_mut()
                .zip(descriptors.chunks(rec::SEG4_STRIDE_GIVEN))
                .take(n)
                .enumerate()
            {
                *dst = Segment {
                    id: u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1),
                    flags: u32_at(src, rec::DESC4_FLAGS),
                    size: u64_at(src, rec::DESC4_SIZE),
                    page_size: 0,
                };
            }
            self.learned.segment_count = n;
        }
        self.learned.paging_buffer = (
            u32_at(&out, rec::SEG4_PAGING_SEGMENT),
            u32_at(&out, rec::SEG4_PAGING_SIZE),
        );
        self.learned.paging_private_data = u32_at(&out, rec::SEG4_PAGING_PRIVATE);
        self.segment_checks()
    }

    fn segment_checks(&mut self) -> Step {
        let mut check = Ok(());
        let mut seen = (0, 0, 0);
        for s in self.learned.segments() {
            if check.is_ok() {
                check = segment_descriptor(s.flags, s.size);
                seen = (s.id, s.flags, s.size);
            }
        }
        let (id, flags, size) = seen;
        self.judge(
            &SEGMENT_DESCRIPTORS,
            check,
            format_args!("segment {id}: flags {flags:#x}, {size} bytes"),
        )?;
        let local = self
            .learned
            .segments()
            .iter()
            .any(|s| s.flags & bits::SEGMENT_LOCAL_BUDGET_GROUP != 0);
        let check = if local {
            Ok(())
        } else {
            Err("no LocalBudgetGroup segment")
        };
        let count = self.learned.segment_count;
        self.judge(&LOCAL_BUDGET, check, format_args!("{count} segment(s)"))?;
        let (paging, _) = self.learned.paging_buffer;
        let aperture = self
            .segment(paging)
            .is_some_and(|s| s.flags & bits::SEGMENT_APERTURE != 0);
        let check = if paging == 0 || aperture {
            Ok(())
        } else {
            Err("neither 0 nor an aperture segment")
        };
        self.judge(
            &PAGING_BUFFER_SEGMENT,
            check,
            format_args!("PagingBufferSegmentId {paging}"),
        )
    }

    /// The segment with driver id `id`.
    pub(super) fn segment(&self, id: u32) -> Option<Segment> {
        self.learned.segments().iter().find(|s| s.id == id).copied()
    }

    /// 4.2: the PBMM set, asked when dirty-bit tracking is supported.
    // Its buffers get a frame of their own (the fixture's kernel image
    // keeps every frame under a page: no stack probes).
    #[inline(never)]
    pub(super) fn pbmm(&mut self) -> Step {
        if !self.core(&PBMM_QUERIES)? {
            return self.not_applicable(&PBMM_MATCHES_LEGACY, format_args!("no render core"));
        }
        if !self.learned.tracking() {
            self.not_applicable(
                &PBMM_QUERIES,
                format_args!("no DirtyBitTrackingSupported: LEGACY path"),
            )?;
            return self.not_applicable(&PBMM_MATCHES_LEGACY, format_args!("LEGACY path"));
        }
        let mut info = [0_u8; rec::PAGING_INFO_OUT_SIZE];
        let s42 = self.query(qai::QUERYPAGINGBUFFERINFO, &ADAPTER_0, &mut info);
        let mut count = [0_u8; rec::COUNT_OUT_SIZE];
        let s43 = self.query(qai::QUERYSEGMENTCOUNT, &ADAPTER_0_PBMM, &mut count);
        let segments = u16_at(&count, 0);
        let mut mmu_count = [0_u8; rec::COUNT_OUT_SIZE];
        let s45 = self.query(qai::QUERYMMUCOUNT, &ADAPTER_0_PBMM, &mut mmu_count);
        let mmus = u16_at(&mmu_count, 0);
        let seen = format_args!(
            "42 {s42:#x}, 43 {s43:#x} ({segments} segments), 45 {s45:#x} ({mmus} MMUs)"
        );
        if let Some(&s) = [s42, s43, s45].iter().find(|&&s| failed(s)) {
            self.refuse(&PBMM_QUERIES, Some(s), seen)?;
            return self.not_applicable(&PBMM_MATCHES_LEGACY, format_args!("PBMM queries failed"));
        }
        if !(1..=32).contains(&segments) || !(1..=32).contains(&mmus) {
            self.refuse(&PBMM_QUERIES, Some(UNSUCCESSFUL), seen)?;
            return self.not_applicable(
                &PBMM_MATCHES_LEGACY,
                format_args!("PBMM counts out of range"),
            );
        }
        let mut descriptors = [0_u8; MAX_SEGMENTS * rec::SEG5_DESCRIPTOR_SIZE];
        let mut out5 = [0_u8; rec::SEG5_OUT_SIZE];
        put_u64(&mut out5, 0, descriptors.as_mut_ptr().addr() as u64);
        let s44 = self.query(qai::QUERYSEGMENT5, &ADAPTER_0_PBMM, &mut out5);
        let mut mmu_descriptors = [0_u8; 32 * rec::MMU_DESCRIPTOR_SIZE];
        let mut mmus_out = [0_u8; rec::MMUS_OUT_SIZE];
        put_u64(&mut mmus_out, 0, mmu_descriptors.as_mut_ptr().addr() as u64);
        let s46 = self.query(qai::QUERYMMUS, &[0_u8; 2], &mut mmus_out);
        let seen = format_args!("42/43/45 answered, 44 {s44:#x}, 46 {s46:#x}");
        if let Some(&s) = [s44, s46].iter().find(|&&s| failed(s)) {
            self.refuse(&PBMM_QUERIES, Some(s), seen)?;
            return self.not_applicable(&PBMM_MATCHES_LEGACY, format_args!("PBMM queries failed"));
        }
        self.pass(&PBMM_QUERIES, seen)?;
        let check = self.pbmm_matches(usize::from(segments), &descriptors);
        let legacy = self.learned.segment_count;
        self.judge(
            &PBMM_MATCHES_LEGACY,
            check,
            format_args!("{segments} PBMM segment(s), {legacy} from QUERYSEGMENT4"),
        )
    }

    fn pbmm_matches(&self, count: usize, descriptors: &[u8]) -> Check {
        if count != self.learned.segment_count {
            return Err("segment counts differ");
        }
        let mut local = false;
        for (legacy, d) in self
            .learned
            .segments()
            .iter()
            .zip(descriptors.chunks(rec::SEG5_DESCRIPTOR_SIZE))
        {
            let flags = u32_at(d, rec::DESC5_FLAGS);
            local |= flags & bits::SEGMENT_LOCAL_BUDGET_GROUP != 0;
            if u64_at(d, rec::DESC5_SIZE) != legacy.size {
                return Err("a segment's size differs");
            }
            if (flags ^ legacy.flags) & bits::SEGMENT_APERTURE != 0 {
                return Err("a segment's Aperture flag differs");
            }
        }
        if local {
            Ok(())
        } else {
            Err("no LocalBudgetGroup segment in QUERYSEGMENT5")
        }
    }

    /// 4.3: DIRTYBITTRACKINGSEGMENTCAPS per segment.
    pub(super) fn segment_tracking(&mut self) -> Step {
        if !self.core(&SEGMENT_TRACKING_CAPS)? {
            return Ok(());
        }
        if !self.learned.tracking() {
            return self.not_applicable(
                &SEGMENT_TRACKING_CAPS,
                format_args!("no DirtyBitTrackingSupported"),
            );
        }
        let mut failure: Option<(u32, Option<u32>, &'static str, u32)> = None;
        let mut tracked = 0_u32;
        for i in 0..self.learned.segment_count {
            let Some(id) = self.learned.segments.get(i).map(|s| s.id) else {
                break;
            };
            let mut out = [0_u8; 4];
            let status = self.query(
                qai::DIRTYBITTRACKINGSEGMENTCAPS,
                &id.to_le_bytes(),
                &mut out,
            );
            let page = u32_at(&out, 0);
            let verdict = if status == NOT_IMPLEMENTED {
                Ok(0)
            } else if failed(status) {
                Err((Some(status), "query failed"))
            } else {
                tracking_page_size(page)
                    .map(|()| page)
                    .map_err(|why| (None, why))
            };
            match verdict {
                Ok(page) => {
                    if let Some(s) = self.learned.segments.get_mut(i) {
                        s.page_size = page;
                    }
                    tracked = tracked.saturating_add(u32::from(page != 0));
                }
                Err((driver, why)) if failure.is_none() => failure = Some((id, driver, why, page)),
                Err(_) => {}
            }
        }
        match failure {
            Some((id, driver, why, page)) => self.refuse(
                &SEGMENT_TRACKING_CAPS,
                driver,
                format_args!("segment {id}: {why} (PageSize {page})"),
            ),
            None => self.pass(
                &SEGMENT_TRACKING_CAPS,
                format_args!("{tracked} tracked segment(s)"),
            ),
        }
    }

    /// 2.3 step 11, then the paging process (2.4).
    pub(super) fn history_and_paging(&mut self) -> Step {
        if !self.core(&HISTORY_BUFFER_PRECISION)? {
            for rule in [&SYSTEM_DEVICES, &SYSTEM_CONTEXTS, &PAGING_DMA_POOL] {
                self.not_applicable(rule, format_args!("no render core"))?;
            }
            return Ok(());
        }
        let mut out = [0_u8; 4];
        let status = self.query(qai::HISTORYBUFFERPRECISION, &ADAPTER_0, &mut out);
        let precision = u32_at(&out, 0);
        if failed(status) {
            self.tolerate(
                &HISTORY_BUFFER_PRECISION,
                format_args!("status {status:#x}: tolerated"),
            )?;
        } else {
            self.judge(
                &HISTORY_BUFFER_PRECISION,
                history_precision(precision),
                format_args!("{precision} bits"),
            )?;
        }
        self.system_devices()?;
        self.system_contexts()?;
        self.paging_dma_pool()
    }

    /// 2.4 (1): the two system devices.
    fn system_devices(&mut self) -> Step {
        for i in 0..2_u64 {
            let mut args = [0_u8; rec::CREATE_DEVICE_SIZE];
            put_u64(
                &mut args,
                rec::CREATE_DEVICE_HANDLE,
                KERNEL_DEVICE_TOKEN | i,
            );
            put_u32(&mut args, rec::CREATE_DEVICE_FLAGS, bits::SYSTEM_DEVICE);
            let status = self.t.create_device(&mut args);
            let handle = u64_at(&args, rec::CREATE_DEVICE_HANDLE);
            if failed(status) || handle == 0 {
                return self.refuse(
                    &SYSTEM_DEVICES,
                    None,
                    format_args!("system device {i}: status {status:#x}, hDevice {handle:#x}"),
                );
            }
            if let Some(slot) = self.learned.devices.get_mut(self.learned.device_count) {
                *slot = handle;
                self.learned.device_count = self.learned.device_count.saturating_add(1);
            }
        }
        self.pass(&SYSTEM_DEVICES, format_args!("2 system devices"))
    }

    /// One system context on `device` for `node`: its handle and DMA segment set.
    fn system_context(&mut self, device: u64, node: u32) -> Result<(u64, u32), u32> {
        let mut args = [0_u8; rec::CREATE_CONTEXT_SIZE];
        put_u64(
            &mut args,
            rec::CREATE_CONTEXT_HANDLE,
            KERNEL_DEVICE_TOKEN | 0x100 | u64::from(node),
        );
        put_u32(&mut args, rec::CREATE_CONTEXT_NODE, node);
        put_u32(&mut args, rec::CREATE_CONTEXT_AFFINITY, 1);
        let va = if self.caps().gpu_mmu() {
            bits::CONTEXT_VIRTUAL_ADDRESSING
        } else {
            0
        };
        put_u32(
            &mut args,
            rec::CREATE_CONTEXT_FLAGS,
            bits::SYSTEM_CONTEXT | va,
        );
        let status = self.t.create_context(device, &mut args);
        let handle = u64_at(&args, rec::CREATE_CONTEXT_HANDLE);
        if failed(status) || handle == 0 {
            return Err(status);
        }
        if let Some(slot) = self.learned.contexts.get_mut(self.learned.context_count) {
            *slot = handle;
            self.learned.context_count = self.learned.context_count.saturating_add(1);
        }
        Ok((handle, u32_at(&args, rec::CREATE_CONTEXT_DMA_SEGMENT_SET)))
    }

    /// 2.4 (1): a system context per node on the first system device, then
    /// the paging context on the paging node of the second [inf: which
    /// device holds it].
    fn system_contexts(&mut self) -> Step {
        let (Some(&first), Some(&second), 2) = (
            self.learned.devices.first(),
            self.learned.devices.get(1),
            self.learned.device_count,
        ) else {
            return self.refuse(&SYSTEM_CONTEXTS, None, format_args!("no system devices"));
        };
        for node in 0..self.learned.nodes {
            if let Err(status) = self.system_context(first, node) {
                return self.refuse(
                    &SYSTEM_CONTEXTS,
                    None,
                    format_args!("node {node}: status {status:#x}"),
                );
            }
        }
        let paging = self.learned.paging_node;
        match self.system_context(second, paging) {
            Ok((_, set)) => {
                self.paging_segment_set = set;
                let nodes = self.learned.nodes;
                self.pass(&SYSTEM_CONTEXTS, format_args!("{nodes} system context(s), paging context on node {paging}, DmaBufferSegmentSet {set:#x}"))
            }
            Err(status) => self.refuse(
                &SYSTEM_CONTEXTS,
                None,
                format_args!("paging context on node {paging}: status {status:#x}"),
            ),
        }
    }

    /// 2.4 (3): InitDmaPools.
    fn paging_dma_pool(&mut self) -> Step {
        let (segment, size) = self.learned.paging_buffer;
        let set = self.paging_segment_set;
        let holds = segment == 0
            || self
                .segment(segment)
                .is_some_and(|s| s.size >= u64::from(size));
        let names_known = self.learned.segments().iter().fold(0_u64, |m, s| {
            m | 1_u64.checked_shl(s.id.saturating_sub(1)).unwrap_or(0)
        });
        let names_aperture = self
            .learned
            .segments()
            .iter()
            .filter(|s| s.flags & bits::SEGMENT_APERTURE != 0)
            .fold(0_u64, |m, s| {
                m | 1_u64.checked_shl(s.id.saturating_sub(1)).unwrap_or(0)
            });
        let check = if size == 0 {
            Err("PagingBufferSize is 0")
        } else if !holds {
            Err("the paging segment cannot hold PagingBufferSize")
        } else if set == 0 || u64::from(set) & !names_known != 0 {
            Err("the paging context's DmaBufferSegmentSet is 0 or names an unknown segment")
        } else if u64::from(set) & names_aperture == 0 {
            Err("the paging context's DmaBufferSegmentSet names no aperture segment")
        } else {
            Ok(())
        };
        self.judge(&PAGING_DMA_POOL, check, format_args!("PagingBufferSegmentId {segment}, PagingBufferSize {size}, DmaBufferSegmentSet {set:#x}"))
    }

    /// 2.2 s and t, after the cores.
    pub(super) fn closing(&mut self) -> Step {
        let core = self.learned.render_core;
        let check = if core {
            Ok(())
        } else {
            Err("no render core and no display core")
        };
        self.judge(
            &SOME_CORE,
            check,
            format_args!("render core: {core}, display core: false"),
        )?;
        if self.t.ddi_version() >= ddi::WDDM2_0_M2_2_1 {
            let ok = self.t.slot("DxgkDdiCalibrateGpuClock")
                && self.t.slot("DxgkDdiSetStablePowerState");
            let check = if ok { Ok(()) } else { Err("a slot is NULL") };
            self.judge(
                &CLOCK_AND_STABLE_POWER,
                check,
                format_args!("CalibrateGpuClock, SetStablePowerState"),
            )
        } else {
            self.not_applicable(
                &CLOCK_AND_STABLE_POWER,
                format_args!("DDI version below 0x5008"),
            )
        }
    }
}
