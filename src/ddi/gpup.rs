//! What the GPU-P interface modules (`partition`, `sriov`, and
//! `query_interface`, which builds their interfaces) share: the lookup of the
//! partitioning state behind an interface's `Context`, and the interfaces'
//! reference counting. A leaf: it imports none of them.

use dxgk_sys::*;

use crate::adapter::{InterfaceKind, registry};
use crate::foundation::status::Result;
use crate::vgpu::Partitioning;

/// Runs `f` on the partitioning state, the adapter lock and the
/// partitioning lock held shared: the per-VF operations (which then take
/// their VF's lock) and the adapter-wide reads.
pub(crate) fn with_partitions<R>(
    context: HANDLE,
    f: impl FnOnce(&Partitioning) -> Result<R>,
) -> Result<R> {
    registry::with_adapter(context, |a| f(&a.started()?.partitions()?.read()))
}

/// Runs `f` on the partitioning state, the adapter lock held shared and the
/// partitioning lock exclusively: the adapter-wide changes.
pub(crate) fn with_partitions_mut<R>(
    context: HANDLE,
    f: impl FnOnce(&mut Partitioning) -> Result<R>,
) -> Result<R> {
    registry::with_adapter(context, |a| f(&mut a.started()?.partitions()?.write()))
}

/// The size an interface structure states in its `Size` field.
pub(crate) fn size_of_interface<T>() -> USHORT {
    USHORT::try_from(core::mem::size_of::<T>()).unwrap_or(USHORT::MAX)
}

macro_rules! reference_functions {
    ($( $reference:ident, $dereference:ident => $kind:expr; )*) => { $(
        /// `InterfaceReference` of one interface.
        ///
        /// # Safety
        /// Always safe to call: the context is looked up, never dereferenced.
        pub(crate) unsafe extern "system" fn $reference(Context: PVOID) {
            let _ = registry::with_adapter(Context, |a| {
                a.refs().reference($kind);
                Ok(())
            });
        }

        /// `InterfaceDereference` of one interface: a call with no reference
        /// held is ignored (and logged).
        ///
        /// # Safety
        /// Always safe to call: the context is looked up, never dereferenced.
        pub(crate) unsafe extern "system" fn $dereference(Context: PVOID) {
            let _ = registry::with_adapter(Context, |a| {
                a.refs().dereference($kind);
                Ok(())
            });
        }
    )* };
}

reference_functions! {
    PartitionReference, PartitionDereference => InterfaceKind::Partition;
    SriovReference, SriovDereference => InterfaceKind::Sriov;
    FlexIovReference, FlexIovDereference => InterfaceKind::FlexIov;
}
