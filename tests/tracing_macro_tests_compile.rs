//! `tracing`'s own macro tests compile and run against ttlog's macros.
//!
//! The test reads `tests/macros.rs` and `tests/event.rs` from the `tracing` package that cargo
//! downloaded for the dev-dependency (found through `cargo metadata`), rewrites them to use
//! ttlog, and compiles and runs them with trybuild. The project carries no copy of tracing's
//! code: what is compiled is generated under `target/` at test time.
//!
//! The rewrite: every `tracing` path becomes `ttlog`; in `event.rs`, the mock subscriber is
//! removed (the statements that build or check it, and `with_default(subscriber, || body)`
//! becomes `body`), since what it checks is tracing's dispatch, not the macro forms. A `main`
//! calls every test function with a ttlog logger running, so each event is encoded for real.
//!
//! Left out, with the reason (see `docs/migration.md`):
//! - `callsite!` and `tracing::metadata::Kind`: tracing's internal callsite API;
//! - `parent: span.id()`: ttlog spans have no registry to look an id up in; `parent: &span`
//!   is the ttlog form, and the rewrite turns `span.id()` in `parent:` into `&span`;
//! - the tests of `tracing_mock` expectations themselves (`expect::…`).

use std::path::{Path, PathBuf};
use std::process::Command;

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::quote;
use syn::visit_mut::VisitMut;

/// The source directory of the `tracing` package in the dependency graph.
fn tracing_package_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tracing" && p["version"].as_str().unwrap().starts_with("0.1."))
        .expect("tracing 0.1 is a dev-dependency");
    Path::new(package["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_owned()
}

/// `tracing` → `ttlog` in every identifier, inside macro invocations too.
fn rename(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "tracing" => {
                TokenTree::Ident(Ident::new("ttlog", ident.span()))
            }
            TokenTree::Group(group) => {
                let mut renamed = Group::new(group.delimiter(), rename(group.stream()));
                renamed.set_span(group.span());
                TokenTree::Group(renamed)
            }
            other => other,
        })
        .collect()
}

/// `parent: x.id()` → `parent: &x` inside macro token streams.
fn parent_ids(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < trees.len() {
        let is_parent_id = matches!(&trees[i], TokenTree::Ident(id) if id == "parent")
            && matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':')
            && matches!(trees.get(i + 3), Some(TokenTree::Punct(p)) if p.as_char() == '.')
            && matches!(trees.get(i + 4), Some(TokenTree::Ident(id)) if id == "id")
            && matches!(trees.get(i + 5), Some(TokenTree::Group(g)) if g.stream().is_empty());
        if is_parent_id {
            let (parent, colon, span) = (&trees[i], &trees[i + 1], &trees[i + 2]);
            out.extend(quote!(#parent #colon & #span));
            i += 6;
            continue;
        }
        out.push(match &trees[i] {
            TokenTree::Group(group) => {
                let mut fixed = Group::new(group.delimiter(), parent_ids(group.stream()));
                fixed.set_span(group.span());
                TokenTree::Group(fixed)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// Removes the mock subscriber from `event.rs`'s tests.
struct Unmock;

fn mentions(tokens: &TokenStream, names: &[&str]) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => names.iter().any(|n| ident == n),
        TokenTree::Group(group) => mentions(&group.stream(), names),
        _ => false,
    })
}

impl VisitMut for Unmock {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let mut kept = Vec::new();
        for stmt in block.stmts.drain(..) {
            // `with_default(subscriber, || body)` → `body`.
            if let syn::Stmt::Expr(syn::Expr::Call(call), _) = &stmt
                && quote!(#call).to_string().starts_with("with_default")
                && let Some(syn::Expr::Closure(closure)) = call.args.last()
            {
                let body = &closure.body;
                kept.push(syn::parse_quote!({ #body; }));
                continue;
            }
            let tokens = quote!(#stmt);
            if mentions(
                &tokens,
                &["subscriber", "handle", "expect", "mock", "MockSubscriber"],
            ) {
                continue;
            }
            kept.push(stmt);
        }
        block.stmts = kept;
        syn::visit_mut::visit_block_mut(self, block);
    }
}

/// The test functions of a file (`#[test]`), with their test attributes removed.
fn take_tests(file: &mut syn::File) -> Vec<syn::Ident> {
    let mut names = Vec::new();
    file.items.retain_mut(|item| {
        let syn::Item::Fn(function) = item else {
            if let syn::Item::Use(import) = item {
                drop_callsite_import(&mut import.tree);
                return !quote!(#import).to_string().contains("mock");
            }
            return true;
        };
        let is_test = function.attrs.iter().any(|a| a.path().is_ident("test"));
        function
            .attrs
            .retain(|a| !a.path().is_ident("test") && !a.path().is_ident("cfg_attr"));
        // tracing's internal callsite API has no ttlog equivalent.
        if function.sig.ident == "callsite_macro_api" {
            return false;
        }
        if is_test {
            names.push(function.sig.ident.clone());
        }
        true
    });
    names
}

/// `use tracing::{callsite, subscriber::with_default, …}` without `callsite` (tracing's
/// internal callsite API) and `subscriber` (the mock's dispatch, removed).
fn drop_callsite_import(tree: &mut syn::UseTree) {
    match tree {
        syn::UseTree::Path(path) => drop_callsite_import(&mut path.tree),
        syn::UseTree::Group(group) => {
            group.items = std::mem::take(&mut group.items)
                .into_iter()
                .filter(|item| match item {
                    syn::UseTree::Name(name) => name.ident != "callsite",
                    syn::UseTree::Path(path) => path.ident != "subscriber",
                    _ => true,
                })
                .collect();
        }
        _ => {}
    }
}

fn generate(source: &Path, unmock: bool, out: &Path) {
    let text = std::fs::read_to_string(source).unwrap();
    let mut file = syn::parse_file(&text).expect("tracing's test file parses");
    // `#![deny(warnings)]` would make tracing's unused test helpers errors; `#![cfg(feature = "std")]`
    // refers to tracing's features.
    file.attrs
        .retain(|a| !a.path().is_ident("deny") && !a.path().is_ident("cfg"));
    let tests = take_tests(&mut file);
    if unmock {
        Unmock.visit_file_mut(&mut file);
    }
    let body = parent_ids(rename(quote!(#file)));
    let main = quote! {
        fn main() {
            let _handle = ::ttlog::init()
                .with_env(false)
                .console(false)
                .level(::ttlog::LogLevel::Trace)
                .init();
            #(#tests();)*
            _handle.flush();
            ::std::assert_eq!(_handle.stats().dropped, 0);
            ::std::assert!(_handle.stats().logged > 0);
        }
    };
    std::fs::write(out, format!("{body}\n{main}\n")).unwrap();
}

#[test]
fn tracing_macro_tests_compile() {
    let tracing = tracing_package_dir();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tracing-macro-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let macros = dir.join("macros.rs");
    let event = dir.join("event.rs");
    generate(&tracing.join("tests/macros.rs"), false, &macros);
    generate(&tracing.join("tests/event.rs"), true, &event);
    let t = trybuild::TestCases::new();
    t.pass(&macros);
    t.pass(&event);
}
