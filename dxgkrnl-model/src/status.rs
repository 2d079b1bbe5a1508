//! The model's result type: every call the model makes ends in an NTSTATUS,
//! from the driver or from a check the model makes where Dxgkrnl would.

/// An NTSTATUS failure from the driver, or from a check the model makes where
/// Dxgkrnl would.
pub type Result<T> = core::result::Result<T, dxgk_sys::NTSTATUS>;

/// Maps an NTSTATUS to `Ok(())` or `Err(status)`.
///
/// # Errors
/// Any status that is not `NT_SUCCESS`.
pub fn check(status: dxgk_sys::NTSTATUS) -> Result<()> {
    if status.is_success() {
        Ok(())
    } else {
        Err(status)
    }
}
