//! WDK values the driver needs that the WDK-measured ABI tables
//! (`dxgk-sys/abi/`) do not list, so they cannot live in `dxgk-sys`.
//!
//! - The four interface GUIDs `DxgkDdiQueryInterface` is asked for. The tables
//!   have the interfaces' layouts and versions, not their GUIDs; these come
//!   from dispmprt.h, and `docs/contract.md` lists them (GPU partitioning). Each is kept twice, as the registry spelling
//!   of the spec and as a [`GUID`] value; a unit test checks that the two
//!   agree, and `tests/gpup_interface.rs` checks the spellings against the
//!   spec text whenever the spec is present beside the checkout.
//! - The `DEVICE_POWER_STATE` enumerators (wdm.h) that
//!   `DxgkDdiSetVirtualFunctionPowerState` receives.
//! - The ETW provider of the live-migration triage event
//!   ([`MIGRATION_TRIAGE_EVENT`], the project's stand-in for
//!   `GUID_DxgkAzureTriageEvent`).

use dxgk_sys::{DEVICE_POWER_STATE, GUID};

/// One interface GUID, with the spelling it was copied from.
#[derive(Debug, Clone, Copy)]
pub struct InterfaceGuid {
    /// The interface, as the spec's table names it.
    pub name: &'static str,
    /// The registry spelling, as in the spec (`{462BC153-...}`).
    pub spelling: &'static str,
    /// The same GUID as a value.
    pub guid: GUID,
}

/// `GUID_DXGKDDI_GPU_PARTITION_INTERFACE`.
pub const GPU_PARTITION: InterfaceGuid = InterfaceGuid {
    name: "GPU partition",
    spelling: "{462BC153-40EB-484A-8168-9972E3CD5AEF}",
    guid: GUID::new(
        0x462B_C153,
        0x40EB,
        0x484A,
        [0x81, 0x68, 0x99, 0x72, 0xE3, 0xCD, 0x5A, 0xEF],
    ),
};

/// `GUID_DXGKDDI_SRIOV_INTERFACE`.
pub const SRIOV: InterfaceGuid = InterfaceGuid {
    name: "SR-IOV",
    spelling: "{D7172248-F296-4C50-A6F5-D25D8073063A}",
    guid: GUID::new(
        0xD717_2248,
        0xF296,
        0x4C50,
        [0xA6, 0xF5, 0xD2, 0x5D, 0x80, 0x73, 0x06, 0x3A],
    ),
};

/// `GUID_DXGKDDI_MITIGABLE_DEVICE_INTERFACE` (this driver does not export it).
pub const MITIGABLE_DEVICE: InterfaceGuid = InterfaceGuid {
    name: "mitigable device",
    spelling: "{1387F270-121A-4A4A-B25E-3B1589976C61}",
    guid: GUID::new(
        0x1387_F270,
        0x121A,
        0x4A4A,
        [0xB2, 0x5E, 0x3B, 0x15, 0x89, 0x97, 0x6C, 0x61],
    ),
};

/// `GUID_DXGKDDI_FLEXIOV_DEVICE_INTERFACE`.
pub const FLEXIOV_DEVICE: InterfaceGuid = InterfaceGuid {
    name: "FlexIOV device",
    spelling: "{7B73A997-48E8-4CAB-9FAB-E0774B44F599}",
    guid: GUID::new(
        0x7B73_A997,
        0x48E8,
        0x4CAB,
        [0x9F, 0xAB, 0xE0, 0x77, 0x4B, 0x44, 0xF5, 0x99],
    ),
};

/// The four, in the spec's table order.
pub const ALL: [InterfaceGuid; 4] = [GPU_PARTITION, SRIOV, MITIGABLE_DEVICE, FLEXIOV_DEVICE];

/// The ETW provider of the event a rejected live-migration restore logs
/// through `DxgkCbLogEtwEvent` (its payload: `gpup_miniport::migration::triage`).
///
/// Microsoft's page asks for `GUID_DxgkAzureTriageEvent`, whose value is in
/// `d3dkmddi.h` but neither in the measured ABI tables nor in any public text
/// this project could check, so it is not copied from memory: this is the
/// project's own GUID (random, version 4), to be replaced by the header's
/// value once it is checked against the WDK.
pub const MIGRATION_TRIAGE_EVENT: InterfaceGuid = InterfaceGuid {
    name: "gpup-miniport migration triage event (stands in for GUID_DxgkAzureTriageEvent)",
    spelling: "{23CFD85D-3A16-4C82-9627-C2B242A68879}",
    guid: GUID::new(
        0x23CF_D85D,
        0x3A16,
        0x4C82,
        [0x96, 0x27, 0xC2, 0xB2, 0x42, 0xA6, 0x88, 0x79],
    ),
};

/// `PowerDeviceUnspecified` (wdm.h).
pub const POWER_DEVICE_UNSPECIFIED: DEVICE_POWER_STATE = DEVICE_POWER_STATE(0);
/// `PowerDeviceD0` (wdm.h): fully on.
pub const POWER_DEVICE_D0: DEVICE_POWER_STATE = DEVICE_POWER_STATE(1);
/// `PowerDeviceD1` (wdm.h).
pub const POWER_DEVICE_D1: DEVICE_POWER_STATE = DEVICE_POWER_STATE(2);
/// `PowerDeviceD2` (wdm.h).
pub const POWER_DEVICE_D2: DEVICE_POWER_STATE = DEVICE_POWER_STATE(3);
/// `PowerDeviceD3` (wdm.h): off.
pub const POWER_DEVICE_D3: DEVICE_POWER_STATE = DEVICE_POWER_STATE(4);

/// Parses a registry-spelled GUID (`{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`),
/// or `None` if it is not one.
#[must_use]
pub fn parse_guid(text: &str) -> Option<GUID> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut groups = inner.split('-');
    let mut next = |len: usize| {
        let g = groups.next()?;
        (g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit())).then_some(g)
    };
    let d1 = u32::from_str_radix(next(8)?, 16).ok()?;
    let d2 = u16::from_str_radix(next(4)?, 16).ok()?;
    let d3 = u16::from_str_radix(next(4)?, 16).ok()?;
    let g4 = next(4)?;
    let g5 = next(12)?;
    if groups.next().is_some() {
        return None;
    }
    let mut d4 = [0u8; 8];
    let hex = g4.as_bytes().chunks(2).chain(g5.as_bytes().chunks(2));
    for (byte, pair) in d4.iter_mut().zip(hex) {
        let pair = core::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(GUID::new(d1, d2, d3, d4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guid_value_is_its_spelling() {
        for g in ALL.iter().chain([&MIGRATION_TRIAGE_EVENT]) {
            assert_eq!(parse_guid(g.spelling), Some(g.guid), "{}", g.name);
        }
        // The four are distinct.
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.guid, b.guid);
            }
        }
    }

    #[test]
    fn the_parser_rejects_what_is_not_a_guid() {
        for bad in [
            "",
            "462BC153-40EB-484A-8168-9972E3CD5AEF",
            "{462BC153-40EB-484A-8168-9972E3CD5AE}",
            "{462BC153-40EB-484A-8168-9972E3CD5AEF-00}",
            "{462BC15G-40EB-484A-8168-9972E3CD5AEF}",
            "{462BC153+40EB-484A-8168-9972E3CD5AEF}",
        ] {
            assert_eq!(parse_guid(bad), None, "{bad}");
        }
        // A one-digit change is a different GUID: the check can fail.
        assert_ne!(
            parse_guid("{462BC153-40EB-484A-8168-9972E3CD5AEE}"),
            Some(GPU_PARTITION.guid)
        );
    }
}
