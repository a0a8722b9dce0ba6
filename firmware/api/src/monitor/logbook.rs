//! The recent log lines the web page shows (`GET /api/v1/logs`).
//!
//! The daemon's tracing layer (`dvbgate::logging`) hands every line of level INFO and
//! above to [`LogBook::push`], beside writing it to stderr. The book keeps the newest
//! [`MAX_LINES`] lines and at most [`MAX_BYTES`] of text; a message longer than
//! [`MAX_MESSAGE`] is cut (at a character boundary) and says so. Each line gets a
//! sequence number, so a reader asks for what came after the last line it has, and
//! learns from `dropped` how many lines the book let go since it started.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

pub const MAX_LINES: usize = 2000;
pub const MAX_BYTES: usize = 512 * 1024;
/// Longer messages are cut: one runaway line (a dump of a table) cannot push out
/// everything else.
pub const MAX_MESSAGE: usize = 4096;
/// Lines one request gets at most.
pub const MAX_LIMIT: usize = 1000;
/// Lines a request gets when it does not say.
pub(crate) const DEFAULT_LIMIT: usize = 200;

/// Severity, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    /// `info`, `WARN`, `warning`...: what a `level=` query may say.
    pub fn parse(text: &str) -> Option<Level> {
        match text.to_ascii_lowercase().as_str() {
            "trace" => Some(Level::Trace),
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

impl From<&tracing::Level> for Level {
    fn from(l: &tracing::Level) -> Level {
        match *l {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::ERROR => Level::Error,
        }
    }
}

struct Line {
    seq: u64,
    /// Unix milliseconds.
    time_ms: i64,
    level: Level,
    target: String,
    message: String,
    spans: String,
}

impl Line {
    fn size(&self) -> usize {
        // The strings and the fixed part: what the line costs, roughly.
        self.target.len() + self.message.len() + self.spans.len() + 48
    }
}

/// One line as `/api/v1/logs` sends it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LineView {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    pub level: &'static str,
    pub target: String,
    pub message: String,
    /// The spans the line was logged in, outermost first:
    /// `input{name="Multiplex R1"}:tuner{frontend=adapter0/frontend0}`.
    pub spans: String,
}

/// The answer to a query.
#[derive(Clone, Debug, Serialize)]
pub struct Page {
    pub lines: Vec<LineView>,
    /// Pass as `after` next time.
    pub next: u64,
    /// Lines the book has let go since it started (the oldest, to make room).
    pub dropped: u64,
}

struct Book {
    lines: VecDeque<Line>,
    bytes: usize,
    next_seq: u64,
    dropped: u64,
}

/// See the module docs.
pub struct LogBook {
    book: Mutex<Book>,
    max_lines: usize,
    max_bytes: usize,
}

impl std::fmt::Debug for LogBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let book = self.lock();
        f.debug_struct("LogBook")
            .field("lines", &book.lines.len())
            .field("bytes", &book.bytes)
            .field("dropped", &book.dropped)
            .finish()
    }
}

impl Default for LogBook {
    fn default() -> Self {
        LogBook::new()
    }
}

/// `text` cut to at most `max` bytes at a character boundary, saying how much was cut.
pub(crate) fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({cut} bytes cut)"));
    text
}

impl LogBook {
    /// A book of [`MAX_LINES`] lines and [`MAX_BYTES`].
    pub fn new() -> LogBook {
        LogBook::with_limits(MAX_LINES, MAX_BYTES)
    }

    pub fn with_limits(max_lines: usize, max_bytes: usize) -> LogBook {
        LogBook {
            book: Mutex::new(Book {
                lines: VecDeque::new(),
                bytes: 0,
                next_seq: 1,
                dropped: 0,
            }),
            max_lines: max_lines.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a line logged now. `message` carries the event's fields (`key=value`) after
    /// its text; `spans` is the chain of spans it was logged in.
    pub fn push(&self, level: Level, target: &str, message: String, spans: String) {
        let time_ms = jiff::Timestamp::now().as_millisecond();
        self.push_at(time_ms, level, target, message, spans);
    }

    pub(crate) fn push_at(
        &self,
        time_ms: i64,
        level: Level,
        target: &str,
        message: String,
        spans: String,
    ) {
        let mut line = Line {
            seq: 0,
            time_ms,
            level,
            target: cut(target.to_owned(), 256),
            message: cut(message, MAX_MESSAGE),
            spans: cut(spans, 1024),
        };
        let size = line.size();
        let mut book = self.lock();
        line.seq = book.next_seq;
        book.next_seq += 1;
        book.bytes += size;
        book.lines.push_back(line);
        while book.lines.len() > self.max_lines
            || (book.bytes > self.max_bytes && book.lines.len() > 1)
        {
            if let Some(old) = book.lines.pop_front() {
                book.bytes -= old.size();
                book.dropped += 1;
            }
        }
    }

    /// Lines of at least `level`: without `after`, the newest `limit`; with it, the
    /// first `limit` after line `after` (a reader catching up).
    pub fn page(&self, after: Option<u64>, level: Level, limit: usize) -> Page {
        let limit = limit.clamp(1, MAX_LIMIT);
        let book = self.lock();
        let last_seq = book.next_seq - 1;
        // A reader ahead of the book met an earlier run of the daemon: it starts over.
        let after = after.filter(|a| *a <= last_seq);
        let wanted = |l: &&Line| l.level >= level;
        let (picked, next): (Vec<&Line>, u64) = match after {
            None => {
                let mut newest: Vec<&Line> =
                    book.lines.iter().rev().filter(wanted).take(limit).collect();
                newest.reverse();
                (newest, last_seq)
            }
            Some(after) => {
                let mut picked = Vec::new();
                let mut next = last_seq;
                for l in book.lines.iter().filter(|l| l.seq > after) {
                    if picked.len() == limit {
                        // More to come: continue after the last one given.
                        next = picked.last().map_or(after, |p: &&Line| p.seq);
                        break;
                    }
                    if wanted(&l) {
                        picked.push(l);
                    }
                }
                (picked, next)
            }
        };
        Page {
            lines: picked.into_iter().map(view).collect(),
            next,
            dropped: book.dropped,
        }
    }
}

fn view(l: &Line) -> LineView {
    let time = jiff::Timestamp::from_millisecond(l.time_ms)
        .map(|t| t.to_string())
        .unwrap_or_default();
    LineView {
        seq: l.seq,
        time,
        level: l.level.word(),
        target: l.target.clone(),
        message: l.message.clone(),
        spans: l.spans.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(b: &LogBook, level: Level, message: &str) {
        b.push_at(
            1_700_000_000_123,
            level,
            "dvbgate_pipeline::thread",
            message.to_owned(),
            String::new(),
        );
    }

    #[test]
    fn keeps_the_newest_lines_and_counts_the_rest() {
        let b = LogBook::with_limits(3, 1 << 20);
        for i in 1..=5 {
            push(&b, Level::Info, &format!("line {i}"));
        }
        let p = b.page(None, Level::Info, 100);
        let seqs: Vec<u64> = p.lines.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(p.dropped, 2);
        assert_eq!(p.next, 5);
        assert_eq!(p.lines[2].message, "line 5");
        assert_eq!(p.lines[0].time, "2023-11-14T22:13:20.123Z");
        assert_eq!(p.lines[0].level, "INFO");
        assert_eq!(p.lines[0].target, "dvbgate_pipeline::thread");
    }

    #[test]
    fn the_byte_budget_holds() {
        let b = LogBook::with_limits(1000, 10 * 1024);
        for i in 0..500 {
            push(&b, Level::Info, &format!("{i:04} {}", "x".repeat(200)));
        }
        let book = b.lock();
        assert!(book.bytes <= 10 * 1024, "{}", book.bytes);
        assert!(book.lines.len() > 20);
        assert_eq!(book.dropped as usize + book.lines.len(), 500);
        let real: usize = book.lines.iter().map(Line::size).sum();
        assert_eq!(real, book.bytes, "the running total is exact");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        // 'é' is two bytes: a cut at an odd byte would split one.
        let long = "é".repeat(MAX_MESSAGE);
        let b = LogBook::new();
        push(&b, Level::Warn, &long);
        let line = &b.page(None, Level::Info, 1).lines[0];
        let kept = line.message.split('…').next().unwrap();
        assert_eq!(kept.len(), MAX_MESSAGE);
        assert!(kept.chars().all(|c| c == 'é'));
        assert!(
            line.message
                .ends_with(&format!("… ({} bytes cut)", MAX_MESSAGE)),
            "{}",
            &line.message[line.message.len() - 30..]
        );
        assert_eq!(cut("αβγ".into(), 3), "α… (4 bytes cut)");
        assert_eq!(cut("short".into(), 5), "short");
    }

    #[test]
    fn readers_catch_up_page_by_page_and_filter_by_level() {
        let b = LogBook::new();
        for i in 1..=10 {
            let level = if i % 3 == 0 { Level::Warn } else { Level::Info };
            push(&b, level, &format!("{i}"));
        }
        let p = b.page(Some(0), Level::Info, 4);
        assert_eq!(
            p.lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(p.next, 4);
        let p = b.page(Some(p.next), Level::Info, 4);
        assert_eq!(
            p.lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [5, 6, 7, 8]
        );
        let p = b.page(Some(p.next), Level::Info, 4);
        assert_eq!(p.lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [9, 10]);
        assert_eq!(p.next, 10);
        let p = b.page(Some(p.next), Level::Info, 4);
        assert!(p.lines.is_empty());
        assert_eq!(p.next, 10, "nothing new: ask again from the same place");
        // Warnings only: the reader moves past the info lines it skipped.
        let p = b.page(Some(0), Level::Warn, 100);
        assert_eq!(p.lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [3, 6, 9]);
        assert_eq!(p.next, 10);
        let p = b.page(None, Level::Warn, 2);
        assert_eq!(p.lines.iter().map(|l| l.seq).collect::<Vec<_>>(), [6, 9]);
        // A reader that knew a previous run (a higher line number) starts over.
        let p = b.page(Some(500), Level::Info, 3);
        assert_eq!(
            p.lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [8, 9, 10]
        );
        assert_eq!(p.next, 10);
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
    }
}
