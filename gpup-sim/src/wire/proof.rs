//! The proof across the wire and the page I/O both sides share: VF address
//! runs read from and written to [`Vram`] through the reserve's pieces, the
//! VF's VRAM hashed with BLAKE3 in chunks (so that a mismatch names the page
//! ranges that differ), and the VF's state ([`VfSnapshot`]) encoded for the
//! wire and decoded, bounded, on the other side.

use dxgkrnl_model::vf::Reserve;
use dxgkrnl_model::vfstate::VfSnapshot;
use dxgkrnl_model::vram::Vram;

use super::frame::{Abort, Reader};

/// Reads VF addresses `[addr, addr + len)` into `out` (little-endian words).
/// Returns `false` if the span leaves the reserve.
pub fn read_run(vram: &Vram, reserve: &Reserve, addr: u64, len: u64, out: &mut Vec<u8>) -> bool {
    let pieces = reserve.pieces(addr, len);
    if pieces.is_empty() {
        return false;
    }
    for (offset, n) in pieces {
        if !vram.read_bytes(offset, n, out) {
            return false;
        }
    }
    true
}

/// Writes `bytes` at VF address `addr`. Returns `false` if the span leaves
/// the reserve or is not whole words.
pub fn write_run(vram: &Vram, reserve: &Reserve, addr: u64, bytes: &[u8]) -> bool {
    if !bytes.len().is_multiple_of(8) {
        return false;
    }
    let pieces = reserve.pieces(addr, bytes.len() as u64);
    if pieces.is_empty() {
        return false;
    }
    let mut at = 0usize;
    for (offset, n) in pieces {
        let Some(end) = usize::try_from(n).ok().and_then(|n| at.checked_add(n)) else {
            return false;
        };
        let Some(b) = bytes.get(at..end) else {
            return false;
        };
        if !vram.write_bytes(offset, b) {
            return false;
        }
        at = end;
    }
    true
}

/// Pages per hashed chunk for a reserve of `pages` pages: at least 256, and
/// at most 16 384 chunks in all.
#[must_use]
pub fn chunk_pages(pages: u64) -> u64 {
    pages.div_ceil(16_384).max(256)
}

/// BLAKE3 of each chunk of the VF's VRAM, in VF address order.
#[must_use]
pub fn hash_chunks(vram: &Vram, reserve: &Reserve, page: u64) -> Vec<[u8; 32]> {
    let pages = reserve.size() / page;
    let chunk = chunk_pages(pages);
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity((chunk * page) as usize);
    let mut first = 0;
    while first < pages {
        let n = chunk.min(pages - first);
        buf.clear();
        let _ = read_run(vram, reserve, first * page, n * page, &mut buf);
        out.push(*blake3::hash(&buf).as_bytes());
        first += n;
    }
    out
}

/// The page ranges whose chunks differ, one line each (at most 8 listed).
#[must_use]
pub fn differing_chunks(ours: &[[u8; 32]], theirs: &[[u8; 32]], pages: u64) -> Vec<String> {
    let chunk = chunk_pages(pages);
    if ours.len() != theirs.len() {
        return vec![format!(
            "VRAM: {} chunk hashes here, {} from the target",
            ours.len(),
            theirs.len()
        )];
    }
    let bad: Vec<u64> = (0u64..)
        .zip(ours.iter().zip(theirs))
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i)
        .collect();
    let mut lines: Vec<String> = bad
        .iter()
        .take(8)
        .map(|&i| {
            let first = i * chunk;
            format!(
                "VRAM pages {first}..{} differ (BLAKE3 of the chunk)",
                (first + chunk).min(pages)
            )
        })
        .collect();
    if bad.len() > 8 {
        lines.push(format!("... {} chunks differ in all", bad.len()));
    }
    lines
}

/// The snapshot's wire form.
#[must_use]
pub fn encode_snapshot(s: &VfSnapshot) -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(&(s.config.len() as u32).to_le_bytes());
    w.extend_from_slice(&s.config);
    // What the guest sees of the MSI-X table (compared with the source's)...
    w.extend_from_slice(&s.msix.EntryCount.to_le_bytes());
    w.extend_from_slice(&s.msix.WrittenMask.to_le_bytes());
    for control in &s.msix.VectorControl {
        w.extend_from_slice(&control.to_le_bytes());
    }
    // ...and the target host's own routing (compared with what the target's
    // OS programmed, never with the source host's).
    for e in &s.host_msix {
        w.extend_from_slice(&e.Written.to_le_bytes());
        w.extend_from_slice(&e.MessageAddress.to_le_bytes());
        w.extend_from_slice(&e.MessageData.to_le_bytes());
        w.extend_from_slice(&e.VectorControl.to_le_bytes());
    }
    w.extend_from_slice(&[
        u8::from(s.paused),
        u8::from(s.memory_enabled),
        u8::from(s.msix_enabled),
        u8::from(s.tracked),
    ]);
    w.extend_from_slice(&s.power_state.to_le_bytes());
    w.extend_from_slice(&s.reserve_size.to_le_bytes());
    w.extend_from_slice(&(s.basis_runs.len() as u32).to_le_bytes());
    for (a, b) in &s.basis_runs {
        w.extend_from_slice(&a.to_le_bytes());
        w.extend_from_slice(&b.to_le_bytes());
    }
    w
}

/// Decodes a snapshot, every length bounded; `template` (this side's
/// snapshot) gives the shape every field of which is then overwritten.
///
/// # Errors
/// [`Abort::Protocol`] for a malformed one.
pub fn decode_snapshot(r: &mut Reader<'_>, template: &VfSnapshot) -> Result<VfSnapshot, Abort> {
    let config = r.blob(4096)?.to_vec();
    let mut msix = template.msix;
    msix.EntryCount = r.u32()?;
    msix.WrittenMask = r.u32()?;
    for control in &mut msix.VectorControl {
        *control = r.u32()?;
    }
    let mut host_msix = template.host_msix;
    for e in &mut host_msix {
        e.Written = r.u32()?;
        e.MessageAddress = r.u64()?;
        e.MessageData = r.u32()?;
        e.VectorControl = r.u32()?;
    }
    let flags = r.bytes(4)?;
    let power_state = r.u32()?;
    let reserve_size = r.u64()?;
    let runs = r.u32()?;
    if runs > 64 {
        return Err(Abort::Protocol(format!(
            "{runs} basis runs exceed the bound of 64"
        )));
    }
    let mut basis_runs = Vec::new();
    for _ in 0..runs {
        basis_runs.push((r.u64()?, r.u64()?));
    }
    Ok(VfSnapshot {
        config,
        msix,
        host_msix,
        paused: flags[0] != 0,
        power_state,
        memory_enabled: flags[1] != 0,
        msix_enabled: flags[2] != 0,
        reserve_size,
        basis_runs,
        tracked: flags[3] != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_written_reads_back_and_hashes_name_the_differing_pages() {
        // Two adapters' VRAM: the driver's backings of their segments.
        let driver = dxgkrnl_model::Driver::load().unwrap();
        let config = dxgkrnl_model::AdapterConfig::single(1 << 22, 4096);
        let (a, b) = (
            driver.start_adapter(&config).unwrap(),
            driver.start_adapter(&config).unwrap(),
        );
        let segment = dxgkrnl_model::migration::SEGMENT;
        let vram = Vram::of(a.context(), segment).unwrap();
        let other = Vram::of(b.context(), segment).unwrap();
        let reserve = Reserve::new(1, vec![(1 << 21, 1 << 20), (0, 1 << 20)]).unwrap();
        let data: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
        // A run across the two ranges.
        assert!(write_run(&vram, &reserve, (1 << 20) - 4096, &data));
        let mut back = Vec::new();
        assert!(read_run(&vram, &reserve, (1 << 20) - 4096, 8192, &mut back));
        assert_eq!(back, data);
        assert!(!write_run(&vram, &reserve, 2 << 20, &data));
        let a = hash_chunks(&vram, &reserve, 4096);
        let b = hash_chunks(&other, &reserve, 4096);
        let lines = differing_chunks(&a, &b, 512);
        assert_eq!(
            lines,
            vec![
                "VRAM pages 0..256 differ (BLAKE3 of the chunk)",
                "VRAM pages 256..512 differ (BLAKE3 of the chunk)"
            ]
        );
    }
}
