//! Parsing the arguments of `info!(…)` and friends.
//!
//! ```text
//! [target: <expr>,] item, item, …
//! item := "message {} literal"        the message (at most one; anywhere)
//!       | key = [%|?] <expr>          a field (or, after the message, a named argument)
//!       | %key | ?key                 a field named after the variable
//!       | <expr>                      after the message: a positional argument; an identifier
//!                                     (or `a.b`) not needed by the message is a field
//! key  := ident(.ident)* | "string literal"
//! ```

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token};

/// How a value is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sigil {
    /// Through `ttlog::Value` (typed: numbers stay numbers).
    Value,
    /// `%`: through `Display`.
    Display,
    /// `?`: through `Debug`.
    Debug,
    /// Raw when the type has a raw encoding (numbers, strings), else `Debug`: for
    /// `#[instrument(ret)]`, whose type the macro cannot see.
    RawOrDebug,
    /// As `RawOrDebug`, with `Display` for the others.
    RawOrDisplay,
}

/// A field or named argument's key, with the span to report errors at.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) span: Span,
}

#[derive(Clone)]
pub(crate) enum Item {
    Message(LitStr),
    Keyed {
        key: Key,
        sigil: Sigil,
        value: Expr,
    },
    /// `%a.b` or `?a`.
    SigilShorthand {
        key: Key,
        sigil: Sigil,
        value: Expr,
    },
    Bare(Expr),
}

#[derive(Clone)]
pub(crate) struct EventInput {
    pub(crate) target: Option<Expr>,
    pub(crate) items: Vec<Item>,
}

impl Parse for EventInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut target = None;
        if input.peek(Ident::peek_any) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let fork = input.fork();
            let ident = Ident::parse_any(&fork)?;
            if ident == "target" {
                Ident::parse_any(input)?;
                input.parse::<Token![:]>()?;
                target = Some(input.parse::<Expr>()?);
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
        }
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(parse_item(input)?);
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(EventInput { target, items })
    }
}

fn parse_sigil(input: ParseStream<'_>) -> syn::Result<Sigil> {
    if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        Ok(Sigil::Display)
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        Ok(Sigil::Debug)
    } else {
        Ok(Sigil::Value)
    }
}

/// `a.b.c` as a key name, if the tokens ahead are that followed by `=`.
fn peek_dotted_key(input: ParseStream<'_>) -> Option<Key> {
    let fork = input.fork();
    let first = Ident::parse_any(&fork).ok()?;
    let mut name = first.unraw().to_string();
    let span = first.span();
    while fork.peek(Token![.]) {
        fork.parse::<Token![.]>().ok()?;
        let next = Ident::parse_any(&fork).ok()?;
        name.push('.');
        name.push_str(&next.unraw().to_string());
    }
    (fork.peek(Token![=]) && !fork.peek(Token![==]) && !fork.peek(Token![=>]))
        .then_some(Key { name, span })
}

fn parse_item(input: ParseStream<'_>) -> syn::Result<Item> {
    // `"key" = value`, or the message.
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        if input.peek(Token![=]) && !input.peek(Token![==]) {
            input.parse::<Token![=]>()?;
            let sigil = parse_sigil(input)?;
            let value = input.parse()?;
            return Ok(Item::Keyed {
                key: Key {
                    name: lit.value(),
                    span: lit.span(),
                },
                sigil,
                value,
            });
        }
        return Ok(Item::Message(lit));
    }
    if input.peek(Token![=]) && !input.peek(Token![==]) {
        let eq = input.parse::<Token![=]>()?;
        return Err(syn::Error::new(
            eq.span,
            "missing field name before `=`: write `name = value`",
        ));
    }
    if input.peek(Token![%]) || input.peek(Token![?]) {
        let sigil = parse_sigil(input)?;
        let value: Expr = input.parse()?;
        let Some(name) = dotted_name(&value) else {
            return Err(syn::Error::new_spanned(
                &value,
                "a `%`/`?` value without a name must be a variable or `a.b` field access; otherwise name it: `name = %value`",
            ));
        };
        return Ok(Item::SigilShorthand {
            key: Key {
                name,
                span: value.span(),
            },
            sigil,
            value,
        });
    }
    if let Some(key) = peek_dotted_key(input) {
        // Consume the key tokens again, for real.
        Ident::parse_any(input)?;
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            Ident::parse_any(input)?;
        }
        input.parse::<Token![=]>()?;
        let sigil = parse_sigil(input)?;
        let value = input.parse()?;
        return Ok(Item::Keyed { key, sigil, value });
    }
    Ok(Item::Bare(input.parse()?))
}

/// `x` → "x", `a.b` → "a.b"; anything else has no name.
pub(crate) fn dotted_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            p.path.get_ident().map(|i| i.unraw().to_string())
        }
        Expr::Field(f) => {
            let base = dotted_name(&f.base)?;
            match &f.member {
                syn::Member::Named(ident) => Some(format!("{base}.{}", ident.unraw())),
                syn::Member::Unnamed(index) => Some(format!("{base}.{}", index.index)),
            }
        }
        _ => None,
    }
}
