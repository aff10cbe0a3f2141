//! Command-line wiring: one file per command, no logic beyond parsing arguments and calling
//! into the libraries.

pub mod check_config;
pub mod demo;
pub mod nagios_config;
pub mod parse;
pub mod run;
pub mod send;
pub mod send_args;
pub mod status;
pub mod test;
pub mod wrap;
