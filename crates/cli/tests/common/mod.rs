//! Helpers shared by the CLI tests: running kubeseg from the repository root, reviewed
//! snapshots, and the SARIF schema.
#![allow(dead_code, clippy::print_stderr)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs kubeseg from the repository root, so that locations are relative paths.
pub fn kubeseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .unwrap()
}

/// Runs kubeseg with `stdin` on its standard input (locations then read `-:line:col`).
pub fn kubeseg_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubeseg runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs kubeseg and returns its stdout, its stderr and its exit status.
pub fn run(args: &[&str]) -> (String, String, Option<i32>) {
    let out = kubeseg(args);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

/// A fresh directory of this test process holding `files` (name, text).
pub fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubeseg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

/// Compares with `tests/snapshots/NAME`, or writes it when `KUBESEG_BLESS` is set.
pub fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("KUBESEG_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} differs from its snapshot (KUBESEG_BLESS=1 rewrites it after review):\n{actual}"
    );
}

/// A validator for the SARIF 2.1.0 schema; when the schema is not beside the checkout
/// nor in `KUBESEG_SCHEMAS`, the test fails, or with `KUBESEG_ALLOW_MISSING_DATA=1` gets
/// `None` and skips.
pub fn sarif_validator() -> Option<jsonschema::Validator> {
    let dir = std::env::var_os("KUBESEG_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join("../shared/schemas"));
    let Ok(text) = std::fs::read_to_string(dir.join("sarif-schema-2.1.0.json")) else {
        missing_data(
            "SARIF schema not found (set KUBESEG_SCHEMAS or place ../shared/schemas beside the checkout)",
        );
        return None;
    };
    // The published schema's `language` pattern has a stray `]`, which a strict validator
    // rejects as a regex; escape it in memory (kubeseg never writes `language`).
    let text = text.replace("[a-zA-Z]{2}]?$", "[a-zA-Z]{2}\\\\]?$");
    let schema: Value = serde_json::from_str(&text).unwrap();
    Some(
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("schema: {e}")),
    )
}

/// Every schema violation of `doc`.
pub fn violations(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// A data set the tests need is missing: the test fails, unless
/// `KUBESEG_ALLOW_MISSING_DATA=1` asks to skip it (with a loud line).
pub fn missing_data(what: &str) {
    if std::env::var_os("KUBESEG_ALLOW_MISSING_DATA").is_some_and(|v| v == "1") {
        eprintln!(
            "\n=== SKIPPED (KUBESEG_ALLOW_MISSING_DATA=1): {what}; nothing was checked ===\n"
        );
        return;
    }
    panic!(
        "{what}. Place ../shared beside the checkout, point KUBESEG_CONFORMANCE / KUBESEG_SCHEMAS at it, or set KUBESEG_ALLOW_MISSING_DATA=1 to skip on purpose"
    );
}

/// Starts kubeseg with `args` (a long-running `watch`), its stdout read line by line on
/// a thread into the returned channel; stderr is dropped.
pub fn spawn_lines(args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    spawn_lines_with(args, &[], Stdio::null())
}

/// [`spawn_lines`] with environment variables set and stderr sent to `stderr`.
#[allow(dead_code)]
pub fn spawn_lines_with(
    args: &[&str],
    envs: &[(&str, &str)],
    stderr: Stdio,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("kubeseg runs");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, lines)
}
