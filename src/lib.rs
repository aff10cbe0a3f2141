//! # nagbridge
//!
//! Backup results to Nagios passive checks: the `nagbridge` command line (`send`, a drop-in for
//! `send_nsca`; the agent comes later). The NSCA protocol itself is the `nsca` crate.

pub mod agent;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod formats;
pub mod fsutil;
pub mod fuzzing;
pub mod logging;
pub mod outcome;
pub mod retry;
pub mod sinks;
pub mod spool;
pub mod watch;
