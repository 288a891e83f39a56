//! The progress bar of long runs: on stderr, only on a terminal, only after a second (short
//! runs never flash one), never with NO_COLOR or --quiet. It reads the run's [`Progress`] from
//! a thread of its own, so the run itself only stores a counter.

use meshsim::sim::Progress;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running bar (or nothing, where none is wanted).
pub struct Bar {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// Starts watching `progress` towards `total` requests.
    pub fn start(progress: Arc<Progress>, total: u64, quiet: bool) -> Bar {
        let done = Arc::new(AtomicBool::new(false));
        let wanted =
            !quiet && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let thread = wanted.then(|| {
            let done = done.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut bar: Option<indicatif::ProgressBar> = None;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if bar.is_none() && started.elapsed() >= Duration::from_secs(1) {
                        let b = indicatif::ProgressBar::new(total);
                        if let Ok(style) = indicatif::ProgressStyle::with_template(
                            "{bar:40} {pos}/{len} requests, {per_sec}, {eta} left (Ctrl-C stops and reports)",
                        ) {
                            b.set_style(style);
                        }
                        bar = Some(b);
                    }
                    if let Some(b) = &bar {
                        b.set_position(progress.done().min(total));
                    }
                }
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
            })
        });
        Bar { done, thread }
    }

    /// Stops and clears the bar.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
