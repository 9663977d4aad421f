//! Answers the peer's repeated DTLS handshake flight on rtc-dtls's behalf.
//!
//! RFC 6347 §4.2.4: a peer repeats its flight when it has not heard our answer, so the answer
//! was lost and has to go out again. webrtc-rs 0.21.1: rtc-dtls does not answer such a repeat, and worse,
//! cancels its own retransmission timer whenever a handshake record arrives while it waits, so
//! after a repeat it never sends its flight again. A lost final client flight stalled the
//! handshake for good (figures in PROFILES.md, "Sockets, timers and set-up").
//!
//! The sockets show every datagram to a [`LastFlight`], which keeps the datagrams of our latest
//! flight. A datagram from the peer carrying only handshake fragments the stack has already
//! answered is a repeat: it is kept from the stack, whose timer therefore keeps running, and
//! our flight goes out again byte for byte (the peer's replay window drops the records it
//! already has and takes the ones that were lost). A second copy of fragments that arrived
//! less than [`DUPLICATE_WINDOW`] ago is kept from the stack too: it carries nothing new, and
//! arriving while the stack is still answering the first copy it cancelled the timer of that
//! answer. Any other repeat the stack has not answered reaches it, in case it could not take
//! the first copy.
//!
//! Plain DTLS and DTLS inside TURN ChannelData are recognised (RFC 7983 first-byte ranges);
//! STUN-framed TURN indications are left alone. The watch ends for good once both sides have
//! sent ChangeCipherSpec or we send application data: from then on our stack is past waiting,
//! and rtc-dtls answers repeats of the peer's final flight itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The most resends for one handshake; rtc-dtls repeats a flight at most seven times.
const MAX_RESENDS: u32 = 8;

/// A repeated flight arrives as a burst of datagrams; it is answered once per burst.
const RESEND_SPACING: Duration = Duration::from_millis(250);

/// A copy arriving this soon after the first is a duplicate (from the network, or a peer whose
/// own timer and answer crossed), never the peer's timed retransmission of a flight (1 s).
const DUPLICATE_WINDOW: Duration = Duration::from_millis(250);

/// Upper bounds on what is kept: a WebRTC handshake flight is a few datagrams, a whole
/// handshake a dozen fragments.
const MAX_FLIGHT_DATAGRAMS: usize = 16;
const MAX_SEEN_FRAGMENTS: usize = 64;

const RECORD_HEADER: usize = 13;
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// A handshake fragment of the peer's: message sequence and fragment offset.
type Fragment = (u16, u32);

/// Identifies a flight by its first record: content type, epoch and fragment if readable.
type FlightStart = (u8, u16, Option<Fragment>);

/// Our flight's datagrams, each with its destination.
pub(crate) type Flight = [(SocketAddr, Vec<u8>)];

/// What to do with a datagram from the peer.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict<'a> {
    /// Hand it to the stack.
    Deliver,
    /// Keep it from the stack: a duplicate, or a repeat answered a moment ago.
    Hold,
    /// A repeat of a flight the stack has answered: keep it from the stack, and send our
    /// flight instead.
    Answer(&'a Flight),
}

/// One connection's handshake as seen from its socket.
#[derive(Debug, Default)]
pub(crate) struct LastFlight {
    /// Our latest flight.
    flight: Vec<(SocketAddr, Vec<u8>)>,
    flight_start: Option<FlightStart>,
    /// Counts our flights that answered one of the peer's.
    answers: u32,
    /// The peer sent a flight we had not seen since our last send.
    peer_moved_on: bool,
    /// Plaintext handshake fragments received from the peer.
    seen: Vec<Seen>,
    sent_change_cipher_spec: bool,
    received_change_cipher_spec: bool,
    resends: u32,
    last_resend: Option<Instant>,
    finished: bool,
}

/// A fragment of the peer's and when it first arrived.
#[derive(Debug)]
struct Seen {
    fragment: Fragment,
    /// The value of [`LastFlight::answers`] then: below the current one, it has been answered.
    answers: u32,
    at: Instant,
}

impl LastFlight {
    /// Whether the handshake is over, so no datagram needs to be shown any more.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Notes a datagram we sent to `to`.
    pub(crate) fn on_send(&mut self, to: SocketAddr, datagram: &[u8]) {
        let Some(summary) = self.summary(datagram) else {
            return;
        };
        if summary.application_data {
            // Only a finished handshake sends data.
            self.finish();
            return;
        }
        if !summary.handshake {
            return;
        }
        if self.peer_moved_on {
            self.answers += 1;
        }
        if self.peer_moved_on || self.flight_start == summary.start {
            // Our answer to a new flight, or our own stack resending this one.
            self.flight.clear();
            self.peer_moved_on = false;
        }
        if self.flight.is_empty() {
            self.flight_start = summary.start;
        }
        if self.flight.len() < MAX_FLIGHT_DATAGRAMS {
            self.flight.push((to, datagram.to_vec()));
        }
        if summary.change_cipher_spec {
            self.sent_change_cipher_spec = true;
            self.finish_if_both_switched();
        }
    }

    /// Notes a datagram we received at `now` and says what to do with it.
    pub(crate) fn on_receive(&mut self, now: Instant, datagram: &[u8]) -> Verdict<'_> {
        let Some(summary) = self.summary(datagram) else {
            return Verdict::Deliver;
        };
        if summary.change_cipher_spec {
            self.received_change_cipher_spec = true;
            self.finish_if_both_switched();
        }
        if !summary.handshake || self.finished {
            return Verdict::Deliver;
        }
        if summary.fragments.is_empty() {
            // Encrypted records only: new as far as can be told.
            self.peer_moved_on = true;
            return Verdict::Deliver;
        }
        let (mut fresh, mut answered, mut duplicate) = (false, true, true);
        for fragment in summary.fragments {
            match self.seen.iter().find(|seen| seen.fragment == fragment) {
                Some(seen) => {
                    answered &= seen.answers < self.answers;
                    duplicate &= now.duration_since(seen.at) < DUPLICATE_WINDOW;
                }
                None => {
                    fresh = true;
                    if self.seen.len() < MAX_SEEN_FRAGMENTS {
                        self.seen.push(Seen {
                            fragment,
                            answers: self.answers,
                            at: now,
                        });
                    }
                }
            }
        }
        if fresh {
            self.peer_moved_on = true;
            return Verdict::Deliver;
        }
        if !answered {
            return if duplicate {
                Verdict::Hold
            } else {
                Verdict::Deliver
            };
        }
        let spaced = self
            .last_resend
            .is_none_or(|last| now.duration_since(last) >= RESEND_SPACING);
        if !spaced || self.resends >= MAX_RESENDS {
            return Verdict::Hold;
        }
        self.resends += 1;
        self.last_resend = Some(now);
        Verdict::Answer(&self.flight)
    }

    /// What `datagram` carries, or `None` if it is no DTLS or the watch is over.
    fn summary(&self, datagram: &[u8]) -> Option<Summary> {
        if self.finished {
            return None;
        }
        Some(Summary::of(dtls_payload(datagram)?))
    }

    fn finish_if_both_switched(&mut self) {
        if self.sent_change_cipher_spec && self.received_change_cipher_spec {
            self.finish();
        }
    }

    fn finish(&mut self) {
        *self = Self {
            finished: true,
            ..Self::default()
        };
    }
}

/// The DTLS records of a datagram, unwrapped from TURN ChannelData if need be.
pub(crate) fn dtls_payload(datagram: &[u8]) -> Option<&[u8]> {
    match *datagram.first()? {
        20..=63 => Some(datagram),
        64..=79 => {
            let length = usize::from(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]));
            let payload = datagram.get(4..4 + length)?;
            matches!(payload.first(), Some(20..=63)).then_some(payload)
        }
        _ => None,
    }
}

/// What the records of one DTLS datagram carry, as far as the handshake watch cares.
#[derive(Debug, Default)]
struct Summary {
    /// A handshake or ChangeCipherSpec record.
    handshake: bool,
    change_cipher_spec: bool,
    application_data: bool,
    start: Option<FlightStart>,
    /// Plaintext (epoch 0) handshake fragments.
    fragments: Vec<Fragment>,
}

impl Summary {
    /// Walks the records; a truncated record ends the walk.
    fn of(mut records: &[u8]) -> Self {
        let mut summary = Self::default();
        while records.len() >= RECORD_HEADER {
            let content = records[0];
            let epoch = u16::from_be_bytes([records[3], records[4]]);
            let length = usize::from(u16::from_be_bytes([records[11], records[12]]));
            let Some(body) = records.get(RECORD_HEADER..RECORD_HEADER + length) else {
                break;
            };
            let fragment = (content == HANDSHAKE && epoch == 0)
                .then(|| handshake_fragment(body))
                .flatten();
            summary.start.get_or_insert((content, epoch, fragment));
            match content {
                CHANGE_CIPHER_SPEC => {
                    summary.handshake = true;
                    summary.change_cipher_spec = true;
                }
                HANDSHAKE => {
                    summary.handshake = true;
                    summary.fragments.extend(fragment);
                }
                APPLICATION_DATA => summary.application_data = true,
                _ => {}
            }
            records = &records[RECORD_HEADER + length..];
        }
        summary
    }
}

/// Message sequence and fragment offset of a plaintext handshake fragment (RFC 6347 §4.2.2:
/// type, length (3), message_seq (2), fragment_offset (3), fragment_length (3)).
fn handshake_fragment(body: &[u8]) -> Option<Fragment> {
    let header = body.get(..12)?;
    let sequence = u16::from_be_bytes([header[4], header[5]]);
    let offset = u32::from_be_bytes([0, header[6], header[7], header[8]]);
    Some((sequence, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PEER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

    fn record(content: u8, epoch: u16, body: &[u8]) -> Vec<u8> {
        let mut record = vec![content, 0xfe, 0xfd];
        record.extend_from_slice(&epoch.to_be_bytes());
        record.extend_from_slice(&[0; 6]);
        record.extend_from_slice(&u16::try_from(body.len()).expect("short").to_be_bytes());
        record.extend_from_slice(body);
        record
    }

    /// A plaintext handshake fragment of message `sequence` at `offset`.
    fn handshake(sequence: u16, offset: u32) -> Vec<u8> {
        let mut body = vec![1, 0, 0, 4];
        body.extend_from_slice(&sequence.to_be_bytes());
        body.extend_from_slice(&offset.to_be_bytes()[1..]);
        body.extend_from_slice(&[0, 0, 4, 0xaa, 0xbb, 0xcc, 0xdd]);
        record(HANDSHAKE, 0, &body)
    }

    /// A final flight: a plaintext message, ChangeCipherSpec, encrypted Finished.
    fn finishing_flight(sequence: u16) -> Vec<u8> {
        [
            handshake(sequence, 0),
            record(CHANGE_CIPHER_SPEC, 0, &[1]),
            record(HANDSHAKE, 1, &[0x55; 40]),
        ]
        .concat()
    }

    fn later(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    /// The client's side up to its final flight: our hello, the server's flight, our answer.
    fn client_waiting_for_the_last_flight(start: Instant) -> LastFlight {
        let mut client = LastFlight::default();
        client.on_send(PEER, &handshake(0, 0));
        assert_eq!(client.on_receive(start, &server_flight()), Verdict::Deliver);
        client.on_send(PEER, &finishing_flight(1));
        client
    }

    fn server_flight() -> Vec<u8> {
        [handshake(1, 0), handshake(2, 0)].concat()
    }

    #[test]
    fn an_answered_flight_repeated_is_held_back_and_answered_with_ours() {
        let start = Instant::now();
        let mut client = client_waiting_for_the_last_flight(start);
        let ours = [(PEER, finishing_flight(1))];
        assert_eq!(
            client.on_receive(later(start, 1000), &server_flight()),
            Verdict::Answer(&ours)
        );
        assert_eq!(
            client.on_receive(later(start, 1010), &server_flight()),
            Verdict::Hold,
            "held back, but answered once per burst"
        );
        assert_eq!(
            client.on_receive(later(start, 2000), &server_flight()),
            Verdict::Answer(&ours)
        );
    }

    #[test]
    fn what_the_stack_has_not_answered_reaches_it_unless_it_just_arrived() {
        let start = Instant::now();
        let mut client = LastFlight::default();
        client.on_send(PEER, &handshake(0, 0));
        assert_eq!(client.on_receive(start, &handshake(1, 0)), Verdict::Deliver);
        assert_eq!(
            client.on_receive(later(start, 2), &handshake(1, 0)),
            Verdict::Hold,
            "a duplicate while the stack answers the first copy"
        );
        assert_eq!(
            client.on_receive(later(start, 1000), &handshake(1, 0)),
            Verdict::Deliver,
            "a repeat before our answer: the stack may still need it"
        );
        assert_eq!(
            client.on_receive(
                later(start, 1000),
                &[handshake(1, 0), handshake(1, 100)].concat()
            ),
            Verdict::Deliver,
            "a datagram with anything new"
        );
        assert_eq!(
            client.on_receive(start, &record(HANDSHAKE, 1, &[0; 32])),
            Verdict::Deliver,
            "encrypted records cannot be told apart"
        );
    }

    #[test]
    fn our_own_resend_replaces_the_kept_flight() {
        let start = Instant::now();
        let mut server = LastFlight::default();
        assert_eq!(server.on_receive(start, &handshake(0, 0)), Verdict::Deliver);
        server.on_send(PEER, &handshake(0, 0));
        server.on_send(PEER, &handshake(1, 0));
        server.on_send(PEER, &handshake(0, 0));
        assert_eq!(
            server.on_receive(start, &handshake(0, 0)),
            Verdict::Answer(&[(PEER, handshake(0, 0))]),
            "only the stack's latest copy of the flight"
        );
    }

    #[test]
    fn the_watch_ends_once_both_sides_switched_cipher_or_we_send_data() {
        let start = Instant::now();
        let mut client = client_waiting_for_the_last_flight(start);
        assert!(!client.is_finished(), "only we switched");
        assert_eq!(
            client.on_receive(start, &finishing_flight(3)),
            Verdict::Deliver
        );
        assert!(client.is_finished());
        assert_eq!(
            client.on_receive(later(start, 1000), &server_flight()),
            Verdict::Deliver
        );

        let mut server = LastFlight::default();
        server.on_receive(start, &handshake(0, 0));
        server.on_send(PEER, &handshake(1, 0));
        server.on_receive(start, &record(APPLICATION_DATA, 1, &[0; 32]));
        assert!(
            !server.is_finished(),
            "data from the peer says nothing of ours"
        );
        server.on_send(PEER, &record(APPLICATION_DATA, 1, &[0; 32]));
        assert!(server.is_finished());
        assert_eq!(server.on_receive(start, &handshake(0, 0)), Verdict::Deliver);
    }

    #[test]
    fn handshakes_inside_turn_channel_data_are_recognised() {
        let wrap = |payload: &[u8]| {
            let mut datagram = vec![0x40, 0x00];
            datagram.extend_from_slice(&u16::try_from(payload.len()).expect("short").to_be_bytes());
            datagram.extend_from_slice(payload);
            datagram
        };
        let start = Instant::now();
        let mut client = LastFlight::default();
        client.on_receive(start, &wrap(&server_flight()));
        client.on_send(PEER, &wrap(&finishing_flight(1)));
        assert_eq!(
            client.on_receive(start, &wrap(&server_flight())),
            Verdict::Answer(&[(PEER, wrap(&finishing_flight(1)))])
        );
    }

    #[test]
    fn other_traffic_is_ignored() {
        let start = Instant::now();
        let mut client = LastFlight::default();
        let stun = [0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        client.on_receive(start, &handshake(1, 0));
        client.on_send(PEER, &stun);
        assert_eq!(client.on_receive(start, &stun), Verdict::Deliver);
        assert_eq!(
            client.on_receive(later(start, 1000), &handshake(1, 0)),
            Verdict::Deliver,
            "STUN answers nothing"
        );
    }

    #[test]
    fn resends_are_bounded() {
        let start = Instant::now();
        let mut client = client_waiting_for_the_last_flight(start);
        let resent = (1..100)
            .filter(|second| {
                client.on_receive(later(start, second * 1000), &server_flight()) != Verdict::Hold
            })
            .count();
        assert_eq!(resent, MAX_RESENDS as usize);
    }

    proptest! {
        #[test]
        fn any_bytes_are_taken_without_panicking(
            sent in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..6),
            received in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..6),
        ) {
            let mut watch = LastFlight::default();
            for (datagram, other) in sent.iter().zip(received.iter()) {
                watch.on_send(PEER, datagram);
                if let Verdict::Answer(flight) = watch.on_receive(Instant::now(), other) {
                    prop_assert!(flight.len() <= MAX_FLIGHT_DATAGRAMS);
                }
            }
        }
    }
}
