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
use crate::model::engine::{self as em, Cmd, Place, sys_byte};
use crate::model::engine_vaddr::{Frame, Leaf, PAGE};
use crate::ops::*;

const ROOT: usize = 0;
const LEAF: usize = 1;
/// The first of the checker's system pages leaf entries map.
const SYS: usize = 2;

/// The memory the VIRTUAL operations reach, owned for the world's life.
pub(super) struct Vaddr {
    tables: SystemPages,
    /// The UPDATE_PAGE_TABLE entries (`DXGK_PTE`: flags, page address) of
    /// the build under way (read by the driver during the call only).
    entries: Box<[[u64; 2]; MAP_ENTRIES as usize]>,
    /// The context handle SetRootPageTable last gave the root (0: none).
    rooted: usize,
}

impl Vaddr {
    pub(super) fn new() -> Self {
        let mut tables = SystemPages::new(SYS + usize::from(SYS_TARGETS));
        for p in 0..usize::from(SYS_TARGETS) {
            for (i, b) in tables.page_mut(SYS + p).iter_mut().enumerate() {
                *b = sys_byte(p, i);
            }
        }
        Self {
            tables,
            entries: Box::new([[0; 2]; MAP_ENTRIES as usize]),
            rooted: 0,
        }
    }

    /// Root entry made of `target`: the leaf table (even) or invalid.
    fn root_entry(&self, target: u8) -> ([u64; 2], Option<Leaf>) {
        if target.is_multiple_of(2) {
            let leaf = Leaf {
                frame: Frame::Vram(0),
                read_only: false,
                zero: false,
            };
            ([pte::VALID, self.tables.address(LEAF) >> 12], Some(leaf))
        } else {
            ([0, 0], None)
        }
    }

    /// Leaf entry made of `target` with `flags` (see [`Paging::Map`]).
    fn leaf_entry(&self, target: u8, flags: u8) -> ([u64; 2], Option<Leaf>) {
        let (read_only, zero) = (flags & MAP_READ_ONLY != 0, flags & MAP_ZERO != 0);
        let bits = if read_only { pte::READ_ONLY } else { 0 } | if zero { pte::ZERO } else { 0 };
        let (frame, id, page) = if target < VA_TARGETS {
            let id = u64::from(SEGMENTS[0].id);
            (Frame::Vram(u64::from(target)), id, u64::from(target))
        } else if target < VA_TARGETS + SYS_TARGETS {
            let n = usize::from(target - VA_TARGETS);
            (Frame::Sys(n), 0, self.tables.address(SYS + n) >> 12)
        } else {
            return ([bits, 0], None);
        };
        let entry = [pte::VALID | bits | (id << pte::SEGMENT_SHIFT), page];
        let leaf = Leaf {
            frame,
            read_only,
            zero,
        };
        (entry, Some(leaf))
    }

    /// The block of UPDATE_PAGE_TABLE `paging` (a [`Paging::Map`]) and the
    /// model's form.
    fn update(&mut self, a: &mut DXGKARG_BUILDPAGINGBUFFER, paging: Paging) -> em::Paging {
        let Paging::Map {
            leaf,
            index,
            target,
            count,
            repeat,
            flags,
        } = paging
        else {
            return em::Paging::Nothing;
        };

        let (table, start) = if leaf {
            (LEAF, index % VA_PAGES)
        } else {
            (ROOT, index % (ROOT_ENTRIES + 1))
        };
        let n = 1 + count % MAP_ENTRIES;
        let mut model = [None; MAP_ENTRIES as usize];
        for k in 0..MAP_ENTRIES {
            let t = target.wrapping_add(k);
            let (entry, m) = if leaf {
                self.leaf_entry(t, flags)
            } else {
                self.root_entry(t)
            };
            self.entries[usize::from(k)] = entry;
            model[usize::from(k)] = m;
        }
        if repeat {
            model = [model[0]; MAP_ENTRIES as usize];
        }
        a.Operation = DXGK_OPERATION_UPDATE_PAGE_TABLE;
        // DXGK_BUILDPAGINGBUFFER_UPDATEPAGETABLE on x64 (the layout
        // `dxgkrnl_model::paging` writes): GpuPhysical address at
        // 16/24, entries at 32, StartIndex/NumPageTableEntries at 40,
        // Flags (bit 0 Repeat) at 52, UpdateMode at 80.
        a.Transfer[2] = 0;
        a.Transfer[3] = self.tables.address(table);
        a.Transfer[4] = self.entries.as_ptr().addr() as u64;
        a.Transfer[5] = u64::from(start) | (u64::from(n) << 32);
        a.Transfer[6] = u64::from(repeat) << 32;
        a.Transfer[10] = DXGK_PAGETABLEUPDATE_GPU_PHYSICAL.0 as u64;
        em::Paging::Map {
            leaf,
            start,
            count: n,
            entries: model,
        }
    }

    /// The driver's bytes of the checker's system page `n` from `offset`.
    pub(super) fn sys_bytes(&self, n: usize, offset: u64, got: &mut [u8]) {
        let page = self.tables.page(SYS + n);
        let at = offset as usize;
        got.copy_from_slice(&page[at..at + got.len()]);
    }
}

/// GPU VA `at` (modulo the checker's pages) of region `region`, and the
/// bytes left in those pages from it.
fn va(region: u8, at: u16) -> (u64, u64) {
    let span = u64::from(VA_PAGES) * PAGE;
    let within = u64::from(at) % span;
    (u64::from(region) * REGION + within, span - within)
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
            Paging::Map { .. } => v.update(a, paging),
            Paging::VirtualFill {
                region,
                at,
                size,
                pattern,
            } => {
                let (va, left) = va(region, at);
                let len = u64::from(size) % (left + 1);
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
            Paging::VirtualTransfer {
                regions,
                from,
                at,
                size,
            } => {
                let ((src, a_left), (dst, b_left)) = (va(regions[0], from), va(regions[1], at));
                let len = u64::from(size) % (a_left.min(b_left) + 1);
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

    /// The driver's bytes of `place` from `offset` (`got.len()` of them),
    /// read once the engine is idle.
    pub(super) fn driver_bytes(
        &self,
        place: Place,
        offset: u64,
        got: &mut [u8],
    ) -> Result<(), String> {
        match place {
            Place::Vram(i) => {
                let vram = gpup_miniport::host::vram(self.adapter.context(), SEGMENTS[i].id)
                    .ok_or("no VRAM backing")?;
                vram.read_bytes(offset, got)
                    .map_err(|e| format!("VRAM read: {e:?}"))?;
            }
            Place::Mdl(i) => {
                let p = self.engine.mdl_bytes[i].as_ptr();
                for (k, g) in got.iter_mut().enumerate() {
                    let q = p.wrapping_add(offset as usize + k);
                    // SAFETY: inside the checker's buffer (the model's
                    // range lies in it); the engine is idle.
                    *g = unsafe { q.read_volatile() };
                }
            }
            Place::Sys(n) => self.engine.vaddr.sys_bytes(n, offset, got),
        }
        Ok(())
    }

    /// After a start: the paging context gets the checker's root table.
    pub(super) fn vaddr_started(&mut self) {
        let Some(p) = self.adapter.paging_process() else {
            return;
        };
        let root = self.engine.vaddr.tables.address(ROOT);
        self.adapter
            .set_root_page_table(p.paging_context.handle, 0, root, u32::from(ROOT_ENTRIES));
        self.engine.vaddr.rooted = p.paging_context.handle.0;
    }
}
