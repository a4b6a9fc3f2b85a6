//! Synthetic exports (users, tenant contacts, buildings, configuration) for the benchmarks and
//! for anyone who needs a realistic file of any size, and the benchmark workloads themselves.

pub mod args;
pub mod rng;
pub mod tenants;
pub mod users;
pub mod world;
