//! Atomics and cells for the lock-free ring, switched to `loom`'s under `cfg(loom)`.
//!
//! Only the ring's synchronization goes through this shim, so that `tests/loom.rs` can model
//! it exhaustively; the rest of the crate uses `std` directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
