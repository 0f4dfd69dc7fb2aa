//! Procedural macros of [ttlog](https://docs.rs/ttlog). Use them through the `ttlog` facade
//! (`ttlog::info!` and friends), which passes its own path in so that renamed dependencies
//! work; the output refers only to `ttlog::__private`.
//!
//! The stages are separate modules: `parse` (the macro's arguments), `format_string` (the
//! message, at compile time) and `expand` (code generation). Errors point at the user's
//! tokens and say what to write instead; after an error the macro emits nothing else, so one
//! mistake does not cascade into type errors.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Token};

mod derive;
mod expand;
mod format_string;
mod instrument;
mod parse;
mod span;

/// `(path) Level; arguments` as produced by the facade's `macro_rules!` wrappers; `_` for
/// the level means it comes inside, after the prefix (`event!(target: "t", Level::INFO, …)`).
struct Invocation {
    krate: TokenStream2,
    level: Ident,
    input: parse::EventInput,
}

impl Parse for Invocation {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        syn::parenthesized!(content in input);
        let krate: TokenStream2 = content.parse()?;
        if input.peek(Token![_]) {
            input.parse::<Token![_]>()?;
            input.parse::<Token![;]>()?;
            let mut prefix = parse::Prefix::parse(input)?;
            let (level, path) = parse::parse_level(input)?;
            prefix.level_path = Some(path);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            let input = parse::EventInput::parse_items(input, prefix)?;
            return Ok(Invocation {
                krate,
                level,
                input,
            });
        }
        let level: Ident = input.parse()?;
        input.parse::<Token![;]>()?;
        let input = input.parse()?;
        Ok(Invocation {
            krate,
            level,
            input,
        })
    }
}

/// `(path) Level; [target: …,] Level [, anything]` for `enabled!`.
struct EnabledInvocation {
    krate: TokenStream2,
    target: Option<syn::Expr>,
    level: Ident,
    level_path: syn::Path,
}

impl Parse for EnabledInvocation {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        syn::parenthesized!(content in input);
        let krate: TokenStream2 = content.parse()?;
        input.parse::<Token![;]>()?;
        let prefix = parse::Prefix::parse(input)?;
        for (given, what) in [(&prefix.parent, "parent"), (&prefix.name, "name")] {
            if let Some(expr) = given {
                return Err(syn::Error::new_spanned(
                    expr,
                    format!("`enabled!` takes `target:` and a level, not `{what}:`"),
                ));
            }
        }
        let (level, level_path) = parse::parse_level(input)?;
        // Field names may follow (as in `tracing`); ttlog's filter does not look at them.
        let _: TokenStream2 = input.parse()?;
        Ok(EnabledInvocation {
            krate,
            target: prefix.target,
            level,
            level_path,
        })
    }
}

/// Whether an event at a level (and target) would be logged. Not called directly: use
/// `ttlog::enabled!`.
#[doc(hidden)]
#[proc_macro]
pub fn __enabled(input: TokenStream) -> TokenStream {
    let invocation = syn::parse_macro_input!(input as EnabledInvocation);
    expand::expand_enabled(
        invocation.krate,
        invocation.level,
        &invocation.level_path,
        invocation.target,
    )
    .into()
}

/// Expands one event. Not called directly: use `ttlog::info!` and friends.
#[doc(hidden)]
#[proc_macro]
pub fn __event(input: TokenStream) -> TokenStream {
    let invocation = syn::parse_macro_input!(input as Invocation);
    match expand::expand_event(invocation.krate, invocation.level, invocation.input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.into_compile_error().into(),
    }
}

/// Expands one span. Not called directly: use `ttlog::span!` and friends.
#[doc(hidden)]
#[proc_macro]
pub fn __span(input: TokenStream) -> TokenStream {
    let invocation = syn::parse_macro_input!(input as span::SpanInvocation);
    match span::expand_span(&invocation.krate, invocation.input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.into_compile_error().into(),
    }
}

/// Runs the function inside a span named after it, with its simple arguments as fields.
/// See the `ttlog` crate's documentation of `instrument` for the options.
#[proc_macro_attribute]
pub fn instrument(args: TokenStream, item: TokenStream) -> TokenStream {
    let options = syn::parse_macro_input!(args as instrument::Options);
    let item = match syn::parse::<syn::ItemFn>(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let tokens = TokenStream2::from(item);
            return syn::Error::new_spanned(
                tokens,
                "`#[instrument]` goes on a function (or a method in an `impl` block)",
            )
            .into_compile_error()
            .into();
        }
    };
    match instrument::expand(options, item) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.into_compile_error().into(),
    }
}

/// Derives `ttlog::Fields` (and `ttlog::Value`) for a struct with named fields. See the
/// `ttlog` crate's documentation of `Fields` for the attributes.
#[proc_macro_derive(Fields, attributes(ttlog))]
pub fn derive_fields(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match derive::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.into_compile_error().into(),
    }
}
