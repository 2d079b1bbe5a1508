//! The SR-IOV and FlexIOV interfaces as the virtual PCI stack calls them: a
//! VF's power state, reset, configuration space, and the probe of section 5
//! step 12.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::adapter::Adapter;
use crate::records::VfProbe;
use crate::status::{Result, check};

/// `PowerDeviceD0` (wdm.h; not in the ABI tables).
pub const POWER_DEVICE_D0: DEVICE_POWER_STATE = DEVICE_POWER_STATE(1);
/// `PowerDeviceD3` (wdm.h; not in the ABI tables).
pub const POWER_DEVICE_D3: DEVICE_POWER_STATE = DEVICE_POWER_STATE(4);

impl Adapter {
    fn sriov(&self) -> Result<&DXGKDDI_SRIOV_INTERFACE> {
        Ok(&self.gpup()?.sriov)
    }

    /// `DxgkDdiSetVirtualFunctionPowerState`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn set_vf_power(&self, vf: u32, state: DEVICE_POWER_STATE, wake: bool) -> Result<()> {
        let s = self.sriov()?;
        let f = s
            .DxgkDdiSetVirtualFunctionPowerState
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE {
            VirtualFunctionIndex: vf,
            PowerState: state,
            Wake: u8::from(wake),
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// `DxgkDdiResetVirtualFunction`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn reset_vf(&self, vf: u32) -> Result<()> {
        let s = self.sriov()?;
        let f = s.DxgkDdiResetVirtualFunction.ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_RESETVIRTUALFUNCTION {
            VirtualFunctionIndex: vf,
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// `DxgkDdiReadVirtualFunctionConfig` of `out.len()` bytes at `offset`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn vf_config_read(&self, vf: u32, offset: u32, out: &mut [u8]) -> Result<()> {
        let s = self.sriov()?;
        let f = s
            .DxgkDdiReadVirtualFunctionConfig
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_READVIRTUALFUNCTIONCONFIG {
            Data: out.as_mut_ptr().cast(),
            VirtualFunctionIndex: vf,
            Offset: offset,
            Length: out.len() as ULONG,
        };
        // SAFETY: a DDI of the loaded driver; `out` lives across the call.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// `DxgkDdiWriteVirtualFunctionConfig` of `data` at `offset`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn vf_config_write(&self, vf: u32, offset: u32, data: &[u8]) -> Result<()> {
        let s = self.sriov()?;
        let f = s
            .DxgkDdiWriteVirtualFunctionConfig
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let args = DXGKARG_WRITEVIRTUALFUNCTIONCONFIG {
            Data: data.as_ptr().cast_mut().cast(),
            VirtualFunctionIndex: vf,
            Offset: offset,
            Length: data.len() as ULONG,
        };
        // SAFETY: a DDI of the loaded driver; `data` lives across the call.
        check(unsafe { f(s.Context, &raw const args) })
    }

    /// The virtual-PCI probe of a VF (section 5 step 12): ids, location,
    /// probed BARs, FlexIOV ranges (GetResourceForBar is not called when
    /// FlexIOV is exposed), LUID, and the config header, which must agree
    /// with the ids.
    ///
    /// # Errors
    /// A failing DDI's status; `STATUS_UNSUCCESSFUL` for inconsistent answers.
    pub fn probe_vf(&self, vf: u32) -> Result<VfProbe> {
        let g = self.gpup()?;
        let s = &g.sriov;
        let mut ids = DXGKARG_GETVENDORANDDEVICE {
            VirtualFunctionIndex: vf,
            VendorId: 0,
            DeviceId: 0,
        };
        let f = s.DxgkDdiGetVendorAndDevice.ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: a DDI of the loaded driver; `ids` is live.
        unsafe { f(s.Context, &raw mut ids) };
        let mut location = DXGKARG_GETDEVICELOCATION::zeroed();
        location.VirtualFunctionIndex = vf;
        let f = s.DxgkDdiGetDeviceLocation.ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: as above.
        unsafe { f(s.Context, &raw mut location) };
        let mut bars = [0u32; 6];
        let mut probed = DXGKARG_QUERYPROBEDBARS {
            VirtualFunctionIndex: vf,
            BaseRegisterValues: bars.as_mut_ptr(),
        };
        let f = s.DxgkDdiQueryProbedBars.ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: as above; `bars` holds six ULONGs.
        unsafe { f(s.Context, &raw mut probed) };
        let mut luid = LUID::zeroed();
        let mut q = DXGKARG_QUERYVIRTUALFUNCTIONLUID {
            VirtualFunctionIndex: vf,
            pLuid: &raw mut luid,
        };
        let f = s
            .DxgkDdiQueryVirtualFunctionLuid
            .ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: as above.
        unsafe { f(s.Context, &raw mut q) };
        let mut header = [0u8; 4];
        self.vf_config_read(vf, 0, &mut header)?;
        if u16::from_le_bytes([header[0], header[1]]) != ids.VendorId
            || u16::from_le_bytes([header[2], header[3]]) != ids.DeviceId
        {
            return Err(STATUS_UNSUCCESSFUL);
        }
        let mut probe = VfProbe {
            vendor_id: ids.VendorId,
            device_id: ids.DeviceId,
            probed_bars: bars,
            mmio_range_count: [0; 6],
            mmio_ranges: Vec::new(),
            luid,
        };
        if let Some(flex) = &g.flexiov {
            let mut count = DXGKARG_GETMMIORANGECOUNT::zeroed();
            count.VirtualFunctionIndex = vf;
            let f = flex.DxgkDdiGetMmioRangeCount.ok_or(STATUS_NOT_SUPPORTED)?;
            // SAFETY: as above.
            check(unsafe { f(flex.Context, &raw mut count) })?;
            probe.mmio_range_count = count.RangeCount;
            let f = flex.DxgkDdiGetMmioRanges.ok_or(STATUS_NOT_SUPPORTED)?;
            for (bar, &n) in count.RangeCount.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let mut ranges = vec![DXGK_MMIORANGEINFO::zeroed(); n as usize];
                let mut args = DXGKARG_GETMMIORANGES {
                    VirtualFunctionIndex: vf,
                    BarIndex: bar as ULONG,
                    NumRanges: n,
                    pMmioRanges: ranges.as_mut_ptr(),
                };
                // SAFETY: as above; `ranges` holds `n` entries.
                check(unsafe { f(flex.Context, &raw mut args) })?;
                probe.mmio_ranges.push((bar as u32, ranges));
            }
        }
        Ok(probe)
    }
}
