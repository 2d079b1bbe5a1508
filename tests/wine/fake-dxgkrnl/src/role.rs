//! Which part the image plays, from the service it was loaded for.
//!
//! The same image is registered twice: as the `DXGKrnl` service (the fake
//! Dxgkrnl) and as a placeholder service that the harness starts first. Wine
//! loads the first driver of a process at its preferred base and relocates
//! the later ones; Windows relocates every driver. The placeholder occupies
//! the preferred base (the same for both images) so that the miniport, like
//! any driver on Windows, runs relocated.

/// The service name that makes the image the fake Dxgkrnl.
pub const DXGKRNL_SERVICE: &str = "DXGKrnl";

/// Whether the registry path `path` (UTF-16, as `DriverEntry` receives it)
/// names the service `service`: its last component, ignoring ASCII case.
#[must_use]
pub fn names_service(path: &[u16], service: &str) -> bool {
    let last = path
        .rsplit(|&unit| unit == u16::from(b'\\'))
        .next()
        .unwrap_or(path);
    last.len() == service.len()
        && last
            .iter()
            .zip(service.bytes())
            .all(|(&unit, byte)| u8::try_from(unit).is_ok_and(|u| u.eq_ignore_ascii_case(&byte)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn the_last_component_of_the_service_key_decides() {
        let path = utf16(r"\Registry\Machine\System\CurrentControlSet\Services\DXGKrnl");
        assert!(names_service(&path, DXGKRNL_SERVICE));
        assert!(names_service(
            &utf16(r"\REGISTRY\MACHINE\...\SERVICES\dxgkrnl"),
            DXGKRNL_SERVICE
        ));
        assert!(!names_service(
            &utf16(r"\Registry\...\Services\GpupBasePlaceholder"),
            DXGKRNL_SERVICE
        ));
        assert!(!names_service(
            &utf16(r"\Registry\...\Services\DXGKrnl2"),
            DXGKRNL_SERVICE
        ));
        assert!(!names_service(
            &utf16(r"\Registry\...\Services\DXGKrn\u{16c}"),
            DXGKRNL_SERVICE
        ));
        assert!(!names_service(&[], DXGKRNL_SERVICE));
    }
}
