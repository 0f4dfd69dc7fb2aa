//! Log template mining: messages grouped into templates with their parameters masked
//! (`user <*> logged in from <*>`), online, in the manner of Drain (He et al., ICWS 2017) with
//! generic masking instead of per-dataset regexes.
//!
//! How a message finds its template:
//!
//! 1. It is split at whitespace into tokens, and each token's variable parts are masked as
//!    `<*>`: anything with a digit (numbers, sizes, durations, hex and ids such as
//!    `blk_-1608999687919862906` or `attempt_1445144423722_0020_m_000002_0`, addresses,
//!    times), paths, URLs and e-mail addresses. Punctuation around a value stays
//!    (`[pid:<*>]`, `size=<*>,`), so that different shapes stay apart.
//! 2. Messages with the same number of tokens and the same first token (or any first token,
//!    if it was masked) are compared with the templates of that group: the share of
//!    positions whose tokens are equal (positions already `<*>` match anything). The most
//!    similar template at or above the threshold (0.5 by default) takes the message, and the
//!    positions where they differ become `<*>`; otherwise the message starts a template of
//!    its own.
//!
//! A template's id is a hash of its text, so the same family gets the same id in every run
//! that ends with the same template. [`TemplateMiner::assign`] gives each message the final
//! template of its group (the second pass of `ttlog templates`).

use std::collections::HashMap;
use std::fmt;

/// The mask of a parameter.
pub const WILDCARD: &str = "<*>";

/// A template: its id, its text, and how many messages it took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Template {
    /// Stable id: 16 hex digits of a hash of the text.
    pub id: String,
    /// The text, tokens joined by single spaces, parameters as `<*>`.
    pub template: String,
    /// Messages this template took.
    pub count: u64,
}

/// Settings of a [`TemplateMiner`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinerConfig {
    /// Share of equal positions (0 to 1) from which a message joins a template.
    pub similarity: f64,
    /// Templates kept per group (length and first token); past it, the least used is
    /// forgotten.
    pub max_per_group: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            similarity: 0.5,
            max_per_group: 256,
        }
    }
}

/// A cluster of messages: its tokens (`None` for a parameter) and its count.
#[derive(Debug, Clone)]
struct Cluster {
    tokens: Vec<Option<Box<str>>>,
    count: u64,
    /// Merged into this other cluster of the group (which now stands for both).
    merged_into: Option<usize>,
}

impl Cluster {
    fn text(&self) -> String {
        let mut text = String::new();
        for (i, token) in self.tokens.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(token.as_deref().unwrap_or(WILDCARD));
        }
        text
    }
}

/// The handle of a cluster: its group and its place there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterRef {
    group: usize,
    index: usize,
}

/// Groups messages into templates, one message at a time.
///
/// ```
/// use ttlog_export::templates::TemplateMiner;
///
/// let mut miner = TemplateMiner::default();
/// miner.add("user alice logged in from 10.0.0.7");
/// miner.add("user bob logged in from 10.0.0.9");
/// miner.add("user carol logged in from 10.0.0.4");
/// miner.add("disk /dev/sda1 is 91% full");
/// let templates = miner.templates();
/// // A third name makes the position a parameter (two could be two different messages).
/// assert_eq!(templates[0].template, "user <*> logged in from <*>");
/// assert_eq!(templates[0].count, 3);
/// assert_eq!(templates[1].template, "disk <*> is <*> full");
/// ```
#[derive(Debug, Default)]
pub struct TemplateMiner {
    config: MinerConfig,
    /// By token count: the group's index.
    groups: HashMap<usize, usize>,
    clusters: Vec<Vec<Cluster>>,
    /// Clusters in order of creation, for a stable listing.
    order: Vec<ClusterRef>,
    tokens: Vec<Token>,
}

/// One token of a message, masked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    Param,
}

impl TemplateMiner {
    /// A miner with `config`.
    pub fn new(config: MinerConfig) -> TemplateMiner {
        TemplateMiner {
            config,
            ..TemplateMiner::default()
        }
    }

    /// Adds a message; returns the cluster that took it.
    pub fn add(&mut self, message: &str) -> ClusterRef {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &mut tokens);
        let found = self.add_tokens(&tokens);
        self.tokens = tokens;
        found
    }

    fn add_tokens(&mut self, tokens: &[Token]) -> ClusterRef {
        let group = match self.groups.get(&tokens.len()) {
            Some(&group) => group,
            None => {
                self.clusters.push(Vec::new());
                let group = self.clusters.len() - 1;
                self.groups.insert(tokens.len(), group);
                group
            }
        };
        let config = self.config;
        let clusters = &mut self.clusters[group];
        let full = clusters.len() >= config.max_per_group.max(1);
        let threshold = if full { 0.0 } else { config.similarity };
        let Some(best) = best_match(clusters, tokens, threshold) else {
            clusters.push(Cluster::of(tokens));
            let found = ClusterRef {
                group,
                index: clusters.len() - 1,
            };
            self.order.push(found);
            return found;
        };
        // Positions where the template has one word and the message another. Values (with
        // digits, paths, ...) are already parameters; a word becomes one once `VARIANTS`
        // different words were seen at that one position, the rest of the message being the
        // same. Until then each word keeps a template of its own: `Accepted password` and
        // `Accepted publickey` stay apart; `user alice`, `user bob`, `user carol` become
        // `user <*>`. Messages that differ in two words or more start a template of their own.
        let words = word_differences(&clusters[best.index].tokens, tokens);
        if words.is_empty() || full {
            absorb(&mut clusters[best.index], tokens);
            return ClusterRef {
                group,
                index: best.index,
            };
        }
        if let [position] = words[..] {
            let best_tokens = clusters[best.index].tokens.clone();
            let siblings: Vec<usize> = (0..clusters.len())
                .filter(|&i| {
                    i != best.index
                        && clusters[i].merged_into.is_none()
                        && only_differs_at(&best_tokens, &clusters[i].tokens, position)
                })
                .collect();
            let mut seen: Vec<&str> = siblings
                .iter()
                .filter_map(|&i| clusters[i].tokens[position].as_deref())
                .chain(best_tokens[position].as_deref())
                .chain(match &tokens[position] {
                    Token::Text(word) => Some(word.as_str()),
                    Token::Param => None,
                })
                .collect();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() >= VARIANTS {
                for &sibling in &siblings {
                    let count = clusters[sibling].count;
                    let other = clusters[sibling].as_tokens();
                    clusters[sibling].merged_into = Some(best.index);
                    let target = &mut clusters[best.index];
                    generalize(target, &other);
                    target.count += count;
                }
                absorb(&mut clusters[best.index], tokens);
                return ClusterRef {
                    group,
                    index: best.index,
                };
            }
        }
        clusters.push(Cluster::of(tokens));
        let found = ClusterRef {
            group,
            index: clusters.len() - 1,
        };
        self.order.push(found);
        found
    }

    /// The cluster `cluster` stands in now (itself, or the one it was merged into).
    fn resolve(&self, mut cluster: ClusterRef) -> ClusterRef {
        while let Some(index) = self.clusters[cluster.group][cluster.index].merged_into {
            cluster.index = index;
        }
        cluster
    }

    /// The template of a cluster as it is now.
    pub fn template(&self, cluster: ClusterRef) -> Template {
        let cluster = self.resolve(cluster);
        let cluster = &self.clusters[cluster.group][cluster.index];
        let text = cluster.text();
        Template {
            id: template_id(&text),
            template: text,
            count: cluster.count,
        }
    }

    /// The final template for `message`, without adding it: the template of its group that
    /// matches it best (every text token equal), or the message masked if none does.
    pub fn assign(&mut self, message: &str) -> Template {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &mut tokens);
        let found = self.groups.get(&tokens.len()).and_then(|&group| {
            let clusters = &self.clusters[group];
            best_match(clusters, &tokens, self.config.similarity).map(|best| ClusterRef {
                group,
                index: best.index,
            })
        });
        let template = match found {
            Some(cluster) => self.template(cluster),
            None => {
                let text = Cluster::of(&tokens).text();
                Template {
                    id: template_id(&text),
                    template: text,
                    count: 0,
                }
            }
        };
        self.tokens = tokens;
        template
    }

    /// Every template, in the order they were first seen.
    pub fn templates(&self) -> Vec<Template> {
        self.order
            .iter()
            .filter(|c| self.clusters[c.group][c.index].merged_into.is_none())
            .map(|&c| self.template(c))
            .collect()
    }
}

/// Different words seen at one position before it becomes a parameter.
const VARIANTS: usize = 3;

impl Cluster {
    fn of(tokens: &[Token]) -> Cluster {
        Cluster {
            tokens: tokens
                .iter()
                .map(|t| match t {
                    Token::Text(t) => Some(t.as_str().into()),
                    Token::Param => None,
                })
                .collect(),
            count: 1,
            merged_into: None,
        }
    }

    fn as_tokens(&self) -> Vec<Token> {
        self.tokens
            .iter()
            .map(|t| match t {
                Some(t) => Token::Text(t.to_string()),
                None => Token::Param,
            })
            .collect()
    }
}

/// Takes a message into a cluster: positions where they differ become parameters.
fn absorb(cluster: &mut Cluster, tokens: &[Token]) {
    generalize(cluster, tokens);
    cluster.count += 1;
}

fn generalize(cluster: &mut Cluster, tokens: &[Token]) {
    for (slot, token) in cluster.tokens.iter_mut().zip(tokens) {
        let same = matches!((&*slot, token), (Some(a), Token::Text(b)) if **a == **b);
        if !same {
            *slot = None;
        }
    }
}

/// The positions where the template has a word and the message another word.
fn word_differences(template: &[Option<Box<str>>], tokens: &[Token]) -> Vec<usize> {
    template
        .iter()
        .zip(tokens)
        .enumerate()
        .filter(
            |(_, (slot, token))| matches!((slot, token), (Some(a), Token::Text(b)) if **a != **b),
        )
        .map(|(i, _)| i)
        .collect()
}

/// Whether two templates have different words at `position` and agree (or one has a
/// parameter) everywhere else.
fn only_differs_at(a: &[Option<Box<str>>], b: &[Option<Box<str>>], position: usize) -> bool {
    a.iter().zip(b).enumerate().all(|(i, (x, y))| match (x, y) {
        (Some(x), Some(y)) if i == position => x != y,
        _ if i == position => false,
        (Some(x), Some(y)) => x == y,
        _ => true,
    })
}

/// The cluster a message matches best.
#[derive(Debug, Clone, Copy)]
struct Best {
    index: usize,
    similarity: f64,
    /// Text positions of the template that the message does not have.
    mismatches: usize,
}

/// The most similar live cluster, if its similarity is at least `threshold`: the share of
/// positions that are equal or a parameter of the template. A template that shares no text
/// token with the message is never similar (`<*> started` and `<*> stopped`).
fn best_match(clusters: &[Cluster], tokens: &[Token], threshold: f64) -> Option<Best> {
    let mut best: Option<Best> = None;
    for (index, cluster) in clusters.iter().enumerate() {
        if cluster.merged_into.is_some() {
            continue;
        }
        let mut equal = 0usize;
        let mut params = 0usize;
        for (slot, token) in cluster.tokens.iter().zip(tokens) {
            match (slot, token) {
                (None, _) => params += 1,
                (Some(a), Token::Text(b)) if **a == **b => equal += 1,
                _ => {}
            }
        }
        let texts = cluster.tokens.len() - params;
        let message_texts = tokens
            .iter()
            .filter(|t| matches!(t, Token::Text(_)))
            .count();
        if (texts > 0 && equal == 0) || (texts == 0 && message_texts > 0) {
            continue;
        }
        let similarity = (equal + params) as f64 / tokens.len().max(1) as f64;
        let mismatches = texts - equal;
        let better = match best {
            None => true,
            // Fewer differing words first, then the more similar.
            Some(b) => (mismatches, -similarity) < (b.mismatches, -b.similarity),
        };
        if similarity >= threshold && better {
            best = Some(Best {
                index,
                similarity,
                mismatches,
            });
        }
    }
    best
}

/// A stable id: FNV-1a (64 bits) of the text, as 16 hex digits.
pub fn template_id(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Splits `message` at whitespace and masks each token's variable parts.
fn tokenize(message: &str, out: &mut Vec<Token>) {
    out.clear();
    for raw in message.split_whitespace() {
        out.push(mask_token(raw));
    }
}

/// Whether a whole token is a value: a URL, a path, an e-mail address, or a host:port.
fn whole_value(token: &str) -> bool {
    let trimmed = token.trim_matches(|c: char| "\"'()[]{}<>,;".contains(c));
    trimmed.contains("://")
        || (trimmed.matches('/').count() >= 2 && !trimmed.contains('='))
        || (trimmed.starts_with('/') && trimmed.len() > 1)
        || (trimmed.contains('@') && trimmed.contains('.'))
}

/// Whether a part of a token is a parameter: a path, URL or address, or a part with a digit
/// that is not a short word with a version digit such as `ipv4`, `utf8`, `s3`.
fn is_param(part: &str) -> bool {
    if (part.starts_with('/') && part.len() > 1) || whole_value(part) {
        return true;
    }
    let digits = part.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let letters_then_digit = part.len() <= 5
        && digits <= 1
        && part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && part.bytes().last().is_some_and(|b| b.is_ascii_digit());
    !letters_then_digit
}

/// Masks the variable parts of one token, keeping the punctuation that frames them.
fn mask_token(token: &str) -> Token {
    if whole_value(token) {
        return Token::Param;
    }
    if !token.bytes().any(|b| b.is_ascii_digit()) && !token.contains("=/") {
        return Token::Text(token.to_owned());
    }
    // Split at framing punctuation and at `key=` / `key:` separators; mask parts that are
    // parameters.
    fn push_part(out: &mut String, part: &str) -> bool {
        if part.is_empty() {
            return false;
        }
        if !is_param(part) {
            out.push_str(part);
            return false;
        }
        if !out.ends_with(WILDCARD) {
            out.push_str(WILDCARD);
        }
        true
    }
    let mut out = String::with_capacity(token.len());
    let mut masked_any = false;
    let mut part_start = 0;
    for (i, b) in token.bytes().enumerate() {
        let separator = match b {
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>' | b'"' | b'\'' | b',' | b';'
            | b'=' => true,
            // `key:value`, but not `10.0.0.1:8080` or `12:30:01`.
            b':' => {
                i > part_start
                    && token[part_start..i]
                        .bytes()
                        .all(|c| c.is_ascii_alphabetic())
            }
            _ => false,
        };
        if separator {
            masked_any |= push_part(&mut out, &token[part_start..i]);
            out.push(b as char);
            part_start = i + 1;
        }
    }
    masked_any |= push_part(&mut out, &token[part_start..]);
    if out == WILDCARD {
        Token::Param
    } else if masked_any {
        Token::Text(out)
    } else {
        Token::Text(token.to_owned())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}", self.id, self.template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(message: &str) -> String {
        let mut tokens = Vec::new();
        tokenize(message, &mut tokens);
        tokens
            .iter()
            .map(|t| match t {
                Token::Text(t) => t.as_str(),
                Token::Param => WILDCARD,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn masking_keeps_the_shape_around_values() {
        assert_eq!(
            masked(
                "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010"
            ),
            "Receiving block <*> src: <*> dest: <*>"
        );
        assert_eq!(
            masked("sshd[24200]: session opened"),
            "sshd[<*>]: session opened"
        );
        assert_eq!(masked("size=123, took 12ms"), "size=<*>, took <*>");
        assert_eq!(
            masked("GET https://api.example.com/v1/items 200"),
            "GET <*> <*>"
        );
        assert_eq!(
            masked("using ipv4 and utf8 on s3"),
            "using ipv4 and utf8 on s3"
        );
        assert_eq!(masked("mail to ada@example.com"), "mail to <*>");
        assert_eq!(masked("pid:456 at 12:30:01"), "pid:<*> at <*>");
    }

    #[test]
    fn similar_messages_merge_and_different_ones_do_not() {
        let mut miner = TemplateMiner::default();
        let a = miner.add("Accepted password for root from 10.0.0.5 port 52814 ssh2");
        let b = miner.add("Accepted password for admin from 10.0.0.6 port 41000 ssh2");
        let c = miner.add("Connection closed by 10.0.0.7 port 22 [preauth]");
        let d = miner.add("Accepted publickey for root from 10.0.0.8 port 41200 ssh2");
        assert_ne!(a, b, "two names could still be two messages");
        let e = miner.add("Accepted password for deploy from 10.0.0.9 port 41300 ssh2");
        assert_eq!(
            miner.template(a),
            miner.template(e),
            "a third name makes a parameter"
        );
        assert_eq!(miner.template(b), miner.template(e));
        assert_ne!(a, c);
        assert_eq!(
            miner.template(a).template,
            "Accepted password for <*> from <*> port <*> ssh2"
        );
        assert_eq!(
            miner.template(d).template,
            "Accepted publickey for root from <*> port <*> ssh2",
            "one word apart, and only two such words: still its own template"
        );
    }

    #[test]
    fn ids_are_stable_hashes_of_the_text() {
        let mut one = TemplateMiner::default();
        let mut two = TemplateMiner::default();
        for m in ["job 17 finished in 3 s", "job 18 finished in 4 s"] {
            one.add(m);
        }
        two.add("job 99 finished in 1 s");
        assert_eq!(one.templates()[0].id, two.templates()[0].id);
        assert_eq!(
            one.templates()[0].id,
            template_id("job <*> finished in <*> s")
        );
    }

    #[test]
    fn all_parameter_templates_do_not_absorb_everything() {
        let mut miner = TemplateMiner::default();
        let a = miner.add("12 34 56");
        let b = miner.add("alpha beta gamma");
        assert_ne!(a, b);
    }
}
