//! Log lines that can never stall serving. A request hands its line to a
//! bounded queue and goes on; a thread of its own writes the queue to
//! stderr. When stderr is not being read (a harness that spawned the mock
//! with a pipe it never drains), that thread blocks alone, the queue fills,
//! and further lines are dropped and counted; the count is written before
//! the next line that gets through.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

/// Lines waiting to be written, at most.
const QUEUE: usize = 256;

/// Where log lines go, and how many were dropped.
pub(crate) struct Logger {
    /// The queue to the writing thread.
    queue: SyncSender<String>,
    /// Lines dropped because the queue was full, since last reported.
    dropped: Arc<AtomicU64>,
}

impl Logger {
    /// A logger writing to `sink` from a thread of its own.
    pub fn new(mut sink: impl Write + Send + 'static, capacity: usize) -> Logger {
        let (queue, lines) = sync_channel::<String>(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = dropped.clone();
        let spawned = std::thread::Builder::new()
            .name("log".into())
            .spawn(move || {
                for line in lines {
                    let lost = counted.swap(0, Ordering::Relaxed);
                    if lost > 0 {
                        let _ = writeln!(
                            sink,
                            "stripe-secrets-mock: {lost} log lines dropped (stderr was not read)"
                        );
                    }
                    let _ = writeln!(sink, "{line}");
                    let _ = sink.flush();
                }
            });
        // Without the thread, lines are dropped (and counted) from the start.
        drop(spawned);
        Logger { queue, dropped }
    }

    /// Queues one line; never blocks.
    pub fn line(&self, line: String) {
        match self.queue.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped and not yet reported.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes one line to stderr, through the process's logger; never blocks.
pub(crate) fn line(line: String) {
    static STDERR: OnceLock<Logger> = OnceLock::new();
    STDERR
        .get_or_init(|| Logger::new(std::io::stderr(), QUEUE))
        .line(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver};
    use std::time::{Duration, Instant};

    /// A sink that says when a write starts, then blocks until told to go
    /// on.
    struct Stuck {
        started: std::sync::mpsc::Sender<()>,
        release: Receiver<()>,
    }

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.started.send(());
            let _ = self.release.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_sink_that_is_never_read_never_blocks_the_caller() {
        let (started, writing) = channel();
        let (_release, release) = channel();
        let logger = Logger::new(Stuck { started, release }, 8);
        // The writer takes a first line and blocks writing it.
        logger.line("first".into());
        writing.recv().unwrap();
        let clock = Instant::now();
        for i in 0..10_000 {
            logger.line(format!("line {i}"));
        }
        assert!(clock.elapsed() < Duration::from_secs(5));
        // The queue took eight; every other line was dropped and counted.
        assert_eq!(logger.dropped(), 9_992);
    }

    #[test]
    fn lines_reach_a_sink_that_is_read_with_the_count_of_those_lost() {
        struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let logger = Logger::new(Shared(out.clone()), 8);
        logger.dropped.store(3, Ordering::Relaxed);
        logger.line("hello".into());
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
            if text.ends_with("hello\n") || Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            text,
            "stripe-secrets-mock: 3 log lines dropped (stderr was not read)\nhello\n"
        );
    }
}
