//! The reference model's segment queries (`ddi_check::model::segments`)
//! agree with the driver on every success path, byte for byte, and on the
//! refusals: one fixed sequence, since random ones reach physical adapter 0
//! with a whole output buffer only rarely.

use ddi_check::ops::{AdapterSel, Op, QaiBuf, SegSel};
use ddi_check::{Flaw, check_sequence};

fn qai(ty: i32, input: u8, index: u32, output: u8) -> Op {
    Op::QueryAdapterInfo {
        adapter: AdapterSel::This,
        ty,
        input: QaiBuf::Size(input),
        segment: SegSel::Raw(index),
        output: QaiBuf::Size(output),
    }
}

#[test]
fn the_model_and_the_driver_agree_on_every_segment_query() {
    // (shortcut, input bytes, output bytes) of each segment query's success
    // path (shortcuts -15..-20, after the 14 caps ones): QUERYSEGMENT4 (count-only: Dxgkrnl's zeroed record),
    // QUERYPAGINGBUFFERINFO with 8 and 16 bytes, the two counts.
    let succeed = [
        (-15, 4, 40),
        (-16, 4, 8),
        (-16, 4, 16),
        (-17, 8, 8),
        (-19, 8, 8),
    ];
    // Refusals: another physical adapter, a short input, a short output,
    // the NULL arrays of QUERYSEGMENT5 and QUERYMMUS.
    let refuse = [
        qai(-15, 4, 1, 40),
        qai(-15, 3, 0, 40),
        qai(-15, 4, 0, 39),
        qai(-16, 4, 0, 7),
        qai(-17, 7, 0, 8),
        qai(-18, 8, 0, 24),
        qai(-18, 8, 0, 23),
        qai(-20, 2, 0, 32),
        qai(-20, 2, 1, 32),
    ];
    let mut ops: Vec<Op> = succeed
        .iter()
        .map(|&(ty, input, output)| qai(ty, input, 0, output))
        .collect();
    ops.extend(refuse.iter().cloned());
    let stats = check_sequence(&ops, Flaw::None).expect("model and driver agree");
    let (calls, ok) = stats.by_kind[6];
    assert_eq!(
        (calls, ok),
        (ops.len() as u64, succeed.len() as u64),
        "{stats}"
    );
}
