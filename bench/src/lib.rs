//! Synthetic exports (users, tenant contacts, buildings, configuration) for the benchmarks and
//! for anyone who needs a realistic file of any size, and the benchmark workloads themselves.

#[cfg(feature = "aws")]
pub mod apply_sim;
pub mod args;
pub mod dispatch_sim;
#[cfg(feature = "aws")]
pub mod dynamo;
pub mod fixture;
pub mod memory;
pub mod memstore;
pub mod options;
pub mod rng;
pub mod run;
pub mod tenants;
pub mod timing;
pub mod users;
pub mod workloads;
pub mod world;
