//! One peer connection as Godot sees it.
//!
//! [`Peer`] is owned by the binding's `WebRTCPeerConnection` object and called only from the
//! game thread. webrtc-rs reports to a [`Handler`] on the runtime's threads, which only stores:
//! it updates cached states and appends [`PeerEvent`]s to a queue. The game thread drains that
//! queue in `poll()`, so every signal is emitted where GDScript expects it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use webrtc::data_channel::DataChannel;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceCandidateInit,
    RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSessionDescription, RTCStatsReport, StatsSelector,
};

use crate::candidate::{self, Incoming};
use crate::channel::{Channel, ChannelRef};
use crate::config::{self, PeerConfig};
use crate::error::{Error, Result};
use crate::options::ChannelOptions;
use crate::ports::{self, PortClaim};
use crate::runtime;
use crate::sockets::{webrtc_runtime, OnPanic};
use crate::spin::SpinWatch;
use crate::state::{ConnectionState, GatheringState, SignalingState, StateCell};
use crate::stats::{self, ConnectionStats};
use crate::sync::lock;
use crate::timers::SetupWindow;

/// Candidates held until the remote description arrives; more is a misbehaving peer.
const MAX_PENDING_CANDIDATES: usize = 256;

/// How long a relay-only connection may wait for its first TURN allocation.
/// webrtc-rs 0.21.1: gathering never finishes when a TURN server does not answer at all.
/// Shown by `tests/turn/run.sh` (a player with a wrong password gives up).
const RELAY_GATHERING_LIMIT: Duration = Duration::from_secs(10);

/// How long set-up keeps the driver's timers quick after each step that starts it (a
/// description applied, ICE connected); a connection that takes longer continues on its normal
/// timers.
const SETUP_SPAN: Duration = Duration::from_secs(1);

/// How long they stay quick once the connection is up: SCTP and the channels open in this time.
const SETUP_GRACE: Duration = Duration::from_millis(20);

/// Whether a description is an offer or an answer, as Godot's `type` strings name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpKind {
    Offer,
    Answer,
}

impl SdpKind {
    pub fn parse(kind: &str) -> Result<Self> {
        match kind {
            "offer" => Ok(Self::Offer),
            "answer" => Ok(Self::Answer),
            other => Err(Error::invalid(format!(
                "session description type must be \"offer\" or \"answer\", got \"{other}\""
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Answer => "answer",
        }
    }

    fn description(self, sdp: &str) -> Result<RTCSessionDescription> {
        let parsed = match self {
            Self::Offer => RTCSessionDescription::offer(sdp.to_owned()),
            Self::Answer => RTCSessionDescription::answer(sdp.to_owned()),
        };
        parsed.map_err(|err| Error::invalid(format!("invalid {} SDP: {err}", self.as_str())))
    }
}

/// Everything `poll()` turns into a Godot signal.
pub enum PeerEvent {
    /// `session_description_created(type, sdp)`.
    SessionDescription { kind: SdpKind, sdp: String },
    /// `ice_candidate_created(media, index, name)`.
    IceCandidate {
        media: String,
        index: i32,
        name: String,
    },
    /// `data_channel_received(channel)`: the remote side opened an in-band channel.
    DataChannel(Channel),
}

/// What the handler shares with the game thread. One per underlying connection, so a late
/// event from a closed connection can never reach its successor.
struct PeerShared {
    events: Mutex<VecDeque<PeerEvent>>,
    connection: StateCell<ConnectionState>,
    gathering: StateCell<GatheringState>,
    /// Media id stamped on our candidates; taken from our local description.
    local_mid: Mutex<String>,
    /// Every channel of this connection, so `close()` can mark them closed at once and
    /// `get_stats()` can report them.
    channels: Mutex<Vec<ChannelRef>>,
    /// Packets delivered on any of the channels, counted by each channel's pump...
    arrivals: Arc<AtomicUsize>,
    /// ...and that count when `release_packets` last went through the channels.
    released: AtomicUsize,
    /// Local candidates gathered; none at the end of gathering means no path can ever work.
    candidates: AtomicUsize,
    closed: AtomicBool,
}

impl PeerShared {
    fn new() -> Self {
        Self {
            events: Mutex::new(VecDeque::new()),
            connection: StateCell::new(ConnectionState::New),
            gathering: StateCell::new(GatheringState::New),
            local_mid: Mutex::new(String::new()),
            channels: Mutex::new(Vec::new()),
            arrivals: Arc::default(),
            released: AtomicUsize::new(0),
            candidates: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn push(&self, event: PeerEvent) {
        if !self.closed.load(Ordering::Acquire) {
            lock(&self.events).push_back(event);
        }
    }

    /// Marks every channel closed: the connection under them is gone (closed or failed), so
    /// sends must fail instead of queueing for a transport that will never carry them.
    fn close_channels(&self) {
        for channel in lock(&self.channels).iter() {
            if let Some(channel) = channel.shared() {
                channel.mark_closed();
            }
        }
    }

    /// Fails a connection that has no local candidate once gathering is over (or overdue).
    /// webrtc-rs 0.21.1: it keeps such a connection CONNECTING for ever, and Godot code waits
    /// for FAILED. Shown by `tests/turn/run.sh` (wrong password).
    fn fail_without_candidates(&self) {
        if self.candidates.load(Ordering::Acquire) > 0 || self.closed.load(Ordering::Acquire) {
            return;
        }
        log::error!(
            "ICE found no usable address: every TURN server refused us or did not answer \
             (check the 'iceServers' URLs and credentials), or nothing could be bound; the \
             connection has FAILED"
        );
        self.fail();
    }

    /// One of the connection's network tasks panicked (reported just before): nothing will
    /// move its packets any more, so the game sees FAILED rather than a connection that hangs.
    fn fail_after_panic(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        log::error!("the connection has FAILED after the internal error above");
        self.fail();
    }

    fn fail(&self) {
        // Channels first: whoever sees FAILED must also see them closed.
        self.close_channels();
        self.connection
            .set_unless(ConnectionState::Failed, ConnectionState::Closed);
    }

    /// Whether a channel of this connection that is not closed holds SCTP stream `id`.
    fn stream_id_taken(&self, id: u16) -> bool {
        lock(&self.channels)
            .iter()
            .filter_map(ChannelRef::shared)
            .any(|channel| channel.stream_id() == Some(id) && !channel.is_closed())
    }

    /// Lets the game take what arrived on each channel (see `channel.rs` for why only here).
    /// A poll with nothing delivered since the last one visits no channel: a server polls every
    /// connection each frame, and most of them have nothing new most of the time.
    fn release_packets(&self) {
        // Read before the channels: a packet counted after this is released by the next poll.
        let arrivals = self.arrivals.load(Ordering::Acquire);
        if arrivals == self.released.load(Ordering::Relaxed) {
            return;
        }
        for channel in lock(&self.channels).iter().filter_map(ChannelRef::shared) {
            channel.release_packets();
        }
        self.released.store(arrivals, Ordering::Relaxed);
    }

    fn track(&self, channel: &Channel) {
        {
            let mut channels = lock(&self.channels);
            channels.retain(ChannelRef::is_held);
            channels.push(channel.reference());
        }
        // The channel's pump may have delivered before it was listed here, and a poll in
        // between would have counted those packets as released: make the next poll look again.
        self.arrivals.fetch_add(1, Ordering::Release);
    }
}

/// Receives webrtc-rs callbacks on runtime threads. It only stores; it never calls Godot.
struct Handler {
    shared: Arc<PeerShared>,
    /// Quick driver timers while the connection sets up (see [`SetupWindow`]).
    setup: Arc<SetupWindow>,
    pc: OnceLock<Weak<dyn PeerConnection>>,
    max_message_size: usize,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Ok(init) = event.candidate.to_json() else {
            return;
        };
        if let Incoming::Candidate(name) = candidate::normalize(&init.candidate) {
            // A candidate means gathering has begun, even if webrtc-rs reports it after this.
            self.shared
                .gathering
                .replace(GatheringState::New, GatheringState::Gathering);
            self.shared.candidates.fetch_add(1, Ordering::AcqRel);
            let media = lock(&self.shared.local_mid).clone();
            self.shared.push(PeerEvent::IceCandidate {
                media,
                index: 0,
                name,
            });
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if state == RTCIceConnectionState::Connected {
            // DTLS starts now, then SCTP.
            self.setup.open_for(SETUP_SPAN);
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let state = match state {
            RTCIceGatheringState::Gathering => GatheringState::Gathering,
            RTCIceGatheringState::Complete => GatheringState::Complete,
            _ => GatheringState::New,
        };
        self.shared.gathering.set(state);
        if state == GatheringState::Complete {
            self.shared.fail_without_candidates();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::New => ConnectionState::New,
            RTCPeerConnectionState::Connecting => ConnectionState::Connecting,
            RTCPeerConnectionState::Connected => ConnectionState::Connected,
            RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
            RTCPeerConnectionState::Failed => ConnectionState::Failed,
            RTCPeerConnectionState::Closed => ConnectionState::Closed,
            _ => return,
        };
        // Channels first: whoever sees FAILED or CLOSED must also see them closed.
        if matches!(state, ConnectionState::Failed | ConnectionState::Closed) {
            self.shared.close_channels();
            self.setup.close();
        }
        self.shared
            .connection
            .set_unless(state, ConnectionState::Closed);
        if state == ConnectionState::Connected {
            // DTLS is done; SCTP and the channels open within the grace.
            self.setup.open_for(SETUP_GRACE);
            self.setup.mark_connected();
        }
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        // Set right after the build, before any packet can arrive.
        let Some(pc) = self.pc.get().cloned() else {
            return;
        };
        let channel =
            Channel::remote(dc, pc, self.max_message_size, self.shared.arrivals.clone()).await;
        self.shared.track(&channel);
        self.shared.push(PeerEvent::DataChannel(channel));
    }
}

/// The live webrtc-rs connection and the bookkeeping that belongs to it.
struct Live {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<PeerShared>,
    setup: Arc<SetupWindow>,
    /// Remote candidates that arrived before the remote description.
    pending: Vec<RTCIceCandidateInit>,
    has_remote: bool,
    /// Whether `.local` candidates can be resolved (mDNS is on for this connection).
    mdns: bool,
    /// The port of `libdatachannel.portRange*` this connection binds, held while it lives.
    _ports: Option<PortClaim>,
}

/// A WebRTC peer connection with Godot's synchronous API.
pub struct Peer {
    config: PeerConfig,
    /// Built on first use, so `new()` costs nothing and `initialize()` can still change the config.
    live: Option<Live>,
    /// Present from construction so states and `poll()` work before anything is built.
    shared: Arc<PeerShared>,
    signaling: SignalingState,
    /// Tells a loop of polls from a frame's, so a loop lends the network threads the core.
    spin: SpinWatch,
}

impl Default for Peer {
    fn default() -> Self {
        Self::new(PeerConfig::default())
    }
}

impl Peer {
    pub fn new(config: PeerConfig) -> Self {
        Self {
            config,
            live: None,
            shared: Arc::new(PeerShared::new()),
            signaling: SignalingState::Stable,
            spin: SpinWatch::default(),
        }
    }

    /// Closes any current connection and starts over with `config`, in STATE_NEW. The new
    /// connection is built here, so a configuration it cannot work with (an address that cannot
    /// be bound, say) fails this call rather than every later one.
    pub fn initialize(&mut self, config: PeerConfig) -> Result<()> {
        self.close();
        *self = Self::new(config);
        self.live().map(|_| ())
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn get_connection_state(&self) -> ConnectionState {
        self.shared.connection.get()
    }

    pub fn get_gathering_state(&self) -> GatheringState {
        self.shared.gathering.get()
    }

    pub fn get_signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// The first step of `poll()`: makes the packets that arrived on this connection's channels
    /// since the last poll available to the game. A poll in a tight loop first lends the network
    /// threads the core (`spin.rs`).
    pub fn release_packets(&self) {
        self.spin.on_poll();
        self.shared.release_packets();
    }

    /// Events waiting for `poll()`. Read once per poll: events queued by signal handlers during
    /// that poll wait for the next one, so a poll always ends.
    pub fn pending_events(&self) -> usize {
        lock(&self.shared.events).len()
    }

    /// Takes the next event. Called one at a time so a handler that closes the connection
    /// stops the rest of the batch.
    pub fn next_event(&mut self) -> Option<PeerEvent> {
        lock(&self.shared.events).pop_front()
    }

    fn require_new(&self, what: &str) -> Result<()> {
        match self.get_connection_state() {
            ConnectionState::New => Ok(()),
            state => Err(Error::unavailable(format!(
                "{what} is only allowed in STATE_NEW (the connection is {state:?}); call initialize() to start over"
            ))),
        }
    }

    fn require_open(&self, what: &str) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::unavailable(format!(
                "{what}: the connection is closed; call initialize() to start over"
            )));
        }
        Ok(())
    }

    /// The live connection, building it on first use.
    fn live(&mut self) -> Result<&mut Live> {
        if self.live.is_none() {
            let mut network = self.config.network(&config::local_addresses());
            let ports = match self.config.port_range {
                Some(range) => ports::claim(&mut network.udp_addrs, range)?,
                None => None,
            };
            let setup = Arc::new(SetupWindow::default());
            let on_panic = {
                let shared = Arc::downgrade(&self.shared);
                OnPanic::new(move || {
                    if let Some(shared) = shared.upgrade() {
                        shared.fail_after_panic();
                    }
                })
            };
            let handler = Arc::new(Handler {
                shared: self.shared.clone(),
                setup: setup.clone(),
                pc: OnceLock::new(),
                max_message_size: self.config.max_message_size,
            });
            let builder = PeerConnectionBuilder::new()
                .with_configuration(self.config.rtc_configuration())
                .with_setting_engine(self.config.setting_engine(&network))
                .with_handler(handler.clone())
                .with_runtime(webrtc_runtime(setup.clone(), on_panic))
                .with_udp_addrs(network.udp_addrs);
            let pc = runtime::call(builder.build(), |err| {
                Error::failed("cannot create the peer connection", err)
            })?;
            let pc: Arc<dyn PeerConnection> = Arc::new(pc);
            let _ = handler.pc.set(Arc::downgrade(&pc));
            self.live = Some(Live {
                pc,
                shared: self.shared.clone(),
                setup,
                pending: Vec::new(),
                has_remote: false,
                mdns: network.mdns,
                _ports: ports,
            });
        }
        self.live
            .as_mut()
            .ok_or_else(|| Error::failed("peer connection", "not built"))
    }

    /// Creates an offer; it arrives as a `SessionDescription` event on the next poll.
    pub fn create_offer(&mut self) -> Result<()> {
        self.require_new("create_offer()")?;
        let live = self.live()?;
        let pc = live.pc.clone();
        let offer = runtime::call(pc.create_offer(None), |err| {
            Error::failed("cannot create an offer", err)
        })?;
        live.shared.push(PeerEvent::SessionDescription {
            kind: SdpKind::Offer,
            sdp: offer.sdp,
        });
        Ok(())
    }

    /// Applies the remote side's description. For an offer, the answer is created here and
    /// arrives as a `SessionDescription` event, as Godot's other implementations do.
    pub fn set_remote_description(&mut self, kind: SdpKind, sdp: &str) -> Result<()> {
        self.require_open("set_remote_description()")?;
        let description = kind.description(sdp)?;
        let live = self.live()?;
        let pc = live.pc.clone();
        // Candidates and connectivity checks follow at once.
        live.setup.open_for(SETUP_SPAN);
        runtime::call(pc.set_remote_description(description), |err| {
            Error::invalid(format!("remote {} rejected: {err}", kind.as_str()))
        })?;
        live.has_remote = true;
        for candidate in std::mem::take(&mut live.pending) {
            if let Err(err) = runtime::block_on(pc.add_ice_candidate(candidate.clone()))? {
                log::warn!(
                    "queued ICE candidate '{}' rejected: {err}",
                    candidate.candidate
                );
            }
        }
        self.signaling = match kind {
            SdpKind::Offer => SignalingState::HaveRemoteOffer,
            SdpKind::Answer => SignalingState::Stable,
        };
        if kind == SdpKind::Offer {
            let answer = runtime::call(pc.create_answer(None), |err| {
                Error::failed("cannot create an answer", err)
            })?;
            self.shared.push(PeerEvent::SessionDescription {
                kind: SdpKind::Answer,
                sdp: answer.sdp,
            });
        }
        Ok(())
    }

    /// Applies our own description (the one `poll()` handed out); ICE gathering starts here.
    pub fn set_local_description(&mut self, kind: SdpKind, sdp: &str) -> Result<()> {
        self.require_open("set_local_description()")?;
        let description = kind.description(sdp)?;
        let live = self.live()?;
        *lock(&live.shared.local_mid) = candidate::first_mid(sdp).unwrap_or_else(|| "0".into());
        let pc = live.pc.clone();
        live.setup.open_for(SETUP_SPAN);
        runtime::call(pc.set_local_description(description), |err| {
            Error::invalid(format!("local {} rejected: {err}", kind.as_str()))
        })?;
        if self.config.relay_only && !self.config.ice_servers.is_empty() {
            let shared = Arc::downgrade(&self.shared);
            if let Ok(handle) = runtime::handle() {
                handle.spawn(async move {
                    tokio::time::sleep(RELAY_GATHERING_LIMIT).await;
                    if let Some(shared) = shared.upgrade() {
                        shared.fail_without_candidates();
                    }
                });
            }
        }
        self.signaling = match kind {
            SdpKind::Offer => SignalingState::HaveLocalOffer,
            SdpKind::Answer => SignalingState::Stable,
        };
        Ok(())
    }

    /// Adds a remote candidate, in any of the forms signaling code produces. Candidates that
    /// arrive before the remote description are held and applied with it.
    pub fn add_ice_candidate(&mut self, media: &str, index: i32, name: &str) -> Result<()> {
        self.require_open("add_ice_candidate()")?;
        let candidate = match candidate::normalize(name) {
            Incoming::EndOfCandidates => return Ok(()),
            Incoming::Candidate(candidate) => candidate,
        };
        let body = candidate.trim_start_matches("candidate:");
        if !candidate::is_mdns(&candidate) {
            rtc::ice::candidate::unmarshal_candidate(body)
                .map_err(|err| Error::invalid(format!("invalid ICE candidate '{name}': {err}")))?;
        }
        let live = self.live()?;
        if candidate::is_mdns(&candidate) && !live.mdns {
            log::debug!("mDNS is off: skipping '.local' candidate '{candidate}'");
            return Ok(());
        }
        let init = RTCIceCandidateInit {
            candidate,
            sdp_mid: (!media.is_empty()).then(|| media.to_owned()),
            sdp_mline_index: u16::try_from(index).ok(),
            ..Default::default()
        };
        if !live.has_remote {
            if live.pending.len() >= MAX_PENDING_CANDIDATES {
                return Err(Error::unavailable(format!(
                    "more than {MAX_PENDING_CANDIDATES} ICE candidates arrived before the remote description"
                )));
            }
            live.pending.push(init);
            return Ok(());
        }
        let pc = live.pc.clone();
        runtime::call(pc.add_ice_candidate(init), |err| {
            Error::invalid(format!("ICE candidate '{name}' rejected: {err}"))
        })
    }

    /// Creates a channel. Only allowed in STATE_NEW, before the offer, as in the engine's docs.
    pub fn create_data_channel(
        &mut self,
        label: &str,
        options: &ChannelOptions,
    ) -> Result<Channel> {
        self.require_new("create_data_channel()")?;
        if let Some(id) = options.negotiated_id {
            // W3C: OperationError. webrtc-rs 0.21.1: it accepts the second channel, which then
            // takes the first one's messages. Shown by
            // `a_second_negotiated_channel_with_a_taken_id_is_refused` in tests/loopback.rs.
            if self.shared.stream_id_taken(id) {
                return Err(Error::invalid(format!(
                    "cannot create channel '{label}': id {id} is already used by another channel \
                     of this connection; each negotiated channel needs its own id"
                )));
            }
        }
        let max_message_size = self.config.max_message_size;
        let live = self.live()?;
        let pc = live.pc.clone();
        let dc = runtime::call(
            pc.create_data_channel(label, Some(options.to_init())),
            |err| Error::invalid(format!("cannot create channel '{label}': {err}")),
        )?;
        let channel = Channel::local(
            dc,
            label,
            options,
            Arc::downgrade(&pc),
            max_message_size,
            live.shared.arrivals.clone(),
        );
        live.shared.track(&channel);
        Ok(channel)
    }

    /// The figures a game shows in its HUD. Cheap enough for every frame: one snapshot of
    /// webrtc-rs's counters, no network traffic.
    pub fn get_stats(&self) -> ConnectionStats {
        let channels: Vec<ChannelRef> = {
            let mut channels = lock(&self.shared.channels);
            channels.retain(ChannelRef::is_held);
            channels.clone()
        };
        let snapshots: Vec<_> = channels.iter().filter_map(ChannelRef::snapshot).collect();
        let pc = self.live.as_ref().map(|live| live.pc.clone());
        let collected = runtime::block_on(async move {
            match pc {
                Some(pc) => {
                    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
                    stats::collect(&report, snapshots)
                }
                None => stats::collect(&RTCStatsReport::default(), snapshots),
            }
        });
        collected.unwrap_or_default()
    }

    /// Closes the connection without waiting: states read CLOSED at once, the goodbye to the
    /// remote side is sent in the background.
    pub fn close(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.connection.set(ConnectionState::Closed);
        self.signaling = SignalingState::Closed;
        lock(&self.shared.events).clear();
        self.shared.close_channels();
        if let Some(live) = self.live.take() {
            live.setup.close();
            runtime::spawn_close(async move {
                let _ = live.pc.close().await;
            });
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.close();
    }
}
