//! The phases of the start sequence (`sequence.rs`), one method per group of
//! spec steps, each reporting its rules in [`super::rules::RULES`] order.
//! Shared with the Wine fixture through `#[path]`, like its siblings.

use super::rules::abi::{bits, ddi, qai, rec};
use super::rules::bytes::{u16_at, u32_at, u64_at};
use super::rules::status::UNSUCCESSFUL;
use super::rules::*;
use super::sequence::{MAX_NODES, Run, Step, Target, failed};

/// Physical adapter 0, as the 4-byte input of the per-physical-adapter queries.
const ADAPTER_0: [u8; 4] = [0; 4];

/// The rules of [`Run::render_core`] after step 1, skipped without a
/// render core (the later phases skip their own).
const RENDER_CORE_RULES: &[&Rule] = &[
    &MULTI_ENGINE_PREEMPTION,
    &MANDATORY_FEATURES,
    &RENDER_CORE_DDIS,
    &RENDER_UMD_NAME,
    &GPU_MMU,
    &PERF_DATA_AND_VERSION,
];

impl<T: Target + ?Sized> Run<'_, T> {
    /// Whether the render core's rules run; reports `rule` not applicable if not.
    pub(super) fn core(&mut self, rule: &'static Rule) -> Result<bool, super::sequence::Stop> {
        if self.learned.render_core {
            return Ok(true);
        }
        self.not_applicable(rule, format_args!("no render core"))?;
        Ok(false)
    }

    /// 2.2 a-h.
    // Its buffers get a frame of their own (the fixture's kernel image
    // keeps every frame under a page: no stack probes).
    #[inline(never)]
    pub(super) fn initialize(&mut self) -> Step {
        if self.t.slot("DxgkDdiQueryAdapterInfo") {
            self.pass(&QUERY_ADAPTER_INFO, format_args!("present"))?;
        } else {
            self.refuse(
                &QUERY_ADAPTER_INFO,
                None,
                format_args!("DxgkDdiQueryAdapterInfo is NULL"),
            )?;
        }
        self.interrupt_dpc =
            self.t.slot("DxgkDdiInterruptRoutine") && self.t.slot("DxgkDdiDpcRoutine");
        let both = self.interrupt_dpc;
        self.pass(&INTERRUPT_DPC, format_args!("both present: {both}"))?;

        let ddi_version = self.t.ddi_version();
        let size = driver_caps_size(ddi_version);
        let mut caps = [0_u8; abi::caps::SIZE];
        let status = match caps.get_mut(..size) {
            Some(buffer) if size > 0 => self.query(qai::DRIVERCAPS, &[], buffer),
            _ => UNSUCCESSFUL,
        };
        self.caps = caps;
        if failed(status) {
            self.refuse(
                &DRIVER_CAPS,
                Some(status),
                format_args!(
                    "status {status:#x}, {size}-byte buffer for DDI version {ddi_version:#x}"
                ),
            )?;
        } else {
            self.pass(&DRIVER_CAPS, format_args!("{size}-byte buffer"))?;
        }
        let version = self.caps().wddm_version();
        self.judge(
            &WDDM_VERSION,
            wddm_version(version, ddi_version),
            format_args!("WDDMVersion {version:#x}, DDI version {ddi_version:#x}"),
        )?;
        let pre = self.wddm_device_caps;
        let same = if pre == version {
            Ok(())
        } else {
            Err("the two WDDMVersions differ")
        };
        self.judge(
            &WDDM_DEVICE_CAPS_VERSION,
            same,
            format_args!("WDDMDEVICECAPS {pre:#x}, DRIVERCAPS {version:#x}"),
        )?;

        let compute_only = self.caps().compute_only();
        if self.env.compute_accelerator_class {
            let ok = ddi_version < ddi::WDDM3_2_COMPUTE_CLASS || compute_only;
            let check = if ok {
                Ok(())
            } else {
                Err("ComputeAccelerator class without ComputeOnly")
            };
            self.judge(
                &COMPUTE_ACCELERATOR,
                check,
                format_args!("MiscCaps {:#x}", self.caps().misc()),
            )?;
        } else {
            self.not_applicable(
                &COMPUTE_ACCELERATOR,
                format_args!("not a ComputeAccelerator-class device"),
            )?;
        }
        let misc = self.caps().misc();
        let umd_ok =
            self.env.umd_registered || misc & (bits::COMPUTE_ONLY | bits::VIRTUAL_GPU_ONLY) != 0;
        let check = if umd_ok {
            Ok(())
        } else {
            Err("no UMD registered, neither ComputeOnly nor VirtualGpuOnly")
        };
        self.judge(&UMD_NAME, check, format_args!("MiscCaps {misc:#x}"))?;
        self.physical_adapter_caps()
    }

    /// 2.2 h.
    fn physical_adapter_caps(&mut self) -> Step {
        let version = self.caps().wddm_version();
        if version < 0x2000 || self.t.ddi_version() < ddi::WDDM2_PHYSICAL_CAPS {
            self.not_applicable(&PHYSICAL_ADAPTER_CAPS, format_args!("before WDDM 2.0"))?;
            return self.not_applicable(&MULTI_ENGINE_AWARE, format_args!("before WDDM 2.0"));
        }
        let mut out = [0_u8; rec::PHYS_SIZE];
        let status = self.query(qai::PHYSICALADAPTERCAPS, &ADAPTER_0, &mut out);
        if failed(status) {
            self.tolerate(
                &PHYSICAL_ADAPTER_CAPS,
                format_args!("status {status:#x}: defaults used"),
            )?;
            return self.not_applicable(
                &MULTI_ENGINE_AWARE,
                format_args!("skipped: PHYSICALADAPTERCAPS failed"),
            );
        }
        let nodes = u32::from(u16_at(&out, rec::PHYS_NODES));
        let paging = u32::from(u16_at(&out, rec::PHYS_PAGING_NODE));
        let flags = u32_at(&out, rec::PHYS_FLAGS);
        self.physical_paging_node = Some(paging);
        let caps = self.caps();
        let check = if nodes != caps.nodes() {
            Err("NumExecutionNodes differs from NbAsymetricProcessingNodes")
        } else if paging >= nodes {
            Err("PagingNodeIndex is not a node")
        } else if u64_at(&out, rec::PHYS_HANDLE) == 0 {
            Err("DxgkPhysicalAdapterHandle is NULL")
        } else if (flags & bits::PHYSICAL_GPU_MMU != 0) != caps.gpu_mmu()
            || (flags & bits::PHYSICAL_IO_MMU != 0) != caps.io_mmu()
        {
            Err("GpuMmuSupported/IoMmuSupported differ from DRIVERCAPS")
        } else if flags & bits::PHYSICAL_VIRTUAL_COPY_ENGINE != 0
            && u32_at(&out, rec::PHYS_VIRTUAL_COPY_NODE) >= nodes
        {
            Err("VirtualCopyNodeIndex is not a node")
        } else if version < 0x2500 && nodes > 64 {
            Err("more than 64 nodes before WDDM 2.5")
        } else {
            Ok(())
        };
        self.judge(
            &PHYSICAL_ADAPTER_CAPS,
            check,
            format_args!("{nodes} nodes, paging node {paging}, flags {flags:#x}"),
        )?;
        let sched = self.caps().scheduling();
        let check = if sched & bits::MULTI_ENGINE_AWARE != 0 {
            Ok(())
        } else {
            Err("SchedulingCaps.MultiEngineAware is 0")
        };
        self.judge(
            &MULTI_ENGINE_AWARE,
            check,
            format_args!("SchedulingCaps {sched:#x}"),
        )
    }

    /// 2.2 i-p.
    pub(super) fn initialize_tail(&mut self) -> Step {
        let memory = self.caps().memory();
        if memory & bits::IO_MMU_SECURE_MODE != 0 {
            let mut out = [0_u8; 8];
            let status = self.query(qai::FRAMEBUFFERSAVESIZE, &[], &mut out);
            let size = u64_at(&out, 0);
            if failed(status) {
                self.refuse(
                    &FRAME_BUFFER_SAVE_SIZE,
                    Some(status),
                    format_args!("status {status:#x}"),
                )?;
            } else {
                let check = if size.is_multiple_of(4096) {
                    Ok(())
                } else {
                    Err("not a multiple of 4096")
                };
                self.judge(&FRAME_BUFFER_SAVE_SIZE, check, format_args!("{size} bytes"))?;
            }
        } else {
            self.not_applicable(
                &FRAME_BUFFER_SAVE_SIZE,
                format_args!("no IoMmuSecureModeSupported"),
            )?;
        }
        let (version, misc) = (self.caps().wddm_version(), self.caps().misc());
        if version >= 0x2400 {
            let check = if misc & bits::MISC_RESERVED == 0 {
                Ok(())
            } else {
                Err("reserved MiscCaps bits set")
            };
            self.judge(
                &MISC_CAPS_RESERVED,
                check,
                format_args!("MiscCaps {misc:#x}"),
            )?;
        } else {
            self.not_applicable(&MISC_CAPS_RESERVED, format_args!("before WDDM 2.4"))?;
        }
        let check = feature_consistency(self.caps());
        self.judge(
            &FEATURE_CONSISTENCY,
            check,
            format_args!("WDDMVersion {version:#x}"),
        )?;
        let check = {
            let t = &*self.t;
            cap_ddi_couplings(DriverCaps(&self.caps), &|n| t.slot(n))
        };
        self.judge(&CAP_DDI_COUPLINGS, check, format_args!("caps and slots"))?;

        self.initialize_queries()
    }

    /// 2.2 m-p.
    fn initialize_queries(&mut self) -> Step {
        let version = self.caps().wddm_version();
        if version >= 0x3200 && self.t.ddi_version() >= ddi::WDDM3_2_TRACKING {
            let mut out = [0_u8; 4];
            let status = self.query(qai::DIRTYBITTRACKINGCAPS, &[], &mut out);
            if failed(status) {
                self.tolerate(
                    &DIRTY_BIT_TRACKING_CAPS,
                    format_args!("status {status:#x}: no tracking"),
                )?;
            } else {
                self.learned.dirty_caps = u32_at(&out, 0);
                let caps = self.learned.dirty_caps;
                self.pass(&DIRTY_BIT_TRACKING_CAPS, format_args!("{caps:#x}"))?;
            }
        } else {
            self.not_applicable(&DIRTY_BIT_TRACKING_CAPS, format_args!("before WDDM 3.2"))?;
        }
        let mut out = [0_u8; 4];
        let status = self.query(qai::SIXTY_FOUR_BIT_ONLY_CAPS, &[], &mut out);
        if failed(status) {
            self.tolerate(
                &SIXTY_FOUR_BIT_ONLY_CAPS,
                format_args!("status {status:#x}: defaults"),
            )?;
        } else {
            self.pass(
                &SIXTY_FOUR_BIT_ONLY_CAPS,
                format_args!("{:#x}", u32_at(&out, 0)),
            )?;
        }
        if self.caps().compute_only() {
            let check = {
                let t = &*self.t;
                mcdm_ddi_list(DriverCaps(&self.caps), &|n| t.slot(n))
            };
            self.judge(
                &MCDM_DDI_LIST,
                check,
                format_args!("{} DDIs", mcdm_required().count()),
            )?;
        } else {
            self.not_applicable(&MCDM_DDI_LIST, format_args!("not ComputeOnly"))?;
        }
        if self.caps().scheduling() & bits::NATIVE_GPU_FENCE != 0 {
            let mut out = [0_u8; 56];
            let status = self.query(qai::NATIVE_FENCE_CAPS, &[], &mut out);
            if failed(status) {
                self.refuse(
                    &NATIVE_FENCE_CAPS,
                    Some(status),
                    format_args!("status {status:#x}"),
                )?;
            } else {
                self.pass(&NATIVE_FENCE_CAPS, format_args!("answered"))?;
            }
        } else {
            self.not_applicable(&NATIVE_FENCE_CAPS, format_args!("no NativeGpuFence"))?;
        }
        Ok(())
    }

    /// 2.3 steps 1-7.
    pub(super) fn render_core(&mut self) -> Step {
        let set = {
            let t = &*self.t;
            render_ddi_set(DriverCaps(&self.caps), self.interrupt_dpc, &|n| t.slot(n))
        };
        match set {
            Ok(core) => {
                self.learned.render_core = core;
                self.pass(&RENDER_DDI_SET, format_args!("render core: {core}"))?;
            }
            Err(missing) => {
                // Report mode goes on as if the core existed, to see the rest.
                self.learned.render_core = true;
                self.refuse(&RENDER_DDI_SET, None, format_args!("{missing} is NULL"))?;
            }
        }
        if !self.learned.render_core {
            for rule in RENDER_CORE_RULES {
                self.not_applicable(rule, format_args!("no render core"))?;
            }
            return Ok(());
        }
        let (sched, nodes, paging) = (
            self.caps().scheduling(),
            self.caps().nodes(),
            self.caps().paging_node(),
        );
        let aware = sched & bits::MULTI_ENGINE_AWARE != 0;
        let check = if !aware && sched & (bits::PREEMPTION_AWARE | bits::CANCEL_COMMAND_AWARE) != 0
        {
            Err("PreemptionAware/CancelCommandAware without MultiEngineAware")
        } else {
            Ok(())
        };
        // Without MultiEngineAware, Dxgkrnl forces one node; 0 reads as 1 [inf].
        self.learned.nodes = if aware { nodes.max(1) } else { 1 };
        self.learned.paging_node = self.physical_paging_node.unwrap_or(paging);
        self.judge(
            &MULTI_ENGINE_PREEMPTION,
            check,
            format_args!("SchedulingCaps {sched:#x}, {nodes} nodes"),
        )?;
        let check = mandatory_features(self.caps());
        self.judge(
            &MANDATORY_FEATURES,
            check,
            format_args!("PreemptionCaps, SupportPerEngineTDR, MiscCaps"),
        )?;
        let check = self.render_core_ddis();
        self.judge(
            &RENDER_CORE_DDIS,
            check,
            format_args!("GetNodeMetadata, dirty-bit DDIs"),
        )?;
        let misc = self.caps().misc();
        let paravirtual = self.caps().memory() & bits::PARAVIRTUALIZATION != 0;
        let check = if self.env.umd_registered || misc & bits::COMPUTE_ONLY != 0 || paravirtual {
            Ok(())
        } else {
            Err("no UMD, not ComputeOnly, not paravirtualized")
        };
        self.judge(&RENDER_UMD_NAME, check, format_args!("MiscCaps {misc:#x}"))?;
        self.gpu_mmu()?;
        self.perf_data_and_version()
    }

    fn render_core_ddis(&self) -> Check {
        let version = self.caps().wddm_version();
        if version >= 0x1300 && !self.t.slot("DxgkDdiGetNodeMetadata") {
            return Err("DxgkDdiGetNodeMetadata is NULL");
        }
        if version >= 0x3200
            && self.learned.tracking()
            && let Some(missing) = DIRTY_BIT_DDIS.iter().find(|n| !self.t.slot(n))
        {
            return Err(missing);
        }
        Ok(())
    }

    /// 2.3 step 6.
    fn gpu_mmu(&mut self) -> Step {
        if !self.caps().gpu_mmu() {
            return self.not_applicable(&GPU_MMU, format_args!("no GpuMmuSupported"));
        }
        let mut out = [0_u8; rec::MMU_SIZE];
        let status = self.query(qai::GPUMMUCAPS, &ADAPTER_0, &mut out);
        if failed(status) {
            return self.refuse(
                &GPU_MMU,
                None,
                format_args!("GPUMMUCAPS: status {status:#x}"),
            );
        }
        let (va, levels) = (
            u32_at(&out, rec::MMU_VA_BITS),
            u32_at(&out, rec::MMU_LEVELS),
        );
        if !(13..=63).contains(&va) || !(2..=rec::MAX_PAGE_TABLE_LEVEL_COUNT).contains(&levels) {
            return self.refuse(
                &GPU_MMU,
                None,
                format_args!("VirtualAddressBitCount {va}, PageTableLevelCount {levels}"),
            );
        }
        for level in 0..levels {
            // LevelIndex (u16) = level, PhysicalAdapterIndex (u16) = 0.
            let input = level.to_le_bytes();
            let mut desc = [0_u8; rec::LEVEL_DESC_SIZE];
            let status = self.query(qai::PAGETABLELEVELDESC, &input, &mut desc);
            if failed(status) {
                return self.refuse(
                    &GPU_MMU,
                    None,
                    format_args!("PAGETABLELEVELDESC level {level}: status {status:#x}"),
                );
            }
        }
        self.pass(&GPU_MMU, format_args!("{va}-bit VA, {levels} levels"))
    }

    /// 2.3 step 7.
    fn perf_data_and_version(&mut self) -> Step {
        if self.caps().wddm_version() < 0x1300 {
            return self.not_applicable(&PERF_DATA_AND_VERSION, format_args!("before WDDM 1.3"));
        }
        let mut perf = [0_u8; 28];
        let perf_status = self.query(qai::ADAPTERPERFDATA_CAPS, &ADAPTER_0, &mut perf);
        let mut version = [0_u8; 128];
        let version_status = self.query(qai::GPUVERSION, &ADAPTER_0, &mut version);
        let seen =
            format_args!("ADAPTERPERFDATA_CAPS {perf_status:#x}, GPUVERSION {version_status:#x}");
        if failed(perf_status) || failed(version_status) {
            self.tolerate(&PERF_DATA_AND_VERSION, seen)
        } else {
            self.pass(&PERF_DATA_AND_VERSION, seen)
        }
    }

    /// 2.3 steps 8-9.
    // Its buffers get a frame of their own (the fixture's kernel image
    // keeps every frame under a page: no stack probes).
    #[inline(never)]
    pub(super) fn node_checks(&mut self) -> Step {
        if !self.core(&NODE_METADATA)? {
            self.not_applicable(&NODE_FLAGS, format_args!("no render core"))?;
            return self.not_applicable(&MCDM_SUBMISSION, format_args!("no render core"));
        }
        let nodes = self.learned.nodes;
        if usize::try_from(nodes).map_or(true, |n| n > MAX_NODES) {
            // A limit of this stand-in, not of Dxgkrnl.
            self.learned.nodes = 0;
            return self.refuse(
                &NODE_METADATA,
                Some(status::INSUFFICIENT_RESOURCES),
                format_args!("{nodes} nodes: this stand-in handles {MAX_NODES}"),
            );
        }
        let mut failure = None;
        for node in 0..nodes {
            let mut data = [0_u8; rec::NODE_SIZE];
            let status = self.t.node_metadata(node, &mut data);
            if let Some(slot) = usize::try_from(node)
                .ok()
                .and_then(|n| self.node_data.get_mut(n))
            {
                *slot = data;
            }
            if failed(status) && failure.is_none() {
                failure = Some((node, status));
            }
        }
        if let Some((node, status)) = failure {
            self.refuse(
                &NODE_METADATA,
                Some(status),
                format_args!("node {node}: status {status:#x}"),
            )?;
        } else {
            self.pass(&NODE_METADATA, format_args!("{nodes} node(s) answered"))?;
        }
        let count = usize::try_from(nodes).unwrap_or(0);
        let mut check = Ok(());
        for data in self.node_data.iter().take(count) {
            if check.is_ok() {
                check = node_flags(data, self.caps());
            }
        }
        let (engine, flags) = self.node_data.first().map_or((0, 0), |d| {
            (u32_at(d, rec::NODE_ENGINE_TYPE), u32_at(d, rec::NODE_FLAGS))
        });
        self.judge(
            &NODE_FLAGS,
            check,
            format_args!("node 0: engine type {engine}, flags {flags:#x}"),
        )?;
        if !self.caps().compute_only() {
            return self.not_applicable(&MCDM_SUBMISSION, format_args!("not ComputeOnly"));
        }
        let mut check = Ok(());
        for data in self.node_data.iter().take(count) {
            if check.is_ok() {
                let t = &*self.t;
                check = mcdm_submission(data, &|n| t.slot(n));
            }
        }
        self.judge(&MCDM_SUBMISSION, check, format_args!("{nodes} node(s)"))
    }
}
