//! Sinks: one folder per kind of destination (`sinks/<kind>/`: `mod.rs` the [`Sink`] and its
//! failure classes, `config.rs` the typed keys with a pure `validate()`, `render.rs` the
//! payload, limits and escaping), all behind the [`Sink`] trait; [`content`] is the one
//! message model every channel renders.
//!
//! Owns: turning spooled entries into what a destination understands and handing them over,
//! and classifying every failure ([`SinkError`], [`FailureClass`]). Must not retry, sleep,
//! touch the spool or log failures: the delivery loop (`crate::delivery`) is the one place that
//! does those.

pub mod content;
pub mod email;
pub mod http;
pub mod icinga2;
pub mod matrix;
pub mod nagios;
pub mod nsca;
pub mod pagerduty;
pub mod webhook;
// Chat platforms reached through an incoming web hook (issue 10, part a).
pub mod discord;
pub mod googlechat;
pub mod gotify;
pub mod hook;
pub mod mattermost;
pub mod ntfy;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod xmpp;

use std::future::Future;
use std::time::Duration;

use crate::config::problem::Problems;
use crate::config::reader::Section;
use crate::config::ChannelType;
pub use crate::retry::{FailureClass, SinkError};
use crate::spool::Entry;

/// A destination that entries can be delivered to.
pub trait Sink: Send + Sync + 'static {
    /// A short name for logs (`nsca 127.0.0.1:5667`).
    fn name(&self) -> String;

    /// Check one entry without I/O. An `Err` (always permanent) means this entry can never be
    /// delivered here, whatever happens: the delivery loop quarantines it.
    fn validate(&self, entry: &Entry) -> Result<(), SinkError>;

    /// Where `entry` goes at this destination, for the log line of each delivery
    /// (`host "web01" service "backup nightly"`). No I/O; secrets never appear in it.
    fn describe(&self, entry: &Entry) -> String {
        format!("job {:?}", entry.outcome.job)
    }

    /// Most entries per [`Sink::deliver_batch`] (channels send one message per outcome).
    fn batch_size(&self) -> usize {
        64
    }

    /// Least time between two batches: the platform's rate limit (Slack one message a second).
    fn pace(&self) -> Duration {
        Duration::ZERO
    }

    /// Deliver `entries` (already validated, oldest first).
    ///
    /// `Ok(n)` means the first `n` entries were delivered and the rest (if any) were not and
    /// must be offered again; `n` is at least 1 for a non-empty batch. `Err` means none of them
    /// is known to be delivered.
    fn deliver_batch(
        &self,
        entries: &[Entry],
    ) -> impl Future<Output = Result<usize, SinkError>> + Send;
}

/// The typed settings of a `[[channel]]`: one variant per channel type built in. Each type's
/// `config.rs` reads its keys; their `Debug` never shows a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChannelOptions {
    /// `type = "email"`.
    Email(Box<email::config::EmailConfig>),
    /// `type = "webhook"`.
    Webhook(webhook::config::WebhookConfig),
    /// `type = "slack"`.
    Slack(slack::config::SlackConfig),
    /// `type = "mattermost"`.
    Mattermost(mattermost::config::MattermostConfig),
    /// `type = "discord"`.
    Discord(discord::config::DiscordConfig),
    /// `type = "teams"`.
    Teams(teams::config::TeamsConfig),
    /// `type = "googlechat"`.
    Googlechat(googlechat::config::GoogleChatConfig),
    /// `type = "telegram"`.
    Telegram(telegram::config::TelegramConfig),
    /// `type = "ntfy"`.
    Ntfy(ntfy::config::NtfyConfig),
    /// `type = "gotify"`.
    Gotify(gotify::config::GotifyConfig),
    /// `type = "pagerduty"`.
    Pagerduty(pagerduty::config::PagerDutyConfig),
    /// `type = "matrix"`.
    Matrix(matrix::config::MatrixConfig),
    /// `type = "xmpp"`.
    Xmpp(Box<xmpp::config::XmppConfig>),
}

/// Read the keys of a `[[channel]]` of type `kind` from `s` (unknown keys are left for the
/// caller's `finish`, which reports them with a suggestion).
pub(crate) fn read_channel_options(
    kind: ChannelType,
    s: &mut Section<'_>,
    p: &mut Problems,
) -> Option<ChannelOptions> {
    match kind {
        ChannelType::Email => email::config::read(s, p).map(|c| ChannelOptions::Email(Box::new(c))),
        ChannelType::Webhook => webhook::config::read(s, p).map(ChannelOptions::Webhook),
        ChannelType::Slack => slack::config::read(s, p).map(ChannelOptions::Slack),
        ChannelType::Mattermost => mattermost::config::read(s, p).map(ChannelOptions::Mattermost),
        ChannelType::Discord => discord::config::read(s, p).map(ChannelOptions::Discord),
        ChannelType::Teams => teams::config::read(s, p).map(ChannelOptions::Teams),
        ChannelType::Googlechat => googlechat::config::read(s, p).map(ChannelOptions::Googlechat),
        ChannelType::Telegram => telegram::config::read(s, p).map(ChannelOptions::Telegram),
        ChannelType::Ntfy => ntfy::config::read(s, p).map(ChannelOptions::Ntfy),
        ChannelType::Gotify => gotify::config::read(s, p).map(ChannelOptions::Gotify),
        ChannelType::Pagerduty => pagerduty::config::read(s, p).map(ChannelOptions::Pagerduty),
        ChannelType::Matrix => matrix::config::read(s, p).map(ChannelOptions::Matrix),
        ChannelType::Xmpp => xmpp::config::read(s, p).map(|c| ChannelOptions::Xmpp(Box::new(c))),
    }
}

/// The sink of one channel.
#[non_exhaustive]
pub enum ChannelSink {
    /// An email channel.
    Email(Box<email::EmailSink>),
    /// A web hook.
    Webhook(Box<webhook::WebhookSink>),
    /// A Slack incoming webhook.
    Slack(Box<slack::SlackSink>),
    /// A Mattermost incoming webhook.
    Mattermost(Box<mattermost::MattermostSink>),
    /// A Discord webhook.
    Discord(Box<discord::DiscordSink>),
    /// A Microsoft Teams Workflows webhook.
    Teams(Box<teams::TeamsSink>),
    /// A Google Chat space.
    Googlechat(Box<googlechat::GoogleChatSink>),
    /// A Telegram chat.
    Telegram(Box<telegram::TelegramSink>),
    /// An ntfy topic.
    Ntfy(Box<ntfy::NtfySink>),
    /// A Gotify server.
    Gotify(Box<gotify::GotifySink>),
    /// PagerDuty Events v2.
    Pagerduty(Box<pagerduty::PagerDutySink>),
    /// A Matrix room.
    Matrix(Box<matrix::MatrixSink>),
    /// XMPP chats and rooms.
    Xmpp(Box<xmpp::XmppSink>),
}

impl ChannelSink {
    /// Build the sink of `channel` (`agent` is the agent's host_name, for the messages).
    pub fn build(channel: &crate::config::Channel, agent: &str) -> Result<ChannelSink, String> {
        match &channel.options {
            ChannelOptions::Email(c) => email::EmailSink::new((**c).clone(), &channel.name, agent)
                .map(|s| ChannelSink::Email(Box::new(s))),
            ChannelOptions::Webhook(c) => webhook::WebhookSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Webhook(Box::new(s))),
            ChannelOptions::Slack(c) => slack::SlackSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Slack(Box::new(s))),
            ChannelOptions::Mattermost(c) => {
                mattermost::MattermostSink::build(&channel.name, c, agent)
                    .map(|s| ChannelSink::Mattermost(Box::new(s)))
            }
            ChannelOptions::Discord(c) => discord::DiscordSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Discord(Box::new(s))),
            ChannelOptions::Teams(c) => teams::TeamsSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Teams(Box::new(s))),
            ChannelOptions::Googlechat(c) => {
                googlechat::GoogleChatSink::build(&channel.name, c, agent)
                    .map(|s| ChannelSink::Googlechat(Box::new(s)))
            }
            ChannelOptions::Telegram(c) => telegram::TelegramSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Telegram(Box::new(s))),
            ChannelOptions::Ntfy(c) => ntfy::NtfySink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Ntfy(Box::new(s))),
            ChannelOptions::Gotify(c) => gotify::GotifySink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Gotify(Box::new(s))),
            ChannelOptions::Pagerduty(c) => {
                pagerduty::PagerDutySink::build(&channel.name, c, agent)
                    .map(|s| ChannelSink::Pagerduty(Box::new(s)))
            }
            ChannelOptions::Matrix(c) => matrix::MatrixSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Matrix(Box::new(s))),
            ChannelOptions::Xmpp(c) => xmpp::XmppSink::build(&channel.name, c, agent)
                .map(|s| ChannelSink::Xmpp(Box::new(s))),
        }
    }
}

impl Sink for ChannelSink {
    fn name(&self) -> String {
        match self {
            ChannelSink::Email(s) => s.name(),
            ChannelSink::Webhook(s) => s.name(),
            ChannelSink::Slack(s) => s.name(),
            ChannelSink::Mattermost(s) => s.name(),
            ChannelSink::Discord(s) => s.name(),
            ChannelSink::Teams(s) => s.name(),
            ChannelSink::Googlechat(s) => s.name(),
            ChannelSink::Telegram(s) => s.name(),
            ChannelSink::Ntfy(s) => s.name(),
            ChannelSink::Gotify(s) => s.name(),
            ChannelSink::Pagerduty(s) => s.name(),
            ChannelSink::Matrix(s) => s.name(),
            ChannelSink::Xmpp(s) => s.name(),
        }
    }

    fn validate(&self, entry: &Entry) -> Result<(), SinkError> {
        match self {
            ChannelSink::Email(s) => s.validate(entry),
            ChannelSink::Webhook(s) => s.validate(entry),
            ChannelSink::Slack(s) => s.validate(entry),
            ChannelSink::Mattermost(s) => s.validate(entry),
            ChannelSink::Discord(s) => s.validate(entry),
            ChannelSink::Teams(s) => s.validate(entry),
            ChannelSink::Googlechat(s) => s.validate(entry),
            ChannelSink::Telegram(s) => s.validate(entry),
            ChannelSink::Ntfy(s) => s.validate(entry),
            ChannelSink::Gotify(s) => s.validate(entry),
            ChannelSink::Pagerduty(s) => s.validate(entry),
            ChannelSink::Matrix(s) => s.validate(entry),
            ChannelSink::Xmpp(s) => s.validate(entry),
        }
    }

    fn describe(&self, entry: &Entry) -> String {
        match self {
            ChannelSink::Email(s) => s.describe(entry),
            ChannelSink::Webhook(s) => s.describe(entry),
            ChannelSink::Slack(s) => s.describe(entry),
            ChannelSink::Mattermost(s) => s.describe(entry),
            ChannelSink::Discord(s) => s.describe(entry),
            ChannelSink::Teams(s) => s.describe(entry),
            ChannelSink::Googlechat(s) => s.describe(entry),
            ChannelSink::Telegram(s) => s.describe(entry),
            ChannelSink::Ntfy(s) => s.describe(entry),
            ChannelSink::Gotify(s) => s.describe(entry),
            ChannelSink::Pagerduty(s) => s.describe(entry),
            ChannelSink::Matrix(s) => s.describe(entry),
            ChannelSink::Xmpp(s) => s.describe(entry),
        }
    }

    fn batch_size(&self) -> usize {
        match self {
            ChannelSink::Email(s) => s.batch_size(),
            ChannelSink::Webhook(s) => s.batch_size(),
            ChannelSink::Slack(s) => s.batch_size(),
            ChannelSink::Mattermost(s) => s.batch_size(),
            ChannelSink::Discord(s) => s.batch_size(),
            ChannelSink::Teams(s) => s.batch_size(),
            ChannelSink::Googlechat(s) => s.batch_size(),
            ChannelSink::Telegram(s) => s.batch_size(),
            ChannelSink::Ntfy(s) => s.batch_size(),
            ChannelSink::Gotify(s) => s.batch_size(),
            ChannelSink::Pagerduty(s) => s.batch_size(),
            ChannelSink::Matrix(s) => s.batch_size(),
            ChannelSink::Xmpp(s) => s.batch_size(),
        }
    }

    fn pace(&self) -> Duration {
        match self {
            ChannelSink::Email(s) => s.pace(),
            ChannelSink::Webhook(s) => s.pace(),
            ChannelSink::Slack(s) => s.pace(),
            ChannelSink::Mattermost(s) => s.pace(),
            ChannelSink::Discord(s) => s.pace(),
            ChannelSink::Teams(s) => s.pace(),
            ChannelSink::Googlechat(s) => s.pace(),
            ChannelSink::Telegram(s) => s.pace(),
            ChannelSink::Ntfy(s) => s.pace(),
            ChannelSink::Gotify(s) => s.pace(),
            ChannelSink::Pagerduty(s) => s.pace(),
            ChannelSink::Matrix(s) => s.pace(),
            ChannelSink::Xmpp(s) => s.pace(),
        }
    }

    async fn deliver_batch(&self, entries: &[Entry]) -> Result<usize, SinkError> {
        match self {
            ChannelSink::Email(s) => s.deliver_batch(entries).await,
            ChannelSink::Webhook(s) => s.deliver_batch(entries).await,
            ChannelSink::Slack(s) => s.deliver_batch(entries).await,
            ChannelSink::Mattermost(s) => s.deliver_batch(entries).await,
            ChannelSink::Discord(s) => s.deliver_batch(entries).await,
            ChannelSink::Teams(s) => s.deliver_batch(entries).await,
            ChannelSink::Googlechat(s) => s.deliver_batch(entries).await,
            ChannelSink::Telegram(s) => s.deliver_batch(entries).await,
            ChannelSink::Ntfy(s) => s.deliver_batch(entries).await,
            ChannelSink::Gotify(s) => s.deliver_batch(entries).await,
            ChannelSink::Pagerduty(s) => s.deliver_batch(entries).await,
            ChannelSink::Matrix(s) => s.deliver_batch(entries).await,
            ChannelSink::Xmpp(s) => s.deliver_batch(entries).await,
        }
    }
}

/// What each kind of channel built in would receive for `o` reported by `agent`, with its
/// default settings: (what it is, the payload as text). Pure: nothing is sent (`demo`).
pub fn previews(o: &crate::outcome::Outcome, agent: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let notice = content::Notice::from_outcome(o, agent);
    if let Ok(template) = crate::config::Template::parse(
        email::config::DEFAULT_SUBJECT,
        email::config::SUBJECT_VARIABLES,
    ) {
        let subject = email::render::subject(&template, &notice, o);
        out.push((
            "email: the subject and the text part (an HTML part goes with it)",
            format!(
                "Subject: {subject}\n\n{}",
                email::render::text(&notice, "ops-mail")
            ),
        ));
    }
    let body = webhook::render::default_body(o, agent);
    let pretty = serde_json::from_slice::<serde_json::Value>(&body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
    out.push((
        "webhook: the JSON body POSTed (default, no template)",
        pretty,
    ));
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default();
    out.push((
        "slack: the JSON POSTed to the incoming webhook",
        json(slack::render::message(&notice, &Default::default())),
    ));
    out.push((
        "mattermost: the JSON POSTed to the incoming webhook",
        json(mattermost::render::message(&notice, &Default::default())),
    ));
    out.push((
        "discord: the JSON POSTed to the webhook (?wait=true)",
        json(discord::render::message(&notice, &Default::default())),
    ));
    chat_b_previews(&notice, &mut out);
    let pretty_json = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| String::from_utf8_lossy(b).into_owned())
    };
    out.push((
        "pagerduty: the Events API v2 event (routing_key shown as <routing_key>)",
        pretty_json(&pagerduty::render::event("<routing_key>", o, agent, false)),
    ));
    out.push((
        "matrix: the m.room.message content (body and HTML)",
        pretty_json(&matrix::render::render(o, agent, false)),
    ));
    out.push((
        "xmpp: the message body (chat and groupchat)",
        xmpp::render::body(o, agent, false),
    ));
    out
}

/// The previews of Teams, Google Chat, Telegram, ntfy and Gotify.
fn chat_b_previews(notice: &content::Notice, out: &mut Vec<(&'static str, String)>) {
    let pretty = |body: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(body)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
    };
    out.push((
        "teams: the Adaptive Card message POSTed to the Workflows URL",
        pretty(&teams::render::card(notice)),
    ));
    out.push((
        "googlechat: the message POSTed to the space's webhook (text + cardsV2)",
        pretty(&googlechat::render::message(notice)),
    ));
    out.push((
        "telegram: the sendMessage text (parse_mode HTML)",
        telegram::render::html(notice),
    ));
    out.push((
        "ntfy: the JSON published (topic \"backups\")",
        pretty(&ntfy::render::publish("backups", notice)),
    ));
    out.push((
        "gotify: the JSON POSTed to /message",
        pretty(&gotify::render::message(notice)),
    ));
}
