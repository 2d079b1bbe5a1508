//! Engine traffic inside the VF reserves being migrated (issue 17 item 5):
//! the source adapter's engine writing on a VF's behalf, as the VF's own GPU
//! work would. As the VF's migration starts (before the first harvest) and
//! in each brownout round after the round's pages are copied, while the
//! VF's writers run on, the model's VidMm paging queue
//! ([`crate::paging::PagingQueue`]) submits [`EngineTraffic::ops_per_round`]
//! operations inside the reserve: FILLs of a page, and TRANSFERs of a page
//! from one reserve page to another, alternately, at pages drawn from the
//! run's seed. The engine marks every byte it writes dirty through the
//! tracker, so the next harvest (or the blackout's) finds those pages and
//! the byte-identical proof holds; with [`EngineTraffic::drops_marks`] the
//! engine is made a broken one (`Broken::DropsMarks`) that writes without
//! marking, and the proof must fail.

use gpup_miniport::ddi::engine::host as engine_host;
use gpup_miniport::engine::Broken;

use super::config::{EngineTotals, EngineTraffic, MigrationError, driver_error};
use super::session::Run;
use crate::adapter::Adapter;
use crate::paging::{PagingError, PagingQueue};

/// `splitmix64`: the pages the engine writes, from the run's seed.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The source's paging queue when the run has engine traffic (`None`
/// otherwise: the default run does not touch the engine), its engine made
/// broken if asked.
///
/// # Errors
/// [`MigrationError::Config`] when the source has no paging process.
pub(super) fn queue<'a>(
    traffic: EngineTraffic,
    source: &'a Adapter,
) -> Result<Option<PagingQueue<'a>>, MigrationError> {
    if traffic.ops_per_round == 0 {
        return Ok(None);
    }
    let queue = source.paging_queue().map_err(|e| {
        MigrationError::Config(format!(
            "engine traffic needs the source's paging process: {e:?}"
        ))
    })?;
    if traffic.drops_marks {
        engine_host::set_broken(source.context(), Broken::DropsMarks)
            .map_err(|s| driver_error("making the engine drop its marks", s.into()))?;
    }
    Ok(Some(queue))
}

fn paging_error(vf: u32, e: &PagingError) -> MigrationError {
    MigrationError::Config(format!("VF {vf}: engine traffic failed: {e:?}"))
}

impl Run<'_> {
    /// One round's engine traffic inside VF `i`'s source reserve; adds it to
    /// `totals`. Each operation waits for its fences (the queue's bounded
    /// timeout); a fence that does not come back fails the run.
    pub(super) fn engine_round(
        &mut self,
        i: usize,
        round: u32,
        totals: &mut EngineTotals,
    ) -> Result<(), MigrationError> {
        let Some(queue) = self.engine.as_mut() else {
            return Ok(());
        };
        let v = &self.vfs[i];
        let (vf, reserve) = (v.vf, &v.source_reserve);
        let pages = reserve.size() / self.page;
        if pages == 0 {
            return Ok(());
        }
        let segment = reserve.segment();
        for op in 0..self.config.engine.ops_per_round {
            let r = mix(self.config.seed
                ^ u64::from(vf) << 48
                ^ u64::from(round) << 24
                ^ u64::from(op));
            let dst = reserve.pieces((r % pages) * self.page, self.page);
            let fences = if op % 2 == 0 {
                let pattern = 0xE600_0000 | (u32::from(round as u16) << 8) | (op & 0xFF);
                let mut fences = 0;
                for &(offset, len) in &dst {
                    fences += queue
                        .fill(segment, offset, len, pattern)
                        .map_err(|e| paging_error(vf, &e))?
                        .len();
                }
                totals.fills += 1;
                fences
            } else {
                let src = reserve.pieces((mix(r) % pages) * self.page, self.page);
                let mut fences = 0;
                for (&(from, n), &(to, m)) in src.iter().zip(&dst) {
                    fences += queue
                        .transfer((segment, from), (segment, to), n.min(m))
                        .map_err(|e| paging_error(vf, &e))?
                        .len();
                }
                totals.transfers += 1;
                fences
            };
            totals.bytes += dst.iter().map(|p| p.1).sum::<u64>();
            totals.fences += fences as u64;
        }
        Ok(())
    }
}
