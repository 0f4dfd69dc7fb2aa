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
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Token};

use crate::expand::{
    CallsiteSpec, For, as_parent, bind_values, callsite_statics, encode_fields, field_names, plan,
};
use crate::parse::{EventInput, Item, Key, Prefix, Sigil, level_path_check, parse_level};

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
    /// `parent: &span` or `parent: None`.
    pub(crate) parent: Option<Expr>,
    pub(crate) level: Ident,
    /// The level as written, when the invocation gave one (see `Prefix::level_path`).
    pub(crate) level_path: Option<syn::Path>,
    pub(crate) name: LitStr,
    pub(crate) fields: EventInput,
}

/// Parses `[target: expr,] [parent: expr,] [Level,] "name", fields…` where the level is given
/// when `level` is `None` (the `span!` form) and fixed otherwise (`info_span!`).
pub(crate) fn parse_span_input(
    input: ParseStream<'_>,
    level: Option<Ident>,
) -> syn::Result<SpanInput> {
    let prefix = Prefix::parse(input)?;
    if let Some(name) = &prefix.name {
        return Err(syn::Error::new_spanned(
            name,
            "a span's name is its string literal: `span!(Level::INFO, \"checkout\")`",
        ));
    }
    let (level, level_path) = match level {
        Some(level) => (level, None),
        None if input.peek(LitStr) => (Ident::new("Info", Span::call_site()), None),
        None => {
            let (level, path) = parse_level(input)?;
            input.parse::<Token![,]>()?;
            (level, Some(path))
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
    let mut fields = EventInput::parse_items(input, Prefix::default())?;
    message_as_field(&mut fields.items)?;
    Ok(SpanInput {
        target: prefix.target,
        parent: prefix.parent,
        level,
        level_path,
        name,
        fields,
    })
}

/// A span has no message, but `tracing` accepts one after its fields (`span!(Level::INFO,
/// "load", path, "loading {}", path)`) and records it as the field `message`; so does ttlog.
/// The message and everything after it are its format arguments.
fn message_as_field(items: &mut Vec<Item>) -> syn::Result<()> {
    let Some(at) = items.iter().position(|i| matches!(i, Item::Message(_))) else {
        return Ok(());
    };
    let mut rest = items.split_off(at).into_iter();
    let Some(Item::Message(lit)) = rest.next() else {
        unreachable!("found above")
    };
    let mut args = Vec::new();
    for item in rest {
        args.push(match item {
            Item::Bare(expr) => quote!(#expr),
            Item::Keyed {
                key,
                sigil: Sigil::Value,
                value,
            } => {
                let name = Ident::new(&key.name, key.span);
                quote!(#name = #value)
            }
            Item::Message(other) => {
                return Err(syn::Error::new(
                    other.span(),
                    "a span takes one message, after its fields",
                ));
            }
            Item::Keyed { key, .. } | Item::SigilShorthand { key, .. } => {
                return Err(syn::Error::new(
                    key.span,
                    "fields go before a span's message; after it come its format arguments",
                ));
            }
        });
    }
    let key = Key {
        computed: None,
        name: "message".to_owned(),
        span: lit.span(),
    };
    if let Some(Item::Keyed { key: first, .. }) = items
        .iter()
        .find(|i| matches!(i, Item::Keyed { key, .. } if key.name == "message"))
    {
        return Err(syn::Error::new(
            first.span,
            "a span takes `message = …` or a message string after its fields, not both",
        ));
    }
    items.push(Item::Keyed {
        key,
        sigil: Sigil::Display,
        value: syn::parse_quote_spanned!(lit.span()=> ::core::format_args!(#lit #(, #args)*)),
    });
    Ok(())
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
        parent,
        level,
        level_path,
        name,
        fields,
    } = input;
    let target = match &target {
        Some(t) => quote!(#t),
        None => quote!(::core::module_path!()),
    };
    let plan = plan(fields, For::Span)?;
    let names = field_names(&plan);
    let encode = encode_fields(&plan);
    let check = level_path_check(level_path.as_ref());
    let closed = LitStr::new(&format!("{} closed", name.value()), name.span());
    let (new_span, parent_arg) = match &parent {
        None => (quote!(__tt::Span::new), quote!()),
        Some(parent) => (quote!(__tt::Span::new_with_parent), {
            let parent = as_parent(parent);
            quote!(#parent,)
        }),
    };
    let create = bind_values(
        &plan,
        quote! {
            #new_span(#parent_arg &__TTLOG_SPAN, &__TTLOG_CLOSE, |__enc: &mut __tt::Encoder<'_>| {
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
        field_names: &[quote!("duration_ns")],
        format_fn: quote!(::core::option::Option::None),
        span_close: true,
    });
    Ok(quote! {
        {
            use #krate::__private as __tt;
            #[allow(unused_imports)]
            use __tt::{EncodeFormattedArg as _, EncodeRawArg as _};
            #check
            #span_statics
            #close_statics
            if __tt::STATIC_MAX_LEVEL.enables(__tt::LogLevel::#level)
                && __TTLOG_SPAN.is_enabled()
            {
                #create
            } else {
                __tt::Span::none()
            }
        }
    })
}
