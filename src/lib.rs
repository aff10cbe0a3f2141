//! # nagbridge
//!
//! Backup results to Nagios passive checks. Sources (the directory watcher, `wrap`, job cadence,
//! the heartbeat) produce [`outcome::Outcome`]s through the parsers in [`formats`]; outcomes go
//! into a durable [`spool`] per destination, and one [`delivery`] loop per destination hands
//! them to a [`sinks`] implementation (NSCA today). [`agent`] wires this for `nagbridge run`;
//! [`cli`] has one file per command. The NSCA protocol itself is the `nsca` crate.

pub mod agent;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod formats;
pub mod fsutil;
pub mod fuzzing;
pub mod icinga2_objects;
pub mod logging;
pub mod memory;
pub mod nagios_objects;
pub mod outcome;
pub mod pipeline;
pub mod retry;
pub mod sinks;
pub mod spool;
pub mod state;
pub mod status_report;
pub mod watch;
