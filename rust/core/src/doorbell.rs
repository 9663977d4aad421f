//! Wakes the channels' sender tasks for the game thread, without the game thread touching the
//! runtime's locks.
//!
//! `put_packet` queues a message for its channel's sender task, which must then be woken. A task
//! woken from a thread outside the runtime goes through tokio's queue of remote wake-ups, whose
//! lock the worker also takes to look for work and to park: a game thread that found it held
//! slept on it, and with every core busy then lost its core until the next scheduler tick
//! (PROFILES.md, "What holds the game thread for 4 ms").
//!
//! Here the game thread only lists the channel on a lock-free queue and, unless the dispatcher
//! is already due to run, rings a bell: one byte into a pipe that the runtime's I/O driver
//! watches. The dispatcher task then wakes every listed sender from the worker's side, where a
//! wake-up goes on the worker's own run queue. A frame's sends on many channels ring once.
//!
//! On systems where tokio has no pipe (Windows), the bell is a [`Notify`] woken from outside
//! the runtime as before, but once per burst of sends instead of once per message.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

/// A sender task's side of the doorbell.
#[derive(Default)]
pub(crate) struct Waiter {
    /// Set while the task is on the dispatcher's list, so that a burst of sends lists it once.
    listed: AtomicBool,
    woken: Notify,
}

impl Waiter {
    /// Returns once the task has been woken through [`Doorbell::wake`] since it last returned.
    pub(crate) async fn wait(&self) {
        self.woken.notified().await;
    }
}

/// The game threads' way to wake sender tasks; one per runtime.
pub(crate) struct Doorbell {
    /// Waiters to wake on the dispatcher's next turn. Nobody waits on this queue: the dispatcher
    /// only takes from it when the bell rang, so a push wakes no task.
    list: UnboundedSender<Arc<Waiter>>,
    /// Set by the ring that makes the dispatcher due, until the dispatcher has heard it; wakes
    /// meanwhile need not ring.
    armed: AtomicBool,
    bell: bell::Ringer,
}

impl Doorbell {
    /// Creates the bell and starts its dispatcher on the runtime behind `handle`.
    pub(crate) fn start(handle: &Handle) -> io::Result<Arc<Self>> {
        let (ringer, listener) = {
            let _runtime = handle.enter();
            bell::new()?
        };
        let (list, listed) = mpsc::unbounded_channel();
        let doorbell = Arc::new(Self {
            list,
            armed: AtomicBool::new(false),
            bell: ringer,
        });
        handle.spawn(dispatch(doorbell.clone(), listener, listed));
        Ok(doorbell)
    }

    /// Has `waiter`'s task woken soon, on the runtime. Never waits: a push onto a lock-free
    /// queue and, at most once per turn of the dispatcher, one write into a pipe.
    pub(crate) fn wake(&self, waiter: &Arc<Waiter>) {
        if waiter.listed.swap(true, Ordering::AcqRel) {
            // Listed already: the dispatcher will wake it after this call's message was queued,
            // since it takes the mark off (reading this swap) before it wakes the task.
            return;
        }
        if self.list.send(waiter.clone()).is_err() {
            // The dispatcher is gone with the runtime, and so are the tasks it would wake.
            return;
        }
        if !self.armed.swap(true, Ordering::AcqRel) {
            self.bell.ring();
        }
    }
}

/// Wakes the listed waiters each time the bell rings, for as long as the runtime runs.
async fn dispatch(
    doorbell: Arc<Doorbell>,
    mut listener: bell::Listener,
    mut listed: UnboundedReceiver<Arc<Waiter>>,
) {
    loop {
        if let Err(err) = listener.heard().await {
            log::error!("the send doorbell stopped: {err}");
            return;
        }
        // Disarmed only once the bell is quiet, so that a wake from here on rings again and
        // leaves the bell ringing for the next turn. Everything listed before a wake that found
        // the bell armed is taken below.
        doorbell.armed.swap(false, Ordering::AcqRel);
        while let Ok(waiter) = listed.try_recv() {
            waiter.listed.swap(false, Ordering::AcqRel);
            waiter.woken.notify_one();
        }
    }
}

#[cfg(unix)]
mod bell {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{AsFd, OwnedFd};

    use tokio::net::unix::pipe;

    /// The pipe's write end, which the game threads write to without the runtime.
    pub(super) struct Ringer {
        pipe: File,
        /// A second handle on the read end, so that the pipe keeps a reader after the runtime
        /// (and the dispatcher with it) is gone: a write to a pipe nobody reads raises SIGPIPE,
        /// which would end the host process.
        _reader: OwnedFd,
    }

    impl Ringer {
        pub(super) fn ring(&self) {
            // The write end does not block. A full pipe already holds a ring the dispatcher has
            // not heard, and any other failure leaves nothing a caller could do.
            let _ = (&self.pipe).write(&[1]);
        }
    }

    /// The pipe's read end, registered with the runtime's I/O driver.
    pub(super) struct Listener(pipe::Receiver);

    impl Listener {
        /// Returns after a ring, the pipe emptied.
        pub(super) async fn heard(&mut self) -> io::Result<()> {
            let mut bytes = [0; 64];
            self.0.readable().await?;
            loop {
                match self.0.try_read(&mut bytes) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the write end closed",
                        ))
                    }
                    Ok(_) => continue,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(err) => return Err(err),
                }
            }
        }
    }

    /// Must be called inside the runtime, whose I/O driver the read end registers with.
    pub(super) fn new() -> io::Result<(Ringer, Listener)> {
        let (write, read) = pipe::pipe()?;
        let reader = read.as_fd().try_clone_to_owned()?;
        let ringer = Ringer {
            pipe: File::from(write.into_nonblocking_fd()?),
            _reader: reader,
        };
        Ok((ringer, Listener(read)))
    }
}

#[cfg(not(unix))]
mod bell {
    use std::io;
    use std::sync::Arc;

    use tokio::sync::Notify;

    pub(super) struct Ringer(Arc<Notify>);

    impl Ringer {
        pub(super) fn ring(&self) {
            self.0.notify_one();
        }
    }

    pub(super) struct Listener(Arc<Notify>);

    impl Listener {
        pub(super) async fn heard(&mut self) -> io::Result<()> {
            self.0.notified().await;
            Ok(())
        }
    }

    pub(super) fn new() -> io::Result<(Ringer, Listener)> {
        let notify = Arc::new(Notify::new());
        Ok((Ringer(notify.clone()), Listener(notify)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Many threads outside the runtime each queue numbered items for their own task and wake
    /// it; every task must see every item, whichever order the wakes and turns interleave in.
    #[test]
    fn no_wake_is_lost_between_threads_and_the_dispatcher() {
        const THREADS: usize = 4;
        const ITEMS: usize = 200_000;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let doorbell = Doorbell::start(runtime.handle()).expect("doorbell");
        let mut tasks = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..THREADS {
            let waiter = Arc::new(Waiter::default());
            let queued = Arc::new(AtomicUsize::new(0));
            tasks.push(runtime.spawn({
                let waiter = waiter.clone();
                let queued = queued.clone();
                async move {
                    let mut seen = 0;
                    while seen < ITEMS {
                        waiter.wait().await;
                        seen = queued.load(Ordering::Acquire);
                    }
                    seen
                }
            }));
            let doorbell = doorbell.clone();
            threads.push(std::thread::spawn(move || {
                for _ in 0..ITEMS {
                    queued.fetch_add(1, Ordering::AcqRel);
                    doorbell.wake(&waiter);
                }
            }));
        }
        for thread in threads {
            thread.join().expect("thread");
        }
        for task in tasks {
            let seen = runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), task).await })
                .expect("every task saw its last item")
                .expect("task");
            assert_eq!(seen, ITEMS);
        }
    }

    /// A burst of wakes on many waiters while the dispatcher cannot run lists each once, and
    /// its one ring wakes them all; a wake after that turn rings again.
    #[test]
    fn one_ring_wakes_a_whole_burst() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let doorbell = Doorbell::start(runtime.handle()).expect("doorbell");
        let waiters: Vec<_> = (0..32).map(|_| Arc::new(Waiter::default())).collect();
        for waiter in &waiters {
            doorbell.wake(waiter);
            doorbell.wake(waiter);
        }
        assert!(doorbell.armed.load(Ordering::Acquire));
        assert!(waiters
            .iter()
            .all(|waiter| waiter.listed.load(Ordering::Acquire)));
        // The runtime runs only now: the one ring wakes them all.
        runtime.block_on(async {
            for waiter in &waiters {
                tokio::time::timeout(Duration::from_secs(10), waiter.wait())
                    .await
                    .expect("woken");
            }
        });
        assert!(!doorbell.armed.load(Ordering::Acquire));
        assert!(waiters
            .iter()
            .all(|waiter| !waiter.listed.load(Ordering::Acquire)));

        doorbell.wake(&waiters[0]);
        assert!(doorbell.armed.load(Ordering::Acquire), "rang again");
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), waiters[0].wait())
                .await
                .expect("woken again");
        });
    }
}
