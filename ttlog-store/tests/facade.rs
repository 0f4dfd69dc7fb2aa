//! The store through the facade (`ttlog` with its `store` feature), in child processes: the
//! store named by `TTLOG_STORE`, by `.store(url)`, or by a `type: store` sink of the
//! configuration file (with its own level), and a bad URL refused by `try_init`.

mod common;

use ttlog_store::{LogQuery, Store};

const CHILD: &str = "TTLOG_STORE_FACADE_CHILD";

/// The child: installs `ttlog::init()` (with `.store(url)` in mode `code:URL`) and logs.
#[test]
#[ignore = "entry point of the child processes the other tests start"]
fn child() {
    let mode = std::env::var(CHILD).expect("run by the other tests");
    let mut builder = ttlog::init()
        .console(false)
        .with_env(false)
        .panic_hook(false)
        .signals(false);
    if let Some(url) = mode.strip_prefix("code:") {
        builder = builder.store(url);
    }
    let handle = match builder.try_init() {
        Ok(handle) => handle,
        Err(err) => {
            println!("REFUSED: {err}");
            return;
        }
    };
    ttlog::info!(seq = 1_u64, "order accepted");
    ttlog::warn!(seq = 2_u64, "payment slow");
    drop(handle);
    println!("DONE");
}

fn run(mode: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = common::child_process(CHILD, mode);
    cmd.env_remove("TTLOG_STORE").env_remove("TTLOG_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn messages(url: &str) -> Vec<String> {
    Store::open(url)
        .unwrap()
        .query(&LogQuery::new())
        .unwrap()
        .into_iter()
        .map(|r| r.message)
        .collect()
}

#[test]
fn the_store_comes_from_the_environment_the_code_or_the_file() {
    let from_env = common::sqlite_url("facade-env");
    assert!(run("plain", &[("TTLOG_STORE", &from_env)]).contains("DONE"));
    assert_eq!(messages(&from_env), ["order accepted", "payment slow"]);

    let from_code = common::sqlite_url("facade-code");
    assert!(run(&format!("code:{from_code}"), &[]).contains("DONE"));
    assert_eq!(messages(&from_code), ["order accepted", "payment slow"]);

    // The environment wins over the code.
    let overridden = common::sqlite_url("facade-override");
    let unused = common::sqlite_url("facade-unused");
    assert!(run(&format!("code:{unused}"), &[("TTLOG_STORE", &overridden)]).contains("DONE"));
    assert_eq!(messages(&overridden).len(), 2);
    assert!(!std::path::Path::new(unused.strip_prefix("sqlite:").unwrap()).exists());

    let from_file = common::sqlite_url("facade-file");
    let dir = common::temp_dir("facade-config");
    let config = dir.join("ttlog.yaml");
    std::fs::write(
        &config,
        format!(
            "logging:\n  sinks:\n    - type: store\n      url: {from_file}\n      level: warn\n"
        ),
    )
    .unwrap();
    assert!(run("plain", &[("TTLOG_CONFIG", config.to_str().unwrap())]).contains("DONE"));
    assert_eq!(
        messages(&from_file),
        ["payment slow"],
        "the sink's own level"
    );
}

#[test]
fn a_bad_store_url_is_refused_at_install() {
    let out = run("plain", &[("TTLOG_STORE", "mysql://db/logs")]);
    assert!(
        out.contains("REFUSED") && out.contains("not a store URL"),
        "{out}"
    );
}
