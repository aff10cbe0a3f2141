//! The state directory (`[agent] state_dir`): who may use it and who owns what is in it.
//!
//! Owns: the lock that makes one agent per state directory ([`lock`]), and the rule that every
//! file or directory a nagbridge process creates there is owned like the state directory itself
//! ([`owner`]), so that `wrap` run as root beside an agent running as an unprivileged user never
//! leaves something the agent cannot read. Must not know about spool entries or outcomes.
//!
//! Layout:
//!
//! | path | what |
//! |---|---|
//! | `agent.lock` | the lock and the holder's pid and role (`agent` or `wrap`) |
//! | `spool/<destination>/` | the durable queue of each destination (see `spool`) |
//! | `spool/inbox/` | outcomes `wrap` hands to a running agent |
//! | `watch-checkpoints` | how far each watched file is read |
//! | `cadence.json` | last outcome per job (cadence alerts, status) |
//! | `status.json` | what the running agent last saw (for `nagbridge status`) |

pub mod lock;
pub mod owner;

pub use lock::{LockError, Role, StateLock};
pub use owner::{Owner, Ownership};
