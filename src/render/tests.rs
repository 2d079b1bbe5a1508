use super::*;
use crate::foundation::units::PageSize;

fn render() -> Render {
    let vram = Segment {
        id: SegmentId(2),
        size: 1 << 30,
        page: PageSize::new(4096).ok(),
    };
    Render::new(5, vram).unwrap()
}

#[test]
fn devices_contexts_and_opens_are_created_and_destroyed() {
    let mut r = render();
    let p = r.create_process(1).unwrap();
    let d = r
        .create_device(Device {
            flags: 1,
            process: Some(p),
        })
        .unwrap();
    assert_eq!(table::adapter_of(d), 5);
    assert_eq!(r.device(d).unwrap().process, Some(p));
    assert_eq!(r.process(p).unwrap().flags, 1);
    let (c, info) = r.create_context(d, 0, 1, 1).unwrap();
    assert_eq!(info.dma_buffer_segment_set, 1, "the aperture, segment 1");
    assert_eq!(info.dma_buffer_size, DMA_BUFFER_SIZE);
    assert_eq!(r.context(c).unwrap().device, d);
    assert_eq!(r.create_context(d, 1, 1, 0), Err(Status::InvalidParameter));
    assert_eq!(r.create_context(d, 0, 2, 0), Err(Status::InvalidParameter));
    let data = AllocationData {
        kind: AllocationKind::Vram,
        alignment: 0,
        size: 1 << 20,
    };
    let o = r.open(d, &[(0x40, OpenTarget::Ordinary(data))]).unwrap();
    assert_eq!(r.counts(), [1, 1, 1, 0, 1]);
    assert_eq!(r.destroy_device(d), Ok((1, 1)));
    assert_eq!(r.counts(), [0, 0, 1, 0, 0]);
    assert_eq!(r.context(c).err(), Some(Status::InvalidHandle));
    assert_eq!(r.opened(o[0]).err(), Some(Status::InvalidHandle));
    assert_eq!(r.destroy_device(d), Err(Status::InvalidHandle));
    r.destroy_process(p).unwrap();
    assert_eq!(
        r.create_device(Device {
            flags: 0,
            process: Some(p)
        }),
        Err(Status::InvalidParameter),
        "a destroyed process"
    );
}

#[test]
fn allocations_go_to_the_segment_their_kind_names() {
    let mut r = render();
    let kinds = [
        (AllocationKind::PagingBuffer, 1),
        (AllocationKind::DmaPool, 1),
        (AllocationKind::Vram, 2),
    ];
    for (kind, segment) in kinds {
        let data = AllocationData {
            kind,
            alignment: 0,
            size: 64 << 10,
        };
        let made = r.create_allocations(&[data]).unwrap();
        assert_eq!(made[0].1.segment, SegmentId(segment), "{kind:?}");
        assert_eq!(made[0].1.alignment(), 4096);
    }
    let huge = AllocationData {
        kind: AllocationKind::DmaPool,
        alignment: 0,
        size: APERTURE_SIZE + 1,
    };
    assert_eq!(
        r.create_allocations(&[huge]).err(),
        Some(Status::InvalidParameter)
    );
    let data = AllocationData {
        kind: AllocationKind::Vram,
        alignment: 0,
        size: 4096,
    };
    let h = r.create_allocations(&[data]).unwrap()[0].0;
    assert_eq!(r.destroy_allocations(&[h, h]), Err(Status::InvalidHandle));
    assert!(r.allocation(h).is_ok(), "nothing destroyed on error");
    r.destroy_allocations(&[h]).unwrap();
    assert_eq!(r.allocation(h).err(), Some(Status::InvalidHandle));
}

#[test]
fn the_root_page_table_follows_the_geometry() {
    let mut r = render();
    let d = r
        .create_device(Device {
            flags: 0,
            process: None,
        })
        .unwrap();
    let (c, _) = r.create_context(d, 0, 0, 0).unwrap();
    let root_table = RootPageTable {
        segment: 2,
        offset: 0x10_0000,
        entries: 512,
    };
    assert_eq!(root::recorded(c), None);
    root::record(c, root_table);
    assert_eq!(root::recorded(c), Some(root_table));
    // A later context in the same slot does not read the earlier's record.
    r.destroy_context(c).unwrap();
    let (again, _) = r.create_context(d, 0, 0, 0).unwrap();
    assert_eq!(again.slot(), c.slot());
    assert_eq!(root::recorded(again), None);
}
