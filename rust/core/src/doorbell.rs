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
//! wake-up goes on the worker's own run queue. A frame's sends on many channels ring once, and
//! sends to a task that is still at work (a game sending as fast as it can) ring not at all.
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
    /// Set by the wake that lists the task, until the task finds its queue empty
    /// ([`take_or_idle`](Self::take_or_idle)): while it is set, the task is listed or at work
    /// and will look at its queue, so a wake has nothing to do.
    due: AtomicBool,
    woken: Notify,
}

impl Waiter {
    /// Returns once the task has been woken through [`Doorbell::wake`] since it last returned.
    pub(crate) async fn wait(&self) {
        self.woken.notified().await;
    }

    /// Takes the task's next item with `take`, which returns `Ok(None)` on an empty queue.
    /// On an empty queue the task goes idle (wakes from then on list it again) and looks once
    /// more, since an item queued just before did not list it; `Ok(None)` then means: wait.
    pub(crate) fn take_or_idle<T, E>(
        &self,
        mut take: impl FnMut() -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        if let Some(item) = take()? {
            return Ok(Some(item));
        }
        // A swap, not a store: reading the flag a wake set is what makes that wake's item
        // visible to the look below.
        self.due.swap(false, Ordering::AcqRel);
        let item = take()?;
        if item.is_some() {
            // At work after all: wakes need nothing until the next empty look.
            self.due.swap(true, Ordering::AcqRel);
        }
        Ok(item)
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

    /// Has `waiter`'s task look at its queue soon, on the runtime. Never waits: at most a push
    /// onto a lock-free queue and, once per turn of the dispatcher, one write into a pipe.
    pub(crate) fn wake(&self, waiter: &Arc<Waiter>) {
        if waiter.due.swap(true, Ordering::AcqRel) {
            // Listed or at work: the task looks at its queue again before it waits, and that
            // look comes after it read this swap, so it sees the caller's message.
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
    let mut turn = || {
        // Disarmed before the list is taken: a wake that found the bell armed listed its
        // waiter before this, and one from now on rings again.
        doorbell.armed.swap(false, Ordering::AcqRel);
        while let Ok(waiter) = listed.try_recv() {
            waiter.woken.notify_one();
        }
    };
    loop {
        if let Err(err) = listener.heard().await {
            log::error!("the send doorbell stopped: {err}");
            return;
        }
        turn();
        // Emptying the bell (system calls) waits until this turn's tasks are woken. It can
        // take the byte of a ring made since the turn began, so a second turn follows: that
        // ring's waiter was listed, and its bell armed, before its byte was written.
        if let Err(err) = listener.quiet() {
            log::error!("the send doorbell stopped: {err}");
            return;
        }
        turn();
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
        /// Returns once the bell has rung since it was last quiet.
        pub(super) async fn heard(&mut self) -> io::Result<()> {
            self.0.readable().await
        }

        /// Empties the pipe, so that the I/O driver reports the next ring.
        pub(super) fn quiet(&mut self) -> io::Result<()> {
            let mut bytes = [0; 64];
            loop {
                match self.0.try_read(&mut bytes) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the write end closed",
                        ))
                    }
                    Ok(_) => {}
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
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

        /// A `Notify` keeps no more than the one permit `heard` took.
        pub(super) fn quiet(&mut self) -> io::Result<()> {
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
    use std::time::{Duration, Instant};

    /// Many threads outside the runtime each count items into their own task's "queue" (a
    /// counter) and wake it, one item at a time, waiting for the task to have taken each before
    /// the next: items then land just as the task finds its queue empty and goes idle, the
    /// moment where a wake could be lost. A lost one leaves its item untaken.
    #[test]
    fn no_wake_is_lost_while_a_task_goes_idle() {
        const THREADS: usize = 4;
        const ITEMS: usize = 20_000;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let doorbell = Doorbell::start(runtime.handle()).expect("doorbell");
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let waiter = Arc::new(Waiter::default());
                let queued = Arc::new(AtomicUsize::new(0));
                let taken = Arc::new(AtomicUsize::new(0));
                runtime.spawn({
                    let waiter = waiter.clone();
                    let queued = queued.clone();
                    let taken = taken.clone();
                    async move {
                        loop {
                            waiter.wait().await;
                            while let Ok(Some(now)) = waiter.take_or_idle(|| {
                                let now = queued.load(Ordering::Acquire);
                                Ok::<_, ()>((now > taken.load(Ordering::Acquire)).then_some(now))
                            }) {
                                taken.store(now, Ordering::Release);
                            }
                        }
                    }
                });
                let doorbell = doorbell.clone();
                std::thread::spawn(move || {
                    for item in 1..=ITEMS {
                        queued.store(item, Ordering::Release);
                        doorbell.wake(&waiter);
                        let deadline = Instant::now() + Duration::from_secs(10);
                        while taken.load(Ordering::Acquire) < item {
                            assert!(Instant::now() < deadline, "item {item} was never taken");
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("every item taken");
        }
    }

    /// A burst of wakes on many waiters while the dispatcher cannot run lists each once, and
    /// its one ring wakes them all. Wakes of a task still at work ring nothing; once it goes
    /// idle, a wake rings again.
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
        // The runtime runs only now: the one ring wakes them all.
        runtime.block_on(async {
            for waiter in &waiters {
                tokio::time::timeout(Duration::from_secs(10), waiter.wait())
                    .await
                    .expect("woken");
            }
        });
        assert!(!doorbell.armed.load(Ordering::Acquire));

        doorbell.wake(&waiters[0]);
        assert!(
            !doorbell.armed.load(Ordering::Acquire),
            "a task at work needs no ring"
        );
        assert_eq!(
            waiters[0].take_or_idle(|| Ok::<Option<()>, ()>(None)),
            Ok(None),
            "nothing queued: the task goes idle"
        );
        doorbell.wake(&waiters[0]);
        assert!(doorbell.armed.load(Ordering::Acquire), "rang again");
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), waiters[0].wait())
                .await
                .expect("woken again");
        });
    }
}
