//! The one tokio runtime every peer shares.
//!
//! Godot calls arrive on the game's threads; webrtc-rs needs a tokio context. A small,
//! fixed pool of worker threads (one or two: see `worker_threads`) serves every connection,
//! so the thread count never grows with the number of peers. The runtime starts on first use
//! and [`shutdown`] stops and joins it when the library unloads, so no thread outlives the
//! extension's code.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::doorbell::Doorbell;
use crate::error::{Error, Result};
use crate::sync::lock;

/// Worker threads: one fewer than the cores the process may use, so the game thread keeps a
/// core, and at most two, which keep sockets, DTLS and SCTP moving for hundreds of peers. On a
/// two-core machine a second worker only fought the game thread and the first one for the
/// cores (figures in PROFILES.md, "The shared runtime").
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |cores| cores.get().saturating_sub(1))
        .clamp(1, 2)
}

static RUNTIME: Lazy<Mutex<RuntimeSlot>> = Lazy::new(|| Mutex::new(RuntimeSlot::Idle));

/// The running runtime's handle, set once it starts: every channel and buffered-amount query
/// needs it, and reading it here costs no lock.
static HANDLE: OnceLock<Handle> = OnceLock::new();

/// How game threads wake the runtime's sender tasks; started with the runtime.
static DOORBELL: OnceLock<Arc<Doorbell>> = OnceLock::new();

/// Set by [`shutdown`]; from then on no call may reach the runtime.
static STOPPED: AtomicBool = AtomicBool::new(false);

/// How long [`shutdown`] waits for the threads to exit once their tasks are cancelled.
/// Cancelling takes milliseconds; a stalled machine (a starved CI VM, a debugger) can take
/// longer, and a thread left running after the library unloads would crash the process. The
/// bound only keeps a wedged thread from hanging the game on exit.
const JOIN_LIMIT: Duration = Duration::from_secs(5);

/// The name of the runtime's worker threads, by which the panic hook in [`crate::logging`]
/// knows them.
pub(crate) const THREAD_NAME: &str = "webrtc-rs";

/// Background closes still running; [`shutdown`] gives them a moment to say goodbye to peers.
static CLOSING: Lazy<(Mutex<usize>, Condvar)> = Lazy::new(|| (Mutex::new(0), Condvar::new()));

fn closing_count() -> std::sync::MutexGuard<'static, usize> {
    lock(&CLOSING.0)
}

enum RuntimeSlot {
    Idle,
    Running(Runtime),
    /// After [`shutdown`]: the library is unloading and must not start threads again.
    Stopped,
}

/// The shared runtime's handle, starting the runtime on first use.
pub fn handle() -> Result<&'static Handle> {
    if let Some(handle) = HANDLE.get() {
        return if STOPPED.load(Ordering::Acquire) {
            Err(Error::unavailable("the WebRTC runtime has been shut down"))
        } else {
            Ok(handle)
        };
    }
    let mut slot = lock(&RUNTIME);
    if let RuntimeSlot::Idle = *slot {
        let workers = worker_threads();
        let mut builder = Builder::new_multi_thread();
        builder
            .worker_threads(workers)
            .thread_name(THREAD_NAME)
            .on_thread_start(never_preempt_on_wakeup)
            .enable_all();
        let doorbell = Doorbell::install(&mut builder, workers);
        let runtime = builder
            .build()
            .map_err(|err| Error::failed("cannot start the WebRTC runtime", err))?;
        doorbell
            .start(runtime.handle())
            .map_err(|err| Error::failed("cannot start the WebRTC runtime's doorbell", err))?;
        let _ = DOORBELL.set(doorbell);
        *slot = RuntimeSlot::Running(runtime);
    }
    match &*slot {
        RuntimeSlot::Running(runtime) => Ok(HANDLE.get_or_init(|| runtime.handle().clone())),
        _ => Err(Error::unavailable("the WebRTC runtime has been shut down")),
    }
}

/// The doorbell of the running runtime, which [`handle`] starts.
pub(crate) fn doorbell() -> Option<&'static Doorbell> {
    DOORBELL.get().map(Arc::as_ref)
}

/// Puts the calling runtime thread under Linux's `SCHED_BATCH` policy, whose threads never
/// preempt the running one when they are woken.
///
/// `put_packet` hands its message to a task on these threads and wakes it. Under the default
/// policy, with every core busy (a game that renders, a loaded server), the woken worker could
/// take the game thread's core at once, and the game thread then waited out the worker's turn,
/// milliseconds, inside `put_packet` (PROFILES.md, "The game thread's calls"). Under
/// `SCHED_BATCH` a woken worker runs at once on an idle core, or else when the running thread's
/// slice ends; its nice level and its share of the CPU stay as they were. If the kernel refuses
/// (a sandbox), the thread keeps the default policy.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn never_preempt_on_wakeup() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread, and `param` is a valid sched_param that outlives the
    // call.
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if result != 0 {
        log::debug!(
            "the WebRTC runtime's threads keep the default scheduling policy: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Other systems have no policy that only turns off wakeup preemption.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn never_preempt_on_wakeup() {}

/// Runs `future` to completion on the shared runtime, blocking the calling (Godot) thread.
///
/// Used only for calls that webrtc-rs answers from memory (descriptions, channel creation, the
/// buffered amount's lock-free counter), never for anything that waits on the network. Such
/// calls nearly always finish on their first poll, which is tried before entering the
/// runtime's blocking machinery: that entry cost about as much as the query itself (figures in
/// PROFILES.md, "The shared runtime"). Only when the connection's lock is held by its network
/// task does the caller wait; the calls a game makes every frame never take that lock.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output> {
    let handle = handle()?;
    let mut future = pin!(future);
    {
        let _context = handle.enter();
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Ok(output);
        }
    }
    Ok(handle.block_on(future))
}

/// Runs one webrtc-rs call to completion, its error turned into ours by `describe`.
pub(crate) fn call<T, E, F>(future: F, describe: impl FnOnce(E) -> Error) -> Result<T>
where
    F: Future<Output = std::result::Result<T, E>>,
{
    block_on(future)?.map_err(describe)
}

/// Spawns a connection close that must not block the caller; [`shutdown`] waits for it briefly.
pub(crate) fn spawn_close<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let Ok(handle) = handle() else { return };
    *closing_count() += 1;
    handle.spawn(async move {
        future.await;
        *closing_count() -= 1;
        CLOSING.1.notify_all();
    });
}

/// Stops the runtime and joins its threads. Called when the library unloads.
///
/// Closes still in flight get up to `grace` to finish (so peers see a clean goodbye), then
/// everything left is cancelled and the threads are joined (waiting at most [`JOIN_LIMIT`]).
pub fn shutdown(grace: Duration) {
    let deadline = Instant::now() + grace;
    let mut closing = closing_count();
    while *closing > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        closing = CLOSING
            .1
            .wait_timeout(closing, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    drop(closing);
    STOPPED.store(true, Ordering::Release);
    let previous = {
        let mut slot = lock(&RUNTIME);
        std::mem::replace(&mut *slot, RuntimeSlot::Stopped)
    };
    if let RuntimeSlot::Running(runtime) = previous {
        runtime.shutdown_timeout(JOIN_LIMIT);
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    /// The scheduling policy of the calling thread.
    fn policy() -> libc::c_int {
        // SAFETY: pid 0 is the calling thread; the call reads no memory of ours.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn the_workers_never_preempt_the_calling_thread_on_wakeup() {
        let handle = super::handle().expect("runtime");
        let worker = handle
            .block_on(async { tokio::spawn(async { policy() }).await })
            .expect("the task ran");
        assert_eq!(worker, libc::SCHED_BATCH, "a worker's policy");
        assert_eq!(policy(), libc::SCHED_OTHER, "the caller keeps its policy");
    }
}
