//! Connection behaviour on an in-memory stream under paused time, so the
//! clocks are exact and the tests fast.

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::dns::tcp::test_cell;

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let bytes = m.to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend(bytes);
    framed
}

async fn read_message(client: &mut DuplexStream) -> Option<Message> {
    let len = client.read_u16().await.ok()?;
    let mut buf = vec![0; usize::from(len)];
    client.read_exact(&mut buf).await.ok()?;
    Some(Message::from_vec(&buf).unwrap())
}

/// Whether the server closed its end (reads give EOF).
async fn closed(client: &mut DuplexStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(client.read(&mut byte).await, Ok(0) | Err(_))
}

struct Setup {
    client: DuplexStream,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(idle: Duration) -> Setup {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let metrics = Arc::new(Metrics::default());
    let stop = CancellationToken::new();
    let connection = Connection::new(
        server,
        "192.0.2.99".parse().unwrap(),
        ConnectionSettings::new(idle),
        test_cell(),
        metrics.clone(),
    );
    let task = tokio::spawn(connection.serve(stop.clone()));
    Setup {
        client,
        metrics,
        stop,
        task,
    }
}

fn timeouts(metrics: &Metrics, kind: Timeout) -> u64 {
    metrics.tcp.timeouts_of(kind)
}

#[tokio::test(start_paused = true)]
async fn pipelined_queries_are_answered_in_order() {
    let mut s = start(Duration::from_secs(10));
    let mut batch = query(1, "webapp.global.example.test.");
    batch.extend(query(2, "nothing.global.example.test."));
    batch.extend(query(3, "webapp.global.example.test."));
    s.client.write_all(&batch).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let m = read_message(&mut s.client).await.expect("an answer");
        ids.push((m.metadata.id, m.metadata.response_code));
    }
    assert_eq!(
        ids,
        [
            (1, ResponseCode::NoError),
            (2, ResponseCode::NXDomain),
            (3, ResponseCode::NoError)
        ]
    );
    drop(s.client);
    s.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let mut s = start(Duration::from_secs(3));
    let began = Instant::now();
    assert!(closed(&mut s.client).await);
    assert_eq!(began.elapsed(), Duration::from_secs(3));
    assert_eq!(timeouts(&s.metrics, Timeout::Idle), 1);
}

#[tokio::test(start_paused = true)]
async fn a_trickled_message_loses_its_slot_at_the_message_timeout() {
    // Announce a 64 KiB message and send a byte every 500 ms: the idle
    // clock never runs out, the message clock does.
    let mut s = start(Duration::from_secs(10));
    let began = Instant::now();
    s.client.write_all(&[0xff, 0xff]).await.unwrap();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if s.client.write_all(&[0]).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), trickle).await;
    assert!(closed(&mut s.client).await);
    let held = began.elapsed();
    assert!(
        held >= MESSAGE_TIMEOUT_MAX && held < MESSAGE_TIMEOUT_MAX + Duration::from_secs(1),
        "held {held:?}"
    );
    assert_eq!(timeouts(&s.metrics, Timeout::Message), 1);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_is_dropped() {
    // A small pipe, so the server's answers stop fitting.
    let (mut client, server) = tokio::io::duplex(1024);
    let metrics = Arc::new(Metrics::default());
    let connection = Connection::new(
        server,
        "192.0.2.99".parse().unwrap(),
        ConnectionSettings::new(Duration::from_secs(2)),
        test_cell(),
        metrics.clone(),
    );
    let task = tokio::spawn(connection.serve(CancellationToken::new()));
    let batch: Vec<u8> = (0..200)
        .flat_map(|i| query(i, "webapp.global.example.test."))
        .collect();
    // The server stops reading while it cannot write, so the client's
    // write may stall too: bound it.
    let _ = tokio::time::timeout(Duration::from_secs(1), client.write_all(&batch)).await;
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the connection ends")
        .unwrap();
    assert_eq!(metrics.tcp.timeouts_of(Timeout::Write), 1);
}

#[tokio::test(start_paused = true)]
async fn at_stop_received_queries_are_answered_and_idle_connections_close() {
    let mut s = start(Duration::from_secs(10));
    s.client
        .write_all(&query(7, "webapp.global.example.test."))
        .await
        .unwrap();
    s.stop.cancel();
    let m = read_message(&mut s.client).await.expect("answered at stop");
    assert_eq!(m.metadata.id, 7);
    let began = Instant::now();
    assert!(closed(&mut s.client).await);
    assert!(
        began.elapsed() < Duration::from_millis(10),
        "closed at once"
    );
    s.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn at_stop_a_message_under_way_is_finished_and_answered() {
    let mut s = start(Duration::from_secs(10));
    let framed = query(8, "webapp.global.example.test.");
    s.client.write_all(&framed[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.stop.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.client.write_all(&framed[5..]).await.unwrap();
    let m = read_message(&mut s.client).await.expect("answered");
    assert_eq!(m.metadata.id, 8);
    assert!(closed(&mut s.client).await);
}

#[tokio::test(start_paused = true)]
async fn a_zero_length_message_closes_the_connection() {
    let mut s = start(Duration::from_secs(10));
    s.client.write_all(&[0, 0]).await.unwrap();
    assert!(closed(&mut s.client).await);
}

#[test]
fn a_partial_message_asks_for_what_arrives_not_what_was_announced() {
    let mut buffers = Buffers::default();
    assert_eq!(buffers.wanted(), FIRST_READ);
    buffers.inbox.extend_from_slice(&[0xff, 0xff, 1, 2, 3]);
    assert_eq!(buffers.wanted(), READ_CHUNK);
    buffers.inbox = vec![0, 10, 1, 2, 3];
    assert_eq!(buffers.wanted(), 7);
}

#[test]
fn idle_buffers_give_back_what_a_large_message_took() {
    let mut buffers = Buffers {
        inbox: Vec::with_capacity(70_000),
        outbox: Vec::with_capacity(70_000),
        response: Vec::with_capacity(70_000),
    };
    buffers.release();
    for buffer in [&buffers.inbox, &buffers.outbox, &buffers.response] {
        assert!(buffer.capacity() <= KEEP, "{}", buffer.capacity());
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_closes_when_its_slot_is_shed_and_a_busy_one_first_answers() {
    use crate::dns::tcp::Slots;
    use crate::rrl::PrefixLengths;

    let metrics = Arc::new(Metrics::default());
    let slots = Slots::new(2, 2, PrefixLengths::new(24, 56), metrics.clone());
    let serve = |ip: &str| {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let slot = slots.acquire(ip.parse().unwrap()).unwrap();
        let connection = Connection::new(
            server,
            ip.parse().unwrap(),
            ConnectionSettings::new(Duration::from_secs(60)),
            test_cell(),
            metrics.clone(),
        )
        .with_slot(slot);
        (
            client,
            tokio::spawn(connection.serve(CancellationToken::new())),
        )
    };
    let (mut idle, idle_task) = serve("192.0.2.1");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut busy, _busy_task) = serve("198.51.100.1");
    // Half a message: this one is not idle.
    let whole = query(7, "webapp.global.example.test.");
    busy.write_all(&whole[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;

    let _newcomer = slots.acquire("203.0.113.1".parse().unwrap()).unwrap();
    assert!(closed(&mut idle).await, "the idle connection is shed");
    idle_task.await.unwrap();
    busy.write_all(&whole[5..]).await.unwrap();
    let answer = read_message(&mut busy)
        .await
        .expect("the busy one is answered");
    assert_eq!(answer.metadata.id, 7);
    assert_eq!(
        metrics.tcp.shed.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
