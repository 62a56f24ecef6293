//! Shutdown drains: after SIGTERM `/readyz` turns 503
//! at once, DNS keeps answering for `server.shutdown_grace`, then the
//! listeners close, received TCP queries are answered, and the process
//! exits within the grace plus 2 s.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};

use crate::dns::tcp_limits::{Reply, ask};
use crate::support::harness::*;
use crate::support::process::Process;

const NAME: &str = "webapp.global.example.test.";
const GRACE: Duration = Duration::from_secs(3);

async fn udp_answers(gslb: &Process) -> bool {
    let bytes = query(NAME, RecordType::A).to_vec().unwrap();
    let from = "127.0.0.1".parse().unwrap();
    raw_udp_from(from, gslb.dns, &bytes, Duration::from_millis(300))
        .await
        .is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_readiness_first_then_listeners_then_exits() {
    let mut gslb = Process::spawn(
        "",
        &format!("records:\n  - name: {NAME}\n    sets: [{{ id: a, targets: [192.0.2.1] }}]\n"),
        &[("GSLB_SERVER__SHUTDOWN_GRACE", "3s")],
        None,
    );
    gslb.wait_ready().await;
    assert!(udp_answers(&gslb).await, "log:\n{}", gslb.log());
    let mut early = TcpStream::connect(gslb.dns).await.unwrap();
    let mut idle = TcpStream::connect(gslb.dns).await.unwrap();
    let mut late = TcpStream::connect(gslb.dns).await.unwrap();

    gslb.signal("TERM");
    let t0 = Instant::now();
    let not_ready = eventually(Duration::from_secs(2), async || {
        matches!(gslb.get("/readyz").await, Some((503, _)))
    })
    .await;
    let not_ready = not_ready.unwrap_or_else(|| panic!("/readyz turns 503; log:\n{}", gslb.log()));
    assert!(
        not_ready < Duration::from_secs(1),
        "503 after {not_ready:?}"
    );

    sleep_until(t0 + Duration::from_millis(500)).await;
    let reply = ask(&mut early, NAME, WAIT).await;
    assert!(
        matches!(reply, Reply::Answered(_)),
        "a connection opened before SIGTERM is served in the grace: {reply:?}"
    );
    sleep_until(t0 + Duration::from_secs(1)).await;
    let mut fresh = TcpStream::connect(gslb.dns).await.unwrap();
    let reply = ask(&mut fresh, NAME, WAIT).await;
    assert!(
        matches!(reply, Reply::Answered(_)),
        "new TCP clients are served in the grace: {reply:?}"
    );
    sleep_until(t0 + Duration::from_millis(2200)).await;
    assert!(
        udp_answers(&gslb).await,
        "UDP answers near the end of the grace"
    );
    assert!(
        matches!(gslb.get("/readyz").await, Some((503, _))),
        "the admin API keeps serving 503 through the grace"
    );

    // A message under way when the listeners close is finished and answered.
    let bytes = query(NAME, RecordType::A).to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend(bytes);
    sleep_until(t0 + Duration::from_millis(2500)).await;
    late.write_all(&framed[..5]).await.unwrap();
    sleep_until(t0 + GRACE + Duration::from_millis(500)).await;
    late.write_all(&framed[5..]).await.unwrap();
    let len = tokio::time::timeout(WAIT, late.read_u16())
        .await
        .expect("an answer to the message under way")
        .expect("an answer, not EOF");
    let mut buf = vec![0; usize::from(len)];
    late.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap();

    assert!(!udp_answers(&gslb).await, "UDP stops after the grace");
    let mut byte = [0u8; 1];
    let idle_read = tokio::time::timeout(Duration::from_secs(1), idle.read(&mut byte)).await;
    assert!(
        matches!(idle_read, Ok(Ok(0) | Err(_))),
        "idle connections are closed: {idle_read:?}"
    );

    let status = gslb
        .wait_exit((t0 + GRACE + Duration::from_secs(2)).saturating_duration_since(Instant::now()))
        .await;
    let exited = t0.elapsed();
    eprintln!("/readyz 503 after {not_ready:?}; exit after {exited:?} (grace {GRACE:?})");
    let status = status.unwrap_or_else(|| panic!("exits within grace + 2 s; log:\n{}", gslb.log()));
    assert!(status.success(), "{status:?}");
    assert!(
        exited >= GRACE,
        "exited after {exited:?}, before the grace ended"
    );
}
