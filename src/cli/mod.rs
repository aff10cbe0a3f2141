//! Command-line wiring: one file per command, no logic beyond parsing arguments and calling
//! into the libraries.
