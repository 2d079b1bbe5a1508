//! What a run did, counted for the report.

use crate::ops::Op;

/// What a run did, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Operations executed.
    pub ops: u64,
    /// Operations that succeeded.
    pub succeeded: u64,
    /// Memory bases created.
    pub created: u64,
    /// Successful queries that reported at least one dirty page.
    pub dirty_reports: u64,
    /// vGPUs created.
    pub vgpus: u64,
    /// Save calls that filled a buffer.
    pub saves: u64,
    /// Successful Restores (immutable or mutable) of data a Save produced.
    pub restores: u64,
    /// Successful RestoreMutable calls: whole migrations (Save and Restore
    /// of both blobs).
    pub migrations: u64,
    /// Restores of damaged data refused with `STATUS_OBJECT_TYPE_MISMATCH`.
    pub corrupt_rejected: u64,
    /// Engine fences completed (and checked against the model).
    pub fences: u64,
    /// Per operation kind ([`Op::kind`] order): calls and successes.
    pub by_kind: [(u64, u64); Op::KINDS.len()],
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            ops: 0,
            succeeded: 0,
            created: 0,
            dirty_reports: 0,
            vgpus: 0,
            saves: 0,
            restores: 0,
            migrations: 0,
            corrupt_rejected: 0,
            fences: 0,
            by_kind: [(0, 0); Op::KINDS.len()],
        }
    }
}

impl core::fmt::Display for Stats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} operations ({} succeeded; ", self.ops, self.succeeded)?;
        for (i, (name, (calls, ok))) in Op::KINDS.iter().zip(self.by_kind).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {ok}/{calls}")?;
        }
        write!(
            f,
            "), {} bases created, {} queries reported dirty pages, {} vGPUs created, \
             {} blobs saved, {} restored ({} whole migrations), {} damaged blobs refused, \
             {} engine fences completed",
            self.created,
            self.dirty_reports,
            self.vgpus,
            self.saves,
            self.restores,
            self.migrations,
            self.corrupt_rejected,
            self.fences
        )
    }
}

impl core::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Self) {
        self.ops += o.ops;
        self.succeeded += o.succeeded;
        self.created += o.created;
        self.dirty_reports += o.dirty_reports;
        self.vgpus += o.vgpus;
        self.saves += o.saves;
        self.restores += o.restores;
        self.migrations += o.migrations;
        self.corrupt_rejected += o.corrupt_rejected;
        self.fences += o.fences;
        for (a, b) in self.by_kind.iter_mut().zip(o.by_kind) {
            a.0 += b.0;
            a.1 += b.1;
        }
    }
}
