//! webrtc-rs's tokio runtime, with larger UDP socket buffers.
//!
//! SCTP lets up to its receive window (1 MiB) be in flight, and on a fast path a whole window
//! lands in the receiving socket at once. Linux's default socket buffer (208 KiB) then drops
//! the tail of the burst, and SCTP only recovers after its retransmission timer: measured on
//! loopback, 16 KiB messages crawled at ~5 MB/s with one-second stalls; with 4 MiB buffers
//! they move at ~70 MB/s. The kernel caps the request at `net.core.rmem_max`/`wmem_max`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// Requested send and receive buffer per UDP socket.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// The runtime every peer connection is built with.
pub(crate) fn webrtc_runtime() -> Arc<dyn Runtime> {
    Arc::new(TunedRuntime(TokioRuntime))
}

/// Delegates everything to [`TokioRuntime`] but enlarges each UDP socket's buffers first.
#[derive(Debug)]
struct TunedRuntime(TokioRuntime);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Runtime for TunedRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) -> Box<dyn JoinHandle> {
        self.0.spawn(future)
    }

    fn spawn_reactor(
        &self,
        pool_size: usize,
        future: BoxFuture<'static, ()>,
    ) -> Box<dyn JoinHandle> {
        self.0.spawn_reactor(pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let tuned = socket2::SockRef::from(&socket);
        // Best effort: a smaller buffer still works, only more slowly under bursts.
        if let Err(err) = tuned.set_recv_buffer_size(SOCKET_BUFFER_BYTES) {
            log::debug!("cannot enlarge the UDP receive buffer: {err}");
        }
        if let Err(err) = tuned.set_send_buffer_size(SOCKET_BUFFER_BYTES) {
            log::debug!("cannot enlarge the UDP send buffer: {err}");
        }
        self.0.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.0.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> BoxFuture<'a, io::Result<Arc<dyn AsyncTcpStream>>> {
        self.0.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        self.0.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.0.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.0.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.0.block_on(future);
    }

    fn yield_now(&self) -> BoxFuture<'static, ()> {
        self.0.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (tuned sockets)"
    }
}
