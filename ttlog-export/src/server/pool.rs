//! Open store connections, used from tokio's blocking pool.

use std::sync::{Arc, Mutex};

use ttlog_store::{Store, StoreError};

use super::api::ApiError;

/// Idle connections kept, at most.
const MAX_IDLE: usize = 8;

/// A pool of connections to one store.
pub(super) struct StorePool {
    url: String,
    idle: Arc<Mutex<Vec<Store>>>,
}

impl StorePool {
    pub(super) fn new(url: &str) -> StorePool {
        StorePool {
            url: url.to_owned(),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Opens a connection and keeps it: the store exists and is of a version this build
    /// reads.
    pub(super) async fn check(&self) -> Result<(), StoreError> {
        let url = self.url.clone();
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let store = Store::open(&url)?;
            idle.lock().unwrap_or_else(|p| p.into_inner()).push(store);
            Ok(())
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::Backend(e.to_string())))
    }

    /// Runs `f` with a connection on the blocking pool. A connection whose call failed with
    /// a store error is closed rather than reused.
    pub(super) async fn run<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, ApiError> + Send + 'static,
    {
        let url = self.url.clone();
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let taken = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut store = match taken {
                Some(store) => store,
                None => Store::open(&url).map_err(ApiError::store)?,
            };
            let result = f(&mut store);
            if !matches!(
                result,
                Err(ApiError {
                    store_failed: true,
                    ..
                })
            ) {
                let mut idle = idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(store);
                }
            }
            result
        })
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(&format!("a store call failed: {e}"))))
    }
}
