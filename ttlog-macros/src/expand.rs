//! Code generation for the event macros.
//!
//! An event expands to a block holding two `static`s (the metadata and the callsite), the
//! enabled check (constant ceiling, one relaxed load, cached interest), and only then the
//! evaluation of the arguments, each by reference, and the call to `emit` with a closure that
//! encodes them. Message arguments come first, one slot per placeholder, then fields.
//! A second function, stored in the metadata, formats the message on the consumer thread.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr};

use crate::format_string::{self, ArgSel, FormatString, Piece};
use crate::parse::{EventInput, Item, Key, Sigil, dotted_name, level_path_check};

/// A value the expansion evaluates once, by reference.
struct Binding {
    ident: Ident,
    expr: TokenStream,
}

struct Field {
    key: Key,
    sigil: Sigil,
    binding: usize,
    /// The value expression's span, for errors about its type.
    span: Span,
    /// Given by its variable alone (`info!(attempt)`): a `Fields` struct spreads into the
    /// event's fields.
    shorthand: bool,
}

pub(crate) struct Plan {
    bindings: Vec<Binding>,
    fields: Vec<Field>,
    /// For each placeholder, the binding of its value and those of its named counts.
    args: Vec<(usize, Vec<(String, usize)>)>,
    message: Option<(LitStr, FormatString)>,
}

fn bind(bindings: &mut Vec<Binding>, expr: TokenStream) -> usize {
    // The binding carries the span of the user's expression, so type errors about the value
    // point at it; pattern and uses share the ident, so it resolves in any hygiene context.
    let span = expr
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    let ident = format_ident!("__ttlog_v{}", bindings.len(), span = span);
    bindings.push(Binding { ident, expr });
    bindings.len() - 1
}

/// What the values are planned for: an event's `message = value` is its message; a span's is
/// a field like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum For {
    Event,
    Span,
}

pub(crate) fn plan(input: EventInput, what: For) -> syn::Result<Plan> {
    let mut bindings = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut message: Option<(LitStr, FormatString)> = None;
    let mut positional: Vec<usize> = Vec::new();
    let mut named: BTreeMap<String, usize> = BTreeMap::new();

    // Binds the value and records the field, refusing a name given twice.
    let add_field = |fields: &mut Vec<Field>,
                     bindings: &mut Vec<Binding>,
                     key: Key,
                     sigil: Sigil,
                     value: &Expr,
                     shorthand: bool|
     -> syn::Result<()> {
        if let Some(first) = fields.iter().find(|f| f.key.name == key.name) {
            let mut err = syn::Error::new(
                key.span,
                format!(
                    "duplicate field `{}`: each field name may appear once",
                    key.name
                ),
            );
            err.combine(syn::Error::new(first.key.span, "first given here"));
            return Err(err);
        }
        let span = value.span();
        let binding = bind(bindings, quote!(#value));
        fields.push(Field {
            key,
            sigil,
            binding,
            span,
            shorthand,
        });
        Ok(())
    };

    // `message = value` is the message when no literal message is given (`tracing`'s form).
    let message_field =
        what == For::Event && !input.items.iter().any(|i| matches!(i, Item::Message(_)));
    // Each item is checked on its own: every mistake is reported, not only the first.
    let mut errors: Option<syn::Error> = None;
    for (index, item) in input.items.into_iter().enumerate() {
        // A message that cannot be read leaves its arguments unreadable: stop there rather
        // than report each of them as a stray value.
        let is_message = matches!(item, Item::Message(_)) && message.is_none();
        let item_plan = || -> syn::Result<()> {
            let item = match item {
                Item::Message(lit) if message.is_some() => Item::Bare(Expr::Lit(syn::ExprLit {
                    attrs: Vec::new(),
                    lit: syn::Lit::Str(lit),
                })),
                Item::Keyed { key, sigil, value } | Item::SigilShorthand { key, sigil, value }
                    if key.name == "message" && message_field && message.is_none() =>
                {
                    message = Some(message_from_field(&key, sigil, &value, &mut |expr| {
                        positional.push(bind(&mut bindings, expr));
                    })?);
                    return Ok(());
                }
                other => other,
            };
            match item {
                Item::Message(lit) => {
                    let parsed = format_string::parse(&lit.value())
                        .map_err(|msg| syn::Error::new(lit.span(), msg))?;
                    message = Some((lit, parsed));
                }
                Item::Keyed { key, sigil, value } => {
                    let used = message
                        .as_ref()
                        .is_some_and(|(_, f)| f.uses_name(&key.name));
                    if used {
                        if sigil != Sigil::Value {
                            return Err(syn::Error::new(
                                key.span,
                                "a named message argument takes no `%` or `?`: the placeholder's spec says how to format it",
                            ));
                        }
                        if named.contains_key(&key.name) {
                            return Err(syn::Error::new(
                                key.span,
                                format!("duplicate argument `{}`", key.name),
                            ));
                        }
                        let b = bind(&mut bindings, quote!(#value));
                        named.insert(key.name, b);
                    } else {
                        add_field(&mut fields, &mut bindings, key, sigil, &value, false)?;
                    }
                }
                Item::SigilShorthand { key, sigil, value } => {
                    add_field(&mut fields, &mut bindings, key, sigil, &value, false)?;
                }
                Item::Bare(expr) => {
                    let wanted = message.as_ref().map_or(0, |(_, f)| f.positional_count());
                    if message.is_some() && positional.len() < wanted {
                        positional.push(bind(&mut bindings, quote!(#expr)));
                        return Ok(());
                    }
                    // `true` alone is a field named "true" in `tracing` (its macros read the
                    // keyword as an identifier); ttlog follows.
                    let name = dotted_name(&expr).or_else(|| match &expr {
                        Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Bool(b),
                            ..
                        }) => Some(b.value.to_string()),
                        _ => None,
                    });
                    match name {
                        Some(name) => {
                            let key = Key {
                                name,
                                span: expr.span(),
                                computed: None,
                            };
                            let shorthand = matches!(expr, Expr::Path(_));
                            add_field(
                                &mut fields,
                                &mut bindings,
                                key,
                                Sigil::Value,
                                &expr,
                                shorthand,
                            )?;
                        }
                        None if message.is_none() && index == 0 => {
                            return Err(syn::Error::new_spanned(
                                &expr,
                                "the message must be a string literal, e.g. `info!(\"user {} logged in\", id)`; \
                                 to log a computed string, make it a field: `text = %value`",
                            ));
                        }
                        None if message.is_some() => {
                            return Err(syn::Error::new_spanned(
                                &expr,
                                format!(
                                    "argument never used: the message has {wanted} positional placeholder(s); \
                                     to log this value as a field, name it: `name = value`"
                                ),
                            ));
                        }
                        None => {
                            return Err(syn::Error::new_spanned(
                                &expr,
                                "missing field name: write `name = value` (or use a plain variable, whose name becomes the key)",
                            ));
                        }
                    }
                }
            }
            Ok(())
        };
        if let Err(err) = item_plan() {
            crate::push_error(&mut errors, err);
            if is_message {
                break;
            }
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }

    let mut args = Vec::new();
    if let Some((lit, format)) = &message {
        let wanted = format.positional_count();
        if positional.len() < wanted {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "the message uses {wanted} positional argument(s) but {} {} given",
                    positional.len(),
                    if positional.len() == 1 { "was" } else { "were" }
                ),
            ));
        }
        // Names not given as arguments are captured from the scope, like `format!` does.
        let mut resolve = |name: &str, bindings: &mut Vec<Binding>| -> usize {
            if let Some(&b) = named.get(name) {
                return b;
            }
            let ident = Ident::new(name, lit.span());
            let b = bind(bindings, quote!(#ident));
            named.insert(name.to_owned(), b);
            b
        };
        for placeholder in format.placeholders() {
            let value = match &placeholder.arg {
                ArgSel::Index(i) => positional[*i],
                ArgSel::Name(name) => resolve(name, &mut bindings),
            };
            let counts = placeholder
                .counts
                .iter()
                .map(|c| (c.clone(), resolve(c, &mut bindings)))
                .collect();
            args.push((value, counts));
        }
    }
    Ok(Plan {
        bindings,
        fields,
        args,
        message,
    })
}

/// The message given as a field, `message = value`: a string literal is the message as is
/// (its braces are not placeholders); any other value is formatted with `{}` (`{:?}` for
/// `?value`), and `push` receives it as the positional argument.
fn message_from_field(
    key: &Key,
    sigil: Sigil,
    value: &Expr,
    push: &mut dyn FnMut(TokenStream),
) -> syn::Result<(LitStr, FormatString)> {
    let lit = match (value, sigil) {
        (
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }),
            Sigil::Value | Sigil::Display,
        ) => LitStr::new(
            &text.value().replace('{', "{{").replace('}', "}}"),
            text.span(),
        ),
        (_, sigil) => {
            push(quote!(#value));
            let spec = if sigil == Sigil::Debug { "{:?}" } else { "{}" };
            LitStr::new(spec, key.span)
        }
    };
    let parsed =
        format_string::parse(&lit.value()).map_err(|msg| syn::Error::new(lit.span(), msg))?;
    Ok((lit, parsed))
}

/// Which `fmt` trait a spec selects, for formatting raw values on the consumer.
fn consumer_format(spec: &str, debug: bool) -> TokenStream {
    let pattern = LitStr::new(&format!("{{:{spec}}}"), Span::call_site());
    if debug {
        return quote!(|__w, __v| ::core::write!(__w, #pattern, __tt::debug_arg(__v)));
    }
    match spec.chars().last() {
        Some('p') => quote!(|__w, __v| ::core::write!(__w, "{}", __v)),
        _ => quote!(|__w, __v| ::core::write!(__w, #pattern, __v)),
    }
}

/// What a callsite's `static`s are made of.
pub(crate) struct CallsiteSpec<'a> {
    /// The name of the callsite `static`; its metadata is `<name>_META`.
    pub(crate) name: &'a str,
    pub(crate) level: &'a Ident,
    pub(crate) target: &'a TokenStream,
    pub(crate) template: &'a LitStr,
    pub(crate) arg_count: usize,
    pub(crate) field_names: &'a [TokenStream],
    pub(crate) format_fn: TokenStream,
    /// The close event of a span.
    pub(crate) span_close: bool,
}

/// The `static` metadata and callsite of one event or span (`__tt` must be in scope).
pub(crate) fn callsite_statics(spec: CallsiteSpec<'_>) -> TokenStream {
    let CallsiteSpec {
        name,
        level,
        target,
        template,
        arg_count,
        field_names,
        format_fn,
        span_close,
    } = spec;
    let callsite = Ident::new(name, Span::call_site());
    let meta = format_ident!("{}_META", name);
    let kind = span_close.then(|| quote!(.span_close()));
    quote! {
        static #meta: __tt::Metadata<'static> = __tt::Metadata::new(
            __tt::LogLevel::#level,
            #target,
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
            #template,
            #arg_count,
            &[#(#field_names),*],
            #format_fn,
        )#kind;
        static #callsite: __tt::Callsite = __tt::Callsite::new(&#meta);
    }
}

/// The statements that encode the plan's fields through `__enc`.
pub(crate) fn encode_fields(plan: &Plan) -> Vec<TokenStream> {
    // Call-site identifiers interpolated into user-spanned code keep their own hygiene, so the
    // spans (and the errors) point at the user's expression while the names still resolve.
    let enc = Ident::new("__enc", Span::call_site());
    plan.fields
        .iter()
        .map(|field| {
            let v = &plan.bindings[field.binding].ident;
            let span = field.span;
            match field.sigil {
                Sigil::Value if field.shorthand => {
                    quote_spanned!(span=> __tt::Value::__encode_shorthand(#v, #enc);)
                }
                Sigil::Value => quote_spanned!(span=> __tt::Value::encode(#v, #enc);),
                Sigil::Display => quote_spanned!(span=> #enc.display(#v);),
                Sigil::Debug => quote_spanned!(span=> #enc.debug(#v);),
                Sigil::RawOrDebug => quote_spanned! {span=>
                    (&__tt::ArgRef(#v)).__encode_arg(#enc, |__w, __v| ::core::write!(__w, "{:?}", __v));
                },
                Sigil::RawOrDisplay => quote_spanned! {span=>
                    (&__tt::ArgRef(#v)).__encode_arg(#enc, |__w, __v| ::core::write!(__w, "{}", __v));
                },
            }
        })
        .collect()
}

/// Each value's [`Plain`](ttlog_core) form, in encoding order (message arguments first, then
/// fields), for `try_plain`: a value that is not plain (formatted with `%`/`?`, a
/// placeholder with a width or precision argument, any other type) says `Other`, which makes
/// the event take the encoder's path.
pub(crate) fn plain_values(plan: &Plan) -> Vec<TokenStream> {
    let other = quote!(__tt::Plain::Other);
    let args = plan.args.iter().map(|(value, counts)| {
        let v = &plan.bindings[*value].ident;
        if counts.is_empty() {
            quote!((&__tt::ArgRef(#v)).__plain_arg())
        } else {
            other.clone()
        }
    });
    let fields = plan.fields.iter().map(|field| {
        let v = &plan.bindings[field.binding].ident;
        match field.sigil {
            Sigil::Value => quote!((&__tt::PlainProbe(#v)).__plain_value()),
            Sigil::Display | Sigil::Debug => other.clone(),
            Sigil::RawOrDebug | Sigil::RawOrDisplay => quote!((&__tt::ArgRef(#v)).__plain_arg()),
        }
    });
    args.chain(fields).collect()
}

/// The field names, in encoding order.
pub(crate) fn field_names(plan: &Plan) -> Vec<TokenStream> {
    plan.fields
        .iter()
        .map(|f| match &f.key.computed {
            Some(block) => quote!(#block),
            None => {
                let name = LitStr::new(&f.key.name, f.key.span);
                quote!(#name)
            }
        })
        .collect()
}

/// `body` with each value bound by reference first (evaluated once, in order).
pub(crate) fn bind_values(plan: &Plan, body: TokenStream) -> TokenStream {
    let idents: Vec<&Ident> = plan.bindings.iter().map(|b| &b.ident).collect();
    let exprs: Vec<&TokenStream> = plan.bindings.iter().map(|b| &b.expr).collect();
    if idents.is_empty() {
        body
    } else {
        quote! {
            match (#(&(#exprs),)*) {
                (#(#idents,)*) => { #body }
            }
        }
    }
}

pub(crate) fn expand_event(
    krate: TokenStream,
    level: Ident,
    input: EventInput,
) -> syn::Result<TokenStream> {
    let level_name = level.to_string();
    if !["Trace", "Debug", "Info", "Warn", "Error"].contains(&level_name.as_str()) {
        return Err(syn::Error::new(level.span(), "unknown level"));
    }
    let target = match &input.prefix.target {
        Some(t) => quote!(#t),
        None => quote!(::core::module_path!()),
    };
    let parent = input.prefix.parent.clone();
    let check = level_path_check(input.prefix.level_path.as_ref());
    let plan = plan(input, For::Event)?;

    let template = plan
        .message
        .as_ref()
        .map_or_else(String::new, |(lit, _)| lit.value());
    let arg_count = plan.args.len();
    let field_names = field_names(&plan);

    // The consumer-side message formatter.
    // Without braces (no placeholders, no `{{`/`}}` escapes) the template is the message.
    let verbatim = !template.contains(['{', '}']);
    let format_fn = match &plan.message {
        Some((_, format)) if !verbatim => {
            let mut steps = Vec::new();
            let mut slot = 0usize;
            for piece in &format.pieces {
                match piece {
                    Piece::Literal(text) => steps.push(quote!(__out.write_str(#text)?;)),
                    Piece::Placeholder(ph) => {
                        let write = if ph.counts.is_empty() {
                            consumer_format(&ph.spec, ph.debug)
                        } else {
                            quote!(|__w, __v| ::core::write!(__w, "{}", __v))
                        };
                        steps.push(quote!(__tt::write_arg(__out, __args, #slot, #write)?;));
                        slot += 1;
                    }
                }
            }
            quote! {
                ::core::option::Option::Some({
                    fn __ttlog_format(
                        __out: &mut dyn ::core::fmt::Write,
                        __args: &[__tt::ValueRef<'_>],
                    ) -> ::core::fmt::Result {
                        #(#steps)*
                        ::core::result::Result::Ok(())
                    }
                    __ttlog_format as __tt::FormatFn
                })
            }
        }
        _ => quote!(::core::option::Option::None),
    };

    // The caller-side encoding: arguments (one per placeholder), then fields.
    let mut encode = Vec::new();
    let placeholders: Vec<_> = plan
        .message
        .as_ref()
        .map(|(_, f)| f.placeholders().cloned().collect())
        .unwrap_or_default();
    for ((value, counts), ph) in plan.args.iter().zip(&placeholders) {
        let v = &plan.bindings[*value].ident;
        let pattern = LitStr::new(&format!("{{:{}}}", ph.spec), Span::call_site());
        if counts.is_empty() {
            encode.push(quote! {
                (&__tt::ArgRef(#v)).__encode_arg(__enc, |__w, __v| ::core::write!(__w, #pattern, __v));
            });
        } else {
            let names: Vec<Ident> = counts
                .iter()
                .map(|(n, _)| Ident::new(n, Span::call_site()))
                .collect();
            let values: Vec<&Ident> = counts
                .iter()
                .map(|(_, b)| &plan.bindings[*b].ident)
                .collect();
            encode.push(quote! {
                __tt::EncodeFormattedArg::__encode_arg(
                    &&__tt::ArgRef(#v),
                    __enc,
                    |__w, __v| ::core::write!(__w, #pattern, __v, #(#names = *#values),*),
                );
            });
        }
    }
    encode.extend(encode_fields(&plan));
    let parent_arg = parent.as_ref().map(as_parent);
    let emit = match &parent {
        None => {
            let plain = plain_values(&plan);
            // The closure only in the fallback branch: built before the plain path, its
            // captures would be stored on every event.
            quote!(if !__tt::try_plain(&__TTLOG_CALLSITE, [#(#plain),*]) {
                __tt::emit_encoded(
                    &__TTLOG_CALLSITE,
                    |__enc: &mut __tt::Encoder<'_>| {
                        #(#encode)*
                    },
                );
            })
        }
        Some(_) => quote!(__tt::emit_with_parent(
            &__TTLOG_CALLSITE,
            #parent_arg,
            |__enc: &mut __tt::Encoder<'_>| {
                #(#encode)*
            },
        );),
    };
    let body = bind_values(&plan, emit);

    let statics = callsite_statics(CallsiteSpec {
        name: "__TTLOG_CALLSITE",
        level: &level,
        target: &target,
        template: &LitStr::new(&template, Span::call_site()),
        arg_count,
        field_names: &field_names,
        format_fn,
        span_close: false,
    });
    Ok(quote! {
        {
            use #krate::__private as __tt;
            #[allow(unused_imports)]
            use __tt::{EncodeFormattedArg as _, EncodeRawArg as _, PlainOther as _, PlainValue as _};
            #check
            #statics
            if __tt::STATIC_MAX_LEVEL.enables(__tt::LogLevel::#level)
                && __TTLOG_CALLSITE.is_enabled()
            {
                #body
            }
        }
    })
}

/// `parent:`'s value as an `Option<&Span>`; a type error points at the user's expression.
pub(crate) fn as_parent(parent: &Expr) -> TokenStream {
    quote_spanned!(parent.span()=> __tt::AsParent::__as_parent(&(#parent)))
}

/// `enabled!`: whether an event at `level` (for `target`) would be logged now. Its own
/// callsite caches the filter's answer, as an event's does.
pub(crate) fn expand_enabled(
    krate: TokenStream,
    level: Ident,
    level_path: &syn::Path,
    target: Option<Expr>,
) -> TokenStream {
    let check = level_path_check(Some(level_path));
    let target = match &target {
        Some(t) => quote!(#t),
        None => quote!(::core::module_path!()),
    };
    let statics = callsite_statics(CallsiteSpec {
        name: "__TTLOG_CALLSITE",
        level: &level,
        target: &target,
        template: &LitStr::new("", Span::call_site()),
        arg_count: 0,
        field_names: &[],
        format_fn: quote!(::core::option::Option::None),
        span_close: false,
    });
    quote! {
        {
            use #krate::__private as __tt;
            #check
            #statics
            __tt::STATIC_MAX_LEVEL.enables(__tt::LogLevel::#level)
                && __TTLOG_CALLSITE.is_enabled()
        }
    }
}
