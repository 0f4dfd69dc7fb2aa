//! Parsing a message's format string at compile time into literal pieces and placeholders.
//!
//! The syntax is `std::fmt`'s: `{}`, `{0}`, `{name}`, each with an optional `:spec`, and `{{`/
//! `}}` for braces. The spec is kept as written and handed back to `write!` in the generated
//! code, so rustc checks it against the argument's type. Only what ttlog must know is parsed
//! here: which argument a placeholder refers to, whether it formats with `Debug`, and the names
//! of runtime widths or precisions (`{:>width$}`).

/// Which argument a placeholder uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArgSel {
    /// `{}` or `{N}`: the N-th positional argument (implicit ones numbered in order).
    Index(usize),
    /// `{name}`: a named argument, or a variable captured from the scope.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    pub(crate) arg: ArgSel,
    /// The spec after `:`, as written (empty for none).
    pub(crate) spec: String,
    /// The spec asks for `Debug` (`?`, `#?`, `x?`…).
    pub(crate) debug: bool,
    /// Names used as `name$` widths or precisions.
    pub(crate) counts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    Placeholder(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormatString {
    pub(crate) pieces: Vec<Piece>,
}

impl FormatString {
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Placeholder(ph) => Some(ph),
            Piece::Literal(_) => None,
        })
    }

    /// How many positional arguments the string uses (highest index + 1).
    pub(crate) fn positional_count(&self) -> usize {
        self.placeholders()
            .filter_map(|p| match p.arg {
                ArgSel::Index(i) => Some(i + 1),
                ArgSel::Name(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether the string refers to `name` as an argument or a count.
    pub(crate) fn uses_name(&self, name: &str) -> bool {
        self.placeholders().any(|p| {
            matches!(&p.arg, ArgSel::Name(n) if n == name) || p.counts.iter().any(|c| c == name)
        })
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && s != "_"
}

/// Parses a format string; the error says what is wrong.
pub(crate) fn parse(input: &str) -> Result<FormatString, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut next_implicit = 0;
    let mut chars = input.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if matches!(chars.peek(), Some((_, '{'))) => {
                chars.next();
                literal.push('{');
            }
            '}' if matches!(chars.peek(), Some((_, '}'))) => {
                chars.next();
                literal.push('}');
            }
            '}' => {
                return Err(format!(
                    "unmatched `}}` at byte {at} of the format string (write `}}}}` for a literal brace)"
                ));
            }
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                if !closed {
                    return Err(format!(
                        "unclosed `{{` at byte {at} of the format string (write `{{{{` for a literal brace)"
                    ));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Placeholder(placeholder(&inner, &mut next_implicit)?));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(FormatString { pieces })
}

fn placeholder(inner: &str, next_implicit: &mut usize) -> Result<Placeholder, String> {
    let (arg, spec) = match inner.split_once(':') {
        Some((arg, spec)) => (arg.trim(), spec),
        None => (inner.trim(), ""),
    };
    let arg = if arg.is_empty() {
        *next_implicit += 1;
        ArgSel::Index(*next_implicit - 1)
    } else if let Ok(index) = arg.parse::<usize>() {
        ArgSel::Index(index)
    } else if is_identifier(arg.trim_start_matches("r#")) {
        ArgSel::Name(arg.trim_start_matches("r#").to_owned())
    } else {
        return Err(format!(
            "`{{{inner}}}` does not name an argument: use `{{}}`, `{{0}}` or `{{name}}`"
        ));
    };
    if spec.contains(".*") {
        return Err(
            "`.*` precision is not supported in ttlog messages; use a named precision (`{:.prec$}`)"
                .to_owned(),
        );
    }
    let mut counts = Vec::new();
    let mut word = String::new();
    for c in spec.chars() {
        if c == '$' {
            if word.is_empty() || word.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "positional width or precision (`{word}$`) is not supported in ttlog messages; use a named one (`width$`)"
                ));
            }
            counts.push(std::mem::take(&mut word));
        } else if c == '_' || c.is_alphanumeric() {
            word.push(c);
        } else {
            word.clear();
        }
    }
    Ok(Placeholder {
        arg,
        spec: spec.to_owned(),
        debug: spec.ends_with('?'),
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(arg: ArgSel, spec: &str) -> Piece {
        Piece::Placeholder(Placeholder {
            arg,
            spec: spec.to_owned(),
            debug: spec.ends_with('?'),
            counts: vec![],
        })
    }

    #[test]
    fn splits_literals_and_placeholders() {
        let f = parse("user {} logged in from {ip} ({0:#x}) {{ok}}").unwrap();
        assert_eq!(
            f.pieces,
            vec![
                Piece::Literal("user ".into()),
                ph(ArgSel::Index(0), ""),
                Piece::Literal(" logged in from ".into()),
                ph(ArgSel::Name("ip".into()), ""),
                Piece::Literal(" (".into()),
                ph(ArgSel::Index(0), "#x"),
                Piece::Literal(") {ok}".into()),
            ]
        );
        assert_eq!(f.positional_count(), 1);
        assert!(f.uses_name("ip"));
    }

    #[test]
    fn finds_debug_and_named_counts() {
        let f = parse("{:>width$.prec$} {:?}").unwrap();
        let phs: Vec<_> = f.placeholders().collect();
        assert_eq!(phs[0].counts, vec!["width".to_owned(), "prec".to_owned()]);
        assert!(phs[1].debug);
        assert_eq!(phs[1].arg, ArgSel::Index(1));
    }

    #[test]
    fn rejects_malformed_strings() {
        assert!(parse("{").unwrap_err().contains("unclosed"));
        assert!(parse("}").unwrap_err().contains("unmatched"));
        assert!(parse("{a b}").unwrap_err().contains("does not name"));
        assert!(parse("{:.*}").unwrap_err().contains("not supported"));
        assert!(parse("{:1$}").unwrap_err().contains("not supported"));
    }
}
