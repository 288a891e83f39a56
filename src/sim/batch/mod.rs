//! Many requests at once: the summary of a stream without building a
//! [`Decision`](super::Decision) per request, on as many threads as asked, equal to what the
//! one-request-at-a-time engine gives.
//!
//! Why this can run in parallel and stay exact: a request's random values depend only on the
//! seed and its index ([`EntropySource`]), and when no endpoint fails or takes time (checked
//! before the run, [`Simulator::batchable`]) the only thing one request leaves behind for the
//! next is the rotation of the stateful balancers (round robin, and least request's EDF schedule
//! when weights differ). So each chunk of the stream is routed on its own thread (matching, the
//! weighted pick, hashing, stateless picks: nearly all the work) while the picks of stateful
//! balancers are queued; the queues are then replayed in stream order on one thread, a counter
//! increment per pick. Counts land in flat arrays indexed by (route, destination, endpoint) and
//! become a [`Summary`] once, at the end.

mod worker;

use super::Simulator;
use super::stream::RequestSource;
use super::summary::Summary;
use crate::common::rng::EntropySource;
use crate::lb::AnyLb;
use crate::route::Request;
use worker::Worker;

/// Requests one thread routes before the stateful picks are replayed: large enough that
/// threads start rarely, small enough that the queues stay in cache.
const CHUNK: u64 = 16 * crate::common::rng::BLOCK;

impl<'m> Simulator<'m> {
    /// Can [`summarize`](Self::summarize) take the batch path? Yes when nothing in the mesh
    /// makes one request's fate depend on time or on earlier failures: every endpoint answers
    /// 200 at once, no fault injection, no outlier detection, and no request in flight.
    pub fn batchable(&self) -> bool {
        let mesh = self.compiled.mesh;
        mesh.topology
            .instances
            .iter()
            .all(|i| i.behaviour.is_trivial())
            && mesh
                .virtual_services
                .iter()
                .all(|vs| vs.spec.http.iter().all(|h| h.fault.is_none()))
            && self
                .compiled
                .clusters
                .iter()
                .all(|c| c.outlier.is_none() && c.pool.max_connections.min(c.pool.max_requests) > 0)
            && !self.upstream.busy()
    }

    /// Decides every request of `source`, one after the other as [`decide`](Self::decide)
    /// would, and returns only the summary. With `threads > 1` the routing work is shared
    /// between threads; the summary, and the state the simulator is left in, are the same
    /// whatever the thread count. When the mesh is not [`batchable`](Self::batchable), the
    /// requests go through the full engine on this thread.
    ///
    /// ```
    /// use meshsim::{Mesh, route::Request, sim::Simulator};
    /// let mesh = Mesh::load(&["policies/canary-10-percent"]).unwrap();
    /// let stream = vec![Request::get("myweb-service"); 10_000];
    /// let one = Simulator::new(&mesh).unwrap().summarize(&stream[..], 1);
    /// let two = Simulator::new(&mesh).unwrap().summarize(&stream[..], 2);
    /// assert_eq!(one, two);
    /// assert_eq!(one.requests, 10_000);
    /// ```
    pub fn summarize<S: RequestSource + ?Sized>(&mut self, source: &S, threads: usize) -> Summary {
        self.summarize_chunked(source, threads, CHUNK, &Progress::default())
    }

    /// [`summarize`](Self::summarize), reporting how many requests are decided to `progress`
    /// (for a progress bar) and stopping early when it is stopped (Ctrl-C): the summary then
    /// covers the requests decided so far, a prefix of the stream (`summary.requests` of them).
    ///
    /// ```
    /// use meshsim::{Mesh, route::Request, sim::{Progress, Simulator}};
    /// let mesh = Mesh::load(&["policies/canary-10-percent"]).unwrap();
    /// let stream = vec![Request::get("myweb-service"); 10_000];
    /// let progress = Progress::default();
    /// let s = Simulator::new(&mesh).unwrap().summarize_with(&stream[..], 2, &progress);
    /// assert_eq!((s.requests, progress.done()), (10_000, 10_000));
    /// progress.stop();
    /// let s = Simulator::new(&mesh).unwrap().summarize_with(&stream[..], 2, &progress);
    /// assert_eq!(s.requests, 0);
    /// ```
    pub fn summarize_with<S: RequestSource + ?Sized>(
        &mut self,
        source: &S,
        threads: usize,
        progress: &Progress,
    ) -> Summary {
        self.summarize_chunked(source, threads, CHUNK, progress)
    }

    /// [`summarize`](Self::summarize) with `chunk` requests per thread and round (tests use
    /// small chunks to cut short streams in many places).
    #[doc(hidden)]
    pub fn summarize_chunked<S: RequestSource + ?Sized>(
        &mut self,
        source: &S,
        threads: usize,
        chunk: u64,
        progress: &Progress,
    ) -> Summary {
        let chunk = chunk.max(1);
        let n = source.len();
        let start = self.entropy.position();
        if !self.batchable() {
            let mut s = Summary::default();
            let mut req = Request::get("");
            for i in 0..n {
                if progress.stopped() {
                    break;
                }
                source.fill(i, &mut req);
                let d = self.decide(&req);
                s.record(&d);
                progress.set(i + 1);
            }
            return s;
        }
        let threads = threads.max(1);
        // The workers read the simulator while the replay advances its stateful balancers: the
        // replay works on a copy, which replaces the simulator's balancers at the end.
        let mut master: Vec<AnyLb> = self
            .upstream
            .clusters
            .iter()
            .map(|c| c.lb.clone())
            .collect();
        let mut summary = Summary::default();
        {
            let this: &Simulator<'m> = self;
            let mut workers: Vec<Worker<'_, 'm>> =
                (0..threads).map(|_| Worker::new(this)).collect();
            let mut next = 0u64;
            while next < n && !progress.stopped() {
                let ranges: Vec<(u64, u64)> = (0..threads as u64)
                    .map(|k| {
                        let a = (next + k * chunk).min(n);
                        (a, (a + chunk).min(n))
                    })
                    .collect();
                next = ranges.last().map_or(n, |r| r.1);
                if threads == 1 {
                    workers[0].route_chunk(source, ranges[0], start + ranges[0].0);
                } else {
                    std::thread::scope(|s| {
                        for (w, &r) in workers.iter_mut().zip(&ranges) {
                            s.spawn(move || w.route_chunk(source, r, start + r.0));
                        }
                    });
                }
                // The stateful picks, in stream order: chunk by chunk.
                for w in &mut workers {
                    w.replay(&mut master);
                }
                progress.set(next);
            }
            for w in &workers {
                summary.merge(&w.summary());
            }
        }
        for (c, lb) in self.upstream.clusters.iter_mut().zip(master.drain(..)) {
            c.lb = lb;
        }
        // Stopped early, the stream's random values go on from where it stopped.
        self.entropy = EntropySource::starting_at(self.options.seed, start + summary.requests);
        summary
    }
}

/// How far a long run is, shared between the run, whoever shows it (a progress bar) and
/// whoever may stop it (Ctrl-C). Atomics only: the core stays free of I/O.
#[derive(Debug, Default)]
pub struct Progress {
    done: std::sync::atomic::AtomicU64,
    stop: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// Requests decided so far.
    pub fn done(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Records how many are decided.
    pub fn set(&self, n: u64) {
        self.done.store(n, std::sync::atomic::Ordering::Relaxed);
    }
    /// Asks the run to stop at its next chance (between rounds of chunks).
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    /// Was it asked to stop?
    pub fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }
}
