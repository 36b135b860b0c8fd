//! A webhook receiver on loopback, API calls to a test's server, and waiting for work that
//! background jobs do: shared by the tests of several processes and of crashes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::server::{PATIENCE, Server, http};

/// What a webhook receiver was sent: (delivery id header, body).
pub type Received = Arc<Mutex<Vec<(String, Json)>>>;

/// A webhook receiver on loopback answering 200 to everything; answers its URL.
pub fn receiver() -> (String, Received) {
    slow_receiver(Duration::ZERO)
}

/// A receiver that takes `delay` over each delivery (so deliveries are in flight for a while).
pub fn slow_receiver(delay: Duration) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let sink = sink.clone();
            std::thread::spawn(move || serve_hook(stream, &sink, delay));
        }
    });
    (url, got)
}

/// The requests of one keep-alive connection, each kept and answered 200.
fn serve_hook(stream: TcpStream, sink: &Mutex<Vec<(String, Json)>>, delay: Duration) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return; // the client closed the connection
        }
        let (mut len, mut delivery) = (0usize, String::new());
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = value.trim().parse().unwrap(),
                    "x-relata-delivery" => value.trim().clone_into(&mut delivery),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let body = serde_json::from_slice(&body).unwrap();
        std::thread::sleep(delay);
        sink.lock().unwrap().push((delivery, body));
        if out
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// One API call answering `want`; its body as JSON.
pub fn call(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: &Json,
    want: u16,
) -> Json {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, answer) = http(&server.addr, method, path, Some(token), &text);
    assert_eq!(status, want, "{method} {path}: {answer}");
    serde_json::from_str(&answer).unwrap_or(Json::Null)
}

/// Waits until `done` holds, failing with `what` after the patience runs out.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
