//! Injected faults: failures, delays, stop and restart on the same port, and bad input.

mod common;
use common::*;
use kubeseg_fakeapi::FakeApi;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn fail_next_answers_that_many_requests_with_the_status() {
    let api = FakeApi::new().start().expect("start");
    api.fail_next(2, 503);
    for _ in 0..2 {
        let r = get(api.addr(), "/api/v1/pods", None);
        assert_eq!(r.code, 503);
        assert_eq!(r.json()["kind"], "Status");
    }
    assert_eq!(get(api.addr(), "/api/v1/pods", None).code, 200);
}

#[test]
fn set_delay_slows_responses() {
    let api = FakeApi::new().start().expect("start");
    api.set_delay(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(get(api.addr(), "/version", None).code, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    api.set_delay(Duration::ZERO);
}

#[test]
fn stop_refuses_connections_and_restart_serves_the_same_objects_on_the_same_port() {
    let api = FakeApi::new().object(pod("a", "p")).start().expect("start");
    let a = api.addr();
    let mut w = Watch::open(a, "/api/v1/pods?watch=1&resourceVersion=1");
    assert_eq!(w.event()["object"]["metadata"]["name"], "p");
    assert!(wait_for(|| api.watch_count() == 1));
    api.stop();
    assert!(matches!(w.next(), Next::Broken), "open watches are cut");
    assert!(
        TcpStream::connect(a).is_err(),
        "the port is closed while stopped"
    );
    api.restart().expect("restart");
    assert_eq!(api.addr(), a);
    let list = get(a, "/api/v1/pods", None).json();
    assert_eq!(list["items"][0]["metadata"]["name"], "p");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let api = FakeApi::new().start().expect("start");
    let mut s = connect(api.addr());
    for path in ["/api", "/apis", "/api/v1/pods", "/nope"] {
        let r = send(&mut *s, "GET", path, &[], "").expect("request");
        assert!(r.code == 200 || r.code == 404, "{path}");
    }
}

#[test]
fn malformed_requests_get_400_and_the_server_lives_on() {
    let api = FakeApi::new().start().expect("start");
    for raw in [&b"BLAH\r\n\r\n"[..], b"GET / HTTP/1.1\r\nno colon\r\n\r\n", b"\xff\xfe\xfd\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"POST /api/v1/namespaces/a/pods HTTP/1.1\r\nConnection: close\r\nContent-Length: 3\r\n\r\n{]}"] {
        let mut s = TcpStream::connect(api.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.write_all(raw).expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 400"), "{raw:?} -> {out}");
    }
    let mut s = TcpStream::connect(api.addr()).expect("connect");
    s.write_all(&[b'a'; 70_000]).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    assert_eq!(get(api.addr(), "/version", None).code, 200);
}
