//! Logs go to stderr (journald picks them up on the box); `DVBGATE_LOG` sets the filter,
//! e.g. `DVBGATE_LOG=debug` or `DVBGATE_LOG=dvbgate_pipeline=debug,info`.
//!
//! Lines of level INFO and above also go to a [`LogBook`], whatever `DVBGATE_LOG` says:
//! the web page's log view (`GET /api/v1/logs`) reads it. Each line there carries its
//! fields (`key=value`, after the message) and the spans it was logged in, outermost
//! first (`input{name="Multiplex R1"}:tuner{frontend=adapter0/frontend0}`).

use dvbgate_api::LogBook;
use dvbgate_api::monitor::Level;
use std::fmt::Write;
use std::io::IsTerminal;
use std::sync::Arc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the stderr log and the log book, and returns the book (for
/// `AppOptions::logbook`). If a subscriber was installed already (tests), the book
/// stays empty.
pub fn init() -> Arc<LogBook> {
    let book = Arc::new(LogBook::new());
    let filter = EnvFilter::try_from_env("DVBGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(filter);
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(BookLayer::new(Arc::clone(&book)).with_filter(LevelFilter::INFO))
        .try_init();
    book
}

/// Feeds a [`LogBook`]; see the module docs.
pub struct BookLayer {
    book: Arc<LogBook>,
}

impl BookLayer {
    pub fn new(book: Arc<LogBook>) -> Self {
        BookLayer { book }
    }
}

/// A span's fields, kept in the span's extensions: each field's name and its text
/// (`id=1`, `name="A"`). A field recorded again later (`span.record(..)`) replaces its
/// earlier value, so a span recorded in a loop does not grow.
struct SpanFields(Vec<(&'static str, String)>);

impl SpanFields {
    fn text(&self) -> String {
        let mut out = String::new();
        for (_, text) in &self.0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(text);
        }
        out
    }
}

/// Writes fields as `key=value` (strings quoted when they hold spaces or quotes); the
/// event's `message` goes first, bare.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Fields {
    fn push(&mut self, name: &'static str, value: &dyn std::fmt::Display, is_str: bool) {
        if name == "message" {
            let _ = write!(self.message, "{value}");
            return;
        }
        let text = value.to_string();
        let text = if is_str && (text.is_empty() || text.contains([' ', '"', '='])) {
            format!("{name}={text:?}")
        } else {
            format!("{name}={text}")
        };
        self.rest.push((name, text));
    }

    /// The message with its fields after it.
    fn line(self) -> String {
        let mut out = self.message;
        for (_, text) in self.rest {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&text);
        }
        out
    }

    /// As a span's fields (a span's `message`, if it has one, is a field like others).
    fn for_span(self) -> Vec<(&'static str, String)> {
        let mut all = self.rest;
        if !self.message.is_empty() {
            all.insert(0, ("message", self.message));
        }
        all
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), &value, true);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%x` fields arrive here as Display wrapped in Debug; either prints as meant.
        self.push(field.name(), &format_args!("{value:?}"), false);
    }
}

impl<S> Layer<S> for BookLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.for_span()));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let more = fields.for_span();
        let mut ext = span.extensions_mut();
        match ext.get_mut::<SpanFields>() {
            Some(SpanFields(known)) => {
                for (name, text) in more {
                    match known.iter_mut().find(|(n, _)| *n == name) {
                        Some(field) => field.1 = text,
                        None => known.push((name, text)),
                    }
                }
            }
            None => ext.insert(SpanFields(more)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut spans = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if !spans.is_empty() {
                    spans.push(':');
                }
                spans.push_str(span.name());
                if let Some(f) = span.extensions().get::<SpanFields>()
                    && !f.0.is_empty()
                {
                    let _ = write!(spans, "{{{}}}", f.text());
                }
            }
        }
        self.book.push(
            Level::from(meta.level()),
            meta.target(),
            fields.line(),
            spans,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_fields_and_spans() {
        let book = Arc::new(LogBook::new());
        let subscriber = tracing_subscriber::registry()
            .with(BookLayer::new(Arc::clone(&book)).with_filter(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let input = tracing::info_span!("input", id = 1, name = "Multiplex R1");
            let _in = input.enter();
            let tuner = tracing::info_span!("tuner", frontend = %"adapter0/frontend0");
            let _t = tuner.enter();
            tracing::warn!(signal_dbm = -61.5, cnr_db = 28.0, "lock lost");
            tracing::debug!("not kept: below INFO");
            drop(_t);
            tracing::info!(channel = 2, "output sending again");
        });
        let page = serde_json::to_value(book_page(&book)).unwrap();
        let lines = page.as_array().unwrap();
        assert_eq!(lines.len(), 2, "{page:#}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(
            lines[0]["message"],
            "lock lost signal_dbm=-61.5 cnr_db=28.0"
        );
        assert_eq!(
            lines[0]["spans"],
            "input{id=1 name=\"Multiplex R1\"}:tuner{frontend=adapter0/frontend0}"
        );
        assert_eq!(lines[1]["message"], "output sending again channel=2");
        assert_eq!(lines[1]["spans"], "input{id=1 name=\"Multiplex R1\"}");
        assert_eq!(lines[1]["target"], module_path!());
    }

    #[test]
    fn a_span_recorded_again_keeps_one_value_per_field() {
        let book = Arc::new(LogBook::new());
        let subscriber = tracing_subscriber::registry()
            .with(BookLayer::new(Arc::clone(&book)).with_filter(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "input",
                id = 1,
                state = tracing::field::Empty,
                retry = tracing::field::Empty
            );
            for n in 0..1000 {
                span.record("state", "retrying");
                span.record("retry", n);
            }
            span.record("state", "locked");
            let _in = span.enter();
            tracing::info!("running");
        });
        let page = book_page(&book);
        assert_eq!(page[0]["spans"], "input{id=1 state=locked retry=999}");
    }

    /// The book's lines as `/api/v1/logs` shows them.
    fn book_page(book: &LogBook) -> serde_json::Value {
        serde_json::to_value(book.page(Some(0), Level::Trace, 1000).lines).unwrap()
    }
}
