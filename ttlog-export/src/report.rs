//! Incident reports: what a snapshot or a log says about its last failure, small enough for
//! an LLM's context and complete enough for a person.
//!
//! [`LLMExporter::export_for_analysis`] picks the triggering event (the last error, else the
//! last warning, else the last event), then gathers what explains it: the events of its
//! trace and the events its thread logged before it (the causal chain), the other errors and
//! warnings around it, the log templates with their counts, the error patterns that match,
//! and the process information the snapshot carries. Secrets are masked first. The report is
//! then cut to `max_tokens`, counted with a real tokenizer on the format it will be read in,
//! lowest priority first, and the `truncated` section says what went.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tiktoken_rs::CoreBPE;
use ttlog_sinks::RedactionRules;

use crate::input::{Input, LogEvent};
use crate::patterns::{PatternLibrary, PatternMatch};
use crate::templates::TemplateMiner;

/// The version of the report's JSON shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Which tokenizer counts the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenModel {
    /// `cl100k_base` (GPT-4, GPT-3.5).
    #[default]
    Cl100k,
    /// `o200k_base` (GPT-4o and later).
    O200k,
}

/// The format the budget is counted on (and the report will be read in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReportFormat {
    /// [`format_markdown_report`].
    #[default]
    Markdown,
    /// The report as JSON (`serde_json::to_string_pretty`).
    Json,
}

/// Settings of an [`LLMExporter`].
#[derive(Debug, Clone)]
pub struct LLMExportConfig {
    /// The report never exceeds this many tokens (default 4,000).
    pub max_tokens: usize,
    /// The tokenizer (default cl100k_base).
    pub model: TokenModel,
    /// The format the budget applies to (default Markdown).
    pub format: ReportFormat,
    /// Errors and warnings this close to the trigger are related (default 5 minutes).
    pub window: Duration,
    /// At most this many events in the causal chain (default 30).
    pub max_causal_events: usize,
    /// At most this many templates listed (default 15).
    pub max_templates: usize,
    /// Rules applied before anything else (default: the default rules); `None` exports
    /// values as they are.
    pub redaction: Option<RedactionRules>,
    /// The error patterns (default: the built-in library).
    pub patterns: PatternLibrary,
}

impl Default for LLMExportConfig {
    fn default() -> Self {
        LLMExportConfig {
            max_tokens: 4000,
            model: TokenModel::default(),
            format: ReportFormat::default(),
            window: Duration::from_secs(300),
            max_causal_events: 30,
            max_templates: 15,
            redaction: Some(RedactionRules::default()),
            patterns: PatternLibrary::builtin(),
        }
    }
}

/// Why a report could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// The tokenizer could not be loaded.
    Tokenizer(String),
    /// The input has no event.
    NoEvents,
    /// Even the trigger alone does not fit `max_tokens`.
    BudgetTooSmall(usize),
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Tokenizer(e) => write!(f, "cannot load the tokenizer: {e}"),
            ExportError::NoEvents => f.write_str("no events to report on"),
            ExportError::BudgetTooSmall(n) => {
                write!(f, "max_tokens {n} is too small for even the trigger")
            }
        }
    }
}

impl std::error::Error for ExportError {}

/// One event as a report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEvent {
    /// RFC 3339.
    pub timestamp: String,
    /// Level.
    pub level: String,
    /// Target.
    pub target: String,
    /// Message.
    pub message: String,
    /// Fields (and span fields under `span.<name>`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// Thread name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread: String,
    /// `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Span names, root first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<String>,
    /// Trace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Why it is in the causal chain: `same trace` or `same thread`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
}

impl ReportEvent {
    fn from(event: &LogEvent, relation: Option<&str>) -> ReportEvent {
        ReportEvent {
            timestamp: event.timestamp.clone(),
            level: event.level.clone(),
            target: event.target.clone(),
            message: event.message.clone(),
            fields: event.fields.clone(),
            thread: event.thread.clone(),
            location: event
                .file
                .as_ref()
                .map(|f| format!("{f}:{}", event.line.unwrap_or(0))),
            spans: event.span_names().into_iter().map(str::to_owned).collect(),
            trace_id: event.trace_id.clone(),
            relation: relation.map(str::to_owned),
        }
    }
}

/// What is known of the error itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// The error's type (a field `error_type`/`kind`), or the matched pattern's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// A code (field `code`, `error_code`, `errno` or `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// The pattern's severity, else the level.
    pub severity: String,
    /// Whether a retry can succeed, when the pattern says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// A template and how often it occurred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateCount {
    /// Stable template id.
    pub id: String,
    /// The template.
    pub template: String,
    /// Occurrences.
    pub count: u64,
    /// The most severe level it was logged at.
    pub level: String,
    /// First and last occurrence.
    pub first_seen: String,
    /// Last occurrence.
    pub last_seen: String,
}

/// What the budget cut from one section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    /// The section.
    pub section: String,
    /// Items kept.
    pub kept: usize,
    /// Items cut.
    pub cut: usize,
}

/// What the token budget cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncated {
    /// The budget.
    pub max_tokens: usize,
    /// Per section.
    pub sections: Vec<Cut>,
}

/// An incident report: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What it was made from.
    pub source: String,
    /// The triggering event.
    pub trigger: ReportEvent,
    /// The error, as far as known.
    pub error_summary: ErrorSummary,
    /// Known failure modes that match, most confident first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<PatternMatch>,
    /// Events of the trigger's trace, then those its thread logged before it, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causal_chain: Vec<ReportEvent>,
    /// Other errors and warnings within the window, by template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_errors: Vec<TemplateCount>,
    /// The most frequent templates of all events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateCount>,
    /// Process and system information (from the snapshot) and counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<(String, String)>,
    /// Questions worth asking next, from what the report found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<String>,
    /// What the token budget cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncated>,
    /// The report's size in tokens, in the format it was measured in.
    pub tokens: usize,
}

/// Makes incident reports.
///
/// ```no_run
/// use ttlog_export::input::Input;
/// use ttlog_export::report::{LLMExportConfig, LLMExporter, format_markdown_report};
///
/// let input = Input::read("snapshots/api-panic.ttsnap".as_ref())?;
/// let exporter = LLMExporter::new(LLMExportConfig { max_tokens: 2000, ..Default::default() })?;
/// let report = exporter.export_for_analysis(&input)?;
/// println!("{}", format_markdown_report(&report));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LLMExporter {
    config: LLMExportConfig,
    bpe: CoreBPE,
}

impl std::fmt::Debug for LLMExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LLMExporter")
            .field("max_tokens", &self.config.max_tokens)
            .field("model", &self.config.model)
            .finish_non_exhaustive()
    }
}

impl LLMExporter {
    /// An exporter with `config`.
    ///
    /// # Errors
    ///
    /// The tokenizer's data could not be loaded.
    pub fn new(config: LLMExportConfig) -> Result<LLMExporter, ExportError> {
        let bpe = match config.model {
            TokenModel::Cl100k => tiktoken_rs::cl100k_base(),
            TokenModel::O200k => tiktoken_rs::o200k_base(),
        }
        .map_err(|e| ExportError::Tokenizer(e.to_string()))?;
        Ok(LLMExporter { config, bpe })
    }

    /// Tokens in `text` for the configured model.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// The report for `input` (redacted, within `max_tokens`).
    ///
    /// # Errors
    ///
    /// The input has no event, or `max_tokens` cannot hold even the trigger.
    pub fn export_for_analysis(&self, input: &Input) -> Result<IncidentReport, ExportError> {
        let trigger = trigger_index(&input.events).ok_or(ExportError::NoEvents)?;
        self.export_with_trigger(input, trigger)
    }

    /// The report on `input.events[trigger]` (an error picked from a store, say) rather than
    /// on the last error.
    ///
    /// # Errors
    ///
    /// `trigger` is out of range, or `max_tokens` cannot hold even the trigger.
    pub fn export_with_trigger(
        &self,
        input: &Input,
        trigger: usize,
    ) -> Result<IncidentReport, ExportError> {
        let mut input = input.clone();
        if let Some(rules) = &self.config.redaction {
            input.redact(rules);
        }
        let events = &input.events;
        if trigger >= events.len() {
            return Err(ExportError::NoEvents);
        }
        let trigger_at = trigger;
        let trigger = &events[trigger_at];
        let patterns = self.config.patterns.diagnose(events, Some(trigger_at));

        let mut miner = TemplateMiner::default();
        let clusters: Vec<_> = events.iter().map(|e| miner.add(&e.message)).collect();
        let template_ids: Vec<String> = clusters.iter().map(|&c| miner.template(c).id).collect();

        let causal_chain = self.causal_chain(events, trigger_at);
        let in_chain: std::collections::HashSet<usize> =
            causal_chain.iter().map(|(i, _)| *i).collect();
        let trigger_time = trigger.time();
        let related = (0..events.len()).filter(|&i| {
            let e = &events[i];
            i != trigger_at
                && !in_chain.contains(&i)
                && matches!(
                    e.level(),
                    Some(ttlog_core::LogLevel::Error | ttlog_core::LogLevel::Warn)
                )
                && match (trigger_time, e.time()) {
                    (Some(t), Some(at)) => {
                        let gap = t.duration_since(at).or_else(|_| at.duration_since(t));
                        gap.is_ok_and(|g| g <= self.config.window)
                    }
                    _ => true,
                }
        });
        let related_errors = count_templates(
            events,
            &template_ids,
            &miner,
            &clusters,
            related,
            usize::MAX,
        );
        let mut templates = count_templates(
            events,
            &template_ids,
            &miner,
            &clusters,
            0..events.len(),
            self.config.max_templates,
        );
        templates.sort_by(|a, b| {
            level_rank(&b.level)
                .cmp(&level_rank(&a.level))
                .then(b.count.cmp(&a.count))
        });

        let error_summary = summary(trigger, patterns.first().filter(|p| p.on_trigger));
        let process = process_info(&input);
        let trigger_template = templates
            .iter()
            .chain(&related_errors)
            .find(|t| t.id == template_ids[trigger_at])
            .map(|t| t.count)
            .unwrap_or(1);
        let prompts = prompts(trigger, &patterns, trigger_template, &input);

        let report = IncidentReport {
            schema_version: SCHEMA_VERSION,
            source: input.source.clone(),
            trigger: ReportEvent::from(trigger, None),
            error_summary,
            patterns,
            causal_chain: causal_chain.into_iter().map(|(_, e)| e).collect(),
            related_errors,
            templates,
            process,
            prompts,
            truncated: None,
            tokens: 0,
        };
        self.fit(report)
    }

    /// The events of the trigger's trace (or spans), then those of its thread before it; in
    /// time order, the nearest to the trigger kept when there are too many.
    fn causal_chain(&self, events: &[LogEvent], trigger_at: usize) -> Vec<(usize, ReportEvent)> {
        let trigger = &events[trigger_at];
        let mut chosen: Vec<(usize, &str)> = Vec::new();
        if let Some(trace) = &trigger.trace_id {
            for (i, e) in events.iter().enumerate() {
                if i != trigger_at && e.trace_id.as_ref() == Some(trace) {
                    chosen.push((i, "same trace"));
                }
            }
        }
        let max = self.config.max_causal_events;
        let same_thread: Vec<usize> = (0..trigger_at)
            .rev()
            .filter(|&i| events[i].thread == trigger.thread && !chosen.iter().any(|(c, _)| *c == i))
            .take(max.saturating_sub(chosen.len()))
            .collect();
        chosen.extend(same_thread.into_iter().map(|i| (i, "same thread")));
        // Nearest to the trigger first when cutting to `max`.
        chosen.sort_by_key(|(i, _)| i.abs_diff(trigger_at));
        chosen.truncate(max);
        chosen.sort_by_key(|(i, _)| *i);
        chosen
            .into_iter()
            .map(|(i, relation)| (i, ReportEvent::from(&events[i], Some(relation))))
            .collect()
    }

    fn render(&self, report: &IncidentReport) -> String {
        match self.config.format {
            ReportFormat::Markdown => format_markdown_report(report),
            ReportFormat::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
        }
    }

    fn measure(&self, report: &mut IncidentReport) -> usize {
        // The count is part of the report: measure until it is stable.
        for _ in 0..3 {
            let tokens = self.count_tokens(&self.render(report));
            if tokens == report.tokens {
                break;
            }
            report.tokens = tokens;
        }
        report.tokens
    }

    /// Cuts `report` to the budget, lowest priority first: prompts, then templates (least
    /// frequent first), process information, related errors (least frequent first), the
    /// causal chain (farthest from the trigger first), patterns (least confident first),
    /// then the trigger's fields and message.
    fn fit(&self, mut report: IncidentReport) -> Result<IncidentReport, ExportError> {
        let max = self.config.max_tokens;
        if self.measure(&mut report) <= max {
            return Ok(report);
        }
        let sizes = [
            ("prompts", report.prompts.len()),
            ("templates", report.templates.len()),
            ("process", report.process.len()),
            ("related_errors", report.related_errors.len()),
            ("causal_chain", report.causal_chain.len()),
            ("patterns", report.patterns.len()),
        ];
        let mut cut: HashMap<&str, usize> = HashMap::new();
        report.truncated = Some(Truncated {
            max_tokens: max,
            sections: Vec::new(),
        });
        loop {
            let section = if !report.prompts.is_empty() {
                report.prompts.pop();
                "prompts"
            } else if !report.templates.is_empty() {
                let least = report
                    .templates
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, t)| (level_rank(&t.level), t.count))
                    .map(|(i, _)| i)
                    .expect("not empty");
                report.templates.remove(least);
                "templates"
            } else if !report.process.is_empty() {
                report.process.pop();
                "process"
            } else if !report.related_errors.is_empty() {
                let least = report
                    .related_errors
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, t)| t.count)
                    .map(|(i, _)| i)
                    .expect("not empty");
                report.related_errors.remove(least);
                "related_errors"
            } else if !report.causal_chain.is_empty() {
                // Farthest from the trigger: the oldest of its thread.
                report.causal_chain.remove(0);
                "causal_chain"
            } else if !report.patterns.is_empty() {
                report.patterns.pop();
                "patterns"
            } else if !report.trigger.fields.is_empty() {
                report.trigger.fields.clear();
                "trigger.fields"
            } else if report.trigger.message.chars().count() > 40 {
                let keep = report.trigger.message.chars().count() * 3 / 4;
                cut_text(&mut report.trigger.message, keep);
                cut_text(&mut report.error_summary.message, keep);
                "trigger.message"
            } else {
                return Err(ExportError::BudgetTooSmall(max));
            };
            *cut.entry(section).or_default() += 1;
            let truncated = report.truncated.as_mut().expect("set above");
            truncated.sections = sizes
                .iter()
                .filter_map(|(name, total)| {
                    let n = cut.get(name).copied().unwrap_or(0);
                    (n > 0).then(|| Cut {
                        section: (*name).to_owned(),
                        kept: total - n,
                        cut: n,
                    })
                })
                .chain(
                    ["trigger.fields", "trigger.message"]
                        .iter()
                        .filter_map(|name| {
                            cut.get(name).map(|n| Cut {
                                section: (*name).to_owned(),
                                kept: 0,
                                cut: *n,
                            })
                        }),
                )
                .collect();
            if self.measure(&mut report) <= max {
                return Ok(report);
            }
        }
    }
}

/// Cuts `text` to `keep` characters (never inside a character) and says so.
fn cut_text(text: &mut String, keep: usize) {
    if let Some((at, _)) = text.char_indices().nth(keep) {
        let dropped = text[at..].chars().count();
        text.truncate(at);
        let _ = write!(text, "… [{dropped} characters cut]");
    }
}

fn level_rank(level: &str) -> u8 {
    match level {
        "error" => 4,
        "warn" => 3,
        "info" => 2,
        "debug" => 1,
        _ => 0,
    }
}

/// The last error, else the last warning, else the last event.
fn trigger_index(events: &[LogEvent]) -> Option<usize> {
    let last_at = |level: &str| events.iter().rposition(|e| e.level == level);
    last_at("error")
        .or_else(|| last_at("warn"))
        .or_else(|| events.len().checked_sub(1))
}

fn count_templates(
    events: &[LogEvent],
    ids: &[String],
    miner: &TemplateMiner,
    clusters: &[crate::templates::ClusterRef],
    indices: impl Iterator<Item = usize>,
    max: usize,
) -> Vec<TemplateCount> {
    let mut by_id: Vec<TemplateCount> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for i in indices {
        let event = &events[i];
        match position.get(ids[i].as_str()) {
            Some(&at) => {
                let t = &mut by_id[at];
                t.count += 1;
                if level_rank(&event.level) > level_rank(&t.level) {
                    t.level = event.level.clone();
                }
                t.last_seen = event.timestamp.clone();
            }
            None => {
                position.insert(&ids[i], by_id.len());
                by_id.push(TemplateCount {
                    id: ids[i].clone(),
                    template: miner.template(clusters[i]).template,
                    count: 1,
                    level: event.level.clone(),
                    first_seen: event.timestamp.clone(),
                    last_seen: event.timestamp.clone(),
                });
            }
        }
    }
    by_id.sort_by_key(|t| std::cmp::Reverse(t.count));
    by_id.truncate(max);
    by_id
}

fn field_text(event: &LogEvent, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        event.lookup(n).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    })
}

fn summary(trigger: &LogEvent, pattern: Option<&PatternMatch>) -> ErrorSummary {
    ErrorSummary {
        error_type: field_text(trigger, &["error_type", "kind", "error.type"])
            .or_else(|| pattern.map(|p| p.name.clone())),
        code: field_text(trigger, &["code", "error_code", "errno", "status"]),
        message: trigger.message.clone(),
        severity: pattern
            .and_then(|p| p.severity.clone())
            .unwrap_or_else(|| trigger.level.clone()),
        retryable: pattern.and_then(|p| p.retryable),
    }
}

fn process_info(input: &Input) -> Vec<(String, String)> {
    let mut info: Vec<(String, String)> = input.info.clone();
    let count = |level: &str| input.events.iter().filter(|e| e.level == level).count();
    let mut threads: Vec<&str> = input.events.iter().map(|e| e.thread.as_str()).collect();
    threads.sort_unstable();
    threads.dedup();
    info.push(("events".to_owned(), input.events.len().to_string()));
    info.push(("errors".to_owned(), count("error").to_string()));
    info.push(("warnings".to_owned(), count("warn").to_string()));
    info.push(("threads".to_owned(), threads.len().to_string()));
    if let (Some(first), Some(last)) = (input.events.first(), input.events.last()) {
        info.push(("from".to_owned(), first.timestamp.clone()));
        info.push(("to".to_owned(), last.timestamp.clone()));
    }
    info
}

fn prompts(
    trigger: &LogEvent,
    patterns: &[PatternMatch],
    repeats: u64,
    input: &Input,
) -> Vec<String> {
    let service = input.info("service").unwrap_or("the service");
    let mut prompts = vec![format!(
        "Using the causal chain, explain why {service} logged `{}` at {} in `{}`.",
        trigger.message, trigger.timestamp, trigger.target
    )];
    if let Some(top) = patterns.first() {
        prompts.push(format!(
            "The report matches the known failure mode \"{}\" with confidence {:.2}: does the evidence support it, and which of its suggestions applies here?",
            top.name, top.confidence
        ));
    }
    if repeats > 1 {
        prompts.push(format!(
            "This error occurred {repeats} times: what changed before the first occurrence?"
        ));
    }
    prompts
}

/// The report as Markdown, for a person or an LLM prompt.
pub fn format_markdown_report(report: &IncidentReport) -> String {
    let mut out = String::new();
    let t = &report.trigger;
    let _ = writeln!(out, "# Incident report: {} in `{}`\n", t.level, t.target);
    let _ = writeln!(
        out,
        "Source: {} (report schema {})\n",
        report.source, report.schema_version
    );
    let _ = writeln!(out, "## Trigger\n");
    write_event(&mut out, t);
    let s = &report.error_summary;
    let _ = writeln!(out, "\n## Error summary\n");
    if let Some(kind) = &s.error_type {
        let _ = writeln!(out, "- type: {kind}");
    }
    if let Some(code) = &s.code {
        let _ = writeln!(out, "- code: {code}");
    }
    let _ = writeln!(out, "- severity: {}", s.severity);
    if let Some(retryable) = s.retryable {
        let _ = writeln!(out, "- retryable: {}", if retryable { "yes" } else { "no" });
    }
    if !report.patterns.is_empty() {
        let _ = writeln!(out, "\n## Matched error patterns\n");
        for p in &report.patterns {
            let _ = writeln!(
                out,
                "### {} (`{}`), confidence {:.2}, {} event{}{}\n",
                p.name,
                p.id,
                p.confidence,
                p.matched_events,
                if p.matched_events == 1 { "" } else { "s" },
                if p.on_trigger {
                    ", matches the trigger"
                } else {
                    ""
                }
            );
            for s in &p.suggestions.immediate {
                let _ = writeln!(out, "- now: {s}");
            }
            for s in &p.suggestions.preventive {
                let _ = writeln!(out, "- later: {s}");
            }
        }
    }
    if !report.causal_chain.is_empty() {
        let _ = writeln!(out, "\n## Causal chain\n");
        for e in &report.causal_chain {
            write_event(&mut out, e);
        }
    }
    if !report.related_errors.is_empty() {
        let _ = writeln!(out, "\n## Related errors and warnings\n");
        for t in &report.related_errors {
            write_template(&mut out, t);
        }
    }
    if !report.templates.is_empty() {
        let _ = writeln!(out, "\n## Log templates\n");
        for t in &report.templates {
            write_template(&mut out, t);
        }
    }
    if !report.process.is_empty() {
        let _ = writeln!(out, "\n## Process\n");
        for (k, v) in &report.process {
            let _ = writeln!(out, "- {k}: {v}");
        }
    }
    if !report.prompts.is_empty() {
        let _ = writeln!(out, "\n## Suggested prompts\n");
        for (i, p) in report.prompts.iter().enumerate() {
            let _ = writeln!(out, "{}. {p}", i + 1);
        }
    }
    if let Some(truncated) = &report.truncated {
        let _ = writeln!(out, "\n## Truncated to {} tokens\n", truncated.max_tokens);
        for c in &truncated.sections {
            let _ = writeln!(out, "- {}: {} cut, {} kept", c.section, c.cut, c.kept);
        }
    }
    let _ = writeln!(out, "\n({} tokens)", report.tokens);
    out
}

fn write_event(out: &mut String, e: &ReportEvent) {
    let _ = write!(out, "- `{}` **{}** `{}`", e.timestamp, e.level, e.target);
    if !e.thread.is_empty() {
        let _ = write!(out, " [{}]", e.thread);
    }
    if let Some(relation) = &e.relation {
        let _ = write!(out, " ({relation})");
    }
    let _ = write!(out, ": {}", e.message);
    if !e.fields.is_empty() {
        let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(out, " {{{}}}", fields.join(", "));
    }
    if !e.spans.is_empty() {
        let _ = write!(out, " in {}", e.spans.join(" > "));
    }
    if let Some(location) = &e.location {
        let _ = write!(out, " at {location}");
    }
    out.push('\n');
}

fn write_template(out: &mut String, t: &TemplateCount) {
    let _ = writeln!(
        out,
        "- {}× [{}] `{}` (first {}, last {})",
        t.count, t.level, t.template, t.first_seen, t.last_seen
    );
}
