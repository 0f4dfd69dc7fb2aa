//! The rules of redaction, as the consumer asks them: which field names are secret and what
//! in a text is a secret. Applying them to events is `redact.rs`'s work; the rules themselves
//! (names, regular expressions, the Luhn check) live in `ttlog-sinks`, so the core needs no
//! regex engine.

use crate::encode::REDACTED;
use crate::value::ValueRef;

/// The rules of redaction: which field names are secret and what in a text is a secret.
///
/// Implemented by `ttlog::sinks::Redaction` (default names and patterns, user-extensible);
/// implement it to plug in rules of your own. Every method runs on the consumer thread (or in
/// a tool reading a snapshot), never on the thread that logs.
///
/// ```
/// use ttlog_core::{Redactor, ValueRef};
///
/// /// Masks fields named `ssn` and any text holding "internal-only".
/// struct Policy;
///
/// impl Redactor for Policy {
///     fn is_secret_name(&self, name: &str) -> bool {
///         name.eq_ignore_ascii_case("ssn")
///     }
///     fn find_secret(&self, text: &str) -> bool {
///         text.contains("internal-only")
///     }
///     fn redact_text(&self, text: &str, out: &mut String) {
///         out.push_str(&text.replace("internal-only", ttlog_core::REDACTED));
///     }
/// }
///
/// // Every sink of this logger sees events with those values masked.
/// let _builder = ttlog_core::init().redactor(Policy);
/// ```
pub trait Redactor: Send + Sync + 'static {
    /// Whether the value of a field called `name` is secret whatever it holds (`password`);
    /// only a `bool` or a `None` value is kept.
    fn is_secret_name(&self, name: &str) -> bool;

    /// Whether `text` holds a secret. Called for every text value and message, so it should
    /// be quick; [`redact_text`](Redactor::redact_text) is only called when it says yes.
    fn find_secret(&self, text: &str) -> bool;

    /// Appends `text` to `out` with each secret in it masked.
    fn redact_text(&self, text: &str, out: &mut String);

    /// Whether an integer value is secret (a card number logged as a number). Default: no.
    fn is_secret_number(&self, value: u128) -> bool {
        let _ = value;
        false
    }

    /// Appends the mask of a secret value (of a secret field, or a secret number) to `out`.
    /// Default: [`REDACTED`].
    fn mask(&self, value: &ValueRef<'_>, out: &mut String) {
        let _ = value;
        out.push_str(REDACTED);
    }
}
