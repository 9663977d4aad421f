//! Resolving STUN and TURN server names without holding a thread.
//!
//! The system resolver (`getaddrinfo`, what tokio's `lookup_host` calls) blocks a thread for as
//! long as the name server takes, about 10 s when it never answers, and such a thread cannot be
//! cancelled: quitting the game had to wait for it before the library could unload. hickory's
//! resolver sends its queries from the runtime itself, so a lookup in flight is dropped like any
//! other task. It reads the same system configuration (`/etc/resolv.conf` and the hosts file, the
//! registry on Windows, the dynamic store on macOS and iOS).

use std::io;
use std::net::SocketAddr;

/// The addresses of `server` (`host:port`, as webrtc-rs's gatherers ask for them).
pub(crate) async fn resolve(server: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (host, port) = server
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "expected host:port"))?;
    lookup(host, port).await
}

#[cfg(not(target_os = "android"))]
async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let resolver = hickory_resolver::TokioResolver::builder_tokio()
        .map_err(|err| io::Error::other(format!("no system DNS configuration: {err}")))?
        .build()
        .map_err(io::Error::other)?;
    let found = resolver
        .lookup_ip(host)
        .await
        .map_err(|err| io::Error::new(io::ErrorKind::NotFound, err.to_string()))?;
    Ok(found.iter().map(|ip| SocketAddr::new(ip, port)).collect())
}

/// hickory-resolver 0.26.3: on Android it reads the DNS servers through the app's Java context,
/// which it expects an Android app framework to have registered (ndk-context); a Godot game has
/// none, and every lookup panicked. Android resolves through the system's resolver here, on a
/// thread of the runtime's blocking pool; a lookup in flight holds that thread (quitting waits
/// for it up to the runtime's join limit). Shown only by `cargo check` for Android targets
/// (tests/platforms/build.sh): nothing runs Android here.
#[cfg(target_os = "android")]
async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    tokio::net::lookup_host((host, port))
        .await
        .map(Iterator::collect)
        .map_err(|err| io::Error::new(io::ErrorKind::NotFound, err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_need_no_lookup() {
        let v4 = resolve("192.0.2.1:3478").await.expect("v4 literal");
        assert_eq!(
            v4,
            vec!["192.0.2.1:3478".parse::<SocketAddr>().expect("addr")]
        );
        let v6 = resolve("[2001:db8::1]:19302").await.expect("v6 literal");
        assert_eq!(
            v6,
            vec!["[2001:db8::1]:19302".parse::<SocketAddr>().expect("addr")]
        );
    }

    #[tokio::test]
    async fn names_from_the_hosts_file_resolve() {
        let found = resolve("localhost:3478").await.expect("localhost");
        assert!(
            found
                .iter()
                .all(|addr| addr.ip().is_loopback() && addr.port() == 3478),
            "{found:?}"
        );
        assert!(!found.is_empty());
    }

    #[tokio::test]
    async fn a_malformed_server_is_an_error() {
        assert!(resolve("no-port").await.is_err());
        assert!(resolve("host:notaport").await.is_err());
    }
}
