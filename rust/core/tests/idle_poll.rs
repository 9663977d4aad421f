//! What a game calls on every connection each frame allocates nothing while nothing happens:
//! `poll()` (pending events, next event), the state getters and the packet count. Its own test
//! binary, because it replaces the global allocator to count allocations on this thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{open_negotiated, Side};

/// Counts the allocations made by the current thread, then defers to the system allocator.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator can run while this thread's locals are being torn down.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn idle_per_frame_calls_allocate_nothing() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (ca, cb) = open_negotiated(&mut a, &mut b, "idle", 1);
    while a.peer.next_event().is_some() || b.peer.next_event().is_some() {}

    let before = allocations();
    let mut seen = 0;
    for _ in 0..10_000 {
        for (side, channel) in [(&mut a, &ca), (&mut b, &cb)] {
            for _ in 0..side.peer.pending_events() {
                seen += usize::from(side.peer.next_event().is_some());
            }
            std::hint::black_box((
                side.peer.get_connection_state(),
                side.peer.get_gathering_state(),
                side.peer.get_signaling_state(),
                channel.get_ready_state(),
                channel.get_available_packet_count(),
            ));
        }
    }
    assert_eq!(seen, 0, "an idle connection produced events");
    assert_eq!(
        allocations() - before,
        0,
        "the idle per-frame calls allocated on the heap"
    );
}
