//! A logging thread's identity, as events carry it. A leaf module.

/// A thread's identity, as sinks print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    pub(crate) id: u64,
    pub(crate) name: String,
}

impl ThreadInfo {
    /// A small number unique to the thread for the life of the process (1 is the first
    /// thread that logged).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The thread's name, or `thread-<id>` for unnamed threads.
    pub fn name(&self) -> &str {
        &self.name
    }
}
