//! Wakes the channels' sender tasks for the game thread, without the game thread touching the
//! runtime's locks.
//!
//! `put_packet` queues a message for its channel's sender task, which must then be woken. A task
//! woken from a thread outside the runtime goes through tokio's queue of remote wake-ups, whose
//! lock the worker also takes to look for work and to park: a game thread that found it held
//! slept on it, and with every core busy then lost its core until the next scheduler tick
//! (PROFILES.md, "What holds the game thread for 4 ms").
//!
//! Here the game thread only lists the channel on a lock-free queue and arms the doorbell. The
//! runtime's threads answer it in turns, waking every listed sender from the worker's side,
//! where a wake-up goes on the worker's own run queue:
//! - a worker at work takes a turn after each of the connections' task polls, so a send made
//!   while the network thread is busy costs no system call on either side;
//! - a worker about to park takes none (its wakes would wait in the remote queue it has already
//!   looked at) but rings the bell if it finds the doorbell armed;
//! - a game thread that arms the doorbell while every worker is parked rings the bell itself:
//!   one byte into a pipe that the runtime's I/O driver watches, which wakes the dispatcher task.
//!
//! A frame's sends on many channels arm it once, and sends to a task that is still at work (a
//! game sending as fast as it can) do not arm it at all.
//!
//! On systems where tokio has no pipe (Windows), the bell is a [`Notify`] woken from outside
//! the runtime as before, rung by the game thread once per burst of sends instead of once per
//! message.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use tokio::runtime::{Builder, Handle};
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
    /// Waiters to wake on the next turn. Nobody waits on this queue: a push wakes no task.
    list: UnboundedSender<Arc<Waiter>>,
    /// The list's other end, taken in turn by the runtime's threads (never by a game thread),
    /// each only if no other one holds it.
    listed: Mutex<UnboundedReceiver<Arc<Waiter>>>,
    /// Set by the wake that lists a waiter while none is due, until a turn begins: a running
    /// worker that finds it set takes a turn, one about to park rings the bell for it.
    armed: AtomicBool,
    /// The runtime's worker threads, and how many of them are parked (or about to park).
    workers: usize,
    parked: AtomicUsize,
    /// The bell, made when the runtime starts: its listening end belongs to the runtime.
    bell: OnceLock<bell::Ringer>,
}

impl Doorbell {
    /// A doorbell for the runtime that `builder`, with `workers` worker threads, will build:
    /// the builder's workers tell it when they park. [`start`](Self::start) it on that runtime.
    pub(crate) fn install(builder: &mut Builder, workers: usize) -> Arc<Self> {
        let (list, listed) = mpsc::unbounded_channel();
        let doorbell = Arc::new(Self {
            list,
            listed: Mutex::new(listed),
            armed: AtomicBool::new(false),
            workers,
            parked: AtomicUsize::new(0),
            bell: OnceLock::new(),
        });
        let parking = doorbell.clone();
        let unparked = doorbell.clone();
        builder
            .on_thread_park(move || parking.parking())
            .on_thread_unpark(move || unparked.unparked());
        doorbell
    }

    /// Makes the bell and starts its dispatcher on the runtime behind `handle`.
    pub(crate) fn start(self: &Arc<Self>, handle: &Handle) -> io::Result<()> {
        let (ringer, listener) = {
            let _runtime = handle.enter();
            bell::new()?
        };
        if self.bell.set(ringer).is_err() {
            return Err(io::Error::other("the doorbell has already started"));
        }
        handle.spawn(dispatch(self.clone(), listener));
        Ok(())
    }

    /// Has `waiter`'s task look at its queue soon, on the runtime. Never waits: at most a push
    /// onto a lock-free queue and, when every worker is parked, one write into a pipe.
    pub(crate) fn wake(&self, waiter: &Arc<Waiter>) {
        if waiter.due.swap(true, Ordering::AcqRel) {
            // Listed or at work: the task looks at its queue again before it waits, and that
            // look comes after it read this swap, so it sees the caller's message.
            return;
        }
        if self.list.send(waiter.clone()).is_err() {
            // The doorbell holds the list's other end, so this cannot happen while it exists;
            // a list nobody takes from would have nobody to wake either.
            return;
        }
        // Sequentially consistent, against the same two steps in reverse in `parking`: either
        // this sees every worker parked and rings, or a worker parks after this and rings.
        if !self.armed.swap(true, Ordering::SeqCst)
            && (!bell::WORKERS_RING || self.parked.load(Ordering::SeqCst) >= self.workers)
        {
            self.ring();
        }
    }

    /// Takes a turn if a waiter was listed since the last one began. Called by the runtime's
    /// threads as they go about their tasks, so that a busy worker needs no bell.
    pub(crate) fn answer(&self) {
        if self.armed.load(Ordering::Relaxed) {
            self.turn();
        }
    }

    /// Wakes the listed waiters, unless another thread is at it.
    fn turn(&self) {
        let Ok(mut listed) = self.listed.try_lock() else {
            // The other thread's turn began before this; what was listed since set `armed`
            // again, for the next turn.
            return;
        };
        // Disarmed before the list is taken: a wake that found the bell armed listed its
        // waiter before this, and one from now on arms it again.
        self.armed.swap(false, Ordering::SeqCst);
        while let Ok(Some(waiter)) = take_ready(&mut listed) {
            waiter.woken.notify_one();
        }
    }

    fn ring(&self) {
        if let Some(bell) = self.bell.get() {
            bell.ring();
        }
    }

    /// A worker is about to park: a wake armed while it ran and not yet answered needs the
    /// bell now, or the wake would wait for the worker's next reason to wake.
    fn parking(&self) {
        self.parked.fetch_add(1, Ordering::SeqCst);
        if bell::WORKERS_RING && self.armed.load(Ordering::SeqCst) {
            self.ring();
        }
    }

    fn unparked(&self) {
        self.parked.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A queue's senders are all gone and it is empty.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ended;

/// The next item of `queue`, or `None` while it is empty or its next item is still being
/// pushed. Tokio's `try_recv` parks the calling thread until such a push completes, and a game
/// thread preempted in the middle of one would then hold up the whole network thread. Here the
/// item is left for later: the thread that pushes it wakes the taker through the doorbell once
/// it is done, and the wake finds it.
pub(crate) fn take_ready<T>(queue: &mut UnboundedReceiver<T>) -> Result<Option<T>, Ended> {
    // Unconstrained by the task's budget: a `Pending` for lack of budget would read as empty,
    // and nothing would come to take what is queued.
    let take = pin!(tokio::task::unconstrained(
        poll_fn(|cx| queue.poll_recv(cx))
    ));
    // No waker to register: the doorbell is how the taker is woken.
    match take.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Some(item)) => Ok(Some(item)),
        Poll::Ready(None) => Err(Ended),
        Poll::Pending => Ok(None),
    }
}

/// Wakes the listed waiters each time the bell rings, for as long as the runtime runs.
async fn dispatch(doorbell: Arc<Doorbell>, mut listener: bell::Listener) {
    loop {
        if let Err(err) = listener.heard().await {
            log::error!("the send doorbell stopped: {err}");
            return;
        }
        doorbell.turn();
        // Emptying the bell (system calls) waits until this turn's tasks are woken. It can
        // take the byte of a ring made since the turn began, so a second turn follows: that
        // ring's waiter was listed, and its bell armed, before its byte was written.
        if let Err(err) = listener.quiet() {
            log::error!("the send doorbell stopped: {err}");
            return;
        }
        doorbell.turn();
    }
}

#[cfg(unix)]
mod bell {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{AsFd, OwnedFd};

    use tokio::net::unix::pipe;

    /// A worker about to park may ring: its write only makes the I/O driver return at once.
    pub(super) const WORKERS_RING: bool = true;

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

    /// A worker about to park may not ring: the task its ring wakes would wait in the
    /// runtime's queue of remote wake-ups, which the parking worker has already looked at.
    pub(super) const WORKERS_RING: bool = false;

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
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Waker};
    use std::time::{Duration, Instant};
    use tokio::runtime::Runtime;

    /// A runtime from `builder` with `workers` worker threads, and its started doorbell.
    fn started(builder: &mut Builder, workers: usize) -> (Runtime, Arc<Doorbell>) {
        let doorbell = Doorbell::install(builder.enable_all(), workers);
        let runtime = builder.build().expect("runtime");
        doorbell.start(runtime.handle()).expect("doorbell");
        (runtime, doorbell)
    }

    /// Whether `waiter` has been woken, without waiting.
    fn woken(waiter: &Waiter) -> bool {
        let mut wait = pin!(waiter.wait());
        wait.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    /// Many threads outside the runtime each count items into their own task's "queue" (a
    /// counter) and wake it, one item at a time, waiting for the task to have taken each before
    /// the next: items then land just as the task finds its queue empty and goes idle, or as a
    /// worker parks, the moments where a wake could be lost. Each task answers the doorbell
    /// after its work, as the connections' tasks do, so wakes are taken by the bell, by a busy
    /// worker, and by one about to park. A lost one leaves its item untaken.
    #[test]
    fn no_wake_is_lost_while_a_task_goes_idle() {
        wake_each_item_of_many_threads(1);
    }

    /// The same with two workers, as the runtime has on a machine of three cores or more: the
    /// bell must ring only once both are parked, and one parking while the other runs must not
    /// leave a wake behind.
    #[test]
    fn no_wake_is_lost_with_two_workers() {
        wake_each_item_of_many_threads(2);
    }

    fn wake_each_item_of_many_threads(workers: usize) {
        const THREADS: usize = 4;
        const ITEMS: usize = 20_000;
        let (runtime, doorbell) =
            started(Builder::new_multi_thread().worker_threads(workers), workers);
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let waiter = Arc::new(Waiter::default());
                let queued = Arc::new(AtomicUsize::new(0));
                let taken = Arc::new(AtomicUsize::new(0));
                runtime.spawn({
                    let doorbell = doorbell.clone();
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
                            doorbell.answer();
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

    /// A burst of wakes on many waiters while the runtime does not run lists each once and arms
    /// the doorbell once; the one ring its thread makes as it parks wakes them all. Wakes of a
    /// task still at work arm nothing; once it goes idle, a wake arms the doorbell again.
    #[test]
    fn one_ring_wakes_a_whole_burst() {
        let (runtime, doorbell) = started(&mut Builder::new_current_thread(), 1);
        let waiters: Vec<_> = (0..32).map(|_| Arc::new(Waiter::default())).collect();
        for waiter in &waiters {
            doorbell.wake(waiter);
            doorbell.wake(waiter);
        }
        assert!(doorbell.armed.load(Ordering::Acquire));
        // The runtime runs only now: its thread rings as it parks, and the turn wakes them all.
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
            "a task at work needs no turn"
        );
        assert_eq!(
            waiters[0].take_or_idle(|| Ok::<Option<()>, ()>(None)),
            Ok(None),
            "nothing queued: the task goes idle"
        );
        doorbell.wake(&waiters[0]);
        assert!(doorbell.armed.load(Ordering::Acquire), "armed again");
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), waiters[0].wait())
                .await
                .expect("woken again");
        });
    }

    /// While a worker is at work, a wake arms the doorbell without ringing it, and the worker's
    /// next answer (after a task's poll) takes the turn.
    #[test]
    fn a_busy_worker_answers_without_the_bell() {
        let (_runtime, doorbell) = started(&mut Builder::new_current_thread(), 1);
        let waiter = Arc::new(Waiter::default());
        // The runtime's one thread has not parked: it counts as at work.
        doorbell.wake(&waiter);
        assert!(doorbell.armed.load(Ordering::Acquire));
        assert!(!woken(&waiter), "nobody has answered yet");
        doorbell.answer();
        assert!(!doorbell.armed.load(Ordering::Acquire));
        assert!(woken(&waiter), "the answer woke it");
    }

    /// A wake that lands while another thread takes a turn is either taken by that turn or
    /// finds the doorbell disarmed and arms it for the next. A turn that took the list before
    /// disarming would lose a wake made between the two: listed, found armed, then disarmed.
    /// A thread waking and a thread taking turns are started together over and over; after
    /// each round the waiter is woken or the doorbell armed. The doorbell is never started,
    /// so nothing rings and only the flags and the list are at play.
    #[test]
    fn a_wake_during_a_turn_is_taken_or_left_armed() {
        const ROUNDS: usize = 50_000;
        let doorbell = Doorbell::install(&mut Builder::new_current_thread(), 1);
        let waiter = Arc::new(Waiter::default());
        // Round n begins when `start` reaches n; the waking thread reports it done in `woke`.
        let start = Arc::new(AtomicUsize::new(0));
        let woke = Arc::new(AtomicUsize::new(0));
        let waking = std::thread::spawn({
            let (doorbell, waiter) = (doorbell.clone(), waiter.clone());
            let (start, woke) = (start.clone(), woke.clone());
            move || {
                for round in 1..=ROUNDS {
                    reach(&start, round);
                    doorbell.wake(&waiter);
                    woke.store(round, Ordering::Release);
                }
            }
        });
        let mut missed = 0;
        for round in 1..=ROUNDS {
            // An armed doorbell makes the turn take the list, as `answer` would.
            doorbell.armed.store(true, Ordering::SeqCst);
            start.store(round, Ordering::Release);
            doorbell.turn();
            reach(&woke, round);
            if !woken(&waiter) {
                if !doorbell.armed.load(Ordering::SeqCst) {
                    missed += 1;
                }
                // Take the wake the next turn would, and check it is there.
                doorbell.turn();
                assert!(woken(&waiter), "round {round}: the wake was not listed");
            }
            // The task found its queue empty: wakes list it again.
            assert_eq!(waiter.take_or_idle(|| Ok::<Option<()>, ()>(None)), Ok(None));
        }
        waking.join().expect("the waking thread");
        assert_eq!(missed, 0, "wakes neither taken nor left armed, of {ROUNDS}");
    }

    /// Returns once `counter` has reached `value`: spins, so that two threads on two cores
    /// leave their waits together, and then yields, so that one core also gets there. Fails
    /// after 10 s, so that a thread that died fails the test instead of hanging it.
    fn reach(counter: &AtomicUsize, value: usize) {
        let mut spins = 0u32;
        let mut deadline = None;
        while counter.load(Ordering::Acquire) < value {
            if spins < 1000 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                let deadline =
                    *deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(10));
                assert!(
                    Instant::now() < deadline,
                    "round {value} never began or ended"
                );
                std::thread::yield_now();
            }
        }
    }

    /// Inside a task, which tokio gives a budget of operations per poll, `take_ready` takes
    /// everything queued: an empty answer for lack of budget would leave messages no wake
    /// comes for. Once the senders are gone and the queue is empty, it says so.
    #[test]
    fn take_ready_takes_everything_queued_whatever_the_task_budget() {
        const ITEMS: usize = 1000;
        let runtime = Builder::new_current_thread().build().expect("runtime");
        let (tx, mut rx) = mpsc::unbounded_channel();
        for item in 0..ITEMS {
            tx.send(item).expect("queued");
        }
        let taken = runtime.block_on(async {
            tokio::spawn(async move {
                let mut taken = Vec::new();
                while let Ok(Some(item)) = take_ready(&mut rx) {
                    taken.push(item);
                }
                drop(tx);
                assert_eq!(take_ready(&mut rx), Err(Ended));
                taken
            })
            .await
            .expect("the task ran")
        });
        assert_eq!(taken, (0..ITEMS).collect::<Vec<_>>());
    }
}
