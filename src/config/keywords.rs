//! The closed word lists of the config: item modes, history modes, channel types and channel
//! `when` rules, and the reading of the domain's own enums (`formats::Format`,
//! `outcome::Status`) where the config names them, with "did you mean".
//!
//! Owns: each config-only list as an enum with its spelling, `FromStr` (with "did you mean")
//! and `Display`. Must not copy a domain enum: formats and statuses are the domain's types.

use std::fmt;
use std::str::FromStr;

macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the order the SPEC lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every spelling, in the order the SPEC lists them.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The spelling in the config file.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = String;

            /// Exact (lowercase) spelling; the error lists the choices and suggests the
            /// closest one.
            fn from_str(s: &str) -> Result<$name, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} {:?}{}; expected one of: {}",
                        $what,
                        s,
                        super::problem::suggestion(s, $name::NAMES),
                        $name::NAMES.join(", ")
                    )),
                }
            }
        }
    };
}

keyword_enum! {
    /// `[[watch]] items`: one outcome per job run, or one per item (VM, database, ...) in it.
    Items, "items mode" {
        /// One outcome per job run; items are listed in its long output.
        Job = "job",
        /// One outcome per item, as its own job `<job>/<item>`.
        Split = "split",
    }
}

keyword_enum! {
    /// `[[watch]] history`: what to report of the old results in a file that was already there
    /// the first time its watch was scanned (a new install, or a `[[watch]]` added later).
    History, "history mode" {
        /// Every old result (each becomes a passive check).
        All = "all",
        /// The last old result of each job (and host) in the file: Nagios gets the current
        /// state without thousands of old notifications.
        Last = "last",
    }
}

keyword_enum! {
    /// `[[channel]] type`: where a channel delivers.
    ChannelType, "channel type" {
        /// SMTP email.
        Email = "email",
        /// Slack incoming webhook.
        Slack = "slack",
        /// Mattermost incoming webhook.
        Mattermost = "mattermost",
        /// Discord webhook.
        Discord = "discord",
        /// Microsoft Teams (Workflows webhook).
        Teams = "teams",
        /// Generic JSON webhook.
        Webhook = "webhook",
        /// XMPP.
        Xmpp = "xmpp",
        /// ntfy.
        Ntfy = "ntfy",
        /// Gotify.
        Gotify = "gotify",
        /// Telegram bot.
        Telegram = "telegram",
        /// Matrix (client-server API).
        Matrix = "matrix",
        /// PagerDuty Events v2.
        Pagerduty = "pagerduty",
        /// Google Chat incoming webhook.
        Googlechat = "googlechat",
    }
}

keyword_enum! {
    /// `[[channel]] when`: which outcomes a channel receives.
    When, "when rule" {
        /// Every outcome.
        Always = "always",
        /// Warnings and failures.
        Problems = "problems",
        /// Failures only.
        Failure = "failure",
        /// Successes only.
        Success = "success",
        /// When a job's status differs from its previous one.
        Change = "change",
        /// Nothing (a channel kept for `nagbridge test`).
        Never = "never",
    }
}

/// The statuses a config may name (`exit_codes`, `zero_files`, `canceled`).
pub const STATUS_NAMES: &[&str] = &["success", "warning", "failure", "unknown"];

/// A `[[watch]] format` (or `--format`): the domain's [`crate::formats::Format`], with "did you
/// mean".
pub fn format(s: &str) -> Result<crate::formats::Format, String> {
    s.parse::<crate::formats::Format>().map_err(|_| {
        let names: Vec<&str> = crate::formats::FORMATS.iter().map(|(_, n)| *n).collect();
        format!(
            "unknown format {s:?}{}; expected one of: {}",
            super::problem::suggestion(s, &names),
            names.join(", ")
        )
    })
}

/// A status as the config writes it: the domain's [`crate::outcome::Status`] by its name.
pub fn status(s: &str) -> Result<crate::outcome::Status, String> {
    match STATUS_NAMES.contains(&s) {
        true => crate::outcome::Status::parse(s).ok_or_else(|| s.to_string()),
        false => Err(format!(
            "unknown status {s:?}{}; expected one of: {}",
            super::problem::suggestion(s, STATUS_NAMES),
            STATUS_NAMES.join(", ")
        )),
    }
}

impl When {
    /// Does a channel with this rule receive an outcome of `status`, when the previous
    /// outcome of the same (host, job) at this channel had `previous` (None: the first)?
    pub fn matches(
        self,
        status: crate::outcome::Status,
        previous: Option<crate::outcome::Status>,
    ) -> bool {
        use crate::outcome::Status as S;
        match self {
            When::Always => true,
            When::Problems => status != S::Success,
            When::Failure => matches!(status, S::Failure | S::Unknown),
            When::Success => status == S::Success,
            When::Change => previous != Some(status),
            When::Never => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_rules_match_as_the_spec_says() {
        use crate::outcome::Status as S;
        let all = [S::Success, S::Warning, S::Failure, S::Unknown];
        let pick = |w: When, prev: Option<S>| -> Vec<S> {
            all.iter()
                .copied()
                .filter(|s| w.matches(*s, prev))
                .collect()
        };
        assert_eq!(pick(When::Always, None), all);
        assert_eq!(
            pick(When::Problems, None),
            [S::Warning, S::Failure, S::Unknown]
        );
        assert_eq!(pick(When::Failure, None), [S::Failure, S::Unknown]);
        assert_eq!(pick(When::Success, None), [S::Success]);
        assert_eq!(pick(When::Never, None), []);
        // change: the first outcome, then only a different status (a recovery included).
        assert_eq!(pick(When::Change, None), all);
        assert_eq!(
            pick(When::Change, Some(S::Failure)),
            [S::Success, S::Warning, S::Unknown]
        );
        assert_eq!(
            pick(When::Change, Some(S::Success)),
            [S::Warning, S::Failure, S::Unknown]
        );
    }

    #[test]
    fn round_trip_and_suggest() {
        for (f, n) in crate::formats::FORMATS {
            assert_eq!(format(n), Ok(*f));
        }
        assert!(ChannelType::NAMES.contains(&"googlechat"));
        assert_eq!(ChannelType::NAMES.len(), 13);
        assert_eq!(When::NAMES.len(), 6);
        assert_eq!(
            format("resti").unwrap_err(),
            "unknown format \"resti\"; did you mean `restic`?; expected one of: auto, native, restic, borg, rsnapshot, vzdump, bacula, xo, pgbackrest, duplicity"
        );
        assert_eq!(status("failure"), Ok(crate::outcome::Status::Failure));
        assert!(status("failur")
            .unwrap_err()
            .contains("did you mean `failure`?"));
        assert!(status("ok").is_err(), "the config spells statuses out");
        assert!("slak"
            .parse::<ChannelType>()
            .unwrap_err()
            .contains("did you mean `slack`?"));
        assert_eq!("split".parse::<Items>(), Ok(Items::Split));
        assert_eq!("last".parse::<History>(), Ok(History::Last));
        assert!("lst"
            .parse::<History>()
            .unwrap_err()
            .contains("did you mean `last`?"));
        assert!("Problems"
            .parse::<When>()
            .unwrap_err()
            .contains("`problems`"));
    }
}
