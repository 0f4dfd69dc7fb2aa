//! `span!` and friends: parsing and code generation.
//!
//! ```text
//! span!([target: <expr>,] [<level path>,] "name" [, field, …])
//! info_span!([target: <expr>,] "name" [, field, …])
//! ```
//!
//! Fields use the event syntax (`key = value`, `%value`, `?value`, shorthand). A span expands
//! to two `static` callsites (the span and its close event, `"<name> closed"` with
//! `duration_ns`), the enabled check, and `Span::new` with a closure encoding the fields;
//! a disabled span is `Span::none()` and evaluates nothing.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

use crate::expand::{
    CallsiteSpec, bind_values, callsite_statics, encode_fields, field_names, plan,
};
use crate::parse::{EventInput, Item};

/// The level names a span or `#[instrument]` accepts, as written in `LogLevel`.
pub(crate) const LEVELS: [&str; 5] = ["Trace", "Debug", "Info", "Warn", "Error"];

/// `Info` for `info`, `INFO`, `Info` (the last segment of a path, or a string).
pub(crate) fn level_from_name(name: &str) -> Option<&'static str> {
    LEVELS
        .iter()
        .find(|l| l.eq_ignore_ascii_case(name))
        .copied()
}

pub(crate) struct SpanInput {
    pub(crate) target: Option<Expr>,
    pub(crate) level: Ident,
    pub(crate) name: LitStr,
    pub(crate) fields: EventInput,
}

/// Parses `[target: expr,] [Level,] "name", fields…` where the level is given when `level`
/// is `None` (the `span!` form) and fixed otherwise (`info_span!`).
pub(crate) fn parse_span_input(
    input: ParseStream<'_>,
    level: Option<Ident>,
) -> syn::Result<SpanInput> {
    let mut target = None;
    if input.peek(Ident::peek_any) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
        let fork = input.fork();
        if Ident::parse_any(&fork)? == "target" {
            Ident::parse_any(input)?;
            input.parse::<Token![:]>()?;
            target = Some(input.parse::<Expr>()?);
            input.parse::<Token![,]>()?;
        }
    }
    let level = match level {
        Some(level) => level,
        None if input.peek(LitStr) => Ident::new("Info", Span::call_site()),
        None => {
            let path: syn::Path = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a level such as `LogLevel::Info`, then the span name",
                )
            })?;
            let last = path.segments.last().expect("a path has a segment");
            let Some(name) = level_from_name(&last.ident.to_string()) else {
                return Err(syn::Error::new_spanned(
                    &path,
                    "unknown level: expected `LogLevel::Trace`, `Debug`, `Info`, `Warn` or `Error`",
                ));
            };
            input.parse::<Token![,]>()?;
            Ident::new(name, last.ident.span())
        }
    };
    if !input.peek(LitStr) {
        return Err(input.error("expected the span name, a string literal: `span!(LogLevel::Info, \"checkout\", order_id)`"));
    }
    let name: LitStr = input.parse()?;
    if name.value().is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "the span name must not be empty",
        ));
    }
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    let fields: EventInput = input.parse()?;
    if let Some(target) = fields.target.as_ref() {
        return Err(syn::Error::new_spanned(
            target,
            "`target:` goes first: `span!(target: \"db\", LogLevel::Info, \"query\")`",
        ));
    }
    for item in &fields.items {
        if let Item::Message(lit) = item {
            return Err(syn::Error::new(
                lit.span(),
                "a span has one name; give other values a field name: `key = \"value\"`",
            ));
        }
    }
    Ok(SpanInput {
        target,
        level,
        name,
        fields,
    })
}

/// `(path) [Level]; arguments` from the facade's wrappers; `_` means "level given inside".
pub(crate) struct SpanInvocation {
    pub(crate) krate: TokenStream,
    pub(crate) input: SpanInput,
}

impl Parse for SpanInvocation {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        syn::parenthesized!(content in input);
        let krate: TokenStream = content.parse()?;
        let level = if input.peek(Token![_]) {
            input.parse::<Token![_]>()?;
            None
        } else {
            Some(input.parse::<Ident>()?)
        };
        input.parse::<Token![;]>()?;
        let input = parse_span_input(input, level)?;
        Ok(SpanInvocation { krate, input })
    }
}

/// The expression creating the span (a `ttlog::Span`).
pub(crate) fn expand_span(krate: &TokenStream, input: SpanInput) -> syn::Result<TokenStream> {
    let SpanInput {
        target,
        level,
        name,
        fields,
    } = input;
    let target = match &target {
        Some(t) => quote!(#t),
        None => quote!(::core::module_path!()),
    };
    let plan = plan(fields)?;
    let names = field_names(&plan);
    let encode = encode_fields(&plan);
    let closed = LitStr::new(&format!("{} closed", name.value()), name.span());
    let create = bind_values(
        &plan,
        quote! {
            __tt::Span::new(&__TTLOG_SPAN, &__TTLOG_CLOSE, |__enc: &mut __tt::Encoder<'_>| {
                #(#encode)*
            })
        },
    );
    let span_statics = callsite_statics(CallsiteSpec {
        name: "__TTLOG_SPAN",
        level: &level,
        target: &target,
        template: &name,
        arg_count: 0,
        field_names: &names,
        format_fn: quote!(::core::option::Option::None),
        span_close: false,
    });
    let close_statics = callsite_statics(CallsiteSpec {
        name: "__TTLOG_CLOSE",
        level: &level,
        target: &target,
        template: &closed,
        arg_count: 0,
        field_names: &["duration_ns"],
        format_fn: quote!(::core::option::Option::None),
        span_close: true,
    });
    Ok(quote! {
        {
            use #krate::__private as __tt;
            #[allow(unused_imports)]
            use __tt::{EncodeFormattedArg as _, EncodeRawArg as _};
            #span_statics
            #close_statics
            if __tt::STATIC_MAX_LEVEL.enables(__tt::LogLevel::#level)
                && __tt::level_enabled(__tt::LogLevel::#level)
                && __TTLOG_SPAN.is_enabled()
            {
                #create
            } else {
                __tt::Span::none()
            }
        }
    })
}
