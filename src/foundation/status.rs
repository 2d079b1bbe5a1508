//! The driver's error type: one variant per NTSTATUS code the driver returns,
//! so that `?` works everywhere and exactly one place (the DDI trampolines)
//! turns a `Result` into the DDI's return value.

use dxgk_sys::NTSTATUS;

/// A failure, as the NTSTATUS the DDI returns for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `STATUS_UNSUCCESSFUL`.
    Unsuccessful,
    /// `STATUS_NOT_IMPLEMENTED`: the request names something the adapter lacks
    /// (dirty-bit caps of an untracked segment).
    NotImplemented,
    /// `STATUS_INVALID_HANDLE`: an unknown, stale, forged or NULL object handle.
    InvalidHandle,
    /// `STATUS_INVALID_PARAMETER`.
    InvalidParameter,
    /// `STATUS_NO_MEMORY`: an allocation failed.
    NoMemory,
    /// `STATUS_BUFFER_TOO_SMALL`.
    BufferTooSmall,
    /// `STATUS_OBJECT_TYPE_MISMATCH`: data from an incompatible adapter or driver.
    ObjectTypeMismatch,
    /// `STATUS_INSUFFICIENT_RESOURCES`: a bounded table is full.
    InsufficientResources,
    /// `STATUS_NOT_SUPPORTED`.
    NotSupported,
    /// `STATUS_INVALID_DEVICE_STATE`: the call is out of order for the object's state.
    InvalidDeviceState,
    /// `STATUS_ALREADY_REGISTERED`: the request names something the driver
    /// already owns (a memory configuration naming segment 1, the aperture).
    AlreadyRegistered,
    /// `STATUS_REVISION_MISMATCH`: a host record of another revision (its
    /// leading `Size` is not this driver's record size).
    RevisionMismatch,
}

/// The driver's result type.
pub type Result<T> = core::result::Result<T, Status>;

impl Status {
    /// The NTSTATUS code of this failure.
    #[must_use]
    pub const fn ntstatus(self) -> NTSTATUS {
        use dxgk_sys::*;
        match self {
            Self::Unsuccessful => STATUS_UNSUCCESSFUL,
            Self::NotImplemented => STATUS_NOT_IMPLEMENTED,
            Self::InvalidHandle => STATUS_INVALID_HANDLE,
            Self::InvalidParameter => STATUS_INVALID_PARAMETER,
            Self::NoMemory => STATUS_NO_MEMORY,
            Self::BufferTooSmall => STATUS_BUFFER_TOO_SMALL,
            Self::ObjectTypeMismatch => STATUS_OBJECT_TYPE_MISMATCH,
            Self::InsufficientResources => STATUS_INSUFFICIENT_RESOURCES,
            Self::NotSupported => STATUS_NOT_SUPPORTED,
            Self::InvalidDeviceState => STATUS_INVALID_DEVICE_STATE,
            Self::AlreadyRegistered => STATUS_ALREADY_REGISTERED,
            Self::RevisionMismatch => STATUS_REVISION_MISMATCH,
        }
    }
}

impl From<Status> for NTSTATUS {
    fn from(status: Status) -> Self {
        status.ntstatus()
    }
}

/// Maps a unit result to the NTSTATUS a DDI returns.
#[must_use]
pub fn to_ntstatus(result: Result<()>) -> NTSTATUS {
    match result {
        Ok(()) => dxgk_sys::STATUS_SUCCESS,
        Err(status) => status.ntstatus(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_to_an_error_ntstatus() {
        for s in [
            Status::Unsuccessful,
            Status::NotImplemented,
            Status::InvalidHandle,
            Status::InvalidParameter,
            Status::NoMemory,
            Status::BufferTooSmall,
            Status::ObjectTypeMismatch,
            Status::InsufficientResources,
            Status::NotSupported,
            Status::InvalidDeviceState,
            Status::AlreadyRegistered,
            Status::RevisionMismatch,
        ] {
            assert!(!s.ntstatus().is_success(), "{s:?}");
        }
        assert_eq!(to_ntstatus(Ok(())), dxgk_sys::STATUS_SUCCESS);
        assert_eq!(
            to_ntstatus(Err(Status::InvalidHandle)),
            dxgk_sys::STATUS_INVALID_HANDLE
        );
    }
}
