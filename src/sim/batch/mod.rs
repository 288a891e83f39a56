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
        self.summarize_chunked(source, threads, CHUNK)
    }

    /// [`summarize`](Self::summarize) with `chunk` requests per thread and round (tests use
    /// small chunks to cut short streams in many places).
    #[doc(hidden)]
    pub fn summarize_chunked<S: RequestSource + ?Sized>(
        &mut self,
        source: &S,
        threads: usize,
        chunk: u64,
    ) -> Summary {
        let chunk = chunk.max(1);
        let n = source.len();
        let start = self.entropy.position();
        if !self.batchable() {
            let mut s = Summary::default();
            let mut req = Request::get("");
            for i in 0..n {
                source.fill(i, &mut req);
                let d = self.decide(&req);
                s.record(&d);
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
            while next < n {
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
            }
            for w in &workers {
                summary.merge(&w.summary());
            }
        }
        for (c, lb) in self.upstream.clusters.iter_mut().zip(master.drain(..)) {
            c.lb = lb;
        }
        self.entropy = EntropySource::starting_at(self.options.seed, start + n);
        summary
    }
}
