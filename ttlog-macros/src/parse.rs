//! Parsing the arguments of `info!(…)` and friends.
//!
//! ```text
//! [prefix: <expr>, …] item, item, …
//! prefix := target | parent | name    each at most once, in any order, before the items
//! item := "message {} literal"        the message (at most one; anywhere)
//!       | key = [%|?] <expr>          a field (or, after the message, a named argument)
//!       | %key | ?key                 a field named after the variable
//!       | { item, … }                 a group of fields (tracing's syntax)
//!       | <expr>                      after the message: a positional argument; an identifier
//!                                     (or `a.b`) not needed by the message is a field
//! key  := ident(.ident)* | "string literal"
//! ```
//!
//! `message = value` without a literal message is the message, as in `tracing`.

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
#[derive(Clone)]
pub(crate) struct Key {
    /// The name; for a computed key, its expression as text (to tell keys apart).
    pub(crate) name: String,
    pub(crate) span: Span,
    /// `{ expr } = value`: a name computed by a constant expression (`tracing`'s form).
    pub(crate) computed: Option<Box<syn::ExprBlock>>,
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

/// The `target:`, `parent:` and `name:` given before the items.
#[derive(Clone, Default)]
pub(crate) struct Prefix {
    pub(crate) target: Option<Expr>,
    /// `&span`, `None` (a root), or an `Option<&Span>`.
    pub(crate) parent: Option<Expr>,
    /// Accepted for `tracing` compatibility; ttlog events have no names (see the docs).
    pub(crate) name: Option<Expr>,
    /// The level as the user wrote it (`event!(Level::INFO, …)`), referenced by the expansion
    /// so that the user's `use ttlog::Level` counts as used and the path is checked.
    pub(crate) level_path: Option<syn::Path>,
}

impl Prefix {
    /// Parses `key: expr,` entries while the input starts with one of the prefix keys.
    pub(crate) fn parse(input: ParseStream<'_>) -> syn::Result<Prefix> {
        let mut prefix = Prefix::default();
        while input.peek(Ident::peek_any) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let fork = input.fork();
            let ident = Ident::parse_any(&fork)?;
            let slot = match ident.to_string().as_str() {
                "target" => &mut prefix.target,
                "parent" => &mut prefix.parent,
                "name" => &mut prefix.name,
                _ => break,
            };
            if slot.is_some() {
                return Err(syn::Error::new(
                    ident.span(),
                    format!("`{ident}:` is given twice"),
                ));
            }
            Ident::parse_any(input)?;
            input.parse::<Token![:]>()?;
            *slot = Some(input.parse::<Expr>()?);
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(prefix)
    }
}

#[derive(Clone)]
pub(crate) struct EventInput {
    pub(crate) prefix: Prefix,
    pub(crate) items: Vec<Item>,
}

impl EventInput {
    /// Parses the items that follow `prefix`.
    pub(crate) fn parse_items(input: ParseStream<'_>, prefix: Prefix) -> syn::Result<Self> {
        let mut items = Vec::new();
        parse_items_into(input, &mut items)?;
        Ok(EventInput { prefix, items })
    }
}

/// Whether the input starts with `{ … } =`: a computed key rather than a group of fields.
fn peek_computed_key(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    let braced = (|| -> syn::Result<()> {
        let _content;
        syn::braced!(_content in fork);
        Ok(())
    })();
    braced.is_ok() && fork.peek(Token![=]) && !fork.peek(Token![==])
}

fn parse_items_into(input: ParseStream<'_>, items: &mut Vec<Item>) -> syn::Result<()> {
    while !input.is_empty() {
        if input.peek(syn::token::Brace) && !peek_computed_key(input) {
            // `{ a = 1, b.c = 2 }`: a group of fields, as `tracing` writes them.
            let content;
            syn::braced!(content in input);
            parse_items_into(&content, items)?;
        } else {
            items.push(parse_item(input)?);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

impl Parse for EventInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let prefix = Prefix::parse(input)?;
        EventInput::parse_items(input, prefix)
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

/// A field's value after `=`: `[%|?] expr`. `display(x)` and `debug(x)` (the helpers of
/// `tracing::field`, which `tracing`'s macros bring into scope) are read as `%x` and `?x`.
fn parse_value(input: ParseStream<'_>) -> syn::Result<(Sigil, Expr)> {
    let sigil = parse_sigil(input)?;
    let value: Expr = input.parse()?;
    if sigil == Sigil::Value
        && let Expr::Call(call) = &value
        && call.args.len() == 1
        && let Expr::Path(func) = &*call.func
        && func.qself.is_none()
        && let Some(ident) = func.path.get_ident()
    {
        let helper = match ident.to_string().as_str() {
            "display" => Some(Sigil::Display),
            "debug" => Some(Sigil::Debug),
            _ => None,
        };
        if let Some(helper) = helper {
            return Ok((helper, call.args[0].clone()));
        }
    }
    Ok((sigil, value))
}

/// A level written as a path: `Level::INFO`, `LogLevel::Info`, `tracing::Level::DEBUG`, or
/// a bare name; the result is the variant name of `LogLevel`.
pub(crate) fn parse_level(input: ParseStream<'_>) -> syn::Result<(Ident, syn::Path)> {
    let path: syn::Path = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a level such as `Level::INFO` or `LogLevel::Info`",
        )
    })?;
    let last = path.segments.last().expect("a path has a segment");
    let Some(name) = crate::span::level_from_name(&last.ident.to_string()) else {
        return Err(syn::Error::new_spanned(
            &path,
            "unknown level: expected `Level::TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR` \
             (or `LogLevel::Trace` …); a level must be written as such a path",
        ));
    };
    Ok((Ident::new(name, last.ident.span()), path))
}

/// A statement that refers to the level path the user wrote (`__tt` in scope).
pub(crate) fn level_path_check(path: Option<&syn::Path>) -> proc_macro2::TokenStream {
    match path {
        Some(path) => quote::quote!(const _: __tt::LogLevel = #path;),
        None => proc_macro2::TokenStream::new(),
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
    (fork.peek(Token![=]) && !fork.peek(Token![==]) && !fork.peek(Token![=>])).then_some(Key {
        name,
        span,
        computed: None,
    })
}

fn parse_item(input: ParseStream<'_>) -> syn::Result<Item> {
    // `{ CONST_NAME } = value`.
    if input.peek(syn::token::Brace) {
        let block: syn::ExprBlock = input.parse()?;
        input.parse::<Token![=]>()?;
        let (sigil, value) = parse_value(input)?;
        let key = Key {
            name: quote::ToTokens::to_token_stream(&block).to_string(),
            span: block.block.brace_token.span.join(),
            computed: Some(Box::new(block)),
        };
        return Ok(Item::Keyed { key, sigil, value });
    }
    // `"key" = value`, or the message.
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        if input.peek(Token![=]) && !input.peek(Token![==]) {
            input.parse::<Token![=]>()?;
            let (sigil, value) = parse_value(input)?;
            return Ok(Item::Keyed {
                key: Key {
                    computed: None,
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
                computed: None,
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
        let (sigil, value) = parse_value(input)?;
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
