//! One data channel: the handle the binding wraps, and the task that feeds it.
//!
//! A per-channel pump task reads webrtc-rs events and fills a bounded inbox; the game thread
//! takes packets out with [`Channel::get_packet`]. When the inbox is full the pump waits, which
//! stops webrtc-rs from reading the channel, so SCTP flow control pushes back on the sender:
//! a peer cannot make us buffer without bound, and nothing reliable is dropped.
//!
//! Packets that arrive are only counted and handed out after the next poll (the connection's or
//! the channel's), so between two polls the engine sees every channel's queue change only as it
//! takes packets itself. Godot's `WebRTCMultiplayerPeer` depends on that: it notes which channel
//! holds the next packet, answers `get_packet_mode()` from that note, then takes the packet from
//! the first channel that has one. A reliable message landing in an empty channel between the two
//! was handed out under the unreliable mode the note named, and a game reading modes lost it
//! (`tests/godot/tests/test_chat_stress.gd`). A closed channel hands out all it holds: its
//! state changes without a poll, and what arrived before the close must stay readable.
//!
//! Sending is the mirror image: [`Channel::put_packet`] puts the message in an outbox and
//! returns; a per-channel sender task hands it to webrtc-rs. The game thread so never waits for
//! the connection's lock, which the network task holds while it reads, decrypts and encrypts,
//! and it wakes the sender task through the [`crate::doorbell`], never through tokio's own
//! queue of remote wake-ups, whose lock the worker shares. Large messages travel in buffers that
//! go back to the game thread ([`crate::send_buffers`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use bytes::BytesMut;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelMessage};
use webrtc::peer_connection::{PeerConnection, RTCStatsReportEntry, StatsSelector};

use crate::doorbell::{take_ready, Ended, Waiter};
use crate::error::{Error, Result};
use crate::options::{ChannelOptions, UNSET};
use crate::runtime;
use crate::send_buffers::{Returned, SendBuffers, LENT_ABOVE};
use crate::spin::SpinWatch;
use crate::state::{ChannelState, StateCell};
use crate::stats::ChannelSnapshot;
use crate::sync::lock;

/// The inbox holds at most this many bytes (one message always fits)...
const INBOX_MAX_BYTES: usize = 4 * 1024 * 1024;
/// ...and at most this many messages.
const INBOX_MAX_PACKETS: usize = 65_536;

/// Per-channel send buffer: sends beyond it fail with [`Error::Busy`] instead of growing
/// without bound (Chromium uses the same 16 MiB cap).
const SEND_BUFFER_LIMIT: usize = 16 * 1024 * 1024;

/// `WebRTCDataChannel.WriteMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    Text,
    #[default]
    Binary,
}

/// State shared between the handle and its pump task.
#[derive(Default)]
struct Inbox {
    packets: VecDeque<RTCDataChannelMessage>,
    bytes: usize,
    /// How many packets at the front the game may take: those there at the last poll.
    released: usize,
    /// Packets the game has finished reading, for the pump to free. webrtc-rs allocated them on
    /// a network thread, and freeing one on the game thread takes that thread's allocator lock
    /// (glibc's arena): a network thread preempted while holding it made `get_packet()` wait
    /// for milliseconds. They wait here until the next delivery, at most an inbox's worth.
    spent: Vec<RTCDataChannelMessage>,
}

pub(crate) struct ChannelShared {
    inbox: Mutex<Inbox>,
    /// Mirror of `inbox.released`, so the per-frame count needs no lock.
    available: AtomicUsize,
    /// Mirror of `inbox.packets.len()`, so a poll with nothing new needs no lock.
    arrived: AtomicUsize,
    state: StateCell<ChannelState>,
    /// SCTP stream id, or [`UNSET`] until the transport assigns one.
    id: AtomicU32,
    /// Signalled when the game takes a packet, to wake a pump waiting for inbox room.
    room: Notify,
    /// The connection's count of packets delivered on any of its channels, so that a poll with
    /// nothing new need not visit each channel.
    arrivals: Arc<AtomicUsize>,
}

impl ChannelShared {
    fn new(state: ChannelState, id: Option<u16>, arrivals: Arc<AtomicUsize>) -> Self {
        Self {
            inbox: Mutex::new(Inbox::default()),
            available: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            state: StateCell::new(state),
            id: AtomicU32::new(id.map_or(UNSET as u32, u32::from)),
            room: Notify::new(),
            arrivals,
        }
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        lock(&self.inbox)
    }

    /// The SCTP stream id, once known.
    pub(crate) fn stream_id(&self) -> Option<u16> {
        u16::try_from(self.id.load(Ordering::Acquire))
            .ok()
            .filter(|id| i32::from(*id) != UNSET)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.get() == ChannelState::Closed
    }

    /// Marks the channel closed from the connection side (the connection itself went away).
    /// Also releases a pump waiting for inbox room: nobody will wait for this channel's data.
    pub(crate) fn mark_closed(&self) {
        self.state.set(ChannelState::Closed);
        self.room.notify_one();
    }

    /// Lets the game take every packet that has arrived so far.
    pub(crate) fn release_packets(&self) {
        if self.arrived.load(Ordering::Acquire) == self.available.load(Ordering::Acquire) {
            return;
        }
        let mut inbox = self.inbox();
        inbox.released = inbox.packets.len();
        self.available.store(inbox.released, Ordering::Release);
    }

    /// A closed channel hands out all it holds without a poll: its state changes without one,
    /// and what arrived before the close must stay readable.
    fn release_if_closed(&self) {
        if self.is_closed() {
            self.release_packets();
        }
    }

    /// Takes the oldest packet released by a poll, making room for the pump. When there is one,
    /// `finished` (the packet the game read before) goes to the pump to be freed.
    fn take_packet(
        &self,
        finished: &mut Option<RTCDataChannelMessage>,
    ) -> Option<RTCDataChannelMessage> {
        self.release_if_closed();
        let packet = {
            let mut inbox = self.inbox();
            if inbox.released == 0 {
                return None;
            }
            let packet = inbox.packets.pop_front()?;
            inbox.spent.extend(finished.take());
            inbox.bytes -= packet.data.len();
            inbox.released -= 1;
            self.available.store(inbox.released, Ordering::Release);
            self.arrived.store(inbox.packets.len(), Ordering::Release);
            packet
        };
        self.room.notify_one();
        Some(packet)
    }

    /// Queues a message, waiting while the inbox is full, and frees the packets the game has
    /// finished reading (through `graveyard`, the pump's own list, outside the lock).
    async fn deliver(
        &self,
        message: RTCDataChannelMessage,
        graveyard: &mut Vec<RTCDataChannelMessage>,
    ) {
        let mut message = Some(message);
        loop {
            let room = self.room.notified();
            {
                let mut inbox = self.inbox();
                graveyard.append(&mut inbox.spent);
                let fits = |message: &RTCDataChannelMessage| {
                    inbox.packets.is_empty()
                        || (inbox.bytes + message.data.len() <= INBOX_MAX_BYTES
                            && inbox.packets.len() < INBOX_MAX_PACKETS)
                };
                if let Some(message) = message.take_if(|message| fits(message)) {
                    inbox.bytes += message.data.len();
                    inbox.packets.push_back(message);
                    self.arrived.store(inbox.packets.len(), Ordering::Release);
                    self.arrivals.fetch_add(1, Ordering::Release);
                }
            }
            graveyard.clear();
            if message.is_none() {
                return;
            }
            // A closing channel is still read (what the peer sent before closing arrives
            // first); only once the game let go of it, or its connection went, is it dropped.
            if self.state.get() == ChannelState::Closed {
                return;
            }
            room.await;
        }
    }
}

/// A message on its way from the game thread to webrtc-rs.
enum Outgoing {
    Binary(BytesMut),
    Text(String),
    /// A large message in a buffer of the game thread's, which goes back to it once copied.
    Lent {
        data: Vec<u8>,
        text: bool,
    },
}

impl Outgoing {
    fn len(&self) -> usize {
        match self {
            Self::Binary(data) => data.len(),
            Self::Text(text) => text.len(),
            Self::Lent { data, .. } => data.len(),
        }
    }

    /// Gives a lent buffer back to the game thread; the others are freed here.
    fn give_back(self, returned: &Returned) {
        if let Self::Lent { data, .. } = self {
            returned.give_back(data);
        }
    }
}

/// What a connection keeps of each of its channels: enough to close them and to report them
/// in `get_stats()`, without keeping them alive once the game lets go of them.
#[derive(Clone)]
pub(crate) struct ChannelRef {
    shared: Weak<ChannelShared>,
    dc: Weak<dyn DataChannel>,
    queued: Arc<AtomicUsize>,
    label: String,
}

impl ChannelRef {
    pub(crate) fn shared(&self) -> Option<Arc<ChannelShared>> {
        self.shared.upgrade()
    }

    pub(crate) fn is_held(&self) -> bool {
        self.shared.strong_count() > 0
    }

    /// The channel as `get_stats()` reports it, or `None` once the game let go of it.
    pub(crate) fn snapshot(&self) -> Option<ChannelSnapshot> {
        let shared = self.shared.upgrade()?;
        let state = shared.state.get();
        let buffered_amount = match self.dc.upgrade() {
            Some(dc) if state != ChannelState::Closed => {
                (self.queued.load(Ordering::Acquire) + dc.outstanding_bytes_now()) as u64
            }
            _ => 0,
        };
        Some(ChannelSnapshot {
            label: self.label.clone(),
            id: shared.stream_id(),
            state,
            buffered_amount,
        })
    }
}

/// What the channel was created with; fixed for its lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub label: String,
    pub protocol: String,
    pub ordered: bool,
    pub negotiated: bool,
    pub max_retransmits: Option<u16>,
    pub max_packet_life_time: Option<u16>,
}

/// A data channel as Godot sees it. Owned by the binding's `WebRTCDataChannel` object.
pub struct Channel {
    dc: Arc<dyn DataChannel>,
    shared: Arc<ChannelShared>,
    info: ChannelInfo,
    write_mode: WriteMode,
    /// The connection's `maxMessageSize`: larger sends are refused whole.
    max_message_size: usize,
    /// Messages for the sender task; `None` once the channel is closing.
    outbox: Option<UnboundedSender<Outgoing>>,
    /// The sender task's side of the runtime's [`crate::doorbell::Doorbell`], through which the
    /// game thread wakes it: its own waker, from outside the runtime, would take the runtime's
    /// lock.
    waiter: Arc<Waiter>,
    /// Bytes in the outbox, which webrtc-rs does not count yet.
    queued: Arc<AtomicUsize>,
    /// Buffers for large sends, which the sender task gives back.
    send_buffers: SendBuffers,
    /// The sender task, which a close waits for so that queued messages go first.
    sender: Option<JoinHandle<()>>,
    /// The packet last returned by [`Channel::get_packet`]; Godot reads it through a raw
    /// pointer until the next call, so it must live here.
    current: Option<RTCDataChannelMessage>,
    /// Tells a loop of polls from a frame's, so a loop lends the network threads the core.
    spin: SpinWatch,
}

impl Channel {
    /// Wraps a channel we created, and starts its pump.
    pub(crate) fn local(
        dc: Arc<dyn DataChannel>,
        label: &str,
        options: &ChannelOptions,
        pc: Weak<dyn PeerConnection>,
        max_message_size: usize,
        arrivals: Arc<AtomicUsize>,
    ) -> Self {
        let info = ChannelInfo {
            label: label.to_owned(),
            protocol: options.protocol.clone(),
            ordered: options.ordered,
            negotiated: options.negotiated_id.is_some(),
            max_retransmits: options.max_retransmits,
            max_packet_life_time: options.max_packet_life_time,
        };
        Self::start(
            dc,
            info,
            ChannelState::Connecting,
            options.negotiated_id,
            pc,
            max_message_size,
            arrivals,
        )
    }

    /// Wraps a channel the remote side opened. webrtc-rs announces those once they are open,
    /// so the stream id is already known and is read before Godot can see the channel.
    pub(crate) async fn remote(
        dc: Arc<dyn DataChannel>,
        pc: Weak<dyn PeerConnection>,
        max_message_size: usize,
        arrivals: Arc<AtomicUsize>,
    ) -> Self {
        let id = stream_id(&pc, dc.id()).await;
        let info = ChannelInfo {
            label: dc.label().await.unwrap_or_default(),
            protocol: dc.protocol().await.unwrap_or_default(),
            ordered: dc.ordered().await.unwrap_or(true),
            negotiated: dc.negotiated().await.unwrap_or(false),
            max_retransmits: dc.max_retransmits().await.ok().flatten(),
            max_packet_life_time: dc.max_packet_life_time().await.ok().flatten(),
        };
        Self::start(
            dc,
            info,
            ChannelState::Open,
            id,
            pc,
            max_message_size,
            arrivals,
        )
    }

    fn start(
        dc: Arc<dyn DataChannel>,
        info: ChannelInfo,
        state: ChannelState,
        id: Option<u16>,
        pc: Weak<dyn PeerConnection>,
        max_message_size: usize,
        arrivals: Arc<AtomicUsize>,
    ) -> Self {
        let shared = Arc::new(ChannelShared::new(state, id, arrivals));
        let queued = Arc::new(AtomicUsize::new(0));
        let (outbox, pending) = mpsc::unbounded_channel();
        let send_buffers = SendBuffers::default();
        let waiter = Arc::new(Waiter::default());
        let sender = runtime::handle().ok().map(|handle| {
            handle.spawn(pump(dc.clone(), Arc::downgrade(&shared), pc));
            handle.spawn(send_queued(
                dc.clone(),
                pending,
                waiter.clone(),
                queued.clone(),
                send_buffers.returns(),
            ))
        });
        Self {
            dc,
            shared,
            info,
            write_mode: WriteMode::default(),
            max_message_size,
            outbox: Some(outbox),
            waiter,
            queued,
            send_buffers,
            sender,
            current: None,
            spin: SpinWatch::default(),
        }
    }

    pub(crate) fn reference(&self) -> ChannelRef {
        ChannelRef {
            shared: Arc::downgrade(&self.shared),
            dc: Arc::downgrade(&self.dc),
            queued: self.queued.clone(),
            label: self.info.label.clone(),
        }
    }

    pub fn info(&self) -> &ChannelInfo {
        &self.info
    }

    pub fn get_ready_state(&self) -> ChannelState {
        self.shared.state.get()
    }

    /// SCTP stream id, or 65535 until it is known (in-band channels learn it on open).
    pub fn get_id(&self) -> i32 {
        self.shared.id.load(Ordering::Acquire) as i32
    }

    /// The largest packet [`Self::put_packet`] accepts: the connection's `maxMessageSize`.
    pub fn get_max_packet_size(&self) -> usize {
        self.max_message_size
    }

    pub fn get_write_mode(&self) -> WriteMode {
        self.write_mode
    }

    pub fn set_write_mode(&mut self, mode: WriteMode) {
        self.write_mode = mode;
    }

    /// Packets that arrived by the last poll and are not taken yet; on a closed channel, every
    /// packet left (nothing more can arrive, and what came before the close stays readable).
    /// Lock-free while open: the engine's multiplayer peer asks this for every channel every
    /// frame.
    pub fn get_available_packet_count(&self) -> usize {
        self.shared.release_if_closed();
        self.shared.available.load(Ordering::Acquire)
    }

    /// Whether the packet last returned by [`Self::get_packet`] was sent as text.
    pub fn was_string_packet(&self) -> bool {
        self.current.as_ref().is_some_and(|packet| packet.is_string)
    }

    /// Makes the packets that arrived since the last poll available. The connection's poll
    /// does this for all its channels; this is for a channel read on its own.
    pub fn poll(&self) {
        self.spin.on_poll();
        self.shared.release_packets();
    }

    /// Takes the next packet. The slice stays valid until the next call.
    pub fn get_packet(&mut self) -> Result<&[u8]> {
        let Some(packet) = self.shared.take_packet(&mut self.current) else {
            return Err(Error::unavailable("no packet available"));
        };
        Ok(&self.current.insert(packet).data)
    }

    /// Queues a copy of `data` for sending as text or binary, following the write mode.
    /// Never waits: the sender task hands it to webrtc-rs, in order.
    pub fn put_packet(&mut self, data: &[u8]) -> Result<()> {
        if self.get_ready_state() != ChannelState::Open {
            return Err(self.not_open());
        }
        if data.len() > self.max_message_size {
            return Err(Error::invalid(format!(
                "packet of {} bytes exceeds the maximum message size of {} bytes (the 'maxMessageSize' config key raises it)",
                data.len(),
                self.max_message_size
            )));
        }
        // Always admit onto an empty buffer, so that a message larger than the limit can go.
        let waiting = self.get_buffered_amount();
        if waiting != 0 && waiting.saturating_add(data.len()) > SEND_BUFFER_LIMIT {
            return Err(Error::Busy(format!(
                "send buffer of channel '{}' is full; wait for get_buffered_amount() to drop",
                self.info.label
            )));
        }
        let text = match self.write_mode {
            WriteMode::Binary => None,
            WriteMode::Text => Some(std::str::from_utf8(data).map_err(|_| {
                Error::invalid("text write mode needs UTF-8 data; use binary mode for bytes")
            })?),
        };
        let message = match text {
            _ if data.len() > LENT_ABOVE => Outgoing::Lent {
                data: self.send_buffers.filled(data),
                text: text.is_some(),
            },
            Some(text) => Outgoing::Text(text.to_owned()),
            None => Outgoing::Binary(BytesMut::from(data)),
        };
        self.queued.fetch_add(data.len(), Ordering::AcqRel);
        let sent = self.outbox.as_ref().map(|outbox| outbox.send(message));
        if !matches!(sent, Some(Ok(()))) {
            // The sender task is gone: the connection closed under the channel.
            self.queued.fetch_sub(data.len(), Ordering::AcqRel);
            return Err(self.not_open());
        }
        self.wake_sender();
        Ok(())
    }

    fn wake_sender(&self) {
        if let Some(doorbell) = runtime::doorbell() {
            doorbell.wake(&self.waiter);
        }
    }

    /// Lets the sender task finish once it has sent what is queued. The task only looks at the
    /// outbox when woken, so ending it must wake the task: a task left waiting would keep its
    /// channel, and with it the whole connection, alive.
    fn end_outbox(&mut self) {
        if self.outbox.take().is_some() {
            self.wake_sender();
        }
    }

    /// Buffers of large sends the channel keeps for its next ones: those back from the sender
    /// task and those on their way. For tests.
    #[doc(hidden)]
    pub fn send_buffers_held(&self) -> usize {
        self.send_buffers.held()
    }

    fn not_open(&self) -> Error {
        Error::unavailable(format!("channel '{}' is not open", self.info.label))
    }

    /// Bytes queued for sending that the peer has not yet acknowledged: those still in the
    /// outbox and those webrtc-rs holds. Neither figure waits for the connection.
    pub fn get_buffered_amount(&self) -> usize {
        if self.get_ready_state() == ChannelState::Closed {
            return 0;
        }
        self.queued.load(Ordering::Acquire) + self.dc.outstanding_bytes_now()
    }

    /// Starts a graceful close; the state moves to CLOSING now and CLOSED once SCTP confirms.
    /// Messages already queued are handed to webrtc-rs first.
    pub fn close(&mut self) {
        if matches!(
            self.get_ready_state(),
            ChannelState::Closing | ChannelState::Closed
        ) {
            return;
        }
        self.shared.state.set(ChannelState::Closing);
        self.end_outbox();
        let sender = self.sender.take();
        let dc = self.dc.clone();
        runtime::spawn_close(async move {
            if let Some(sender) = sender {
                let _ = sender.await;
            }
            let _ = dc.close().await;
        });
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.close();
        // A channel that was already closing or closed skipped close()'s hand-over.
        self.end_outbox();
        self.shared.mark_closed();
    }
}

/// Moves webrtc-rs events for one channel into its shared state until the channel ends.
async fn pump(dc: Arc<dyn DataChannel>, shared: Weak<ChannelShared>, pc: Weak<dyn PeerConnection>) {
    let mut graveyard = Vec::new();
    while let Some(event) = dc.poll().await {
        let Some(shared) = shared.upgrade() else {
            break;
        };
        match event {
            DataChannelEvent::OnOpen => {
                // webrtc-rs 0.21.1: a negotiated channel is reported open before its stream
                // registration reaches SCTP; until the next driver wake-up a remote close
                // (stream reset) for it is ignored. Setting the (default) threshold wakes the
                // driver. Shown by `close_is_seen_by_the_other_side` in tests/loopback.rs.
                let _ = dc.set_buffered_amount_low_threshold(0).await;
                if shared.id.load(Ordering::Acquire) == UNSET as u32 {
                    if let Some(id) = stream_id(&pc, dc.id()).await {
                        shared.id.store(u32::from(id), Ordering::Release);
                    }
                }
                shared
                    .state
                    .set_unless(ChannelState::Open, ChannelState::Closed);
            }
            DataChannelEvent::OnMessage(message) => shared.deliver(message, &mut graveyard).await,
            DataChannelEvent::OnClosing => shared
                .state
                .set_unless(ChannelState::Closing, ChannelState::Closed),
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
    if let Some(shared) = shared.upgrade() {
        shared.mark_closed();
    }
}

/// Hands the game's messages to webrtc-rs in order, until the outbox ends (the channel is
/// closing) or webrtc-rs refuses one (the channel or its connection is gone).
///
/// The task never waits on the outbox itself, so that a `put_packet` wakes no task: it waits for
/// the doorbell, then takes everything queued, and the sends made while it is at work need no
/// doorbell at all.
async fn send_queued(
    dc: Arc<dyn DataChannel>,
    mut pending: UnboundedReceiver<Outgoing>,
    waiter: Arc<Waiter>,
    queued: Arc<AtomicUsize>,
    returned: Arc<Returned>,
) {
    'turns: loop {
        waiter.wait().await;
        loop {
            let message = match take_queued(&mut pending, &waiter) {
                Ok(Some(message)) => message,
                Ok(None) => continue 'turns,
                Err(_) => break 'turns,
            };
            let len = message.len();
            let sent = send_one(dc.as_ref(), message, &returned).await;
            // After the send, so that the bytes are counted by webrtc-rs before they leave ours.
            queued.fetch_sub(len, Ordering::AcqRel);
            if sent.is_err() {
                break 'turns;
            }
        }
    }
    // Nothing queued can be sent any more: release what is left, and refuse what follows.
    // `try_recv` waits for a push still under way, which the close let in: its bytes, too, must
    // leave the buffered amount.
    pending.close();
    while let Ok(message) = pending.try_recv() {
        queued.fetch_sub(message.len(), Ordering::AcqRel);
        message.give_back(&returned);
    }
}

/// The next message for the sender task: `None` when it should wait for the doorbell, an error
/// once the outbox has ended and is empty.
fn take_queued(
    pending: &mut UnboundedReceiver<Outgoing>,
    waiter: &Waiter,
) -> std::result::Result<Option<Outgoing>, Ended> {
    waiter.take_or_idle(|| take_ready(pending))
}

/// Hands one message to webrtc-rs, and a lent buffer back to the game thread.
async fn send_one(
    dc: &dyn DataChannel,
    message: Outgoing,
    returned: &Returned,
) -> webrtc::error::Result<()> {
    match message {
        Outgoing::Binary(data) => dc.send(data).await,
        Outgoing::Text(text) => dc.send_text(&text).await,
        Outgoing::Lent { data, text } => {
            // webrtc-rs copies a text message itself; `put_packet` checked it is UTF-8, so the
            // lossy view borrows it as it is.
            let sent = if text {
                dc.send_text(&String::from_utf8_lossy(&data)).await
            } else {
                dc.send(BytesMut::from(&data[..])).await
            };
            returned.give_back(data);
            sent
        }
    }
}

/// Looks up the SCTP stream id of an in-band channel.
/// webrtc-rs 0.21.1: the id is exposed only in stats. Shown by the handshake test's `get_id()`.
async fn stream_id(pc: &Weak<dyn PeerConnection>, handle: usize) -> Option<u16> {
    let pc = pc.upgrade()?;
    let wanted = format!("RTCDataChannel_{handle}");
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let id = report.iter().find_map(|entry| match entry {
        RTCStatsReportEntry::DataChannel(stats) if stats.stats.id == wanted => {
            Some(stats.data_channel_identifier)
        }
        _ => None,
    });
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(byte: u8) -> RTCDataChannelMessage {
        RTCDataChannelMessage {
            is_string: false,
            data: BytesMut::from(&[byte][..]),
        }
    }

    fn arrive(shared: &ChannelShared, bytes: &[u8]) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let mut graveyard = Vec::new();
        for &byte in bytes {
            runtime.block_on(shared.deliver(message(byte), &mut graveyard));
        }
    }

    /// What the game's `get_packet()` takes: the next packet, handing back the one before.
    fn take(shared: &ChannelShared) -> Option<RTCDataChannelMessage> {
        shared.take_packet(&mut None)
    }

    #[test]
    fn packets_that_arrive_wait_for_the_next_poll() {
        let shared = ChannelShared::new(ChannelState::Open, Some(1), Arc::default());
        arrive(&shared, &[1, 2]);
        assert_eq!(shared.available.load(Ordering::Acquire), 0);
        assert!(take(&shared).is_none(), "nothing before a poll");

        shared.release_packets();
        assert_eq!(shared.available.load(Ordering::Acquire), 2);
        let first = take(&shared).expect("a released packet");
        assert_eq!(&first.data[..], [1]);

        // One arrives while the game is between polls: the count only falls as it takes.
        arrive(&shared, &[3]);
        assert_eq!(shared.available.load(Ordering::Acquire), 1);
        assert_eq!(&take(&shared).expect("the second").data[..], [2]);
        assert!(take(&shared).is_none(), "the third waits for a poll");

        shared.release_packets();
        assert_eq!(&take(&shared).expect("the third").data[..], [3]);
        assert_eq!(shared.available.load(Ordering::Acquire), 0);
        assert_eq!(shared.inbox().bytes, 0, "every byte accounted for");
    }

    #[test]
    fn every_packet_delivered_counts_on_the_connection() {
        let arrivals = Arc::new(AtomicUsize::new(0));
        let first = ChannelShared::new(ChannelState::Open, Some(1), arrivals.clone());
        let second = ChannelShared::new(ChannelState::Open, Some(2), arrivals.clone());
        arrive(&first, &[1, 2]);
        arrive(&second, &[3]);
        assert_eq!(
            arrivals.load(Ordering::Acquire),
            3,
            "what lets a poll skip the channels"
        );
    }

    #[test]
    fn a_closed_channel_hands_out_what_came_before_the_close_without_a_poll() {
        let shared = ChannelShared::new(ChannelState::Open, Some(1), Arc::default());
        arrive(&shared, &[1, 2]);
        shared.state.set(ChannelState::Closed);
        assert_eq!(&take(&shared).expect("the first").data[..], [1]);
        assert_eq!(&take(&shared).expect("the second").data[..], [2]);
        assert!(take(&shared).is_none());
    }

    #[test]
    fn a_packet_the_game_has_read_is_freed_by_the_pump() {
        let shared = ChannelShared::new(ChannelState::Open, Some(1), Arc::default());
        arrive(&shared, &[1, 2]);
        shared.release_packets();
        let mut current = shared.take_packet(&mut None);
        current = shared.take_packet(&mut current);
        assert_eq!(
            current.as_ref().map(|packet| &packet.data[..]),
            Some(&[2][..])
        );
        assert_eq!(
            shared.inbox().spent.len(),
            1,
            "the first waits for the pump"
        );
        assert!(
            shared.take_packet(&mut current).is_none(),
            "nothing left to take"
        );
        assert!(current.is_some(), "a failed read keeps the packet it has");
        arrive(&shared, &[3]);
        assert!(
            shared.inbox().spent.is_empty(),
            "the next delivery frees it"
        );
    }
}
