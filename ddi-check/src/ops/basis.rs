//! Constructors of the dirty-tracking operations that tests spell often.

use super::{AdapterSel, Bytes, CountSpec, HandleSel, Op, RangeSpec, SegSel};

impl Op {
    /// A basis over pages `0..pages` of the adapter's first configured
    /// segment, created and then started (tracked).
    #[must_use]
    pub fn tracked_pages(adapter: AdapterSel, pages: u16) -> [Self; 2] {
        let at = |n| Bytes::Pages {
            pages: n,
            jitter: 0,
        };
        [
            Self::Create {
                adapter,
                null_args: false,
                segment: SegSel::Configured(0),
                ranges: vec![RangeSpec {
                    offset: at(0),
                    size: at(pages),
                }],
                count: CountSpec::Exact,
                misaligned: false,
            },
            Self::Start {
                adapter,
                basis: HandleSel::Issued(0),
            },
        ]
    }
}
