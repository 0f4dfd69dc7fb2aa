//! The configuration file: every mistake is an error naming the key (or the value) and the
//! line, and nothing of such a file is applied; a valid file sets up sinks, their filters,
//! rotation and enrichment; `TTLOG_CONFIG` and `config_file` are read when the logger is
//! installed, the file overriding the code and the environment overriding the file.

mod common;

use ttlog_sinks::Config;

fn yaml_error(text: &str) -> String {
    Config::from_yaml(text)
        .expect_err("an invalid configuration")
        .to_string()
}

#[test]
fn mistakes_name_the_key_the_value_and_the_line() {
    let cases: [(&str, &[&str]); 11] = [
        (
            "logging:\n  level: info\n  levle: debug\n",
            &["levle", "line 3"],
        ),
        ("logging:\n  format: jsonn\n", &["jsonn", "line 2"]),
        ("logging:\n  level: \"info,db=loud\"\n", &["loud", "line 2"]),
        (
            "logging:\n  sinks:\n    - type: file\n      path: a.log\n      rotation:\n        max_size: 100XB\n",
            &["100XB", "line 6"],
        ),
        (
            "logging:\n  sampling:\n    info_rate: 1.5\n",
            &["1.5", "line 3"],
        ),
        (
            "logging:\n  sinks:\n    - type: socket\n",
            &["socket", "line 3"],
        ),
        (
            "logging:\n  redaction:\n    fields: [password]\n    patterns: ['(unclosed']\n",
            &["(unclosed", "line 4"],
        ),
        (
            "logging:\n  redaction:\n    mask: half\n",
            &["half", "line 3"],
        ),
        (
            "logging:\n  sinks:\n    - type: file\n      level: info\n      colour: true\n",
            &["colour", "line 5"],
        ),
        (
            "logging:\n  sinks:\n    - type: file\n      level: info\n",
            &["sinks[0]", "path"],
        ),
        (
            "logging:\n  sinks:\n    - type: file\n      path: a.log\n      colors: true\n",
            &["sinks[0].colors", "file sink"],
        ),
    ];
    for (text, expected) in cases {
        let message = yaml_error(text);
        for part in expected {
            assert!(message.contains(part), "{message:?} should name {part:?}");
        }
    }
    let message = Config::from_toml("[logging]\nlevel = \"info\"\nformat = 3\n")
        .expect_err("a number is not a format")
        .to_string();
    assert!(
        message.contains("format") && message.contains("line 3"),
        "{message}"
    );
}

const CHILD: &str = "TTLOG_CONFIG_TEST_CHILD";

/// The child's entry point: installs a logger from `TTLOG_CONFIG` and logs a few events.
#[test]
#[ignore = "entry point of the child processes the other tests start"]
fn child() {
    let mode = std::env::var(CHILD).expect("run by the other tests");
    let builder = ttlog::init()
        .console(false)
        .level(ttlog::LogLevel::Error) // the file overrides this
        .panic_hook(false)
        .signals(false);
    let handle = match mode.as_str() {
        "strict" => match builder.try_init() {
            Ok(handle) => handle,
            Err(err) => {
                println!("REFUSED: {err}");
                return;
            }
        },
        _ => builder.init(),
    };
    ttlog::debug!(target: "billing", "invoice drafted", seq = 0_u64);
    ttlog::info!(target: "app", "request handled", seq = 1_u64);
    ttlog::warn!(target: "app", "slow request", seq = 2_u64);
    handle.flush();
}

fn run(config: &std::path::Path, mode: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = common::child_process(CHILD, mode);
    cmd.env("TTLOG_CONFIG", config);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

#[test]
fn a_file_sets_up_sinks_and_the_environment_overrides_it() {
    let dir = common::temp_dir("configuration");
    let config = dir.join("ttlog.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
logging:
  level: info
  sinks:
    - type: file
      path: {all}
      rotation: {{ max_size: 10MB, max_files: 3 }}
    - type: file
      path: {billing}
      level: warn,billing=debug
    - type: file
      path: {quiet}
      sampling: {{ info_rate: 0.0 }}
  enrichment:
    fields: {{ service: api, replica: 2 }}
"#,
            all = dir.join("all.log").display(),
            billing = dir.join("billing.log").display(),
            quiet = dir.join("quiet.log").display()
        ),
    )
    .unwrap();

    let out = run(&config, "lenient", &[]);
    assert!(out.status.success(), "{out:?}");
    // The file's level (info) replaced the code's (error).
    let all = std::fs::read_to_string(dir.join("all.log")).unwrap();
    assert_eq!(common::seqs(&all), [1, 2]);
    let first: serde_json::Value = serde_json::from_str(all.lines().next().unwrap()).unwrap();
    assert_eq!(first["context"]["service"], "api");
    assert_eq!(first["context"]["replica"], 2);
    // The second file has its own filter.
    let billing = std::fs::read_to_string(dir.join("billing.log")).unwrap();
    assert_eq!(common::seqs(&billing), [0, 2]);
    // The third has its own sampling: no info events, warnings kept.
    let quiet = std::fs::read_to_string(dir.join("quiet.log")).unwrap();
    assert_eq!(common::seqs(&quiet), [2]);

    // The environment overrides the file.
    std::fs::remove_file(dir.join("all.log")).unwrap();
    std::fs::remove_file(dir.join("billing.log")).unwrap();
    std::fs::remove_file(dir.join("quiet.log")).unwrap();
    let out = run(&config, "lenient", &[("TTLOG", "warn")]);
    assert!(out.status.success(), "{out:?}");
    let all = std::fs::read_to_string(dir.join("all.log")).unwrap();
    assert_eq!(common::seqs(&all), [2]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_file_is_refused_by_try_init_and_reported_by_init() {
    let dir = common::temp_dir("bad-configuration");
    let config = dir.join("ttlog.yaml");
    std::fs::write(&config, "logging:\n  level: info\n  sinkz: []\n").unwrap();

    let strict = run(&config, "strict", &[]);
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert!(
        stdout.contains("REFUSED") && stdout.contains("sinkz") && stdout.contains("ttlog.yaml"),
        "{stdout}"
    );

    let lenient = run(&config, "lenient", &[]);
    assert!(lenient.status.success(), "{lenient:?}");
    let stderr = String::from_utf8_lossy(&lenient.stderr);
    assert!(
        stderr.contains("sinkz") && stderr.contains("going on without it"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The examples of docs/configuration.md are valid configurations.
#[test]
fn the_documented_examples_parse() {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let block = |lang: &str| -> String {
        let start = guide.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
        let end = start + guide[start..].find("```").unwrap();
        guide[start..end].to_owned()
    };
    Config::from_yaml(&block("yaml")).expect("the YAML example is valid");
    Config::from_toml(&block("toml")).expect("the TOML example is valid");
    let message = yaml_error("logging:\n  level: info\n  levle: debug\n");
    assert!(guide.contains(&message), "the guide quotes: {message}");
}
