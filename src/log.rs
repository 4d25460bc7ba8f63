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

/// Longest line written, in characters; a longer one is cut (with `...`),
/// whatever produced it, so the queue holds at most `QUEUE` such lines.
pub(crate) const MAX_LINE_CHARS: usize = 1_000;

/// `s` cut to at most `max` characters, `...` marking a cut.
pub(crate) fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &s[..at]).into(),
        None => s.into(),
    }
}

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

    /// Queues one line, cut to [`MAX_LINE_CHARS`]; never blocks.
    pub fn line(&self, mut line: String) {
        if let Some((at, _)) = line.char_indices().nth(MAX_LINE_CHARS) {
            line.truncate(at);
            line.push_str("...");
        }
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

#[cfg(test)]
thread_local! {
    /// The lines this thread logged, for unit tests to read.
    pub(crate) static LOGGED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes one line to stderr, through the process's logger; never blocks.
pub(crate) fn line(line: String) {
    #[cfg(test)]
    LOGGED.with(|l| l.borrow_mut().push(line.clone()));
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

    /// A sink whose bytes the test reads.
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
    fn every_line_is_cut_to_the_longest_written() {
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let logger = Logger::new(Shared(out.clone()), 8);
        logger.line("é".repeat(MAX_LINE_CHARS));
        logger.line("x".repeat(8 << 20));
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
            if text.lines().count() == 2 || Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "é".repeat(MAX_LINE_CHARS),
            "exactly at the bound: whole"
        );
        assert_eq!(lines[1], format!("{}...", "x".repeat(MAX_LINE_CHARS)));
        assert_eq!(cut("abcdef", 3), "abc...");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn lines_reach_a_sink_that_is_read_with_the_count_of_those_lost() {
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
