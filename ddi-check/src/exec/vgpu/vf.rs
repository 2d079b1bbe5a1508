//! The calls of [`VfOp`] that concern one VF: the SR-IOV interface's
//! configuration space (read, write with its side effects), reset, probed
//! BARs, ids and location, the unsupported SR-IOV DDIs, the FlexIOV device
//! interface and SetVirtualGpuVmBus, each checked against
//! `crate::model::vgpu::vf`.
//!
//! Checked besides the status: a read returns exactly the model's bytes and
//! writes nothing past `Length`; after every write and reset of a known VF
//! the whole space reads back as the model has it (so a refused write
//! changed nothing and an accepted one changed exactly the writable bits);
//! the VOID DDIs write exactly the model's values (zeros for an unknown
//! VF, nothing for a bad adapter); the FlexIOV answers are the model's and
//! nothing past them is written; nothing is written on failure.

use core::ffi::c_void;

use dxgk_sys::*;

use super::UNTOUCHED;
use crate::exec::{GUARD, World, raw_ptr};
use crate::model::vgpu::vf::CONFIG_SIZE;
use crate::ops::*;

/// The byte failed calls leave.
const MARK: u8 = UNTOUCHED as u8;
/// The 32-bit word failed calls leave.
const MARK32: u32 = UNTOUCHED as u32;
/// The most bytes a config buffer holds (longer `Length`s must be refused
/// before any byte is touched).
const MAX_BUF: usize = 8192;

impl World {
    /// Executes one [`VfOp`]; whether it succeeded.
    pub(in crate::exec) fn vf_op(&mut self, op: &Op, v: &VfOp) -> Result<bool, String> {
        match *v {
            VfOp::ReadConfig {
                adapter,
                vf,
                offset,
                len,
                null_data,
            } => self.read_config(op, adapter, vf, (offset, len), null_data),
            VfOp::WriteConfig {
                adapter,
                vf,
                offset,
                ref data,
                declared,
                null_data,
            } => self.write_config(op, adapter, vf, offset, data, declared, null_data),
            VfOp::Reset { adapter, vf } => self.reset_vf(op, adapter, vf),
            VfOp::SetVmBus {
                adapter,
                vf,
                handle,
            } => self.set_vmbus(op, adapter, vf, handle),
            VfOp::QueryInterface {
                adapter,
                iface,
                size,
                version,
                nulls,
            } => self.query_interface(op, adapter, iface, (size, version), nulls),
            VfOp::GetProfile { adapter, count } => self.profile(op, adapter, count),
            VfOp::MmioRangeCount { adapter, vf } => self.mmio_range_count(op, adapter, vf),
            VfOp::MmioRanges {
                adapter,
                vf,
                bar,
                capacity,
                null_array,
            } => self.mmio_ranges(op, adapter, vf, bar, capacity, null_array),
            VfOp::BackingResource {
                adapter,
                vf,
                index,
                null_resource,
            } => self.backing_resource(op, adapter, vf, index, null_resource),
            VfOp::ProbedBars { adapter, vf } => self.probed_bars(op, adapter, vf),
            VfOp::VendorAndDevice { adapter, vf } => self.vendor_and_device(op, adapter, vf),
            VfOp::DeviceLocation { adapter, vf } => self.device_location(op, adapter, vf),
            VfOp::Unsupported { adapter, vf, which } => self.unsupported(op, adapter, vf, which),
            VfOp::CreateAllocation {
                adapter,
                ref entries,
                declared,
                null_array,
            } => self.create_allocation(op, adapter, entries, declared, null_array),
            VfOp::NullArgs { adapter, which } => self.null_args(op, adapter, which),
        }
    }

    /// One DDI with `pArgs` NULL.
    fn null_args(&mut self, op: &Op, adapter: AdapterSel, which: u8) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.null_args(ok);
        let s = &self.sriov;
        let x = &self.flexiov;
        let p = &self.partition;
        let name = "a NULL-argument call";
        macro_rules! call {
            ($f:expr) => {{
                let f = Self::sriov_fn($f, name)?;
                // SAFETY: `pArgs` is NULL, which the DDI must refuse (or, a
                // VOID one, ignore) without dereferencing it; `h` is a value.
                unsafe { f(h, core::ptr::null_mut()) }
            }};
        }
        let status = match which % 16 {
            0 => call!(s.DxgkDdiReadVirtualFunctionConfig),
            1 => call!(s.DxgkDdiWriteVirtualFunctionConfig),
            2 => call!(s.DxgkDdiResetVirtualFunction),
            3 => call!(p.DxgkDdiSetVirtualGpuVmBus),
            4 => call!(p.DxgkDdiGetVirtualGpuProfile),
            5 => call!(x.DxgkDdiGetMmioRangeCount),
            6 => call!(x.DxgkDdiGetMmioRanges),
            7 => call!(x.DxgkDdiGetBackingResource),
            8 => call!(s.DxgkDdiGetResourceForBar),
            9 => call!(s.DxgkDdiReadVirtualFunctionConfigBlock),
            10 => call!(s.DxgkDdiWriteVirtualFunctionConfigBlock),
            11 => call!(self.table().DxgkDdiCreateAllocation),
            12 => {
                call!(s.DxgkDdiQueryProbedBars);
                return Ok(false);
            }
            13 => {
                call!(s.DxgkDdiGetVendorAndDevice);
                return Ok(false);
            }
            14 => {
                call!(s.DxgkDdiGetDeviceLocation);
                return Ok(false);
            }
            _ => call!(self.table().DxgkDdiQueryInterface),
        };
        self.expect(op, &faults, status)?;
        Ok(status == STATUS_SUCCESS)
    }

    fn sriov_fn<T>(f: Option<T>, name: &str) -> Result<T, String> {
        f.ok_or_else(|| format!("a NULL SR-IOV/FlexIOV pointer: {name}"))
    }

    fn read_config(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        (offset, len): (u32, u32),
        null_data: bool,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.config_access(ok, vf, offset, len, null_data);
        let cap = (len as usize).min(MAX_BUF);
        let mut buf = vec![MARK; cap + GUARD];
        let args = DXGKARG_READVIRTUALFUNCTIONCONFIG {
            Data: if null_data {
                core::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            VirtualFunctionIndex: vf,
            Offset: offset,
            Length: len,
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiReadVirtualFunctionConfig, "read")?;
        // SAFETY: the block is live; `Data` is NULL or holds `min(Length,
        // 8 KiB)` bytes, and a longer `Length` is past the 4 KiB space,
        // which the driver refuses before it writes.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status != STATUS_SUCCESS {
            if buf.iter().any(|&b| b != MARK) {
                return Err(self.fail(op, format!("failed with {status:?} but wrote Data")));
            }
            return Ok(false);
        }
        let want = self.model.config_read(vf, offset, len);
        if want.len() != len as usize || buf[..cap] != want[..] {
            let at = buf.iter().zip(&want).position(|(a, b)| a != b);
            return Err(self.fail(
                op,
                format!(
                    "read differs from the model's space at byte {:?} of {len}: {:02x?}, the model \
                     says {:02x?}",
                    at.map(|i| i + offset as usize),
                    &buf[..cap.min(64)],
                    &want[..want.len().min(64)]
                ),
            ));
        }
        if buf[cap..].iter().any(|&b| b != MARK) {
            return Err(self.fail(op, "wrote past Length".into()));
        }
        Ok(true)
    }

    /// The whole space of `vf` reads back as the model has it (nothing if
    /// the model has no vGPU there).
    pub(in crate::exec) fn check_config(
        &mut self,
        op: &dyn core::fmt::Debug,
        vf: u32,
    ) -> Result<(), String> {
        if self.model.gpu().vgpu(vf).is_none() || !self.model.started() {
            return Ok(());
        }
        let mut buf = vec![0u8; CONFIG_SIZE];
        let args = DXGKARG_READVIRTUALFUNCTIONCONFIG {
            Data: buf.as_mut_ptr().cast(),
            VirtualFunctionIndex: vf,
            Offset: 0,
            Length: CONFIG_SIZE as u32,
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiReadVirtualFunctionConfig, "read")?;
        // SAFETY: the block is live; `Data` holds 4 KiB.
        let status = unsafe { f(self.adapter.context(), &raw const args) };
        let want = self.model.config_read(vf, 0, CONFIG_SIZE as u32);
        if status != STATUS_SUCCESS || buf != want {
            let at = buf.iter().zip(&want).position(|(a, b)| a != b);
            return Err(self.fail(
                op,
                format!(
                    "VF {vf}'s space reads back {status:?}, first byte unlike the model's at \
                     {at:x?}: {:02x?} vs {:02x?}",
                    at.map(|i| buf[i]),
                    at.map(|i| want[i])
                ),
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn write_config(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        offset: u32,
        data: &[u8],
        declared: Option<u32>,
        null_data: bool,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let len = declared.unwrap_or(data.len() as u32);
        let mut bytes = data.to_vec();
        if len as usize <= MAX_BUF {
            bytes.resize(len as usize, 0);
        }
        let faults = self.model.config_access(ok, vf, offset, len, null_data);
        let args = DXGKARG_WRITEVIRTUALFUNCTIONCONFIG {
            Data: if null_data {
                core::ptr::null_mut()
            } else {
                bytes.as_mut_ptr().cast()
            },
            VirtualFunctionIndex: vf,
            Offset: offset,
            Length: len,
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiWriteVirtualFunctionConfig, "write")?;
        // SAFETY: the block is live; `Data` is NULL or holds `Length` bytes
        // when `Length` is at most 8 KiB (longer ones are past the space,
        // refused before any byte is read).
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.config_written(vf, offset, &bytes);
        }
        self.check_config(op, vf)?;
        Ok(status == STATUS_SUCCESS)
    }

    fn reset_vf(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.reset_vf(ok, vf);
        let args = DXGKARG_RESETVIRTUALFUNCTION {
            VirtualFunctionIndex: vf,
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiResetVirtualFunction, "reset")?;
        // SAFETY: the block is live; `h` is a value.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.vf_reset(vf);
        }
        self.check_config(op, vf)?;
        Ok(status == STATUS_SUCCESS)
    }

    fn set_vmbus(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        handle: u64,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.set_vmbus(ok, vf, handle);
        let args = DXGKARG_SETVIRTUALGPUVMBUS {
            VirtualGpuIndex: vf,
            VmBusHandle: raw_ptr(usize::try_from(handle).unwrap_or(usize::MAX)),
        };
        let f = self.partition_fn(self.partition.DxgkDdiSetVirtualGpuVmBus)?;
        // SAFETY: the block is live; the handle is an opaque value the
        // driver never dereferences.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.vmbus_set(vf);
        }
        Ok(status == STATUS_SUCCESS)
    }

    fn probed_bars(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let want = self.model.probed_bars(ok, vf);
        let mut values = [MARK32; 6 + 4];
        let mut args = DXGKARG_QUERYPROBEDBARS {
            VirtualFunctionIndex: vf,
            BaseRegisterValues: values.as_mut_ptr(),
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiQueryProbedBars, "probed bars")?;
        // SAFETY: the block is live; its array holds six ULONGs (and more).
        unsafe { f(h, &raw mut args) };
        let expected: Vec<u32> = want
            .map_or([MARK32; 6], |w| w)
            .into_iter()
            .chain([MARK32; 4])
            .collect();
        if values[..] != expected[..] {
            return Err(self.fail(
                op,
                format!("wrote {values:08x?}, the model says {expected:08x?}"),
            ));
        }
        Ok(self.model.gpu().vgpu(vf).is_some() && want.is_some())
    }

    fn vendor_and_device(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let want = self.model.vendor_and_device(ok, vf);
        let mut args = DXGKARG_GETVENDORANDDEVICE {
            VirtualFunctionIndex: vf,
            VendorId: 0x5A5A,
            DeviceId: 0x5A5A,
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiGetVendorAndDevice, "ids")?;
        // SAFETY: the block is live.
        unsafe { f(h, &raw mut args) };
        let expected = want.unwrap_or((0x5A5A, 0x5A5A));
        if (args.VendorId, args.DeviceId) != expected {
            return Err(self.fail(
                op,
                format!(
                    "ids {:04x}:{:04x}, the model says {expected:04x?}",
                    args.VendorId, args.DeviceId
                ),
            ));
        }
        Ok(want.is_some_and(|w| w != (0, 0)))
    }

    fn device_location(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let want = self.model.device_location(ok);
        let mut args = DXGKARG_GETDEVICELOCATION {
            VirtualFunctionIndex: vf,
            SegmentNumber: MARK32,
            BusNumber: MARK32,
            FunctionNumber: MARK32,
        };
        let f = Self::sriov_fn(self.sriov.DxgkDdiGetDeviceLocation, "location")?;
        // SAFETY: the block is live.
        unsafe { f(h, &raw mut args) };
        let got = [args.SegmentNumber, args.BusNumber, args.FunctionNumber];
        let expected = want.unwrap_or([MARK32; 3]);
        if got != expected || args.VirtualFunctionIndex != vf {
            return Err(self.fail(
                op,
                format!("location {got:x?}, the model says {expected:x?}"),
            ));
        }
        Ok(want.is_some())
    }

    fn unsupported(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        which: u8,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.unsupported_sriov(ok, vf);
        let mut buf = [MARK; 64];
        let data: *mut c_void = buf.as_mut_ptr().cast();
        let status = match which % 3 {
            0 => {
                let mut args = DXGKARG_GETRESOURCEFORBAR {
                    VirtualFunctionIndex: vf,
                    BarIndex: u32::from(which / 3 % 6),
                    pResource: data,
                };
                let f = Self::sriov_fn(self.sriov.DxgkDdiGetResourceForBar, "resource")?;
                // SAFETY: the block and its 64-byte descriptor buffer are live.
                unsafe { f(h, &raw mut args) }
            }
            1 => {
                let args = DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK {
                    Data: data,
                    VirtualFunctionIndex: vf,
                    BlockId: u32::from(which),
                    Length: 16,
                };
                let f = Self::sriov_fn(self.sriov.DxgkDdiReadVirtualFunctionConfigBlock, "block")?;
                // SAFETY: the block and its 64-byte buffer are live.
                unsafe { f(h, &raw const args) }
            }
            _ => {
                let args = DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK {
                    Data: data,
                    VirtualFunctionIndex: vf,
                    BlockId: u32::from(which),
                    Length: 16,
                };
                let f = Self::sriov_fn(self.sriov.DxgkDdiWriteVirtualFunctionConfigBlock, "block")?;
                // SAFETY: the block and its 64-byte buffer are live.
                unsafe { f(h, &raw const args) }
            }
        };
        self.expect(op, &faults, status)?;
        if buf.iter().any(|&b| b != MARK) {
            return Err(self.fail(op, format!("returned {status:?} but wrote its buffer")));
        }
        Ok(status == STATUS_SUCCESS)
    }

    // ---------------------------------------------------------------- FlexIOV

    fn flexiov_fn<T>(
        &self,
        pick: impl FnOnce(&DXGKDDI_FLEXIOV_DEVICE_INTERFACE) -> Option<T>,
    ) -> Result<T, String> {
        pick(&self.flexiov).ok_or_else(|| "a NULL FlexIOV pointer".into())
    }

    fn mmio_range_count(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (faults, counts) = self.model.mmio_range_count(ok, vf);
        let mut args = DXGKARG_GETMMIORANGECOUNT {
            VirtualFunctionIndex: vf,
            RangeCount: [MARK32; 6],
        };
        let f = self.flexiov_fn(|i| i.DxgkDdiGetMmioRangeCount)?;
        // SAFETY: the block is live.
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        let expected = if status == STATUS_SUCCESS {
            counts
        } else {
            [MARK32; 6]
        };
        if args.RangeCount != expected {
            return Err(self.fail(
                op,
                format!(
                    "counts {:x?}, the model says {expected:x?}",
                    args.RangeCount
                ),
            ));
        }
        Ok(status == STATUS_SUCCESS)
    }

    fn mmio_ranges(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        bar: u32,
        capacity: u8,
        null_array: bool,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let capacity = u32::from(capacity % 8);
        let (faults, ranges) = self.model.mmio_ranges(ok, vf, bar, capacity, null_array);
        let blank = DXGK_MMIORANGEINFO {
            BasePageNumber: UNTOUCHED,
            BasePhysicalPageNumber: UNTOUCHED,
            BasePhysicalResourceNumber: MARK,
            InterceptReads: MARK,
            InterceptWrites: MARK,
            PageCount: MARK32,
        };
        let mut array = vec![blank; capacity as usize + 2];
        let mut args = DXGKARG_GETMMIORANGES {
            VirtualFunctionIndex: vf,
            BarIndex: bar,
            NumRanges: capacity,
            pMmioRanges: if null_array {
                core::ptr::null_mut()
            } else {
                array.as_mut_ptr()
            },
        };
        let f = self.flexiov_fn(|i| i.DxgkDdiGetMmioRanges)?;
        // SAFETY: the block is live; its array is NULL or holds `NumRanges`
        // entries (and two more).
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        let key = |r: &DXGK_MMIORANGEINFO| {
            (
                r.BasePageNumber,
                r.BasePhysicalPageNumber,
                r.BasePhysicalResourceNumber,
                r.InterceptReads,
                r.InterceptWrites,
                r.PageCount,
            )
        };
        let mut expected = vec![key(&blank); array.len()];
        if status == STATUS_SUCCESS {
            for (e, &(first, pages)) in expected.iter_mut().zip(&ranges) {
                *e = (
                    first,
                    DXGK_MMIO_RANGES_EMULATED_PAGE.cast_unsigned(),
                    0,
                    1,
                    1,
                    pages,
                );
            }
        }
        let got: Vec<_> = array.iter().map(key).collect();
        if got != expected {
            return Err(self.fail(op, format!("ranges {got:x?}, the model says {expected:x?}")));
        }
        Ok(status == STATUS_SUCCESS)
    }

    fn backing_resource(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        index: u16,
        null_resource: bool,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.backing_resource(ok, vf);
        let mut descriptor = [MARK; 32];
        let mdl = raw_ptr(UNTOUCHED as usize);
        let mut args = DXGKARG_GETBACKINGRESOURCE {
            VirtualFunctionIndex: vf,
            ResourceIndex: index,
            Resource: if null_resource {
                core::ptr::null_mut()
            } else {
                descriptor.as_mut_ptr().cast()
            },
            pMdl: mdl,
        };
        let f = self.flexiov_fn(|i| i.DxgkDdiGetBackingResource)?;
        // SAFETY: the block is live; the descriptor NULL or 32 writable bytes.
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        let mut expected = [MARK; 32];
        let mut expected_mdl = mdl;
        if status == STATUS_SUCCESS {
            // No MDL; the descriptor's `Type` (its first byte) CmResourceTypeNull.
            expected_mdl = core::ptr::null_mut();
            if !null_resource {
                expected[0] = 0;
            }
        }
        if descriptor != expected || args.pMdl != expected_mdl {
            return Err(self.fail(
                op,
                format!(
                    "pMdl {:p}, descriptor {:02x?}; the model says {expected_mdl:p}, {:02x?}",
                    args.pMdl,
                    &descriptor[..4],
                    &expected[..4]
                ),
            ));
        }
        Ok(status == STATUS_SUCCESS)
    }
}
