//! Raw calls built beforehand, so that the armed call allocates nothing of
//! its own: the vGPU escape and the virtual-PCI probe.

use std::cell::RefCell;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, VgpuInfo};

use crate::common::gpup::*;

/// A raw escape with its input built beforehand.
pub(crate) struct Escape {
    pub(crate) input: Vec<u8>,
    pub(crate) output: RefCell<Vec<u8>>,
}

impl Escape {
    pub(crate) fn new(v: &VgpuInfo, command: u32, payload: &[u8], capacity: usize) -> Self {
        let mut input = Vec::new();
        input.extend(v.luid.LowPart.to_le_bytes());
        input.extend(v.luid.HighPart.to_le_bytes());
        input.extend(command.to_le_bytes());
        input.extend((payload.len() as u32).to_le_bytes());
        input.extend(payload);
        Self {
            input,
            output: RefCell::new(vec![0; capacity]),
        }
    }

    pub(crate) fn call(&self, a: &Adapter, partition: u32) -> NTSTATUS {
        let (p, _, _) = ifaces(a);
        let mut output = self.output.borrow_mut();
        let mut args = DXGK_VIRTUALGPUDRIVERESCAPE {
            PartitionId: partition,
            InputBufferSize: self.input.len() as ULONG,
            OutputBufferSize: output.len() as ULONG,
            pInputBuffer: self.input.as_ptr().cast_mut().cast(),
            pOutputBuffer: output.as_mut_ptr().cast(),
        };
        unsafe { (p.DxgkDdiVirtualGpuDriverEscape.unwrap())(p.Context, &raw mut args) }
    }
}

/// The virtual-PCI probe and the FlexIOV ranges, raw, into fixed buffers.
pub(crate) fn probe_raw(a: &Adapter, vf: u32) {
    let (_, s, f) = ifaces(a);
    let mut ids = DXGKARG_GETVENDORANDDEVICE {
        VirtualFunctionIndex: vf,
        VendorId: 0,
        DeviceId: 0,
    };
    unsafe { (s.DxgkDdiGetVendorAndDevice.unwrap())(s.Context, &raw mut ids) };
    assert_ne!(ids.VendorId, 0);
    let mut location = DXGKARG_GETDEVICELOCATION::zeroed();
    location.VirtualFunctionIndex = vf;
    unsafe { (s.DxgkDdiGetDeviceLocation.unwrap())(s.Context, &raw mut location) };
    let mut bars = [0u32; 6];
    let mut probed = DXGKARG_QUERYPROBEDBARS {
        VirtualFunctionIndex: vf,
        BaseRegisterValues: bars.as_mut_ptr(),
    };
    unsafe { (s.DxgkDdiQueryProbedBars.unwrap())(s.Context, &raw mut probed) };
    assert_ne!(bars[0], 0);
    let mut luid = LUID::zeroed();
    let mut q = DXGKARG_QUERYVIRTUALFUNCTIONLUID {
        VirtualFunctionIndex: vf,
        pLuid: &raw mut luid,
    };
    unsafe { (s.DxgkDdiQueryVirtualFunctionLuid.unwrap())(s.Context, &raw mut q) };
    assert_eq!(luid.HighPart, 0x4750);
    let mut count = DXGKARG_GETMMIORANGECOUNT::zeroed();
    count.VirtualFunctionIndex = vf;
    assert_eq!(
        unsafe { (f.DxgkDdiGetMmioRangeCount.unwrap())(f.Context, &raw mut count) },
        STATUS_SUCCESS
    );
    let mut ranges = [DXGK_MMIORANGEINFO::zeroed(); 4];
    for (bar, &n) in count.RangeCount.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let mut args = DXGKARG_GETMMIORANGES {
            VirtualFunctionIndex: vf,
            BarIndex: bar as ULONG,
            NumRanges: n,
            pMmioRanges: ranges.as_mut_ptr(),
        };
        assert!(n as usize <= ranges.len());
        assert_eq!(
            unsafe { (f.DxgkDdiGetMmioRanges.unwrap())(f.Context, &raw mut args) },
            STATUS_SUCCESS
        );
    }
}
