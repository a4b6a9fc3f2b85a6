//! What a benchmark run measures: the sizes, rounds and workloads asked for.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub seed: u64,
    pub sizes: Vec<u64>,
    pub rounds: usize,
    pub tile_calls: usize,
    pub python: bool,
    pub rss: bool,
    pub script: PathBuf,
    /// Only these workloads (`raw`, `core`, `use-case`, `python`, `tenants`, `tile`); all when empty.
    pub only: Vec<String>,
}

impl Options {
    pub fn wants(&self, workload: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|w| w == workload)
    }
}
