//! `#[instrument]`: wraps a function's body in a span.
//!
//! ```text
//! #[instrument(name = "…", level = "debug" | Level, target = "…", skip(a, b), skip_all,
//!              fields(key = value, …), err, err(Debug), ret, ret(Display), crate = path)]
//! ```
//!
//! The span is created when the function is called, with the arguments of simple types
//! (integers, floats, `bool`, `char`, `&str`, `String`) as fields, never a `Debug` of anything
//! else (name those in `fields(..)`); it logs `"<name> started"` once entered and closes with
//! `"<name> closed"` and `duration_ns`. An `async fn` returns a future polled inside the span
//! on whichever thread runs it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat, ReturnType, Token, Type};

use crate::expand::expand_event;
use crate::parse::{EventInput, Item, Key, Prefix, Sigil};
use crate::push_error;
use crate::span::{SpanInput, expand_span, level_from_name};

/// How `err`/`ret` values are written.
#[derive(Clone, Copy)]
enum Style {
    Display,
    Debug,
}

#[derive(Default)]
pub(crate) struct Options {
    name: Option<LitStr>,
    level: Option<Ident>,
    target: Option<LitStr>,
    skip: Vec<Ident>,
    skip_all: bool,
    fields: Option<EventInput>,
    err: Option<Style>,
    ret: Option<Style>,
    krate: Option<syn::Path>,
}

fn parse_style(input: ParseStream<'_>, default: Style) -> syn::Result<Style> {
    if !input.peek(syn::token::Paren) {
        return Ok(default);
    }
    let content;
    syn::parenthesized!(content in input);
    let ident: Ident = content.parse()?;
    match ident.to_string().as_str() {
        "Display" => Ok(Style::Display),
        "Debug" => Ok(Style::Debug),
        _ => Err(syn::Error::new(
            ident.span(),
            "expected `Display` or `Debug`",
        )),
    }
}

/// Skips the rest of a malformed option, up to the next top-level comma.
fn skip_option(input: ParseStream<'_>) {
    while !input.is_empty() && !input.peek(Token![,]) {
        let _ = input.parse::<proc_macro2::TokenTree>();
    }
}

impl Parse for Options {
    /// Parses every option; an unknown, repeated or malformed option is reported and the
    /// others are still read, so that all mistakes show at once.
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        let mut errors = None;
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let key = Ident::parse_any(input)?;
            let name = key.to_string();
            if seen.contains(&name) {
                push_error(
                    &mut errors,
                    syn::Error::new(key.span(), format!("`{name}` is given twice")),
                );
                skip_option(input);
            } else {
                seen.push(name.clone());
                if let Err(err) = options.parse_option(&key, input) {
                    push_error(&mut errors, err);
                    skip_option(input);
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(options),
        }
    }
}

impl Options {
    fn parse_option(&mut self, key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
        let options = self;
        let name = key.to_string();
        match name.as_str() {
            "name" => {
                input.parse::<Token![=]>()?;
                options.name = Some(input.parse()?);
            }
            "target" => {
                input.parse::<Token![=]>()?;
                options.target = Some(input.parse()?);
            }
            "level" => {
                input.parse::<Token![=]>()?;
                let (text, span) = if input.peek(LitStr) {
                    let lit: LitStr = input.parse()?;
                    (lit.value(), lit.span())
                } else {
                    let path: syn::Path = input.parse()?;
                    let last = path.segments.last().expect("a path has a segment");
                    (last.ident.to_string(), path.span())
                };
                let Some(level) = level_from_name(&text) else {
                    return Err(syn::Error::new(
                        span,
                        format!(
                            "unknown level `{text}`: expected \"trace\", \"debug\", \"info\", \"warn\" or \"error\""
                        ),
                    ));
                };
                options.level = Some(Ident::new(level, span));
            }
            "skip" => {
                let content;
                syn::parenthesized!(content in input);
                let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                    &content,
                    Ident::parse_any,
                )?;
                options.skip.extend(names);
            }
            "skip_all" => options.skip_all = true,
            "fields" => {
                let content;
                syn::parenthesized!(content in input);
                let fields: EventInput = content.parse()?;
                for item in &fields.items {
                    if let Item::Message(lit) = item {
                        return Err(syn::Error::new(
                            lit.span(),
                            "`fields(..)` takes `key = value` pairs, not a message",
                        ));
                    }
                }
                options.fields = Some(fields);
            }
            "err" => options.err = Some(parse_style(input, Style::Display)?),
            "ret" => options.ret = Some(parse_style(input, Style::Debug)?),
            "crate" => {
                input.parse::<Token![=]>()?;
                options.krate = Some(if input.peek(LitStr) {
                    input.parse::<LitStr>()?.parse()?
                } else {
                    input.parse()?
                });
            }
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown `#[instrument]` option `{name}`: expected `name`, `level`, `target`, \
                         `skip(..)`, `skip_all`, `fields(..)`, `err`, `ret` or `crate`"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether an argument of type `ty` is recorded without being named in `fields(..)`.
fn is_simple(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) if p.path.is_ident("str") => true,
            inner => is_simple(inner),
        },
        Type::Paren(p) => is_simple(&p.elem),
        Type::Group(g) => is_simple(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(ident) = p.path.get_ident() else {
                return false;
            };
            matches!(
                ident.to_string().as_str(),
                "u8" | "u16"
                    | "u32"
                    | "u64"
                    | "u128"
                    | "usize"
                    | "i8"
                    | "i16"
                    | "i32"
                    | "i64"
                    | "i128"
                    | "isize"
                    | "f32"
                    | "f64"
                    | "bool"
                    | "char"
                    | "String"
            )
        }
        _ => false,
    }
}

/// What a function returns, for where the span goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Anything else: the body runs inside the span.
    Plain,
    /// `-> impl Future<…>`: the returned future is polled inside the span.
    ImplFuture,
    /// `-> Pin<Box<dyn Future<…> + …>>`, as `async-trait` writes methods: the same, boxed.
    BoxedFuture,
}

impl Shape {
    fn of(item: &ItemFn) -> Shape {
        if item.sig.asyncness.is_some() {
            return Shape::Plain;
        }
        let ReturnType::Type(_, ty) = &item.sig.output else {
            return Shape::Plain;
        };
        let mentions_future =
            |ty: &Type| quote!(#ty).into_iter().any(|t| t.to_string() == "Future");
        match &**ty {
            Type::ImplTrait(_) if mentions_future(ty) => Shape::ImplFuture,
            Type::Path(path)
                if path.path.segments.last().is_some_and(|s| s.ident == "Pin")
                    && mentions_future(ty) =>
            {
                Shape::BoxedFuture
            }
            _ => Shape::Plain,
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    quote!(#ty).into_iter().any(|t| t.to_string() == "impl")
}

/// What `#[instrument]` generates from, once the options are checked against the function.
struct Checked {
    krate: TokenStream,
    level: Ident,
    name: LitStr,
    target: Option<Expr>,
    /// The span's fields: the recorded arguments, then `fields(..)`.
    span_fields: Vec<Item>,
    err: Option<Style>,
    ret: Option<Style>,
    item: ItemFn,
}

/// Parse, check, generate: the attribute's three stages.
pub(crate) fn expand(options: Options, item: ItemFn) -> syn::Result<TokenStream> {
    generate(check(options, item)?)
}

/// Checks the options against the function (every `skip` name is an argument; all unknown
/// names are reported together) and decides the span's fields.
fn check(options: Options, item: ItemFn) -> syn::Result<Checked> {
    let krate = match &options.krate {
        Some(path) => quote!(#path),
        None => quote!(::ttlog),
    };
    let sig = &item.sig;
    let level = options
        .level
        .clone()
        .unwrap_or_else(|| Ident::new("Info", Span::call_site()));
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&sig.ident.unraw().to_string(), sig.ident.span()));

    // Arguments that can be recorded: plain identifiers.
    let mut args: Vec<(Ident, &Type)> = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input
            && let Pat::Ident(pat) = &*typed.pat
            && pat.subpat.is_none()
        {
            args.push((pat.ident.clone(), &typed.ty));
        }
    }
    let mut errors = None;
    let has_receiver = sig.receiver().is_some();
    for skipped in &options.skip {
        // `self` is never recorded; `skip(self)` is accepted as `tracing` accepts it.
        if skipped == "self" && has_receiver {
            continue;
        }
        if !args.iter().any(|(ident, _)| ident == skipped) {
            push_error(
                &mut errors,
                syn::Error::new(
                    skipped.span(),
                    format!("`skip`: the function has no argument `{skipped}`"),
                ),
            );
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    let mut items: Vec<Item> = Vec::new();
    let explicit: Vec<String> = options
        .fields
        .iter()
        .flat_map(|f| &f.items)
        .filter_map(|item| match item {
            Item::Keyed { key, .. } | Item::SigilShorthand { key, .. } => Some(key.name.clone()),
            Item::Bare(expr) => crate::parse::dotted_name(expr),
            Item::Message(_) => None,
        })
        .collect();
    if !options.skip_all {
        for (ident, ty) in &args {
            let key = ident.unraw().to_string();
            if options.skip.contains(ident) || !is_simple(ty) || explicit.contains(&key) {
                continue;
            }
            items.push(Item::Keyed {
                key: Key {
                    computed: None,
                    name: key,
                    span: ident.span(),
                },
                sigil: Sigil::Value,
                value: syn::parse_quote!(#ident),
            });
        }
    }
    if let Some(fields) = &options.fields {
        items.extend(fields.items.iter().cloned());
    }
    let target: Option<Expr> = options.target.as_ref().map(|t| syn::parse_quote!(#t));
    Ok(Checked {
        krate,
        level,
        name,
        target,
        span_fields: items,
        err: options.err,
        ret: options.ret,
        item,
    })
}

/// Generates the instrumented function.
fn generate(checked: Checked) -> syn::Result<TokenStream> {
    let Checked {
        krate,
        level,
        name,
        target,
        span_fields: items,
        err,
        ret,
        item,
    } = checked;
    let sig = &item.sig;
    let span = expand_span(
        &krate,
        SpanInput {
            target: target.clone(),
            parent: None,
            level: level.clone(),
            level_path: None,
            name: name.clone(),
            fields: EventInput {
                prefix: Prefix::default(),
                items,
            },
        },
    )?;

    // Events logged inside the span: started, and the outcome.
    let event = |level: &str, message: String, field: Option<(&str, Sigil, Expr)>| {
        let mut items = vec![Item::Message(LitStr::new(&message, name.span()))];
        if let Some((key, sigil, value)) = field {
            items.push(Item::Keyed {
                key: Key {
                    computed: None,
                    name: key.to_owned(),
                    span: Span::call_site(),
                },
                sigil,
                value,
            });
        }
        expand_event(
            krate.clone(),
            Ident::new(level, Span::call_site()),
            EventInput {
                prefix: Prefix {
                    target: target.clone(),
                    ..Prefix::default()
                },
                items,
            },
        )
    };
    let level_name = level.to_string();
    let started = event(&level_name, format!("{} started", name.value()), None)?;
    let started = quote! {
        if #krate::__private::span_events_enabled() {
            #started
        }
    };
    let value = format_ident!("__ttlog_value");
    let ret_event = match ret {
        Some(style) => Some(event(
            &level_name,
            format!("{} returned", name.value()),
            Some((
                "return",
                match style {
                    Style::Debug => Sigil::RawOrDebug,
                    Style::Display => Sigil::RawOrDisplay,
                },
                syn::parse_quote!(*#value),
            )),
        )?),
        None => None,
    };
    let err_event = match err {
        Some(style) => Some(event(
            "Error",
            format!("{} failed", name.value()),
            Some((
                "error",
                match style {
                    Style::Display => Sigil::Display,
                    Style::Debug => Sigil::Debug,
                },
                syn::parse_quote!(#value),
            )),
        )?),
        None => None,
    };
    let result = format_ident!("__ttlog_result");
    let outcome = match (&ret_event, &err_event) {
        (None, None) => quote!(),
        (Some(ret), None) => quote! {{ let #value = &#result; #ret }},
        (None, Some(err)) => quote! {
            if let ::core::result::Result::Err(#value) = &#result { #err }
        },
        (Some(ret), Some(err)) => quote! {
            match &#result {
                ::core::result::Result::Ok(#value) => #ret,
                ::core::result::Result::Err(#value) => #err,
            }
        },
    };

    let block = &item.block;
    let ret_ty = match &sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => Some(quote!(#ty)),
        ReturnType::Type(..) => None,
        ReturnType::Default => Some(quote!(())),
    };
    let shape = Shape::of(&item);
    let body = if matches!(shape, Shape::ImplFuture | Shape::BoxedFuture) {
        // The function builds a future (by hand, or through `async-trait`): its synchronous
        // part runs inside the span, and the future it returns is polled inside it.
        let future = quote_spanned! {block.span()=>
            #krate::__private::Instrument::in_span(
                async move {
                    #started
                    let #result = __ttlog_future.await;
                    #outcome
                    #result
                },
                __ttlog_span,
            )
        };
        let future = if shape == Shape::BoxedFuture {
            quote!(::std::boxed::Box::pin(#future))
        } else {
            future
        };
        quote_spanned! {block.span()=>
            let __ttlog_span = #span;
            let __ttlog_future = {
                let __ttlog_entered = __ttlog_span.enter();
                #block
            };
            #future
        }
    } else if sig.asyncness.is_some() {
        // Pins the block's return type to the declared one, so `?` inside infers its error
        // type as it does in the function itself.
        let pin_type = ret_ty.as_ref().map(|ty| {
            quote! {
                #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::let_unit_value)]
                if false {
                    let __ttlog_never: #ty = loop {};
                    return __ttlog_never;
                }
            }
        });
        quote_spanned! {block.span()=>
            let __ttlog_span = #span;
            #krate::__private::Instrument::in_span(
                async move {
                    #started
                    let #result = async move { #pin_type #block }.await;
                    #outcome
                    #result
                },
                __ttlog_span,
            )
            .await
        }
    } else if ret_event.is_some() || err_event.is_some() {
        let annotated = ret_ty.as_ref().map(|ty| quote!(-> #ty));
        quote_spanned! {block.span()=>
            let __ttlog_span = #span;
            let __ttlog_entered = __ttlog_span.enter();
            #started
            #[allow(clippy::redundant_closure_call)]
            let #result = (move || #annotated #block)();
            #outcome
            #result
        }
    } else {
        quote_spanned! {block.span()=>
            let __ttlog_span = #span;
            let __ttlog_entered = __ttlog_span.enter();
            #started
            #block
        }
    };
    let ItemFn {
        attrs, vis, sig, ..
    } = item;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}
