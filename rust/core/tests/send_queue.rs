//! `put_packet` queues and returns; the channel's sender task hands messages to webrtc-rs.
//! What the game sees must not change for it: the buffered amount counts queued messages,
//! order holds, and closing or freeing a channel sends what was queued before it.

mod common;

use common::{number_of, numbered, open_negotiated, run_until, run_until_within, Side};
use std::time::Duration;
use webrtc_godot_core::{Channel, ChannelState};

const SIZE: usize = 16 * 1024;
/// 12 MiB: below the 16 MiB send buffer, and far above what a reader that does not read can
/// take (its 4 MiB inbox and SCTP's receive window), so most of it stays at the sender.
const COUNT: u32 = 768;
/// What a receiver that does not read can hold at most: its inbox and SCTP's receive window,
/// with room to spare.
const RECEIVER_HOLDS: usize = 6 << 20;

/// Puts `COUNT` numbered messages while the receiver does not read, and checks that the
/// buffered amount accounts for every byte the receiver cannot have taken.
fn put_all(tx: &mut Channel) {
    for seq in 0..COUNT {
        tx.put_packet(&numbered(seq, SIZE))
            .expect("below the send buffer, every put is taken");
    }
    let buffered = tx.get_buffered_amount();
    let put = COUNT as usize * SIZE;
    assert!(
        buffered + RECEIVER_HOLDS >= put && buffered <= put + SIZE,
        "buffered amount {buffered} B after putting {put} B"
    );
}

/// Reads until every message arrived, checking order, then waits for the channel to close.
fn receive_all_then_close(a: &mut Side, b: &mut Side, rx: &mut Channel) {
    let mut next = 0u32;
    run_until_within(
        a,
        b,
        "every queued message",
        Duration::from_secs(60),
        |_, _| {
            // Read the state first: a channel closes only after its last message is delivered.
            let closed = rx.get_ready_state() == ChannelState::Closed;
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                assert_eq!(data.len(), SIZE);
                let seq = number_of(data);
                assert_eq!(seq, next, "in order, none lost");
                next += 1;
            }
            assert!(
                next == COUNT || !closed,
                "the channel closed after {next} of {COUNT} messages"
            );
            next == COUNT
        },
    );
    run_until(a, b, "the channel to close", |_, _| {
        rx.get_ready_state() == ChannelState::Closed
    });
    assert_eq!(
        rx.get_available_packet_count(),
        0,
        "nothing after the close"
    );
}

#[test]
fn a_channel_closed_with_messages_queued_sends_them_all_first() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut tx, mut rx) = open_negotiated(&mut a, &mut b, "queued", 4);
    put_all(&mut tx);
    tx.close();
    assert_eq!(tx.get_ready_state(), ChannelState::Closing);
    receive_all_then_close(&mut a, &mut b, &mut rx);
    run_until(&mut a, &mut b, "the sender's close", |_, _| {
        tx.get_ready_state() == ChannelState::Closed
    });
    assert_eq!(tx.get_buffered_amount(), 0);
}

#[test]
fn a_channel_freed_with_messages_queued_sends_them_all_first() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut tx, mut rx) = open_negotiated(&mut a, &mut b, "freed", 5);
    put_all(&mut tx);
    drop(tx);
    receive_all_then_close(&mut a, &mut b, &mut rx);
}

#[test]
fn the_buffered_amount_returns_to_zero_once_everything_is_acknowledged() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut tx, mut rx) = open_negotiated(&mut a, &mut b, "drain", 6);
    let mut got = 0u32;
    for seq in 0..200u32 {
        tx.put_packet(&seq.to_be_bytes()).expect("put");
    }
    run_until(
        &mut a,
        &mut b,
        "every message and its acknowledgement",
        |_, _| {
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                assert_eq!(data, got.to_be_bytes(), "in order, none lost");
                got += 1;
            }
            got == 200 && tx.get_buffered_amount() == 0
        },
    );
}

/// One large message at a time, so that the sender task has given each buffer back before the
/// next `put_packet()`: every send after the first fills the same buffer. (How many buffers a
/// burst needs depends on how far the network thread keeps up, which differs by platform.)
#[test]
fn large_messages_travel_in_buffers_that_come_back_to_the_game_thread() {
    let mut a = Side::default();
    let mut b = Side::default();
    let (mut tx, mut rx) = open_negotiated(&mut a, &mut b, "lent", 7);
    for seq in 0..4u32 {
        tx.put_packet(&numbered(seq, SIZE)).expect("put");
        let mut arrived = false;
        run_until(&mut a, &mut b, "the message and its buffer", |_, _| {
            while rx.get_available_packet_count() > 0 {
                let data = rx.get_packet().expect("packet");
                assert_eq!(number_of(data), seq, "in order, none lost");
                arrived = true;
            }
            arrived && tx.send_buffers_held() > 0
        });
        assert_eq!(
            tx.send_buffers_held(),
            1,
            "message {seq}: its buffer back, and the first message's buffer reused"
        );
    }
}
