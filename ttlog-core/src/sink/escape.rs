//! Control characters in user-supplied text, made visible for the text formats.
//!
//! `pretty` and `compact` are read on terminals and by line-oriented tools. A message
//! argument, a `%`/`?` value, a span or context field or a thread name that contains `\n`
//! could forge a second log line, and one that contains ESC could drive the terminal (the
//! class of RUSTSEC-2025-0055). Every control character (`char::is_control`: C0, DEL, C1) is
//! written as an escape instead: `\n`, `\r`, `\t`, or `\u{1b}`. JSON has its own escaping.

use std::fmt;
use std::io::Write as _;

/// A `fmt::Write` that appends to a `Vec<u8>` with control characters escaped.
pub(super) struct Escaped<'a>(pub(super) &'a mut Vec<u8>);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// Appends `s` to `out` with control characters escaped.
pub(super) fn escape_into(out: &mut Vec<u8>, s: &str) {
    // C1 controls are U+0080..U+009F, encoded as 0xC2 0x80..0x9F: 0xC2 sends the text to the
    // careful path (which also covers other characters starting with it, harmlessly).
    if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for c in s.chars() {
        match c {
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_pass_raw() {
        let mut out = Vec::new();
        escape_into(
            &mut out,
            "a\nFORGED\r\tb\x1b[2K\x1b[31mred\u{7f}\u{85}\u{9b}é¢\u{0}",
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "a\\nFORGED\\r\\tb\\u{1b}[2K\\u{1b}[31mred\\u{7f}\\u{85}\\u{9b}é¢\\u{0}"
        );
        assert!(!text.chars().any(char::is_control), "{text}");
    }

    #[test]
    fn plain_text_is_copied() {
        let mut out = Vec::new();
        escape_into(&mut out, "GET /orders 200 ✓");
        assert_eq!(out, "GET /orders 200 ✓".as_bytes());
    }
}
