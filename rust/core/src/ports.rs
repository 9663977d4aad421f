//! `libdatachannel.portRangeBegin`/`portRangeEnd`: every connection's UDP sockets bind one port
//! of the range, so a dedicated server's firewall only needs that range open.
//!
//! webrtc-rs binds the addresses it is given, port 0 meaning "any". A connection built with a
//! range gets one port of it for every address that asked for any port. It must be free now
//! (a test bind succeeds) and not handed to another live connection of this process, whose
//! driver may not have bound it yet; it is held until the connection is dropped.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::sync::lock;

/// Ports handed to connections that are still alive.
static CLAIMED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// One connection's port; released when dropped.
#[derive(Debug)]
pub(crate) struct PortClaim(u16);

impl Drop for PortClaim {
    fn drop(&mut self) {
        lock(&CLAIMED).remove(&self.0);
    }
}

/// Gives every address of `addrs` that asks for any port one port of `begin..=end`. `None`
/// when no address asks for any port (each names its own).
pub(crate) fn claim(
    addrs: &mut [SocketAddr],
    (begin, end): (u16, u16),
) -> Result<Option<PortClaim>> {
    if !addrs.iter().any(|addr| addr.port() == 0) {
        return Ok(None);
    }
    let mut claimed = lock(&CLAIMED);
    let free = (begin..=end).find(|port| {
        !claimed.contains(port)
            && addrs
                .iter()
                .filter(|addr| addr.port() == 0)
                .all(|addr| UdpSocket::bind(SocketAddr::new(addr.ip(), *port)).is_ok())
    });
    let Some(port) = free else {
        let held = claimed.range(begin..=end).count();
        return Err(Error::unavailable(format!(
            "no free UDP port in libdatachannel.portRangeBegin..portRangeEnd ({begin}..={end}): \
             {held} of them are held by other connections of this game and the rest are in use; \
             each connection needs one port, so widen the range"
        )));
    };
    claimed.insert(port);
    for addr in addrs.iter_mut().filter(|addr| addr.port() == 0) {
        addr.set_port(port);
    }
    Ok(Some(PortClaim(port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback_any() -> Vec<SocketAddr> {
        vec![SocketAddr::from(([127, 0, 0, 1], 0))]
    }

    /// A free range from `from` on; each test starts elsewhere, as claims are process-wide.
    fn free_range(from: u16, width: u16) -> (u16, u16) {
        let begin = (from..from + 1000)
            .step_by(usize::from(width) + 1)
            .find(|begin| {
                (*begin..begin + width).all(|port| UdpSocket::bind(("127.0.0.1", port)).is_ok())
            })
            .expect("a free range");
        (begin, begin + width - 1)
    }

    #[test]
    fn connections_get_distinct_ports_until_the_range_is_used_up() {
        let range = free_range(41_000, 2);
        let mut first = loopback_any();
        let mut second = loopback_any();
        let mut third = loopback_any();
        let a = claim(&mut first, range).expect("first");
        let b = claim(&mut second, range).expect("second");
        assert_eq!(first[0].port(), range.0);
        assert_eq!(second[0].port(), range.1);
        let err = claim(&mut third, range).expect_err("the range is used up");
        assert!(err.message().contains("widen the range"), "{err}");
        drop(a);
        claim(&mut third, range).expect("a released port is handed out again");
        assert_eq!(third[0].port(), range.0);
        drop(b);
    }

    #[test]
    fn a_port_another_program_holds_is_skipped() {
        let range = free_range(42_000, 2);
        let _taken = UdpSocket::bind(("127.0.0.1", range.0)).expect("bind");
        let mut addrs = loopback_any();
        let _claim = claim(&mut addrs, range).expect("claim");
        assert_eq!(addrs[0].port(), range.1);
    }

    #[test]
    fn an_address_with_its_own_port_is_left_alone() {
        let mut addrs = vec![SocketAddr::from(([127, 0, 0, 1], 5000))];
        assert!(claim(&mut addrs, (40_000, 40_001))
            .expect("claim")
            .is_none());
        assert_eq!(addrs[0].port(), 5000);
    }
}
