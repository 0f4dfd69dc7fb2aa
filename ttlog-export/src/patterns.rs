//! Error patterns: known failure modes recognised in events by rule trees, with a confidence
//! and suggestions.
//!
//! A library is a YAML file (`patterns/builtin.yaml` is built in); each pattern has a rule:
//!
//! - `message: REGEX`: searched in the message and in the fields that usually carry an
//!   error's text (`error`, `err`, `cause`, `reason`, `exception`, `source`);
//! - `error_type: NAME`: equal to the field `error_type`, `error.type` or `kind`;
//! - `error_code: CODE`: equal to the field `code`, `error_code`, `errno` or `status`;
//! - `field_equals: { field, value }` and `field_regex: { field, regex }`: any field of the
//!   event, its spans or its context;
//! - `all: [..]`, `any: [..]`, `not: RULE`.
//!
//! Regexes are compiled once, when the library is loaded; a bad one is an error naming the
//! pattern.
//!
//! **Confidence.** Each pattern has a `specificity` `p` between 0 and 1: how sure one match of
//! its rule makes the diagnosis (a specific errno: 0.95; a generic word such as "timeout":
//! 0.6). Matching events are taken as independent evidence: with `k` matching error events
//! (warnings count half), the confidence is `1 - (1 - p)^k`, with `k` capped at 3. A pattern
//! that matched the triggering event itself is listed first.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::input::LogEvent;

/// The built-in library.
pub const BUILTIN: &str = include_str!("../patterns/builtin.yaml");

/// Fields whose text a `message` rule also searches.
const TEXT_FIELDS: &[&str] = &["error", "err", "cause", "reason", "exception", "source"];
const TYPE_FIELDS: &[&str] = &["error_type", "error.type", "kind"];
const CODE_FIELDS: &[&str] = &["code", "error_code", "errno", "status"];

/// A rule as written in the file: one key (`message`, `all`, ...); several keys in one map
/// must all match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSource {
    message: Option<String>,
    error_type: Option<String>,
    error_code: Option<String>,
    field_equals: Option<FieldEqualsSource>,
    field_regex: Option<FieldRegexSource>,
    all: Option<Vec<RuleSource>>,
    any: Option<Vec<RuleSource>>,
    not: Option<Box<RuleSource>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldEqualsSource {
    field: String,
    value: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldRegexSource {
    field: String,
    regex: String,
}

/// A compiled rule.
#[derive(Debug, Clone)]
enum Rule {
    Message(Regex),
    ErrorType(String),
    ErrorCode(String),
    FieldEquals(String, Value),
    FieldRegex(String, Regex),
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
}

/// What a pattern suggests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suggestions {
    /// What to do now.
    #[serde(default)]
    pub immediate: Vec<String>,
    /// What keeps it from happening again.
    #[serde(default)]
    pub preventive: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSource {
    id: String,
    name: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    retryable: Option<bool>,
    specificity: f64,
    #[serde(rename = "match")]
    rule: RuleSource,
    #[serde(default)]
    suggestions: Suggestions,
    #[serde(default)]
    examples: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LibrarySource {
    patterns: Vec<PatternSource>,
}

/// A known failure mode.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Stable id (`db_pool_exhausted`).
    pub id: String,
    /// What it is, for people.
    pub name: String,
    /// `database`, `network`, `resources`, `panic`, ...
    pub category: Option<String>,
    /// `low` .. `critical`.
    pub severity: Option<String>,
    /// Whether retrying the failed operation can succeed.
    pub retryable: Option<bool>,
    /// How sure one match makes the diagnosis (0 to 1).
    pub specificity: f64,
    /// What to do.
    pub suggestions: Suggestions,
    /// Messages the rule must match (checked by the tests).
    pub examples: Vec<String>,
    rule: Rule,
}

/// Why a library could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

/// A set of patterns, compiled.
///
/// ```
/// use ttlog_export::patterns::PatternLibrary;
///
/// let library = PatternLibrary::builtin();
/// let found = library.match_message("pool timed out while waiting for an open connection");
/// assert_eq!(found[0].id, "db_pool_exhausted");
/// ```
#[derive(Debug, Clone)]
pub struct PatternLibrary {
    patterns: Vec<Pattern>,
}

impl PatternLibrary {
    /// The built-in library (`patterns/builtin.yaml`).
    pub fn builtin() -> PatternLibrary {
        PatternLibrary::from_yaml(BUILTIN).expect("the built-in library is valid")
    }

    /// A library from YAML text.
    ///
    /// # Errors
    ///
    /// The YAML is invalid (the message names the line), a regex does not compile or a
    /// specificity is outside 0..1 (the message names the pattern).
    pub fn from_yaml(text: &str) -> Result<PatternLibrary, PatternError> {
        let source: LibrarySource =
            yaml_serde::from_str(text).map_err(|e| PatternError(e.to_string()))?;
        let mut patterns = Vec::with_capacity(source.patterns.len());
        for p in source.patterns {
            if !(0.0..=1.0).contains(&p.specificity) {
                return Err(PatternError(format!(
                    "pattern `{}`: specificity {} is not between 0 and 1",
                    p.id, p.specificity
                )));
            }
            let rule =
                compile(&p.rule).map_err(|e| PatternError(format!("pattern `{}`: {e}", p.id)))?;
            patterns.push(Pattern {
                id: p.id,
                name: p.name,
                category: p.category,
                severity: p.severity,
                retryable: p.retryable,
                specificity: p.specificity,
                suggestions: p.suggestions,
                examples: p.examples,
                rule,
            });
        }
        Ok(PatternLibrary { patterns })
    }

    /// This library with `other`'s patterns added; one with the id of a pattern here
    /// replaces it.
    pub fn extended_with(mut self, other: PatternLibrary) -> PatternLibrary {
        for pattern in other.patterns {
            match self.patterns.iter_mut().find(|p| p.id == pattern.id) {
                Some(existing) => *existing = pattern,
                None => self.patterns.push(pattern),
            }
        }
        self
    }

    /// The patterns.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// The patterns whose rule matches `event`.
    pub fn matching(&self, event: &LogEvent) -> Vec<&Pattern> {
        self.patterns
            .iter()
            .filter(|p| p.rule.matches(event))
            .collect()
    }

    /// The patterns matching an event that has only this message (for tests and tools).
    pub fn match_message(&self, message: &str) -> Vec<&Pattern> {
        let event = LogEvent::new("error", message);
        self.matching(&event)
    }

    /// The patterns that match `events`, most confident first, with the evidence.
    pub fn diagnose(&self, events: &[LogEvent], trigger: Option<usize>) -> Vec<PatternMatch> {
        let mut found: BTreeMap<usize, PatternMatch> = BTreeMap::new();
        for (index, event) in events.iter().enumerate() {
            let weight = match event.level() {
                Some(ttlog_core::LogLevel::Error) => 1.0,
                Some(ttlog_core::LogLevel::Warn) => 0.5,
                _ => continue,
            };
            for (p, pattern) in self.patterns.iter().enumerate() {
                if !pattern.rule.matches(event) {
                    continue;
                }
                let entry = found.entry(p).or_insert_with(|| PatternMatch {
                    id: pattern.id.clone(),
                    name: pattern.name.clone(),
                    category: pattern.category.clone(),
                    severity: pattern.severity.clone(),
                    retryable: pattern.retryable,
                    confidence: 0.0,
                    matched_events: 0,
                    evidence: 0.0,
                    on_trigger: false,
                    first_event: index,
                    suggestions: pattern.suggestions.clone(),
                });
                entry.matched_events += 1;
                entry.evidence += weight;
                entry.on_trigger |= trigger == Some(index);
            }
        }
        let mut found: Vec<PatternMatch> = found
            .into_iter()
            .map(|(p, mut m)| {
                let k = m.evidence.min(3.0);
                m.confidence = 1.0 - (1.0 - self.patterns[p].specificity).powf(k);
                m
            })
            .collect();
        found.sort_by(|a, b| {
            b.on_trigger
                .cmp(&a.on_trigger)
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.first_event.cmp(&b.first_event))
        });
        found
    }
}

/// A pattern found in events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternMatch {
    /// The pattern's id.
    pub id: String,
    /// The pattern's name.
    pub name: String,
    /// Its category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Its severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Whether a retry can succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// `1 - (1 - specificity)^k` (see the module docs).
    pub confidence: f64,
    /// Events that matched.
    pub matched_events: usize,
    /// Error events count 1, warnings 0.5.
    #[serde(skip)]
    pub evidence: f64,
    /// Whether the triggering event matched.
    pub on_trigger: bool,
    /// Index of the first matching event.
    #[serde(skip)]
    pub first_event: usize,
    /// What to do.
    pub suggestions: Suggestions,
}

fn compile(source: &RuleSource) -> Result<Rule, String> {
    let regex = |text: &str| Regex::new(text).map_err(|e| format!("bad regex `{text}`: {e}"));
    let mut rules = Vec::new();
    if let Some(text) = &source.message {
        rules.push(Rule::Message(regex(text)?));
    }
    if let Some(name) = &source.error_type {
        rules.push(Rule::ErrorType(name.clone()));
    }
    if let Some(code) = &source.error_code {
        rules.push(Rule::ErrorCode(code.clone()));
    }
    if let Some(f) = &source.field_equals {
        rules.push(Rule::FieldEquals(f.field.clone(), f.value.clone()));
    }
    if let Some(f) = &source.field_regex {
        rules.push(Rule::FieldRegex(f.field.clone(), regex(&f.regex)?));
    }
    if let Some(all) = &source.all {
        rules.push(Rule::All(
            all.iter().map(compile).collect::<Result<_, _>>()?,
        ));
    }
    if let Some(any) = &source.any {
        rules.push(Rule::Any(
            any.iter().map(compile).collect::<Result<_, _>>()?,
        ));
    }
    if let Some(not) = &source.not {
        rules.push(Rule::Not(Box::new(compile(not)?)));
    }
    match rules.len() {
        0 => Err(
            "an empty rule (write message, error_type, error_code, field_equals, \
                  field_regex, all, any or not)"
                .to_owned(),
        ),
        1 => Ok(rules.pop().expect("one rule")),
        _ => Ok(Rule::All(rules)),
    }
}

/// A field's value as text (strings as they are, other scalars as JSON).
fn text_of(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string().into()),
        _ => None,
    }
}

/// A field of the event, with `a.b` reaching into objects.
fn field<'e>(event: &'e LogEvent, name: &str) -> Option<&'e Value> {
    if let Some(value) = event.lookup(name) {
        return Some(value);
    }
    let (head, rest) = name.split_once('.')?;
    let mut value = event.lookup(head)?;
    for part in rest.split('.') {
        value = value.get(part)?;
    }
    Some(value)
}

impl Rule {
    fn matches(&self, event: &LogEvent) -> bool {
        match self {
            Rule::Message(regex) => {
                regex.is_match(&event.message)
                    || TEXT_FIELDS.iter().any(|name| {
                        field(event, name)
                            .and_then(text_of)
                            .is_some_and(|text| regex.is_match(&text))
                    })
            }
            Rule::ErrorType(name) => TYPE_FIELDS.iter().any(|f| {
                field(event, f)
                    .and_then(text_of)
                    .is_some_and(|t| t == name.as_str())
            }),
            Rule::ErrorCode(code) => CODE_FIELDS.iter().any(|f| {
                field(event, f)
                    .and_then(text_of)
                    .is_some_and(|t| t == code.as_str())
            }),
            Rule::FieldEquals(name, value) => field(event, name).is_some_and(|v| {
                v == value || text_of(v).zip(text_of(value)).is_some_and(|(a, b)| a == b)
            }),
            Rule::FieldRegex(name, regex) => field(event, name)
                .and_then(text_of)
                .is_some_and(|t| regex.is_match(&t)),
            Rule::All(rules) => rules.iter().all(|r| r.matches(event)),
            Rule::Any(rules) => rules.iter().any(|r| r.matches(event)),
            Rule::Not(rule) => !rule.matches(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_example_matches_its_pattern() {
        let library = PatternLibrary::builtin();
        assert!(
            library.patterns().len() >= 25,
            "{}",
            library.patterns().len()
        );
        for pattern in library.patterns() {
            assert!(
                !pattern.examples.is_empty(),
                "{} has no example",
                pattern.id
            );
            for example in &pattern.examples {
                let found = library.match_message(example);
                assert!(
                    found.iter().any(|p| p.id == pattern.id),
                    "{}: `{example}` matched {:?}",
                    pattern.id,
                    found.iter().map(|p| &p.id).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn rules_read_fields_and_combine() {
        let library = PatternLibrary::from_yaml(
            r#"
patterns:
  - id: payment_declined
    name: Card declined
    specificity: 0.9
    match:
      all:
        - error_code: card_declined
        - not: { field_equals: { field: test_mode, value: true } }
        - field_regex: { field: provider, regex: '^stripe' }
"#,
        )
        .unwrap();
        let mut event = library_event("charge failed");
        event.fields.insert("code".into(), "card_declined".into());
        event.fields.insert("provider".into(), "stripe-eu".into());
        assert_eq!(library.matching(&event).len(), 1);
        event.fields.insert("test_mode".into(), true.into());
        assert!(library.matching(&event).is_empty());
    }

    #[test]
    fn bad_regexes_and_specificities_name_the_pattern() {
        let err = PatternLibrary::from_yaml(
            "patterns:\n  - id: broken\n    name: x\n    specificity: 0.5\n    match: { message: '(' }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
        let err = PatternLibrary::from_yaml(
            "patterns:\n  - id: sure\n    name: x\n    specificity: 1.5\n    match: { message: 'a' }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sure"), "{err}");
    }

    #[test]
    fn confidence_grows_with_evidence() {
        let library = PatternLibrary::builtin();
        let one = vec![library_event("deadlock detected")];
        let three = vec![
            library_event("deadlock detected"),
            library_event("deadlock detected"),
            library_event("deadlock detected"),
        ];
        let c1 = library.diagnose(&one, Some(0))[0].confidence;
        let c3 = library.diagnose(&three, Some(0))[0].confidence;
        assert!((c1 - 0.95).abs() < 1e-9, "{c1}");
        assert!(c3 > c1 && c3 < 1.0, "{c3}");
    }

    fn library_event(message: &str) -> LogEvent {
        LogEvent::new("error", message)
    }
}
