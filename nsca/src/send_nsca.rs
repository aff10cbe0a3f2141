//! `send_nsca` compatibility: the `send_nsca.cfg` parser, the `-d`/`-ds` delimiter parser and
//! the stdin record parser, each reproducing send_nsca 2.10.2.
