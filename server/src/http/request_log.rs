//! The request log's line, written straight into the log's batch.
//!
//! Every request ends with one line: method, path, request id, status and latency. Through
//! `tracing` that line paid the dispatch to the subscriber, the filter, the field visitors and
//! their escaping: in an A/B of two new processes alike but for `RUST_LOG`, about a tenth of the
//! JWKS's CPU. Here it is written by hand into the thread's buffer and added to the log's batch
//! ([`crate::log`]) in one copy, as the very bytes [`LogLines`] writes for it, text or JSON (a
//! test holds the two together).
//!
//! `signet serve` installs it when its log is not a terminal; a terminal's lines are coloured
//! by `tracing`, and nobody reads tens of thousands of lines a second there. Without it (a
//! terminal, or the router driven by tests) the line goes through `tracing` like any other.

use std::{cell::RefCell, fmt::Write as _, sync::OnceLock};

use tracing::Level;
use tracing_subscriber::fmt::format::Writer;

use super::{
    log_line::{LogLines, json_string, timestamp},
    request_id::RequestContext,
};

/// Where the line says it comes from: the edge middleware, where the request ends.
pub const TARGET: &str = "signet::http::edge";
/// What it says.
pub const MESSAGE: &str = "finished processing request";

/// Adds whole lines to the log's batch.
type Append = Box<dyn Fn(&[u8]) + Send + Sync>;

/// The process's request log, once installed.
static INSTALLED: OnceLock<RequestLog> = OnceLock::new();

/// Writes each request's line to the server's log.
pub struct RequestLog {
    lines: LogLines,
    /// Whether the log's filter takes the line of an answered request (info) and of a failed
    /// one (error), as read when it was installed.
    info: bool,
    error: bool,
    append: Append,
}

impl RequestLog {
    /// Installs the request log, once per process, writing `lines` through `append`. Call it
    /// after the `tracing` subscriber is set: its filter decides which lines are written.
    pub fn install(lines: LogLines, append: impl Fn(&[u8]) + Send + Sync + 'static) {
        let log = Self {
            lines,
            info: tracing::enabled!(target: TARGET, Level::INFO),
            error: tracing::enabled!(target: TARGET, Level::ERROR),
            append: Box::new(append),
        };
        // A second install would be a second server in one process; the first log stays.
        let _ = INSTALLED.set(log);
    }

    fn write(&self, request: &RequestContext, status: u16, micros: u128) {
        let (level, enabled) = if status >= 500 {
            (Level::ERROR, self.error)
        } else {
            (Level::INFO, self.info)
        };
        if !enabled {
            return;
        }
        thread_local! {
            static LINE: RefCell<String> = RefCell::new(String::with_capacity(256));
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            let written = match self.lines {
                LogLines::Text => text(line, level, request, status, micros),
                LogLines::Json => json(line, level, request, status, micros),
            };
            if written.is_ok() {
                (self.append)(line.as_bytes());
            }
        });
    }
}

/// Writes the line of `request`, answered `status` after `micros`, if the request log is
/// installed; `false` if it is not, and the caller logs the line through `tracing`.
pub fn finished(request: &RequestContext, status: u16, micros: u128) -> bool {
    INSTALLED.get().is_some_and(|log| {
        log.write(request, status, micros);
        true
    })
}

/// `tracing-subscriber`'s text line, as [`LogLines::Text`] writes it without colours.
fn text(
    line: &mut String,
    level: Level,
    request: &RequestContext,
    status: u16,
    micros: u128,
) -> std::fmt::Result {
    timestamp(line)?;
    write!(line, " {:>5} request{{method=", level.as_str())?;
    quoted(line, request.method.as_str())?;
    line.push_str(" uri=");
    quoted(line, request.path_and_query())?;
    line.push_str(" request_id=");
    quoted(line, &request.id)?;
    writeln!(
        line,
        "}}: {TARGET}: {MESSAGE} latency={micros} μs status={status}"
    )
}

/// `value` as `{:?}` writes a string, without its escaping machinery when nothing needs escaping
/// (a path, a method and a request id almost never do).
fn quoted(line: &mut String, value: &str) -> std::fmt::Result {
    if value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        line.push('"');
        line.push_str(value);
        line.push('"');
        Ok(())
    } else {
        write!(line, "{value:?}")
    }
}

/// [`LogLines::Json`]'s object for the line.
fn json(
    line: &mut String,
    level: Level,
    request: &RequestContext,
    status: u16,
    micros: u128,
) -> std::fmt::Result {
    line.push_str("{\"timestamp\":\"");
    timestamp(line)?;
    write!(
        line,
        "\",\"level\":\"{}\",\"message\":\"{MESSAGE}\",\"latency\":\"{micros} μs\",\
         \"status\":{status},\"target\":\"{TARGET}\",\"span\":{{\"method\":",
        level.as_str()
    )?;
    let mut writer = Writer::new(line);
    json_string(&mut writer, request.method.as_str())?;
    writer.write_str(",\"uri\":")?;
    json_string(&mut writer, request.path_and_query())?;
    writer.write_str(",\"request_id\":")?;
    json_string(&mut writer, &request.id)?;
    writer.write_str(",\"name\":\"request\"}}\n")
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use axum::http::Method;

    use super::*;
    use crate::http::{log_line::tests::capture, request_id};

    /// What `tracing` with [`LogLines`] writes for the request's line, beside what this module
    /// writes for it, each without its timestamp.
    async fn both(lines: LogLines, request: RequestContext, status: u16) -> (String, String) {
        let (output, _default) = capture(lines);
        let mut ours = String::new();
        let level = if status >= 500 {
            Level::ERROR
        } else {
            Level::INFO
        };
        match lines {
            LogLines::Text => text(&mut ours, level, &request, status, 41).unwrap(),
            LogLines::Json => json(&mut ours, level, &request, status, 41).unwrap(),
        }
        request_id::scope(request, async {
            if level == Level::ERROR {
                tracing::error!(target: TARGET, latency = %format_args!("{} μs", 41), status, "finished processing request");
            } else {
                tracing::info!(target: TARGET, latency = %format_args!("{} μs", 41), status, "finished processing request");
            }
        })
        .await;
        let theirs = output.text();
        // The timestamp: the first 27 characters of a text line, the first value of an object.
        let untimed = |line: &str| {
            let at = match lines {
                LogLines::Text => 0,
                LogLines::Json => "{\"timestamp\":\"".len(),
            };
            let stamp = &line[at..at + 27];
            chrono::DateTime::parse_from_rfc3339(stamp).unwrap();
            format!("{}{}", &line[..at], &line[at + 27..])
        };
        (untimed(&theirs), untimed(&ours))
    }

    fn request(method: Method, uri: &str) -> RequestContext {
        RequestContext {
            id: "d0827ddd72493d9b536652693d1d521e".into(),
            method,
            uri: uri.parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn the_line_is_the_one_tracing_writes_in_text_and_in_json() {
        for lines in [LogLines::Text, LogLines::Json] {
            for (method, uri, status) in [
                (Method::GET, "/.well-known/jwks.json", 200),
                (Method::POST, "/api/v2/keys/signing/rotate", 201),
                (Method::GET, "/tenant/signing_keys?page=2&q=%22x%22", 303),
                (Method::DELETE, "/api/v2/clients/abc", 500),
                (Method::GET, "/api/v2/logs?q=type:%22rotate%22", 404),
            ] {
                let (theirs, ours) = both(lines, request(method, uri), status).await;
                assert_eq!(ours, theirs, "{lines:?} {uri}");
            }
        }
    }

    #[test]
    fn a_string_is_quoted_as_debug_quotes_it() {
        for value in [
            "/plain?a=b&c",
            "quote \" and \\",
            "line\nbreak",
            "ünï μs",
            "\u{1}",
            "",
        ] {
            let mut line = String::new();
            quoted(&mut line, value).unwrap();
            assert_eq!(line, format!("{value:?}"));
        }
    }

    #[test]
    fn the_timestamp_is_rfc_3339_in_microseconds() {
        let mut at = String::new();
        timestamp(&mut at).unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
        assert_eq!(at.len(), "2026-12-03T05:00:00.000000Z".len(), "{at}");
        assert!((chrono::Utc::now() - parsed.to_utc()).num_seconds().abs() < 60);
    }
}
