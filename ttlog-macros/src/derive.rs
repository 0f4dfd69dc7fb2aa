//! `#[derive(Fields)]`: a struct's named fields become event fields.
//!
//! Field attributes: `#[ttlog(skip)]`, `#[ttlog(rename = "name")]`, `#[ttlog(redact)]`
//! (always `[REDACTED]`, the value is never read), `#[ttlog(display)]`, `#[ttlog(debug)]`,
//! `#[ttlog(flatten)]` / `#[ttlog(flatten = "prefix")]` (the nested struct's fields, named
//! `field.inner` or `prefix.inner`; `flatten = ""` for no prefix). Container attribute:
//! `#[ttlog(crate = "path")]` when `ttlog` is renamed.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Token};

/// How one field is written.
enum How {
    Value,
    Display,
    Debug,
    Redact,
    /// The prefix, or `None` for the field's name.
    Flatten(Option<String>),
}

struct FieldPlan {
    name: String,
    how: How,
}

/// Reads the `#[ttlog(..)]` attributes of a field; `None` for `skip`.
fn field_plan(field: &syn::Field) -> syn::Result<Option<FieldPlan>> {
    let ident = field.ident.as_ref().expect("named field");
    let mut name = syn::ext::IdentExt::unraw(ident).to_string();
    let mut how: Option<(How, proc_macro2::Span)> = None;
    let mut skip = None;
    let mut set = |new: How, span: proc_macro2::Span| -> syn::Result<()> {
        if how.is_some() {
            return Err(syn::Error::new(
                span,
                "only one of `display`, `debug`, `redact` and `flatten` may be given",
            ));
        }
        how = Some((new, span));
        Ok(())
    };
    let mut renamed = false;
    for attr in &field.attrs {
        if !attr.path().is_ident("ttlog") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let path = &meta.path;
            let span = path.span();
            if path.is_ident("skip") {
                skip = Some(span);
            } else if path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`rename` needs a non-empty name",
                    ));
                }
                name = lit.value();
                renamed = true;
            } else if path.is_ident("redact") {
                set(How::Redact, span)?;
            } else if path.is_ident("display") {
                set(How::Display, span)?;
            } else if path.is_ident("debug") {
                set(How::Debug, span)?;
            } else if path.is_ident("flatten") {
                let prefix = if meta.input.peek(Token![=]) {
                    Some(meta.value()?.parse::<LitStr>()?.value())
                } else {
                    None
                };
                set(How::Flatten(prefix), span)?;
            } else {
                return Err(meta.error(
                    "unknown `ttlog` attribute: expected `skip`, `rename = \"..\"`, `redact`, \
                     `display`, `debug` or `flatten`",
                ));
            }
            Ok(())
        })?;
    }
    if let Some(span) = skip {
        if how.is_some() || renamed {
            return Err(syn::Error::new(
                span,
                "a skipped field takes no other `ttlog` attribute",
            ));
        }
        return Ok(None);
    }
    let how = match how {
        // Without an explicit prefix, the (possibly renamed) field name is the prefix.
        Some((How::Flatten(None), _)) => How::Flatten(Some(name.clone())),
        Some((how, _)) => how,
        None => How::Value,
    };
    Ok(Some(FieldPlan { name, how }))
}

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let mut krate = quote!(::ttlog);
    for attr in &input.attrs {
        if !attr.path().is_ident("ttlog") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                let path: syn::Path = lit.parse()?;
                krate = quote!(#path);
                Ok(())
            } else {
                Err(meta.error("unknown `ttlog` container attribute: expected `crate = \"..\"`"))
            }
        })?;
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            Fields::Unnamed(unnamed) => {
                return Err(syn::Error::new(
                    unnamed.span(),
                    "`Fields` needs named fields to name the event fields: \
                     use a struct with `name: Type` fields, or log the value with `?value`",
                ));
            }
            Fields::Unit => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "`Fields` cannot be derived for a unit struct: it has no fields to log",
                ));
            }
        },
        Data::Enum(data) => {
            return Err(syn::Error::new(
                data.enum_token.span,
                "`Fields` can only be derived for structs with named fields; \
                 log an enum with `%value` or `?value`, or implement `ttlog::Value`",
            ));
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span,
                "`Fields` can only be derived for structs with named fields",
            ));
        }
    };

    // Validate every field first, reporting all bad attributes at once; then generate.
    let mut errors = None;
    let mut plans = Vec::new();
    for field in fields {
        match field_plan(field) {
            Ok(Some(plan)) => plans.push((field, plan)),
            Ok(None) => {}
            Err(err) => crate::push_error(&mut errors, err),
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    let mut writes = Vec::new();
    for (field, plan) in plans {
        let ident = field.ident.as_ref().expect("named field");
        let name = LitStr::new(&plan.name, ident.span());
        let span = field.ty.span();
        writes.push(match plan.how {
            How::Value => quote_spanned!(span=> __out.field(#name, &self.#ident);),
            How::Display => quote_spanned!(span=> __out.field_display(#name, &self.#ident);),
            How::Debug => quote_spanned!(span=> __out.field_debug(#name, &self.#ident);),
            How::Redact => quote!(__out.field_redacted(#name);),
            How::Flatten(prefix) => {
                let prefix = prefix.unwrap_or_default();
                quote_spanned! {span=>
                    __out.flatten(#prefix, |__out| #krate::__private::Fields::write_fields(&self.#ident, __out));
                }
            }
        });
    }

    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::Fields for #ident #type_generics #where_clause {
            fn write_fields(&self, __out: &mut #krate::__private::FieldsWriter<'_, '_>) {
                #(#writes)*
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::__private::Value for #ident #type_generics #where_clause {
            fn encode(&self, __enc: &mut #krate::__private::Encoder<'_>) {
                __enc.fields(false, |__out| #krate::__private::Fields::write_fields(self, __out));
            }

            fn __encode_shorthand(&self, __enc: &mut #krate::__private::Encoder<'_>) {
                __enc.fields(true, |__out| #krate::__private::Fields::write_fields(self, __out));
            }
        }
    })
}
