//! A value read from the store, kept for a short time so that busy read-only routes (the
//! XC API answers thousands of requests a second) do not read flash on every request.
//!
//! While a fresh copy is being loaded, other requests get the previous copy (stale for
//! at most the load's duration) instead of queueing; only the very first load is waited
//! for. A failed load keeps the previous copy if there is one.

use crate::error::ApiError;
use crate::routes::blocking;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub(crate) struct Cached<T> {
    current: RwLock<Option<(Instant, Arc<T>)>>,
    /// One load at a time.
    loading: tokio::sync::Mutex<()>,
    ttl: Duration,
}

impl<T: Send + Sync + 'static> Cached<T> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Cached {
            current: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            ttl,
        }
    }

    fn peek(&self) -> Option<(Instant, Arc<T>)> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The value, loaded by `load` (given the previous value, if any) when it is older
    /// than the time to live. `load` runs on a blocking thread.
    pub(crate) async fn get<F>(&self, load: F) -> Result<Arc<T>, ApiError>
    where
        F: FnOnce(Option<Arc<T>>) -> Result<T, ApiError> + Send + 'static,
    {
        let previous = self.peek();
        if let Some((at, value)) = &previous
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        let _loading = match (&previous, self.loading.try_lock()) {
            (_, Ok(guard)) => guard,
            // Someone is loading: the previous copy will do meanwhile.
            (Some((_, value)), Err(_)) => return Ok(Arc::clone(value)),
            (None, Err(_)) => self.loading.lock().await,
        };
        // It may have been loaded while we waited.
        let previous = self.peek();
        if let Some((at, value)) = &previous
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        let old = previous.as_ref().map(|(_, v)| Arc::clone(v));
        match blocking(move || load(old)).await {
            Ok(value) => {
                let value = Arc::new(value);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), Arc::clone(&value)));
                Ok(value)
            }
            Err(e) => match previous {
                Some((_, value)) => {
                    tracing::warn!("serving a cached copy: {}", e.message);
                    Ok(value)
                }
                None => Err(e),
            },
        }
    }

    /// Forgets the value: the next request loads it anew (and waits for it).
    pub(crate) fn invalidate(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn loads_once_per_ttl_and_after_invalidation() {
        let cache = Cached::<u32>::new(Duration::from_secs(60));
        let loads = Arc::new(AtomicU32::new(0));
        for _ in 0..3 {
            let loads = Arc::clone(&loads);
            let v = cache
                .get(move |_| Ok(loads.fetch_add(1, Ordering::SeqCst) + 1))
                .await
                .unwrap();
            assert_eq!(*v, 1);
        }
        cache.invalidate();
        let l = Arc::clone(&loads);
        let v = cache
            .get(move |old| {
                assert!(
                    old.is_none(),
                    "an invalidated value is not handed to the loader"
                );
                Ok(l.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap();
        assert_eq!(*v, 2);
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_old_value() {
        let cache = Cached::<u32>::new(Duration::ZERO);
        assert_eq!(*cache.get(|_| Ok(7)).await.unwrap(), 7);
        let v = cache
            .get(|old| {
                assert_eq!(old.as_deref(), Some(&7));
                Err(ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "flash trouble",
                ))
            })
            .await
            .unwrap();
        assert_eq!(*v, 7);
        let empty = Cached::<u32>::new(Duration::ZERO);
        assert!(
            empty
                .get(|_| Err(ApiError::not_found("nothing")))
                .await
                .is_err()
        );
    }
}
