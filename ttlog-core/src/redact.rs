//! Redaction: secrets taken out of events on the consumer thread, before any sink sees them.
//!
//! The core walks an event (message, arguments, fields, nested groups, spans, context and
//! static fields) and asks a [`Redactor`] which names are secret and which texts hold
//! secrets; the rules themselves (field names, regular expressions, the Luhn check) live in
//! `ttlog-sinks`, so the core needs no regex engine. An event with nothing to hide is handed
//! on as it is, without a copy; one with a secret is rebuilt once, with masked values, and the
//! same rebuilt event goes to every sink. The caller's thread never runs any of it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::Event;
use crate::redactor::Redactor;
use crate::span::SpanRef;
use crate::value::{
    FIELDS_FLAT, FieldsRef, TAG_DEBUG, TAG_DISPLAY, TAG_FIELDS, TAG_STR, ValueRef, decode_value,
};

/// Applies a [`Redactor`] to events: see [`Redaction::apply`].
///
/// The logger runs one before its sinks ([`Builder::redactor`](crate::Builder::redactor));
/// tools that read snapshots run one over the events they decode.
pub struct Redaction {
    rules: Arc<dyn Redactor>,
    /// The message of the event at hand, formatted to be scanned.
    message: String,
    /// What is known of callsites and spans already seen (the logger's own redaction only:
    /// its callsites are `'static`, so an address names one callsite for good).
    cache: Option<Cache>,
}

/// Verdicts that do not change from one event to the next, so the rules run once for them.
#[derive(Default)]
struct Cache {
    /// By callsite address: which of its first 64 fields have secret names, and, for a
    /// message without arguments, whether that constant text holds a secret.
    callsites: HashMap<usize, (u64, Option<bool>)>,
    /// By span (id, and a hash of the values recorded so far): whether its fields hold a
    /// secret.
    spans: HashMap<(u64, u64), bool>,
    /// The logger's static fields (by address and length): whether they hold a secret.
    statics: Option<((usize, usize), bool)>,
}

/// Entries kept per map before it is emptied (a program with more callsites than this only
/// pays the rules again).
const CACHE_LIMIT: usize = 16_384;

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redaction").finish_non_exhaustive()
    }
}

/// Whether a value under a secret name would give something away: a `bool` or a `None`
/// (`password_set = true`) does not, and is kept.
fn reveals(value: &ValueRef<'_>) -> bool {
    !matches!(value, ValueRef::Bool(_) | ValueRef::None)
}

/// A value's replacement, while an event is rebuilt.
enum Replaced {
    Keep,
    Text(u8, String),
    Group(Vec<u8>, u16, bool),
}

impl Redaction {
    /// Redaction by `rules`.
    pub fn new(rules: Arc<dyn Redactor>) -> Redaction {
        Redaction {
            rules,
            message: String::new(),
            cache: None,
        }
    }

    /// Redaction for a logger's sinks: verdicts on callsites, spans and static fields are
    /// kept, since every callsite there lives for the whole program.
    pub(crate) fn for_logger(rules: Arc<dyn Redactor>) -> Redaction {
        Redaction {
            cache: Some(Cache::default()),
            ..Redaction::new(rules)
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &Arc<dyn Redactor> {
        &self.rules
    }

    /// Replaces the rules (a configuration reload).
    pub fn set_rules(&mut self, rules: Arc<dyn Redactor>) {
        self.rules = rules;
        if let Some(cache) = &mut self.cache {
            *cache = Cache::default();
        }
    }

    /// Calls `f` with `event` redacted: `event` itself when it holds no secret, else a copy
    /// whose secret values are masked (values of secret fields whole, secrets found in texts
    /// where they are) in its message, arguments, fields, spans and context.
    ///
    /// A sink of its own that redacts only what it writes (the logger's
    /// [`Builder::redactor`](crate::Builder::redactor) redacts for every sink at once):
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ttlog_core::{Event, Redaction, Redactor, Sink};
    ///
    /// struct Redacted<S> {
    ///     redaction: Redaction,
    ///     inner: S,
    /// }
    ///
    /// impl<S: Sink> Sink for Redacted<S> {
    ///     fn write(&mut self, event: &Event<'_>) -> std::io::Result<()> {
    ///         let inner = &mut self.inner;
    ///         self.redaction.apply(event, |event| inner.write(event))
    ///     }
    /// }
    /// # struct Names;
    /// # impl Redactor for Names {
    /// #     fn is_secret_name(&self, name: &str) -> bool { name == "token" }
    /// #     fn find_secret(&self, _: &str) -> bool { false }
    /// #     fn redact_text(&self, text: &str, out: &mut String) { out.push_str(text) }
    /// # }
    /// let _sink = Redacted { redaction: Redaction::new(Arc::new(Names)), inner: ttlog_core::CaptureSink::new() };
    /// ```
    pub fn apply<R>(&mut self, event: &Event<'_>, f: impl FnOnce(&Event<'_>) -> R) -> R {
        if !self.needs(event) {
            return f(event);
        }
        self.rebuild(event, f)
    }

    fn value_needs(&self, value: &ValueRef<'_>) -> bool {
        match value {
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => {
                self.rules.find_secret(s)
            }
            ValueRef::U64(n) => self.rules.is_secret_number(u128::from(*n)),
            ValueRef::I64(n) => self.rules.is_secret_number(u128::from(n.unsigned_abs())),
            ValueRef::U128(n) => self.rules.is_secret_number(*n),
            ValueRef::I128(n) => self.rules.is_secret_number(n.unsigned_abs()),
            ValueRef::Fields(group) => self.group_needs(*group),
            _ => false,
        }
    }

    fn pair_needs(&self, name: &str, value: &ValueRef<'_>) -> bool {
        self.secret_pair(name, value) || self.value_needs(value)
    }

    /// Whether `value` is masked for its name. A `bool` or a `None` reveals nothing
    /// (`password_set = true`) and is kept.
    fn secret_pair(&self, name: &str, value: &ValueRef<'_>) -> bool {
        reveals(value) && self.rules.is_secret_name(name)
    }

    fn group_needs(&self, group: FieldsRef<'_>) -> bool {
        group
            .iter()
            .any(|(name, value)| self.pair_needs(name, &value))
    }

    fn span_needs(&self, span: &SpanRef<'_>) -> bool {
        span.fields()
            .any(|(name, value)| self.pair_needs(name, &value))
    }

    fn message_needs(&mut self, event: &Event<'_>) -> bool {
        self.message.clear();
        let _ = event.write_message(&mut self.message);
        self.rules.find_secret(&self.message)
    }

    fn needs(&mut self, event: &Event<'_>) -> bool {
        let scope = *event.scope();
        // Verdicts are kept only for the logger's own callsites (never for metadata read back
        // from a snapshot, whose address may be reused).
        let cacheable = self.cache.is_some() && !event.metadata().is_stored();
        let (secret_names, constant_message) = self.callsite_verdict(event, cacheable);
        event.call_fields().enumerate().any(|(i, (name, value))| {
            let secret_name = match secret_names {
                Some(bits) if i < 64 => bits & (1 << i) != 0,
                _ => self.rules.is_secret_name(name),
            };
            (secret_name && reveals(&value)) || self.value_needs(&value)
        }) || event.args().iter().any(|v| self.value_needs(v))
            || scope
                .spans
                .iter()
                .any(|span| self.span_verdict(span, cacheable))
            || scope
                .statics
                .is_some_and(|g| self.statics_verdict(g, cacheable))
            || scope.context.is_some_and(|g| self.group_needs(g))
            || constant_message.unwrap_or_else(|| self.message_needs(event))
    }

    /// Which of the callsite's first 64 field names are secret (a bit each), and, for a
    /// message without arguments, whether that constant text holds a secret; from the cache
    /// when `cacheable`. `None` for the names when they were not worked out ahead.
    fn callsite_verdict(
        &mut self,
        event: &Event<'_>,
        cacheable: bool,
    ) -> (Option<u64>, Option<bool>) {
        let meta = event.metadata();
        let key = meta as *const _ as usize;
        if cacheable
            && let Some(&(names, message)) = self.cache.as_ref().and_then(|c| c.callsites.get(&key))
        {
            return (Some(names), message);
        }
        let message = (meta.arg_count() == 0).then(|| self.message_needs(event));
        if !cacheable {
            return (None, message);
        }
        let mut names = 0u64;
        for (i, name) in meta.field_names().iter().take(64).enumerate() {
            if self.rules.is_secret_name(name) {
                names |= 1 << i;
            }
        }
        if let Some(cache) = &mut self.cache {
            if cache.callsites.len() >= CACHE_LIMIT {
                cache.callsites.clear();
            }
            cache.callsites.insert(key, (names, message));
        }
        (Some(names), message)
    }

    /// Whether a span's fields hold a secret; kept by span id and recorded values when
    /// `cacheable`.
    fn span_verdict(&mut self, span: &SpanRef<'_>, cacheable: bool) -> bool {
        if !cacheable {
            return self.span_needs(span);
        }
        let recorded = {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(span.recorded, &mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        let key = (span.id().to_u64(), recorded);
        if let Some(&verdict) = self.cache.as_ref().and_then(|c| c.spans.get(&key)) {
            return verdict;
        }
        let verdict = self.span_needs(span);
        if let Some(cache) = &mut self.cache {
            if cache.spans.len() >= CACHE_LIMIT {
                cache.spans.clear();
            }
            cache.spans.insert(key, verdict);
        }
        verdict
    }

    /// Whether the logger's static fields hold a secret; kept (by their address) when
    /// `cacheable`.
    fn statics_verdict(&mut self, statics: FieldsRef<'_>, cacheable: bool) -> bool {
        let key = (statics.body().as_ptr() as usize, statics.body().len());
        if cacheable
            && let Some(Some((at, verdict))) = self.cache.as_ref().map(|c| c.statics)
            && at == key
        {
            return verdict;
        }
        let verdict = self.group_needs(statics);
        if cacheable && let Some(cache) = &mut self.cache {
            cache.statics = Some((key, verdict));
        }
        verdict
    }

    /// What replaces `value` (of the field `name`, if it has one).
    fn replace(&self, name: Option<&str>, value: &ValueRef<'_>) -> Replaced {
        if name.is_some_and(|n| self.secret_pair(n, value)) {
            let mut mask = String::new();
            self.rules.mask(value, &mut mask);
            return Replaced::Text(TAG_STR, mask);
        }
        match value {
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s)
                if self.rules.find_secret(s) =>
            {
                let tag = match value {
                    ValueRef::Str(_) => TAG_STR,
                    ValueRef::Display(_) => TAG_DISPLAY,
                    _ => TAG_DEBUG,
                };
                let mut text = String::with_capacity(s.len());
                self.rules.redact_text(s, &mut text);
                Replaced::Text(tag, text)
            }
            ValueRef::Fields(group) if self.group_needs(*group) => {
                let mut body = Vec::with_capacity(group.body().len());
                self.rewrite_group(*group, &mut body);
                Replaced::Group(body, group.len() as u16, group.is_flat())
            }
            ValueRef::Fields(_) => Replaced::Keep,
            other if self.value_needs(other) => {
                let mut mask = String::new();
                self.rules.mask(other, &mut mask);
                Replaced::Text(TAG_STR, mask)
            }
            _ => Replaced::Keep,
        }
    }

    /// Appends the encoded pairs of `group`, redacted, to `out`.
    fn rewrite_group(&self, group: FieldsRef<'_>, out: &mut Vec<u8>) {
        let mut pairs = group.iter();
        while let Some((name, value, raw)) = pairs.next_raw() {
            match self.replace(Some(name), &value) {
                Replaced::Keep => out.extend_from_slice(raw),
                replaced => {
                    put_name(out, name);
                    put_value(out, &replaced);
                }
            }
        }
    }

    /// A span's values (unnamed, in the order of its metadata's names), redacted.
    fn rewrite_span_values(&self, span: &SpanRef<'_>, out: &mut Vec<u8>) {
        let mut rest = span.values;
        for name in span.meta.field_names().iter().take(span.nvalues as usize) {
            let Some((value, used)) = decode_value(rest) else {
                break;
            };
            // A flat group stands for its members, which carry their own names.
            let name = match value {
                ValueRef::Fields(group) if group.is_flat() => None,
                _ => Some(*name),
            };
            match self.replace(name, &value) {
                Replaced::Keep => out.extend_from_slice(&rest[..used]),
                replaced => put_value(out, &replaced),
            }
            rest = &rest[used..];
        }
    }

    fn rebuild<R>(&mut self, event: &Event<'_>, f: impl FnOnce(&Event<'_>) -> R) -> R {
        let args = event.args();
        let replaced: Vec<Replaced> = args
            .iter()
            .map(|v| self.replace(None, v))
            .chain(event.call_fields().map(|(n, v)| self.replace(Some(n), &v)))
            .collect();
        let originals = args
            .iter()
            .copied()
            .chain(event.call_fields().map(|(_, v)| v));
        let values: Vec<ValueRef<'_>> = originals
            .zip(&replaced)
            .map(|(original, replaced)| match replaced {
                Replaced::Keep => original,
                Replaced::Text(TAG_DISPLAY, text) => ValueRef::Display(text),
                Replaced::Text(TAG_DEBUG, text) => ValueRef::Debug(text),
                Replaced::Text(_, text) => ValueRef::Str(text),
                Replaced::Group(body, count, flat) => {
                    ValueRef::Fields(FieldsRef::new(body, *count, *flat))
                }
            })
            .collect();

        let scope = event.scope();
        let span_bodies: Vec<Option<(Vec<u8>, Vec<u8>)>> = scope
            .spans
            .iter()
            .map(|span| {
                self.span_needs(span).then(|| {
                    let mut values = Vec::with_capacity(span.values.len());
                    self.rewrite_span_values(span, &mut values);
                    let mut recorded = Vec::with_capacity(span.recorded.len());
                    self.rewrite_group(
                        FieldsRef::new(span.recorded, span.nrecorded, false),
                        &mut recorded,
                    );
                    (values, recorded)
                })
            })
            .collect();
        let spans: Vec<SpanRef<'_>> = scope
            .spans
            .iter()
            .zip(&span_bodies)
            .map(|(span, body)| match body {
                Some((values, recorded)) => SpanRef {
                    values,
                    recorded,
                    ..*span
                },
                None => *span,
            })
            .collect();
        let group = |group: Option<FieldsRef<'_>>| {
            group.filter(|g| self.group_needs(*g)).map(|g| {
                let mut body = Vec::with_capacity(g.body().len());
                self.rewrite_group(g, &mut body);
                (body, g.len() as u16)
            })
        };
        let context = group(scope.context);
        let statics = group(scope.statics);

        let mut redacted = event.with_values(&values).with_spans(&spans);
        if let Some((body, count)) = &context {
            redacted = redacted.with_context(FieldsRef::new(body, *count, false));
        }
        if let Some((body, count)) = &statics {
            redacted = redacted.with_statics(FieldsRef::new(body, *count, false));
        }
        // The message with masked arguments; a secret still in it (one written in the format
        // string, or split between the text and an argument) is masked in the text.
        self.message.clear();
        let _ = redacted.write_message(&mut self.message);
        let message;
        if self.rules.find_secret(&self.message) {
            let mut text = String::with_capacity(self.message.len());
            self.rules.redact_text(&self.message, &mut text);
            message = text;
            redacted = redacted.with_message(&message);
        }
        f(&redacted)
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    // Names come from an encoded pair, so they fit in a u16.
    let len = name.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&name.as_bytes()[..len]);
}

fn put_value(out: &mut Vec<u8>, value: &Replaced) {
    match value {
        Replaced::Keep => {}
        Replaced::Text(tag, text) => {
            let mut text = text.as_str();
            if text.len() > u32::MAX as usize {
                let mut end = u32::MAX as usize;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text = &text[..end];
            }
            out.push(*tag);
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        Replaced::Group(body, count, flat) => {
            out.push(TAG_FIELDS);
            out.push(if *flat { FIELDS_FLAT } else { 0 });
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::REDACTED;

    /// Secret names: `password`; secret texts: anything with "sk_live_"; secret numbers: 42.
    struct Rules;

    impl Redactor for Rules {
        fn is_secret_name(&self, name: &str) -> bool {
            name == "password"
        }
        fn find_secret(&self, text: &str) -> bool {
            text.contains("sk_live_")
        }
        fn redact_text(&self, text: &str, out: &mut String) {
            out.push_str(&text.replace("sk_live_", "***"));
        }
        fn is_secret_number(&self, value: u128) -> bool {
            value == 42
        }
    }

    #[test]
    fn rewritten_groups_decode_with_the_same_names_and_counts() {
        let group = crate::scope::OwnedValues::encode(|enc| {
            enc.fields(false, |out| {
                out.field("user", "ada");
                out.field("password", "hunter2");
                out.field("note", "key sk_live_abc");
                out.field("answer", &42_u64);
                out.field("port", &8080_u16);
            });
        });
        let (value, _) = decode_value(&group.bytes).expect("a group");
        let ValueRef::Fields(fields) = value else {
            panic!("not a group: {value:?}");
        };
        let redaction = Redaction::new(Arc::new(Rules));
        let mut body = Vec::new();
        redaction.rewrite_group(fields, &mut body);
        let rewritten = FieldsRef::new(&body, fields.len() as u16, false);
        let pairs: Vec<(&str, String)> =
            rewritten.iter().map(|(n, v)| (n, v.to_string())).collect();
        assert_eq!(
            pairs,
            [
                ("user", "ada".to_owned()),
                ("password", REDACTED.to_owned()),
                ("note", "key ***abc".to_owned()),
                ("answer", REDACTED.to_owned()),
                ("port", "8080".to_owned()),
            ]
        );
    }
}
