//! Redaction rules: secret field names and secret value patterns, for
//! [`Builder::redactor`](ttlog_core::Builder::redactor) and the tools that read snapshots.
//!
//! Two kinds of rule:
//!
//! - **Field names.** A field whose name contains one of the secret words (as whole words:
//!   `password`, `db_password`, `X-Api-Key`, `sessionId`) has its value replaced whatever it
//!   holds. A name that ends in a word saying it describes the secret rather than holding it
//!   (`token_count`, `password_policy`, `session_ttl`) is left alone.
//! - **Value patterns.** Every text (string values, `%`/`?` values, the formatted message,
//!   span and context fields) is searched for bearer tokens, JWTs, AWS access keys, private
//!   key blocks, well-known API key formats, passwords in URLs and in `key=value` text,
//!   e-mail addresses, and card numbers that pass the Luhn check (integers too). Only the
//!   secret part of a match is masked (`Authorization: Bearer [REDACTED]`).
//!
//! The detection and false-positive rates on the test corpus are in `docs/redaction.md`.

use std::fmt;
use std::ops::Range;

use regex::Regex;
use ttlog_core::{REDACTED, ValueRef};

/// Field names whose values are secret by default, matched as whole words of the name, case
/// insensitively (`api_key` matches `stripe_api_key`, `apiKey` and `X-Api-Key`).
pub const DEFAULT_SECRET_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "authorization",
    "cookie",
    "session",
    "private_key",
    "credit_card",
    "card_number",
    "cvv",
];

/// Last words of a field name that say it describes a secret rather than holds it:
/// `token_count`, `password_policy`, `session_ttl` are not masked.
const DESCRIPTIVE_SUFFIXES: &[&str] = &[
    "count", "counts", "type", "kind", "len", "length", "size", "ttl", "expiry", "expires",
    "expired", "at", "age", "limit", "policy", "strength", "rotated", "provider", "scheme",
    "enabled", "disabled", "consent", "required", "valid", "present", "source",
];

/// The default value patterns, by name. A pattern with a group named `secret` masks only
/// that group; otherwise the whole match.
pub const DEFAULT_PATTERNS: &[(&str, &str)] = &[
    (
        "authorization_header",
        r#"(?i)(?-u:\b)(?:proxy-)?authorization(?-u:\b)["']?\s*[:=]\s*["']?(?:(?:basic|bearer|token|digest|negotiate)\s+)?(?P<secret>[^\s"',;]{8,})"#,
    ),
    (
        "bearer_token",
        r"(?-u:\b)[Bb]earer\s+(?P<secret>[A-Za-z0-9\-._~+/]{16,}=*)",
    ),
    (
        "jwt",
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}",
    ),
    (
        "aws_access_key",
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
    ),
    (
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*)",
    ),
    (
        "api_key",
        r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35}|glpat-[A-Za-z0-9_-]{20,})",
    ),
    (
        "url_password",
        r"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:(?P<secret>[^\s@/]+)@",
    ),
    (
        "key_value",
        r#"(?i)(?-u:\b)(?:password|passwd|secret|client_secret|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token|token)["']?\s*[=:]\s*["']?(?P<secret>[^\s"'&,;(<\[*][^\s"'&,;]{2,})"#,
    ),
    (
        "email",
        r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?-u:\b)",
    ),
];

/// Texts in which a default pattern can match all hold one of these (compared case
/// insensitively): a quick literal search before the patterns run. A test checks it against
/// the corpus.
const PREFILTER: [&str; 24] = [
    "authoriz",
    "bearer",
    "eyj",
    "akia",
    "asia",
    "abia",
    "acca",
    "key",
    "passw",
    "secret",
    "token",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "_live_",
    "_test_",
    "xox",
    "sk-",
    "aiza",
    "glpat-",
    "@",
];

/// Card-number candidates: 13 to 19 digits, optionally grouped by spaces or dashes, starting
/// with a digit that begins the numbers of the card networks (2 to 6). Only those that
/// [`is_card`] accepts are masked.
const CARD_CANDIDATE: &str = r"(?-u:\b)[2-6](?:[ -]?[0-9]){12,18}(?-u:\b)";

/// How a secret is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mask {
    /// Replaced whole by `[REDACTED]`.
    #[default]
    Full,
    /// Partly kept, enough to tell values apart and never enough to use them: the last 4
    /// characters of a secret of 12 or more (`****4242`), the domain of an e-mail address
    /// (`****@example.com`); shorter secrets are masked whole.
    Partial,
}

/// An invalid pattern given to [`RedactionRules::pattern`].
#[derive(Debug, Clone)]
pub struct PatternError {
    pattern: String,
    message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid redaction pattern `{}`: {}",
            self.pattern, self.message
        )
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone)]
struct Pattern {
    regex: Regex,
    /// The index of the `secret` group, if the pattern has one.
    secret: Option<usize>,
    /// E-mail addresses keep their domain under a partial mask.
    email: bool,
    /// One of [`DEFAULT_PATTERNS`] (behind [`PREFILTER`]).
    default: bool,
}

impl Pattern {
    fn new(source: &str, email: bool) -> Result<Pattern, PatternError> {
        let regex = Regex::new(source).map_err(|e| PatternError {
            pattern: source.to_owned(),
            message: e.to_string(),
        })?;
        let secret = regex.capture_names().position(|n| n == Some("secret"));
        Ok(Pattern {
            regex,
            secret,
            email,
            default: false,
        })
    }
}

/// Rules of redaction: secret field names and secret value patterns (see the module docs).
///
/// ```
/// use ttlog_sinks::{Mask, RedactionRules};
///
/// let rules = RedactionRules::default()
///     .field("customer_ssn")
///     .pattern(r"\bINT-[0-9]{6}\b")
///     .expect("a valid regex")
///     .masking(Mask::Partial);
/// let handle = ttlog::init().redactor(rules).init();
/// ttlog::info!(customer_ssn = "078-05-1120", "profile updated");
/// # drop(handle);
/// ```
#[derive(Debug, Clone)]
pub struct RedactionRules {
    /// Each secret name as its lowercase words.
    fields: Vec<Vec<String>>,
    patterns: Vec<Pattern>,
    /// The default patterns as one regex, for the quick test, behind [`PREFILTER`].
    any_default: Option<Regex>,
    prefilter: Regex,
    /// The user's patterns as one regex, for the quick test.
    any_user: Option<Regex>,
    cards: bool,
    card_candidate: Regex,
    mask: Mask,
}

impl Default for RedactionRules {
    /// The default names ([`DEFAULT_SECRET_FIELDS`]), patterns ([`DEFAULT_PATTERNS`]) and
    /// card numbers, masked whole.
    fn default() -> Self {
        let mut rules = RedactionRules::none();
        for name in DEFAULT_SECRET_FIELDS {
            rules = rules.field(name);
        }
        for (name, source) in DEFAULT_PATTERNS {
            let mut pattern =
                Pattern::new(source, *name == "email").expect("default patterns compile");
            pattern.default = true;
            rules.patterns.push(pattern);
        }
        rules.cards = true;
        rules.recompile();
        rules
    }
}

impl RedactionRules {
    /// No rules at all: add the names and patterns you want.
    pub fn none() -> RedactionRules {
        RedactionRules {
            fields: Vec::new(),
            patterns: Vec::new(),
            any_default: None,
            prefilter: regex::RegexBuilder::new(&PREFILTER.map(regex::escape).join("|"))
                .case_insensitive(true)
                .build()
                .expect("the prefilter compiles"),
            any_user: None,
            cards: false,
            card_candidate: Regex::new(CARD_CANDIDATE).expect("the card pattern compiles"),
            mask: Mask::Full,
        }
    }

    /// Also masks fields named `name` (matched as [`DEFAULT_SECRET_FIELDS`] are).
    pub fn field(mut self, name: &str) -> RedactionRules {
        let words: Vec<String> = words(name).map(|w| w.to_ascii_lowercase()).collect();
        if !words.is_empty() && !self.fields.contains(&words) {
            self.fields.push(words);
        }
        self
    }

    /// Also masks what `regex` matches in texts (its group named `secret` only, if it has
    /// one). The syntax is that of the `regex` crate.
    pub fn pattern(mut self, regex: &str) -> Result<RedactionRules, PatternError> {
        self.patterns.push(Pattern::new(regex, false)?);
        self.recompile();
        Ok(self)
    }

    /// Whether card numbers (13 to 19 digits passing the Luhn check) are masked.
    pub fn cards(mut self, enabled: bool) -> RedactionRules {
        self.cards = enabled;
        self
    }

    /// How secrets are masked.
    pub fn masking(mut self, mask: Mask) -> RedactionRules {
        self.mask = mask;
        self
    }

    fn recompile(&mut self) {
        let union = |default: bool| {
            let sources: Vec<String> = self
                .patterns
                .iter()
                .filter(|p| p.default == default)
                .map(|p| format!("(?:{})", p.regex.as_str()))
                .collect();
            // Each part compiled on its own, so the union does too; an oversized union falls
            // back to testing the patterns one by one.
            (!sources.is_empty())
                .then(|| Regex::new(&sources.join("|")).ok())
                .flatten()
        };
        self.any_default = union(true);
        self.any_user = union(false);
    }

    /// Whether a pattern of this group (the defaults, or the user's) finds a secret.
    fn patterns_match(&self, default: bool, text: &str) -> bool {
        let any = if default {
            &self.any_default
        } else {
            &self.any_user
        };
        match any {
            Some(any) => any.is_match(text),
            None => self
                .patterns
                .iter()
                .filter(|p| p.default == default)
                .any(|p| p.regex.is_match(text)),
        }
    }

    fn secret_name_words(&self, name: &str) -> bool {
        let mut buf: [&str; 16] = [""; 16];
        let mut n = 0;
        for word in words(name) {
            if n == buf.len() {
                break;
            }
            buf[n] = word;
            n += 1;
        }
        let name = &buf[..n];
        if let Some(last) = name.last()
            && DESCRIPTIVE_SUFFIXES
                .iter()
                .any(|s| last.eq_ignore_ascii_case(s))
            && n > 1
        {
            return false;
        }
        self.fields.iter().any(|rule| {
            rule.len() <= name.len()
                && name.windows(rule.len()).any(|window| {
                    window
                        .iter()
                        .zip(rule)
                        .all(|(w, r)| w.eq_ignore_ascii_case(r))
                })
        })
    }

    /// The byte ranges of the secrets in `text`, sorted and merged, each with whether it is
    /// an e-mail address.
    fn secrets(&self, text: &str) -> Vec<(Range<usize>, bool)> {
        let mut found: Vec<(Range<usize>, bool)> = Vec::new();
        for pattern in &self.patterns {
            match pattern.secret {
                Some(group) => {
                    for caps in pattern.regex.captures_iter(text) {
                        if let Some(m) = caps.get(group) {
                            found.push((m.range(), pattern.email));
                        }
                    }
                }
                None => found.extend(
                    pattern
                        .regex
                        .find_iter(text)
                        // `user:password@host` in a URL is the URL rule's, not an address.
                        .filter(|m| !pattern.email || !text[..m.start()].ends_with([':', '/']))
                        .map(|m| (m.range(), pattern.email)),
                ),
            }
        }
        if self.cards && may_hold_card(text) {
            found.extend(
                self.card_candidate
                    .find_iter(text)
                    .filter(|m| card_text(m.as_str()))
                    .map(|m| (m.range(), false)),
            );
        }
        found.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
        let mut merged: Vec<(Range<usize>, bool)> = Vec::with_capacity(found.len());
        for (range, email) in found {
            match merged.last_mut() {
                Some((last, last_email)) if range.start <= last.end => {
                    if range.end > last.end {
                        last.end = range.end;
                        *last_email = false;
                    }
                }
                _ => merged.push((range, email)),
            }
        }
        merged
    }

    fn push_mask(&self, secret: &str, email: bool, out: &mut String) {
        match self.mask {
            Mask::Full => out.push_str(REDACTED),
            Mask::Partial => {
                if email && let Some(at) = secret.rfind('@') {
                    out.push_str("****");
                    out.push_str(&secret[at..]);
                    return;
                }
                let chars = secret.chars().count();
                if chars >= 12 {
                    out.push_str("****");
                    let keep = secret
                        .char_indices()
                        .nth(chars - 4)
                        .map_or(secret.len(), |(i, _)| i);
                    out.push_str(&secret[keep..]);
                } else {
                    out.push_str(REDACTED);
                }
            }
        }
    }
}

impl ttlog_core::Redactor for RedactionRules {
    fn is_secret_name(&self, name: &str) -> bool {
        self.secret_name_words(name)
    }

    fn find_secret(&self, text: &str) -> bool {
        // Every default pattern needs one of a few words or characters: the regex runs only
        // on texts that have one (most texts have none).
        (self.prefilter.is_match(text) && self.patterns_match(true, text))
            || self.patterns_match(false, text)
            || (self.cards
                && may_hold_card(text)
                && self
                    .card_candidate
                    .find_iter(text)
                    .any(|m| card_text(m.as_str())))
    }

    fn redact_text(&self, text: &str, out: &mut String) {
        let mut at = 0;
        for (range, email) in self.secrets(text) {
            out.push_str(&text[at..range.start]);
            self.push_mask(&text[range.clone()], email, out);
            at = range.end;
        }
        out.push_str(&text[at..]);
    }

    fn is_secret_number(&self, value: u128) -> bool {
        self.cards && card_number(value)
    }

    fn mask(&self, value: &ValueRef<'_>, out: &mut String) {
        match value {
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => {
                self.push_mask(s, false, out)
            }
            ValueRef::U64(_) | ValueRef::I64(_) | ValueRef::U128(_) | ValueRef::I128(_) => {
                self.push_mask(&value.to_string(), false, out)
            }
            _ => out.push_str(REDACTED),
        }
    }
}

/// The words of a field name: split at anything not an ASCII letter or digit, and before an
/// uppercase letter that follows a lowercase letter or a digit (`apiKey`, `X-Api-Key`,
/// `db.password`, `userID`).
fn words(name: &str) -> impl Iterator<Item = &str> {
    let bytes = name.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < bytes.len() && !bytes[pos].is_ascii_alphanumeric() {
            pos += 1;
        }
        if pos == bytes.len() {
            return None;
        }
        let start = pos;
        pos += 1;
        while pos < bytes.len()
            && bytes[pos].is_ascii_alphanumeric()
            && !(bytes[pos].is_ascii_uppercase()
                && (bytes[pos - 1].is_ascii_lowercase() || bytes[pos - 1].is_ascii_digit()))
        {
            pos += 1;
        }
        Some(&name[start..pos])
    })
}

/// Whether `text` has enough digits for a card number (a quick test before the regex).
fn may_hold_card(text: &str) -> bool {
    text.bytes().filter(u8::is_ascii_digit).count() >= 13
}

/// Whether the digits of `text` (spaces and dashes ignored) are a card number.
fn card_text(text: &str) -> bool {
    let mut digits = [0u8; 19];
    let mut n = 0;
    for b in text.bytes().filter(u8::is_ascii_digit) {
        if n == digits.len() {
            return false;
        }
        digits[n] = b - b'0';
        n += 1;
    }
    is_card(&digits[..n])
}

/// Whether an integer is a card number (see [`is_card`]).
fn card_number(mut value: u128) -> bool {
    let mut digits = [0u8; 40];
    let mut n = digits.len();
    while value > 0 {
        n -= 1;
        digits[n] = (value % 10) as u8;
        value /= 10;
    }
    is_card(&digits[n..])
}

/// Whether `digits` (values 0 to 9) are a card number: a prefix and a length of a card
/// network (Visa, Mastercard, American Express, Diners Club, Discover, JCB, UnionPay) and a
/// valid Luhn check digit. Numbers that are merely long (timestamps, byte counts, ids) rarely
/// pass all three.
fn is_card(digits: &[u8]) -> bool {
    let len = digits.len();
    let prefix = |n: usize| {
        digits
            .iter()
            .take(n)
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
    };
    let network = match digits.first() {
        Some(4) => matches!(len, 13 | 16 | 19),
        Some(5) => (51..=55).contains(&prefix(2)) && len == 16,
        Some(2) => (2221..=2720).contains(&prefix(4)) && len == 16,
        Some(3) => match prefix(2) {
            34 | 37 => len == 15,
            36 | 38 | 30 => len == 14 || len == 16,
            35 => (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len),
            _ => false,
        },
        Some(6) => {
            (prefix(4) == 6011
                || prefix(2) == 65
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 62)
                && (16..=19).contains(&len)
        }
        _ => false,
    };
    network && luhn(digits)
}

/// The Luhn check of `digits` (values 0 to 9).
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ttlog_core::Redactor;

    fn redact(rules: &RedactionRules, text: &str) -> String {
        let mut out = String::new();
        rules.redact_text(text, &mut out);
        out
    }

    #[test]
    fn field_names_match_as_whole_words() {
        let rules = RedactionRules::default();
        for name in [
            "password",
            "PASSWORD",
            "db_password",
            "X-Api-Key",
            "apiKey",
            "stripe_api_key",
            "sessionId",
            "refresh_token",
            "Authorization",
            "set-cookie",
            "aws.secret_access_key",
        ] {
            assert!(rules.is_secret_name(name), "{name} should be secret");
        }
        for name in [
            "user_id",
            "passage",
            "tokens_used",
            "token_count",
            "password_policy",
            "session_ttl",
            "cookies_enabled",
            "path",
            "secretary_name",
        ] {
            assert!(!rules.is_secret_name(name), "{name} should not be secret");
        }
    }

    #[test]
    fn words_split_names() {
        let split: Vec<&str> = words("X-Api-Key.v2_userID").collect();
        assert_eq!(split, ["X", "Api", "Key", "v2", "user", "ID"]);
    }

    #[test]
    fn only_the_secret_group_is_masked() {
        let rules = RedactionRules::default();
        assert_eq!(
            redact(&rules, "Authorization: Bearer abcdef0123456789"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            redact(&rules, "connecting to postgres://app:s3cr3t@db:5432/orders"),
            "connecting to postgres://app:[REDACTED]@db:5432/orders"
        );
    }

    #[test]
    fn cards_need_the_luhn_check() {
        let rules = RedactionRules::default();
        assert_eq!(
            redact(&rules, "card 4111 1111 1111 1111 ok"),
            "card [REDACTED] ok"
        );
        assert_eq!(
            redact(&rules, "order 4111 1111 1111 1112 ok"),
            "order 4111 1111 1111 1112 ok"
        );
        assert!(rules.is_secret_number(4_111_111_111_111_111));
        assert!(!rules.is_secret_number(4_111_111_111_111_112));
        assert!(!rules.is_secret_number(42));
    }

    #[test]
    fn partial_masks_keep_little() {
        let rules = RedactionRules::default().masking(Mask::Partial);
        assert_eq!(
            redact(&rules, "mail ada@example.com now"),
            "mail ****@example.com now"
        );
        assert_eq!(redact(&rules, "key AKIAIOSFODNN7EXAMPLE"), "key ****MPLE");
        let mut out = String::new();
        Redactor::mask(&rules, &ValueRef::Str("hunter2"), &mut out);
        assert_eq!(out, REDACTED);
    }

    #[test]
    fn masks_cut_on_character_boundaries() {
        let rules = RedactionRules::default().masking(Mask::Partial);
        let mut out = String::new();
        Redactor::mask(
            &rules,
            &ValueRef::Str("日本語のパスワードです秘密"),
            &mut out,
        );
        assert_eq!(out, "****です秘密");
    }

    /// Wherever a default pattern matches in the corpus, the prefilter does too (a pattern
    /// added to the defaults without its word in `PREFILTER` fails here).
    #[test]
    fn the_prefilter_lets_every_default_match_through() {
        let rules = RedactionRules::default();
        let corpus = [
            include_str!("../tests/fixtures/redaction/secrets.jsonl"),
            include_str!("../tests/fixtures/redaction/lookalikes.jsonl"),
        ];
        let mut matched = 0;
        for line in corpus.iter().flat_map(|c| c.lines()) {
            for pattern in rules.patterns.iter().filter(|p| p.default) {
                // Lines are JSON: unescaped enough for these patterns.
                if pattern.regex.is_match(line) {
                    matched += 1;
                    assert!(
                        rules.prefilter.is_match(line),
                        "{} matches {line} but the prefilter does not",
                        pattern.regex.as_str()
                    );
                }
            }
        }
        assert!(matched > 150, "{matched}");
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let err = RedactionRules::none().pattern("(unclosed").unwrap_err();
        assert!(err.to_string().contains("(unclosed"), "{err}");
    }
}
