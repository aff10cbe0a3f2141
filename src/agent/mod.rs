//! The agent (`nagbridge run`): wires sources (watcher, job cadence, heartbeat) to the spool and
//! the delivery loops.

pub mod cadence;
pub mod health;
pub mod history;
pub mod run;
pub mod status_file;
pub mod wrap;
