//! The page-table and VIRTUAL commands run by the model
//! ([`super::engine_vaddr`] says what they do): their bytes written into
//! the shadowed VRAM (marked dirty like FILL's) and the checker's system
//! pages.

use super::engine::{Cmd, End, Place};
use super::engine_vaddr::{Frame, Loc, PAGE};
use super::{Model, SEGMENTS};

/// Where the model shadows byte `within` of `frame`.
fn place((frame, within): Loc) -> (Place, u64) {
    match frame {
        Frame::Vram(page) => (Place::Vram(0), page * PAGE + within),
        Frame::Sys(n) => (Place::Sys(n), within),
    }
}

impl Model {
    /// Writes `bytes` (with their unknown flags) at `(place, offset)`:
    /// VRAM as any engine write (marked dirty), a system page as is.
    fn put_at(&mut self, at: Loc, bytes: &[u8], unknown: &[bool]) {
        let (place, offset) = place(at);
        match place {
            Place::Vram(i) => {
                let id = SEGMENTS[i].id;
                self.put(End::Seg { id, offset }, bytes, unknown);
            }
            _ => {
                let s = self.engine.shadow_mut(place);
                let (a, b) = (offset as usize, offset as usize + bytes.len());
                s.bytes[a..b].copy_from_slice(bytes);
                s.unknown[a..b].copy_from_slice(unknown);
                self.engine
                    .touched
                    .push((place, offset, bytes.len() as u64));
            }
        }
    }

    /// Runs a page-table or VIRTUAL command; `None` for any other command,
    /// else whether it ran without a fault.
    pub(super) fn run_vaddr(&mut self, cmd: Cmd) -> Option<bool> {
        Some(match cmd {
            Cmd::Map {
                leaf,
                start,
                count,
                entries,
            } => {
                self.engine.tables.map(leaf, start, count, &entries);
                true
            }
            Cmd::VirtualFill {
                rooted,
                va,
                len,
                pattern,
            } => {
                let p = pattern.to_le_bytes();
                let (pieces, runs) = self.engine.tables.fill_pieces(va, len, rooted);
                for (at, done, n) in pieces {
                    let bytes: Vec<u8> = (done..done + n).map(|k| p[(k % 4) as usize]).collect();
                    if let Some(at) = at {
                        self.put_at(at, &bytes, &vec![false; bytes.len()]);
                    }
                }
                runs
            }
            Cmd::VirtualTransfer {
                rooted,
                src,
                dst,
                len,
            } => {
                let (pieces, runs) = self.engine.tables.transfer_pieces((src, dst), len, rooted);
                for (from, to, n) in pieces {
                    let (bytes, unknown) = match from {
                        Some(from) => {
                            let (p, at) = place(from);
                            let s = self.engine.shadow_mut(p);
                            let (a, b) = (at as usize, (at + n) as usize);
                            (s.bytes[a..b].to_vec(), s.unknown[a..b].to_vec())
                        }
                        None => (vec![0; n as usize], vec![false; n as usize]),
                    };
                    if let Some(to) = to {
                        self.put_at(to, &bytes, &unknown);
                    }
                }
                runs
            }
            _ => return None,
        })
    }

    /// Whether a page-table or VIRTUAL command runs without a fault
    /// (`None` for any other command).
    pub(super) fn vaddr_runs(&self, cmd: &Cmd) -> Option<bool> {
        let t = &self.engine.tables;
        Some(match *cmd {
            Cmd::Map { .. } => true,
            Cmd::VirtualFill {
                rooted, va, len, ..
            } => t.fill_pieces(va, len, rooted).1,
            Cmd::VirtualTransfer {
                rooted,
                src,
                dst,
                len,
            } => t.transfer_pieces((src, dst), len, rooted).1,
            _ => return None,
        })
    }
}
