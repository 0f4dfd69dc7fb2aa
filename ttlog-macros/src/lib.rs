//! Procedural macros of [ttlog](https://docs.rs/ttlog). Use them through the `ttlog` facade
//! (`ttlog::info!` and friends), which passes its own path in so that renamed dependencies
//! work; the output refers only to `ttlog::__private`.
//!
//! Each macro runs in three stages:
//!
//! 1. parse: the arguments into a syntax tree of the macro's own (`parse.rs` for events and
//!    the fields of spans; `span.rs`, `instrument.rs` and `derive.rs` for theirs), rejecting
//!    only what cannot be read;
//! 2. validate: the tree into a plan, where every rule is checked (duplicate fields, unused
//!    arguments, the message's placeholders in `format_string.rs`, `skip` names that are not
//!    arguments) and every violation is collected, so that all mistakes show at once
//!    (`expand::plan`, `instrument::expand`'s checks, `derive::field_plan`);
//! 3. expand: code generation from a valid plan only.
//!
//! Errors point at the user's tokens and say what to write instead. An event or span with an
//! error expands to the errors alone (so one mistake does not cascade into type errors);
//! `#[instrument]` emits the function unchanged beside its errors, so that its callers still
//! compile and the errors are the only ones.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Token};

/// Adds `err` to the errors collected so far.
pub(crate) fn push_error(errors: &mut Option<syn::Error>, err: syn::Error) {
    match errors {
        Some(first) => first.combine(err),
        None => *errors = Some(err),
    }
}

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
///
/// On a mistake in the options, the function is emitted unchanged beside the errors, so that
/// the errors are the only ones (its callers still compile).
#[proc_macro_attribute]
pub fn instrument(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = TokenStream2::from(item.clone());
    let options = syn::parse::<instrument::Options>(args);
    let function = syn::parse::<syn::ItemFn>(item);
    let result = match (options, function) {
        (Ok(options), Ok(function)) => instrument::expand(options, function),
        (options, Ok(_)) => Err(options.err().expect("the options failed")),
        (options, Err(_)) => {
            let mut err = syn::Error::new_spanned(
                &original,
                "`#[instrument]` goes on a function (or a method in an `impl` block)",
            );
            if let Err(more) = options {
                err.combine(more);
            }
            Err(err)
        }
    };
    match result {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let err = err.into_compile_error();
            quote::quote!(#original #err).into()
        }
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
