//! How a log line is written, as text or as JSON (`SIGNET_LOG_FORMAT`), naming the request it was
//! written for.
//!
//! The request is not a `tracing` span: a span per request cost more than the request log's line
//! itself (a slab entry, its fields formatted into a string, enter and exit on every poll; measured
//! on the JWKS, most of the log's 7 µs of CPU per request). The edge middleware keeps the request
//! in a task-local ([`request_id::with_current`]) and this formatter writes it where
//! `tracing-subscriber`'s own formats wrote the span, so the lines read as before:
//!
//! ```text
//! 2026-12-03T05:00:00.000000Z  INFO request{method="GET" uri="/.well-known/jwks.json" request_id="…"}: signet::http::edge: finished processing request latency=41 μs status=200
//! {"timestamp":"…","level":"INFO","message":"finished processing request","latency":"41 μs","status":200,"target":"signet::http::edge","span":{"method":"GET","uri":"/.well-known/jwks.json","request_id":"…","name":"request"}}
//! ```

use std::{cell::RefCell, fmt, fmt::Write as _, time::UNIX_EPOCH};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

use super::request_id::{self, RequestContext};

/// The event format of the server's log.
#[derive(Debug, Clone, Copy)]
pub enum LogLines {
    /// One line of text per event, for people; the level coloured on a terminal.
    Text,
    /// One JSON object per line, for log pipelines: the event's fields at the top, the request
    /// (method, uri, request id) in `span`.
    Json,
}

impl<S, N> FormatEvent<S, N> for LogLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        request_id::with_current(|request| match self {
            Self::Text => text(ctx, writer.by_ref(), event, request),
            Self::Json => json(writer.by_ref(), event, request),
        })
    }
}

fn text<S, N>(
    ctx: &FmtContext<'_, S, N>,
    mut writer: Writer<'_>,
    event: &Event<'_>,
    request: Option<&RequestContext>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let meta = event.metadata();
    let ansi = writer.has_ansi_escapes();
    if ansi {
        writer.write_str("\x1b[2m")?;
    }
    timestamp(&mut writer)?;
    let level = *meta.level();
    if ansi {
        write!(
            writer,
            "\x1b[0m {}{:>5}\x1b[0m ",
            colour(level),
            level.as_str()
        )?;
    } else {
        write!(writer, " {:>5} ", level.as_str())?;
    }
    if let Some(request) = request {
        write!(
            writer,
            "request{{method={:?} uri={:?} request_id={:?}}}: ",
            request.method.as_str(),
            request.path_and_query(),
            &*request.id,
        )?;
    }
    write!(writer, "{}: ", meta.target())?;
    ctx.field_format().format_fields(writer.by_ref(), event)?;
    writeln!(writer)
}

/// The time now as `tracing-subscriber` writes it (RFC 3339, UTC, microseconds:
/// `2026-12-03T05:00:00.000000Z`). The date and the second are formatted once a second per
/// thread: `tracing-subscriber` formatted them for every line (in `perf` of the JWKS, 1.2 % of
/// the CPU, a third of the whole log's).
pub(super) fn timestamp(out: &mut impl fmt::Write) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since_epoch = UNIX_EPOCH.elapsed().unwrap_or_default();
    let second = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(cached, prefix)| {
        if *cached != second {
            prefix.clear();
            let at = i64::try_from(second)
                .ok()
                .and_then(|second| chrono::DateTime::from_timestamp(second, 0))
                .unwrap_or_default();
            write!(prefix, "{}", at.format("%Y-%m-%dT%H:%M:%S."))?;
            *cached = second;
        }
        write!(out, "{prefix}{:06}Z", since_epoch.subsec_micros())
    })
}

/// The ANSI colour `tracing-subscriber` gives each level.
fn colour(level: Level) -> &'static str {
    match level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        Level::TRACE => "\x1b[35m",
    }
}

fn json(
    mut writer: Writer<'_>,
    event: &Event<'_>,
    request: Option<&RequestContext>,
) -> fmt::Result {
    let meta = event.metadata();
    let mut timestamp = String::with_capacity(32);
    self::timestamp(&mut timestamp)?;
    writer.write_str("{\"timestamp\":")?;
    json_string(&mut writer, &timestamp)?;
    write!(writer, ",\"level\":\"{}\"", meta.level().as_str())?;
    let mut fields = JsonFields {
        writer: writer.by_ref(),
        result: Ok(()),
    };
    event.record(&mut fields);
    fields.result?;
    writer.write_str(",\"target\":")?;
    json_string(&mut writer, meta.target())?;
    if let Some(request) = request {
        writer.write_str(",\"span\":{\"method\":")?;
        json_string(&mut writer, request.method.as_str())?;
        writer.write_str(",\"uri\":")?;
        json_string(&mut writer, request.path_and_query())?;
        writer.write_str(",\"request_id\":")?;
        json_string(&mut writer, &request.id)?;
        writer.write_str(",\"name\":\"request\"}")?;
    }
    writer.write_str("}\n")
}

/// Writes each field as `,"name":value`: numbers and booleans as themselves, anything else as a
/// string.
struct JsonFields<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
}

impl JsonFields<'_> {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.writer.write_str(",").and_then(|()| {
                json_string(&mut self.writer, field.name())?;
                write!(self.writer, ":{value}")
            });
        }
    }
}

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.field(field, format_args!("{value}"));
        } else {
            self.record_str(field, &value.to_string());
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, format_args!("{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, format_args!("{value}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, format_args!("{value}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.writer.write_str(",").and_then(|()| {
                json_string(&mut self.writer, field.name())?;
                self.writer.write_str(":")?;
                json_string(&mut self.writer, value)
            });
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// `value` as a JSON string, escaped as RFC 8259 requires.
pub(super) fn json_string(writer: &mut Writer<'_>, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    let mut plain = 0;
    for (at, c) in value.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if c < ' ' => "",
            _ => continue,
        };
        writer.write_str(&value[plain..at])?;
        if escape.is_empty() {
            write!(writer, "\\u{:04x}", u32::from(c))?;
        } else {
            writer.write_str(escape)?;
        }
        plain = at + c.len_utf8();
    }
    writer.write_str(&value[plain..])?;
    writer.write_char('"')
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
pub(super) mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::Method;

    use super::*;

    /// An output the test reads back.
    #[derive(Clone, Default)]
    pub(in crate::http) struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Sink {
        /// Everything written so far.
        pub(in crate::http) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Makes `lines` the format of this thread's `tracing` events until the guard drops; they
    /// are written to the sink.
    pub(in crate::http) fn capture(lines: LogLines) -> (Sink, tracing::subscriber::DefaultGuard) {
        let sink = Sink::default();
        let output = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || output.clone())
            .with_ansi(false)
            .event_format(lines)
            .finish();
        (sink, tracing::subscriber::set_default(subscriber))
    }

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `lines` writes for one event inside a request and one outside any.
    async fn written(lines: LogLines) -> Vec<String> {
        let (sink, _default) = capture(lines);
        let request = RequestContext {
            id: "req-42".into(),
            method: Method::GET,
            uri: "/api/v2/keys/signing?page=2".parse().unwrap(),
        };
        request_id::scope(request, async {
            tracing::info!(latency = %format_args!("{} μs", 41), status = 200_u16, "finished processing request");
        })
        .await;
        tracing::warn!(tenant = "a.example", "outside any request");
        sink.text().lines().map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn a_text_line_names_the_request_it_was_written_for() {
        let lines = written(LogLines::Text).await;
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].ends_with(
                "  INFO request{method=\"GET\" uri=\"/api/v2/keys/signing?page=2\" request_id=\"req-42\"}: \
                 signet::http::log_line::tests: finished processing request latency=41 μs status=200"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with(
                "  WARN signet::http::log_line::tests: outside any request tenant=\"a.example\""
            ),
            "{}",
            lines[1]
        );
    }

    #[tokio::test]
    async fn a_json_line_is_one_object_with_the_request_in_span() {
        let lines = written(LogLines::Json).await;
        let objects: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let inside = &objects[0];
        assert_eq!(inside["level"], "INFO");
        assert_eq!(inside["message"], "finished processing request");
        assert_eq!(inside["status"], 200);
        assert_eq!(inside["latency"], "41 μs");
        assert_eq!(inside["target"], "signet::http::log_line::tests");
        assert_eq!(
            inside["span"],
            serde_json::json!({"method": "GET", "uri": "/api/v2/keys/signing?page=2", "request_id": "req-42", "name": "request"})
        );
        assert!(inside["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(objects[1]["level"], "WARN");
        assert_eq!(objects[1]["tenant"], "a.example");
        assert!(objects[1].get("span").is_none(), "{}", lines[1]);
    }

    fn escaped(value: &str) -> String {
        let mut out = String::new();
        json_string(&mut Writer::new(&mut out), value).unwrap();
        out
    }

    #[test]
    fn json_strings_are_escaped_and_read_back_whole() {
        for value in [
            "plain",
            "quote \" and \\",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}",
            "ünï μs",
            "",
        ] {
            let written = escaped(value);
            let read: String = serde_json::from_str(&written).unwrap();
            assert_eq!(read, value, "{written}");
        }
    }
}
