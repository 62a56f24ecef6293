//! Rendered documents shared between readers. At 100,000 records `/status`
//! and `/metrics` are about 67 MB each: rendering them per request let six
//! slow readers double the server's memory. A [`Rendered`] keeps the last
//! body with the snapshot generation it describes and hands every reader
//! the same bytes; only one render runs at a time (single flight: readers
//! that arrive during a render wait for it and share its result).
//!
//! A body is reused while the generation is unchanged and it is younger
//! than [`MAX_AGE`]: counters and probe times move between generations,
//! so a scrape is never more than a second behind.

use std::time::Duration;

use bytes::Bytes;
use tokio::{sync::Mutex, time::Instant};

/// How long a body is reused within one generation.
pub const MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Body {
    generation: u64,
    rendered_at: Instant,
    bytes: Bytes,
}

/// One cached document.
#[derive(Debug, Default)]
pub struct Rendered {
    slot: Mutex<Option<Body>>,
}

impl Rendered {
    /// The body for `generation`, rendered by `render` (on a blocking
    /// thread) only when the cached one is stale; `true` when this call
    /// rendered it.
    pub async fn get(
        &self,
        generation: u64,
        render: impl FnOnce() -> Vec<u8> + Send + 'static,
    ) -> Result<(Bytes, bool), tokio::task::JoinError> {
        let mut slot = self.slot.lock().await;
        if let Some(body) = slot.as_ref()
            && body.generation == generation
            && body.rendered_at.elapsed() < MAX_AGE
        {
            return Ok((body.bytes.clone(), false));
        }
        // Drop the old body first: it is not needed while the new one
        // renders, and readers still sending it hold their own reference.
        *slot = None;
        let bytes = Bytes::from(tokio::task::spawn_blocking(render).await?);
        *slot = Some(Body {
            generation,
            rendered_at: Instant::now(),
            bytes: bytes.clone(),
        });
        Ok((bytes, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn concurrent_readers_share_one_render_per_generation() {
        let rendered = Arc::new(Rendered::default());
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let rendered = rendered.clone();
                tokio::spawn(async move {
                    rendered
                        .get(7, || {
                            std::thread::sleep(Duration::from_millis(50));
                            vec![b'x'; 1 << 20]
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut bodies = Vec::new();
        let mut renders = 0;
        for reader in readers {
            let (body, rendered) = reader.await.unwrap();
            renders += usize::from(rendered);
            bodies.push(body);
        }
        assert_eq!(renders, 1);
        assert!(
            bodies.iter().all(|b| b.as_ptr() == bodies[0].as_ptr()),
            "every reader holds the same bytes"
        );
        assert!(
            rendered.get(8, Vec::new).await.unwrap().1,
            "a new generation renders again"
        );
        assert!(!rendered.get(8, Vec::new).await.unwrap().1);
        tokio::time::advance(MAX_AGE).await;
        assert!(
            rendered.get(8, Vec::new).await.unwrap().1,
            "and so does age"
        );
    }
}
