//! Slowloris: a client that trickles its request to hold a connection open forever. Only a real
//! socket shows this, so these run against `signet serve`.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::process::Deployment;

/// Writes `chunks` one by one, `every` apart, until the server answers or closes; returns what
/// it answered (empty when it just closed) and when, or `None` if it never did.
async fn trickle(
    stream: &mut TcpStream,
    chunks: impl Iterator<Item = Vec<u8>>,
    every: Duration,
) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut answer = Vec::new();
    for chunk in chunks {
        if stream.write_all(&chunk).await.is_err() {
            return Some((
                String::from_utf8_lossy(&answer).into_owned(),
                started.elapsed(),
            ));
        }
        let mut buffer = [0u8; 4096];
        match tokio::time::timeout(every, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Some((
                    String::from_utf8_lossy(&answer).into_owned(),
                    started.elapsed(),
                ));
            }
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buffer[..n]);
                return Some((
                    String::from_utf8_lossy(&answer).into_owned(),
                    started.elapsed(),
                ));
            }
            Err(_) => {}
        }
    }
    None
}

fn addr_of(server: &crate::process::Server) -> String {
    server.api.base.trim_start_matches("http://").to_owned()
}

/// A body that never finishes arriving is cut off with a 408 in Auth0's shape, and the server
/// keeps answering everyone else meanwhile.
#[tokio::test]
async fn a_management_api_body_trickled_byte_by_byte_is_cut_off() {
    let deployment = Deployment::sqlite();
    let server = deployment.start_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.unwrap();
    let head = "POST /api/v2/keys/signing/rotate HTTP/1.1\r\nHost: signet.test\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let chunks =
        std::iter::once(head.as_bytes().to_vec()).chain(std::iter::repeat_n(b" ".to_vec(), 60));
    let (answer, after) = trickle(&mut stream, chunks, Duration::from_secs(1))
        .await
        .expect("the server never cut the slow body off");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"errorCode\":\"request_timeout\""),
        "{answer}"
    );
    assert!(after < Duration::from_secs(20), "{after:?}");
    assert_eq!(server.api.get("/healthz").await.status, 200);
}

/// Request headers that never finish must not hold a connection (and its memory) forever: the
/// server gives a client `HEADER_READ_TIMEOUT` (server/src/http_server.rs) to send them.
#[tokio::test]
async fn request_headers_trickled_slowly_are_dropped() {
    let deployment = Deployment::sqlite();
    let server = deployment.start_server().await;
    let mut stream = TcpStream::connect(addr_of(&server)).await.unwrap();
    let head = b"GET /healthz HTTP/1.1\r\nHost: signet.test\r\n".to_vec();
    let chunks = std::iter::once(head)
        .chain((0..60).map(|i| format!("X-Slow-{i}: {}\r\n", "a".repeat(8)).into_bytes()));
    let outcome = trickle(&mut stream, chunks, Duration::from_secs(1)).await;
    let (answer, after) = outcome.expect("the server held a slowloris connection for a minute");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(after < Duration::from_secs(45), "{after:?}");
    assert_eq!(server.api.get("/healthz").await.status, 200);
}
