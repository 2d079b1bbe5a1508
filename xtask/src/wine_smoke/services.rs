//! The three driver services the Wine prefix registers.

use std::fmt::Write as _;

/// The miniport's service, and the DXGKrnl service its `DxgkInitialize` loads.
pub const MINIPORT_SERVICE: &str = "gpup_miniport";
pub const DXGKRNL_SERVICE: &str = "DXGKrnl";
/// A second service of the fake's image, started first: Wine loads the
/// first driver of a process at its preferred base (that of both images) and
/// relocates the later ones, as Windows relocates every driver. This one
/// holds the base (`fake_dxgkrnl::role`), so the miniport runs relocated.
pub const PLACEHOLDER_SERVICE: &str = "GpupBasePlaceholder";
/// The service group all three drivers share (one `winedevice.exe` per group).
pub const SERVICE_GROUP: &str = "GpupWineSmoke";

/// The Windows registry file registering both services.
pub fn services_reg() -> String {
    let mut reg = String::from("REGEDIT4\r\n");
    for (service, file) in [
        (MINIPORT_SERVICE, "gpup_miniport.sys"),
        (DXGKRNL_SERVICE, "dxgkrnl.sys"),
        (PLACEHOLDER_SERVICE, "gpup_placeholder.sys"),
    ] {
        let _ = write!(
            reg,
            "\r\n[HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\{service}]\r\n\
             \"Type\"=dword:00000001\r\n\
             \"Start\"=dword:00000003\r\n\
             \"ErrorControl\"=dword:00000001\r\n\
             \"Group\"=\"{SERVICE_GROUP}\"\r\n\
             \"ImagePath\"=\"\\\\SystemRoot\\\\System32\\\\drivers\\\\{file}\"\r\n"
        );
    }
    reg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_are_kernel_drivers_in_one_group() {
        let reg = services_reg();
        assert!(reg.starts_with("REGEDIT4\r\n"));
        for service in [MINIPORT_SERVICE, DXGKRNL_SERVICE, PLACEHOLDER_SERVICE] {
            assert!(reg.contains(&format!(
                "[HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\{service}]"
            )));
        }
        assert_eq!(reg.matches("\"Type\"=dword:00000001").count(), 3);
        assert_eq!(reg.matches("\"Group\"=\"GpupWineSmoke\"").count(), 3);
        assert!(
            reg.contains("\"ImagePath\"=\"\\\\SystemRoot\\\\System32\\\\drivers\\\\dxgkrnl.sys\"")
        );
    }
}
