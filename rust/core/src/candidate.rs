//! Candidate and SDP text handling that Godot's API shape requires.
//!
//! Godot passes candidates as `(media, index, name)` strings whose exact form depends on who
//! produced them: browsers send `candidate:...`, some signaling code keeps the SDP `a=` prefix,
//! some strips everything. webrtc-rs wants one form; these helpers produce it.

/// How an incoming candidate line should be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A candidate in the form webrtc-rs parses: `candidate:<foundation> <component> ...`.
    Candidate(String),
    /// The end-of-candidates marker (an empty line): nothing to add.
    EndOfCandidates,
}

/// Normalizes a candidate line: trims it and accepts it with or without `a=` / `candidate:`.
pub(crate) fn normalize(name: &str) -> Incoming {
    let line = name.trim();
    let line = line.strip_prefix("a=").unwrap_or(line);
    let body = line.strip_prefix("candidate:").unwrap_or(line).trim();
    if body.is_empty() {
        Incoming::EndOfCandidates
    } else {
        Incoming::Candidate(format!("candidate:{body}"))
    }
}

/// The connection address of a normalized candidate (its fifth field), if it has one.
pub(crate) fn address(candidate: &str) -> Option<&str> {
    candidate.split_ascii_whitespace().nth(4)
}

/// Whether the candidate's address is an mDNS host name (`<uuid>.local`), as browsers send to
/// hide local IPs.
pub(crate) fn is_mdns(candidate: &str) -> bool {
    address(candidate).is_some_and(|addr| addr.to_ascii_lowercase().ends_with(".local"))
}

/// The media id of the first media section in an SDP blob.
///
/// Data channels live in one `m=application` section; webrtc-rs reports its candidates with an
/// empty mid, so Godot signals carry this one instead, which every peer can match to the SDP.
pub(crate) fn first_mid(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|line| line.trim().strip_prefix("a=mid:"))
        .map(|mid| mid.trim().to_owned())
        .filter(|mid| !mid.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host";

    #[test]
    fn accepts_every_prefix_form() {
        for input in [
            LINE.to_owned(),
            format!("a={LINE}"),
            LINE.trim_start_matches("candidate:").to_owned(),
            format!("  {LINE}\r\n"),
        ] {
            assert_eq!(
                normalize(&input),
                Incoming::Candidate(LINE.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn empty_lines_mark_end_of_candidates() {
        for input in ["", "  ", "a=candidate:", "candidate:"] {
            assert_eq!(normalize(input), Incoming::EndOfCandidates, "{input:?}");
        }
    }

    #[test]
    fn recognizes_mdns_host_names() {
        let mdns = "candidate:1 1 udp 2113937151 2f1d1a3e-9a7b-4c5d-8e6f-0a1b2c3d4e5f.local 54321 typ host";
        assert!(is_mdns(mdns));
        assert!(!is_mdns(LINE));
        assert!(!is_mdns("candidate:garbage"));
    }

    #[test]
    fn finds_the_first_mid() {
        let sdp =
            "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=mid:1\r\n";
        assert_eq!(first_mid(sdp).as_deref(), Some("0"));
        assert_eq!(first_mid("v=0\r\n"), None);
        assert_eq!(first_mid("a=mid:\r\n"), None);
    }
}
