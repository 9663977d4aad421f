//! Every task a connection starts ends once the game has let go of it, however its channels
//! closed: a task left waiting would keep its channel, and with it the whole connection, in
//! memory (a game that connects and leaves a thousand times grew by 400 MiB).
//! Its own test binary: it counts the shared runtime's tasks, which tests beside it would change.

mod common;

use std::time::{Duration, Instant};

use common::{open_negotiated, run_until, Side, DEADLINE};
use webrtc_godot_core::{runtime, ChannelState};

/// Waits until the runtime runs `tasks` tasks or the deadline passes (closes finish in the
/// background), and returns how many it runs.
fn settle_at(tasks: usize) -> usize {
    let metrics = runtime::handle().expect("runtime").metrics();
    let deadline = Instant::now() + DEADLINE;
    while metrics.num_alive_tasks() != tasks && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    metrics.num_alive_tasks()
}

#[test]
fn channels_freed_after_their_connection_closed_leave_no_task_behind() {
    let before = runtime::handle()
        .expect("runtime")
        .metrics()
        .num_alive_tasks();
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut ca, mut cb) = open_negotiated(&mut a, &mut b, "left behind", 1);
    // An exchange that completes, as a game's does: the sender tasks are then idle, waiting.
    ca.put_packet(b"ping").expect("put");
    cb.put_packet(b"pong").expect("put");
    run_until(&mut a, &mut b, "both messages", |_, _| {
        ca.get_available_packet_count() == 1 && cb.get_available_packet_count() == 1
    });

    // The connections close under their channels, which the game frees only afterwards: the
    // channels' own close() has nothing left to do by then.
    a.peer.close();
    b.peer.close();
    run_until(&mut a, &mut b, "the channels to read closed", |_, _| {
        [&ca, &cb]
            .iter()
            .all(|channel| channel.get_ready_state() == ChannelState::Closed)
    });
    drop((ca, cb, a, b));

    assert_eq!(
        settle_at(before),
        before,
        "tasks still running once everything is freed"
    );
}
