//! Trace and span identifiers, and the W3C `traceparent` header.
//!
//! Sizes follow W3C Trace Context (and OpenTelemetry): a trace id is 16 bytes, a span id 8,
//! both written as lower-case hex and never all zeros. A root span draws a random trace id;
//! every span draws a random span id. A span created from a [`TraceParent`] continues the
//! remote trace: it takes the trace id and records the remote span as its parent.

use std::fmt;
use std::str::FromStr;

/// A 128-bit trace id, shared by every span of one trace.
///
/// ```
/// use ttlog_core::TraceId;
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!("00000000000000000000000000000000".parse::<TraceId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(u128);

/// A 64-bit span id, unique within its trace.
///
/// ```
/// use ttlog_core::SpanId;
/// let id = SpanId::from_u64(0x00f067aa0ba902b7).unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

impl TraceId {
    /// A random, non-zero trace id.
    pub fn random() -> TraceId {
        loop {
            let id = fastrand::u128(..);
            if id != 0 {
                return TraceId(id);
            }
        }
    }

    /// The id with this value; `None` for zero, which W3C reserves for "invalid".
    pub fn from_u128(value: u128) -> Option<TraceId> {
        (value != 0).then_some(TraceId(value))
    }

    /// The id as a number.
    pub fn to_u128(self) -> u128 {
        self.0
    }

    /// The id as 16 big-endian bytes, as OpenTelemetry stores it.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

impl SpanId {
    /// A random, non-zero span id.
    pub fn random() -> SpanId {
        loop {
            let id = fastrand::u64(..);
            if id != 0 {
                return SpanId(id);
            }
        }
    }

    /// The id with this value; `None` for zero.
    pub fn from_u64(value: u64) -> Option<SpanId> {
        (value != 0).then_some(SpanId(value))
    }

    /// The id as a number.
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// The id as 8 big-endian bytes, as OpenTelemetry stores it.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Parses exactly `N` lower-case hex digits into a number.
fn parse_hex<const N: usize>(text: &str) -> Option<u128> {
    if text.len() != N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

impl FromStr for TraceId {
    type Err = TraceParentError;

    fn from_str(text: &str) -> Result<TraceId, TraceParentError> {
        parse_hex::<32>(text)
            .and_then(TraceId::from_u128)
            .ok_or(TraceParentError::TraceId)
    }
}

impl FromStr for SpanId {
    type Err = TraceParentError;

    fn from_str(text: &str) -> Result<SpanId, TraceParentError> {
        parse_hex::<16>(text)
            .and_then(|v| SpanId::from_u64(v as u64))
            .ok_or(TraceParentError::ParentId)
    }
}

/// A W3C Trace Context `traceparent` header: `00-<trace id>-<parent span id>-<flags>`.
///
/// Parse one from an incoming request to continue the caller's trace
/// ([`Span::continue_from`](crate::Span::continue_from)); format
/// [`current_traceparent`](crate::current_traceparent) into outgoing requests.
///
/// ```
/// use ttlog_core::TraceParent;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let parent: TraceParent = header.parse().unwrap();
/// assert!(parent.sampled());
/// assert_eq!(parent.to_string(), header);
///
/// // Malformed headers are an error, never a panic.
/// assert!("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01".parse::<TraceParent>().is_err());
/// assert!("garbage".parse::<TraceParent>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace the remote caller belongs to.
    pub trace_id: TraceId,
    /// The caller's span: the parent of the span that continues the trace.
    pub parent_id: SpanId,
    /// The trace flags; bit 0 is "sampled".
    pub flags: u8,
}

impl TraceParent {
    /// The flag bit that says the caller records this trace.
    pub const SAMPLED: u8 = 1;

    /// A header value for the span `span_id` of the trace `trace_id`, marked as sampled.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> TraceParent {
        TraceParent {
            trace_id,
            parent_id: span_id,
            flags: TraceParent::SAMPLED,
        }
    }

    /// Whether the caller marked the trace as sampled.
    pub fn sampled(&self) -> bool {
        self.flags & TraceParent::SAMPLED != 0
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    /// Parses a header value as W3C Trace Context level 1 specifies: version `00` must be
    /// exactly 55 characters; a later version may append `-`-separated data, which is
    /// ignored; version `ff`, upper-case hex and all-zero ids are rejected.
    fn from_str(header: &str) -> Result<TraceParent, TraceParentError> {
        let header = header.trim_matches([' ', '\t']);
        let version = header.get(..2).ok_or(TraceParentError::Length)?;
        let version = parse_hex::<2>(version).ok_or(TraceParentError::Version)? as u8;
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        if header.len() < 55 || (version == 0 && header.len() != 55) {
            return Err(TraceParentError::Length);
        }
        let bytes = header.as_bytes();
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(TraceParentError::Separator);
        }
        if header.len() > 55 && bytes[55] != b'-' {
            return Err(TraceParentError::Separator);
        }
        // The separators are ASCII, so these slices fall on character boundaries.
        let trace_id = header[3..35].parse()?;
        let parent_id = header[36..52].parse()?;
        let flags = parse_hex::<2>(&header[53..55]).ok_or(TraceParentError::Flags)? as u8;
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }
}

/// Why a `traceparent` header (or a trace or span id) was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceParentError {
    /// The header is too short, or too long for version `00`.
    Length,
    /// The version is not two lower-case hex digits, or is the forbidden `ff`.
    Version,
    /// A `-` separator is missing or misplaced.
    Separator,
    /// The trace id is not 32 lower-case hex digits, or is all zeros.
    TraceId,
    /// The parent span id is not 16 lower-case hex digits, or is all zeros.
    ParentId,
    /// The flags are not two lower-case hex digits.
    Flags,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceParentError::Length => {
                "malformed traceparent: expected 55 characters `00-<32 hex>-<16 hex>-<2 hex>`"
            }
            TraceParentError::Version => {
                "malformed traceparent: the version must be two lower-case hex digits other than `ff`"
            }
            TraceParentError::Separator => "malformed traceparent: misplaced `-` separator",
            TraceParentError::TraceId => {
                "malformed traceparent: the trace id must be 32 lower-case hex digits, not all zero"
            }
            TraceParentError::ParentId => {
                "malformed traceparent: the parent id must be 16 lower-case hex digits, not all zero"
            }
            TraceParentError::Flags => {
                "malformed traceparent: the flags must be two lower-case hex digits"
            }
        })
    }
}

impl std::error::Error for TraceParentError {}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trips() {
        let parsed: TraceParent = GOOD.parse().unwrap();
        assert_eq!(
            parsed.trace_id.to_u128(),
            0x4bf92f3577b34da6a3ce929d0e0e4736
        );
        assert_eq!(parsed.parent_id.to_u64(), 0x00f067aa0ba902b7);
        assert_eq!(parsed.flags, 1);
        assert_eq!(parsed.to_string(), GOOD);
        let fresh = TraceParent::new(TraceId::random(), SpanId::random());
        assert_eq!(fresh.to_string().parse::<TraceParent>().unwrap(), fresh);
    }

    #[test]
    fn accepts_future_versions_with_extra_data() {
        let header =
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        let parsed: TraceParent = header.parse().unwrap();
        assert_eq!(parsed.to_string(), GOOD);
    }

    #[test]
    fn rejects_malformed_headers() {
        let cases: &[(&str, TraceParentError)] = &[
            ("", TraceParentError::Length),
            ("0", TraceParentError::Length),
            ("00", TraceParentError::Length),
            (&GOOD[..54], TraceParentError::Length),
            (&format!("{GOOD}-extra"), TraceParentError::Length),
            (&GOOD.replacen("00", "ff", 1), TraceParentError::Version),
            (&GOOD.replacen("00", "0g", 1), TraceParentError::Version),
            (&GOOD.replace("4bf9", "4BF9"), TraceParentError::TraceId),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                TraceParentError::TraceId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                TraceParentError::ParentId,
            ),
            (&GOOD.replace("-01", "-0x"), TraceParentError::Flags),
            (&GOOD.replacen('-', "_", 1), TraceParentError::Separator),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                TraceParentError::Separator,
            ),
            // A multi-byte character where a separator belongs must not split a char.
            (
                "00é4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                TraceParentError::Separator,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                header.parse::<TraceParent>(),
                Err(*expected),
                "header {header:?}"
            );
        }
    }

    #[test]
    fn never_panics_on_arbitrary_input() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet = b"0123456789abcdefABCDEF- \t\xc3\xa9";
        for _ in 0..20_000 {
            let len = rng.usize(0..70);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = text.parse::<TraceParent>();
            }
            let mut good = GOOD.as_bytes().to_vec();
            let at = rng.usize(..good.len());
            good[at] = alphabet[rng.usize(..alphabet.len())];
            if let Ok(text) = std::str::from_utf8(&good) {
                let _ = text.parse::<TraceParent>();
            }
        }
    }
}
