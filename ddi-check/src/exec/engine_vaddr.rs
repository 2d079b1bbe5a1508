//! The engine's page-table and VIRTUAL operations through the driver
//! (`Paging::Map`, `Paging::VirtualFill`, `Paging::VirtualTransfer`), against
//! [`crate::model::engine_vaddr`]: the checker owns a root and a leaf table
//! (page-aligned system memory the engine reaches by address, the host
//! convention of `docs/engine.md`), gives the paging context the root with
//! `DxgkDdiSetRootPageTable` at every start, and names the paging context in
//! every VIRTUAL operation's `hSystemContext`.

use dxgk_sys::*;
use dxgkrnl_model::paging::SystemPages;
use gpup_miniport::engine::vaddr::pte;

use super::World;
use crate::model::SEGMENTS;
use crate::model::engine::{self as em, Cmd};
use crate::model::engine_vaddr::PAGE;
use crate::ops::{Paging, VA_PAGES, VA_TARGETS};

const ROOT: usize = 0;
const LEAF: usize = 1;
/// Entries of the root table SetRootPageTable names.
const ROOT_ENTRIES: u32 = 2;

/// The memory the VIRTUAL operations reach, owned for the world's life.
pub(super) struct Vaddr {
    tables: SystemPages,
    /// The UPDATE_PAGE_TABLE entry (`DXGK_PTE`: flags, page address) of
    /// the build under way (read by the driver during the call only).
    entry: Box<[u64; 2]>,
    /// The context handle SetRootPageTable last gave the root (0: none).
    rooted: usize,
}

impl Vaddr {
    pub(super) fn new() -> Self {
        Self {
            tables: SystemPages::new(2),
            entry: Box::new([0; 2]),
            rooted: 0,
        }
    }
}

impl World {
    /// The block of a page-table or VIRTUAL operation and the model's form.
    pub(super) fn vaddr_paging(
        &mut self,
        a: &mut DXGKARG_BUILDPAGINGBUFFER,
        paging: Paging,
    ) -> em::Paging {
        // The paging context (none after a start that created none).
        let context = self
            .adapter
            .paging_process()
            .map_or(0, |p| p.paging_context.handle.0);
        a.hSystemContext = core::ptr::without_provenance_mut(context);
        let v = &mut self.engine.vaddr;
        let rooted = context != 0 && context == v.rooted;
        match paging {
            Paging::Map {
                leaf,
                index,
                target,
            } => {
                let (table, start, entry, page) = if leaf {
                    let page = (target < VA_TARGETS).then_some(u64::from(target));
                    let entry = page.map_or([0, 0], |p| {
                        let id = u64::from(SEGMENTS[0].id);
                        [pte::VALID | (id << pte::SEGMENT_SHIFT), p]
                    });
                    (LEAF, index % VA_PAGES, entry, page)
                } else {
                    let valid = target.is_multiple_of(2);
                    let entry = if valid {
                        [pte::VALID, v.tables.address(LEAF) >> 12]
                    } else {
                        [0, 0]
                    };
                    (ROOT, 0, entry, valid.then_some(0))
                };
                *v.entry = entry;
                a.Operation = DXGK_OPERATION_UPDATE_PAGE_TABLE;
                // DXGK_BUILDPAGINGBUFFER_UPDATEPAGETABLE on x64 (the layout
                // `dxgkrnl_model::paging` writes): GpuPhysical address at
                // 16/24, entries at 32, StartIndex/NumPageTableEntries at 40,
                // Flags at 52, UpdateMode at 80.
                a.Transfer[2] = 0;
                a.Transfer[3] = v.tables.address(table);
                a.Transfer[4] = v.entry.as_ptr().addr() as u64;
                a.Transfer[5] = u64::from(start) | (1 << 32);
                a.Transfer[10] = DXGK_PAGETABLEUPDATE_GPU_PHYSICAL.0 as u64;
                let leaf = leaf.then_some(start);
                em::Paging::Single(Cmd::Map { leaf, page })
            }
            Paging::VirtualFill { at, size, pattern } => {
                let span = u64::from(VA_PAGES) * PAGE;
                let va = u64::from(at) % span;
                let len = u64::from(size) % (span - va + 1);
                a.Operation = DXGK_OPERATION_VIRTUAL_FILL;
                // BpbVirtual: SizeInBytes, SourceOrPattern, Destination at 16, 24, 32.
                a.Transfer[2] = len;
                a.Transfer[3] = u64::from(pattern);
                a.Transfer[4] = va;
                if len == 0 {
                    em::Paging::Nothing
                } else {
                    em::Paging::Single(Cmd::VirtualFill {
                        rooted,
                        va,
                        len,
                        pattern,
                    })
                }
            }
            Paging::VirtualTransfer { from, at, size } => {
                let span = u64::from(VA_PAGES) * PAGE;
                let (src, dst) = (u64::from(from) % span, u64::from(at) % span);
                let len = u64::from(size) % (span - src.max(dst) + 1);
                a.Operation = DXGK_OPERATION_VIRTUAL_TRANSFER;
                a.Transfer[2] = len;
                a.Transfer[3] = src;
                a.Transfer[4] = dst;
                if len == 0 {
                    em::Paging::Nothing
                } else {
                    em::Paging::Single(Cmd::VirtualTransfer {
                        rooted,
                        src,
                        dst,
                        len,
                    })
                }
            }
            _ => em::Paging::Nothing,
        }
    }

    /// After a start: the paging context gets the checker's root table.
    pub(super) fn vaddr_started(&mut self) {
        let Some(p) = self.adapter.paging_process() else {
            return;
        };
        let root = self.engine.vaddr.tables.address(ROOT);
        self.adapter
            .set_root_page_table(p.paging_context.handle, 0, root, ROOT_ENTRIES);
        self.engine.vaddr.rooted = p.paging_context.handle.0;
    }
}
