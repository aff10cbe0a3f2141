//! What an NSCA passive check says for an outcome: host and service from the templates (the
//! agent's host when they fill to nothing), the Nagios code, and the plugin output with the
//! original check time, within the packet's output limit (after client-side escaping). Pure.

use nsca::packet::{PassiveCheck, HOST_FIELD, SERVICE_FIELD};

use super::config::NscaSinkConfig;
use crate::outcome::{fill_template, plugin_output, sanitize_name};
use crate::sinks::SinkError;
use crate::spool::Entry;

/// Host and service of an outcome: the naming function or the templates, sanitised and
/// cut; a host that comes out empty (a result with `"host": ""` under a `{host}`-only
/// template, say) is the agent's own host, never a check Nagios would drop.
pub fn names(c: &NscaSinkConfig, o: &crate::outcome::Outcome) -> (String, String) {
    let (host, service) = match &c.naming {
        Some(naming) => {
            let (h, s) = naming(o);
            (
                sanitize_name(&h, HOST_FIELD - 1),
                sanitize_name(&s, SERVICE_FIELD - 1),
            )
        }
        None => (
            fill_template(&c.host_template, o, &c.default_host, HOST_FIELD - 1),
            fill_template(&c.service_template, o, &c.default_host, SERVICE_FIELD - 1),
        ),
    };
    let host = if host.is_empty() {
        sanitize_name(&c.default_host, HOST_FIELD - 1)
    } else {
        host
    };
    (host, service)
}

/// The passive check for `entry`: host and service from the templates, the Nagios code of
/// its status, and the plugin output with the original check time, within the packet's
/// output limit (after client-side escaping, when that is on).
pub fn check(c: &NscaSinkConfig, entry: &Entry) -> Result<PassiveCheck, SinkError> {
    let o = &entry.outcome;
    let (host, service) = names(c, o);
    let limit = c.packet.max_output();
    let checked = Some(entry.check_time());
    let mut output = plugin_output(o, checked, limit);
    if c.escape_newlines {
        // Escaping lengthens the text: shrink until the escaped form fits, so the server
        // never sees an escape sequence cut in half.
        let mut max = limit;
        loop {
            let grown = nsca::client::escape_newlines(&output).len();
            if grown <= limit || max == 0 {
                break;
            }
            max = max.saturating_sub(grown - limit);
            output = plugin_output(o, checked, max);
        }
    }
    PassiveCheck::service(host, service, o.status.nagios_code(), output)
        .map_err(|e| SinkError::permanent(format!("spool entry {}: {e}", entry.id)))
}
