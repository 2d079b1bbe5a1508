//! A VF's state as the OS can read it through the driver's DDIs, to check
//! that a migrated VF arrived as it left: the guest's programming of the VF
//! (its configuration space and MSI-X table), its pause and power state, its
//! reserve, and the VF pages its memory basis covers.
//!
//! [`program_guest`] plays the guest driver and the OS's interrupt
//! virtualization on a running VF, so that there is state to migrate;
//! [`program_interrupts`] plays the OS's interrupt virtualization alone, as
//! the target host's does for the migrated VF.
//!
//! The MSI-X entries' addresses and data are each host's own interrupt
//! routing (host-physical values Dxgkrnl substitutes for the guest's): the
//! check compares only what the guest sees of the table (which entries are
//! written, their vector control) between source and target, and checks
//! separately that the target's entries are what the target's OS programmed
//! ([`VfSnapshot::interrupts_differ_from`]), never the source host's.

use dxgk_sys::NTSTATUS;
use gpup_miniport::vgpu::escape::{
    GPUP_VGPU_ESCAPE_MSIX_TABLE, GPUP_VGPU_FLAG_MEMORY_ENABLED, GPUP_VGPU_FLAG_MSIX_ENABLED,
    GPUP_VGPU_FLAG_PAUSED,
};

use gpup_miniport::host::GPUP_HOST_MSIX_ENTRY;

use crate::adapter::Adapter;
use crate::live::msix_entry;
use crate::records::VgpuInfo;
use crate::status::{Result, check};
use crate::vf::Reserve;

/// What the OS reads of one VF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfSnapshot {
    /// The 4 KiB configuration space (`DxgkDdiReadVirtualFunctionConfig`).
    pub config: Vec<u8>,
    /// What the guest sees of the MSI-X table (escape `GPUP_VGPU_ESCAPE_MSIX`:
    /// written entries and their vector control).
    pub msix: GPUP_VGPU_ESCAPE_MSIX_TABLE,
    /// The MSI-X entries as the host programmed them (`gpup_host_vgpu_state`):
    /// host routing, reported, compared only with what this host's OS wrote.
    pub host_msix: [GPUP_HOST_MSIX_ENTRY; 4],
    /// Paused (`DxgkDdiSetVirtualFunctionPauseState`), from the escape query.
    pub paused: bool,
    /// `DEVICE_POWER_STATE`, from the escape query.
    pub power_state: u32,
    /// The command register enables memory decoding (escape query).
    pub memory_enabled: bool,
    /// MSI-X is enabled (escape query).
    pub msix_enabled: bool,
    /// The reserve's size (escape query).
    pub reserve_size: u64,
    /// The VF-address runs its memory basis covers.
    pub basis_runs: Vec<(u64, u64)>,
    /// Whether the basis is tracked (reported, not compared: when tracking
    /// starts is the OS's per-adapter policy).
    pub tracked: bool,
}

impl VfSnapshot {
    /// Reads VF `vgpu` of `adapter`, whose reserve is `reserve` and whose
    /// memory basis has `basis_ranges` (segment offset, size).
    ///
    /// # Errors
    /// A failing DDI's status; `STATUS_UNSUCCESSFUL` if the basis leaves the reserve.
    pub fn take(
        adapter: &Adapter,
        vgpu: &VgpuInfo,
        reserve: &Reserve,
        basis_ranges: &[(u64, u64)],
        tracked: bool,
    ) -> Result<Self> {
        let info = adapter.vgpu_query(vgpu)?;
        Ok(Self {
            config: adapter.vf_config_space(vgpu.partition)?,
            msix: adapter.vgpu_msix(vgpu)?,
            host_msix: adapter.vgpu_host_state(vgpu.partition)?.Msix,
            paused: info.Flags & GPUP_VGPU_FLAG_PAUSED != 0,
            power_state: info.PowerState,
            memory_enabled: info.Flags & GPUP_VGPU_FLAG_MEMORY_ENABLED != 0,
            msix_enabled: info.Flags & GPUP_VGPU_FLAG_MSIX_ENABLED != 0,
            reserve_size: info.ReserveSize,
            basis_runs: reserve
                .vf_runs(basis_ranges)
                .ok_or(dxgk_sys::STATUS_UNSUCCESSFUL)?,
            tracked,
        })
    }

    /// What differs between `self` (the source) and `target`, one line
    /// each; empty when the target's state equals the source's.
    #[must_use]
    pub fn differences(&self, target: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let differing: Vec<usize> = (0..self.config.len().max(target.config.len()))
            .filter(|&i| self.config.get(i) != target.config.get(i))
            .collect();
        if let Some(&first) = differing.first() {
            out.push(format!(
                "configuration space: {} byte(s) differ, the first at {first:#x} ({:?} vs {:?})",
                differing.len(),
                self.config.get(first),
                target.config.get(first)
            ));
        }
        if self.msix != target.msix {
            out.push(format!(
                "MSI-X table: written {:#x} vs {:#x}; vector control {:?} vs {:?}",
                self.msix.WrittenMask,
                target.msix.WrittenMask,
                self.msix.VectorControl,
                target.msix.VectorControl
            ));
        }
        let mut field = |name: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{name}: {a} vs {b}"));
            }
        };
        field("paused", self.paused.to_string(), target.paused.to_string());
        field(
            "power state",
            self.power_state.to_string(),
            target.power_state.to_string(),
        );
        field(
            "memory decoding",
            self.memory_enabled.to_string(),
            target.memory_enabled.to_string(),
        );
        field(
            "MSI-X enable",
            self.msix_enabled.to_string(),
            target.msix_enabled.to_string(),
        );
        field(
            "reserve size",
            self.reserve_size.to_string(),
            target.reserve_size.to_string(),
        );
        field(
            "memory-basis VF runs",
            format!("{:?}", self.basis_runs),
            format!("{:?}", target.basis_runs),
        );
        out
    }
}

impl VfSnapshot {
    /// One line per MSI-X entry whose host programming is not `expected`
    /// (what this host's OS wrote, [`interrupt_entries`]); empty when equal.
    #[must_use]
    pub fn interrupts_differ_from(&self, expected: &[GPUP_HOST_MSIX_ENTRY; 4]) -> Vec<String> {
        (0..4)
            .filter(|&i| self.host_msix[i] != expected[i])
            .map(|i| {
                format!(
                    "MSI-X entry {i}: host programming {:x?}, this host's OS wrote {:x?}",
                    self.host_msix[i], expected[i]
                )
            })
            .collect()
    }
}

/// The MSI-X entries the OS of host `host` (0: source, 1: target) programs
/// for VF `vf` of a run with `seed`: the guest's vectors, routed to this
/// host's interrupt addresses (so two hosts' entries differ in address and
/// data, and agree in vector control: the last entry masked).
#[must_use]
pub fn interrupt_entries(vf: u32, seed: u64, host: u32) -> [GPUP_HOST_MSIX_ENTRY; 4] {
    let salt = (seed as u32).wrapping_mul(0x9E37_79B9) ^ vf;
    core::array::from_fn(|i| {
        let i = i as u32;
        GPUP_HOST_MSIX_ENTRY {
            Written: 1,
            MessageAddress: 0xFEE0_0000
                | (u64::from(host & 0xF) << 16)
                | (u64::from(salt & 0xFF) << 8)
                | (u64::from(i) << 4),
            MessageData: 0x4000 | (host << 8) | (salt.wrapping_add(i) & 0xFF),
            VectorControl: u32::from(i == 3),
            Reserved: 0,
        }
    })
}

/// The OS of host `host` programs every MSI-X entry of VF `vgpu` through
/// `DxgkDdiWriteVirtualizedInterrupt` ([`interrupt_entries`]).
///
/// # Errors
/// A failing DDI's status.
pub fn program_interrupts(adapter: &Adapter, vgpu: &VgpuInfo, seed: u64, host: u32) -> Result<()> {
    for (i, e) in interrupt_entries(vgpu.partition, seed, host)
        .iter()
        .enumerate()
    {
        let entry = msix_entry(e.MessageAddress, e.MessageData, e.VectorControl);
        let index = i16::try_from(i).map_err(|_| dxgk_sys::STATUS_UNSUCCESSFUL)?;
        status(adapter.write_virtualized_interrupt(vgpu.partition, index, entry))?;
    }
    Ok(())
}

/// The guest's programming of VF `vgpu`, derived from `seed`: BAR addresses,
/// command register (memory decoding, bus mastering), cache line size,
/// interrupt line, MSI-X enable through `DxgkDdiWriteVirtualFunctionConfig`,
/// and every MSI-X table entry through `DxgkDdiWriteVirtualizedInterrupt`
/// (the source host's OS's path for the guest's table writes, host 0 of
/// [`interrupt_entries`]; the last entry masked).
///
/// # Errors
/// A failing DDI's status.
pub fn program_guest(adapter: &Adapter, vgpu: &VgpuInfo, seed: u64) -> Result<()> {
    let vf = vgpu.partition;
    let salt = (seed as u32).wrapping_mul(0x9E37_79B9) ^ vf;
    let writes: [(u32, Vec<u8>); 7] = [
        (0x10, 0xF000_0000u32.to_le_bytes().to_vec()),
        (0x18, 0x0000_0000u32.to_le_bytes().to_vec()),
        (0x1C, (0x40 + vf).to_le_bytes().to_vec()),
        (0x04, 0x0006u16.to_le_bytes().to_vec()),
        (0x0C, vec![0x10]),
        (0x3C, vec![(salt & 0xFF) as u8]),
        (0x42, 0x8000u16.to_le_bytes().to_vec()),
    ];
    for (offset, bytes) in writes {
        adapter.vf_config_write(vf, offset, &bytes)?;
    }
    program_interrupts(adapter, vgpu, seed, 0)
}

fn status(s: NTSTATUS) -> Result<()> {
    check(s)
}
