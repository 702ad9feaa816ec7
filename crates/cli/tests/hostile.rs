//! Hostile input through the binary: each crash or hang input runs under a 1 GiB
//! address-space limit and a time limit, and must end in a diagnostic with exit 2 (or
//! a warning and an answer), never a signal, a panic or a timeout.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh directory under the target directory, removed first if a run left it.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs kubeseg in `dir` under `ulimit -v` 1 GiB and a 60 s timeout.
fn bounded(dir: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_kubeseg"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit 2 with `error[code]` on stderr.
fn rejected(out: &Output, code: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("error[{code}]")), "{err}");
}

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
";

#[test]
fn crash_inputs_end_in_a_diagnostic_within_bounds() {
    let dir = scratch("hostile-crash");
    let mut laughs =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n");
    laughs += "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    for (prev, c) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        laughs += &format!("  {c}: &{c} [{}]\n", vec![format!("*{prev}"); 9].join(","));
    }
    let block_maps: String = (0..9_000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    // Past 1 MiB the file is read in parallel pieces, on other threads.
    let mut parallel = format!("{POD}---\n").repeat(6_000);
    parallel += &(0..3_000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect::<String>();
    let cases = [
        ("laughs.yaml", laughs, "alias-limit"),
        ("seq.yaml", "- ".repeat(10_000) + "x\n", "depth-limit"),
        ("maps.yaml", block_maps + "b\n", "depth-limit"),
        ("parallel.yaml", parallel, "depth-limit"),
        (
            "deep.json",
            "[".repeat(100_000) + &"]".repeat(100_000),
            "depth-limit",
        ),
    ];
    for (file, text, code) in cases {
        std::fs::write(dir.join(file), text).unwrap();
        rejected(&bounded(&dir, &["reach", file]), code);
    }
}

#[test]
fn symlink_cycles_are_read_once_and_end() {
    let dir = scratch("hostile-cycle");
    std::fs::write(dir.join("pod.yaml"), POD).unwrap();
    std::os::unix::fs::symlink(".", dir.join("up")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("again")).unwrap();
    std::os::unix::fs::symlink("pod.yaml", dir.join("same.yaml")).unwrap();
    let out = bounded(&dir, &["reach", "-v", "."]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("read 1 files, 1 objects"), "{err}");
    assert_eq!(err.matches("warning[symlink-cycle]").count(), 2, "{err}");
    assert_eq!(err.matches("warning[already-read]").count(), 1, "{err}");
}

#[test]
fn special_files_are_skipped_in_walks_and_inputs_are_capped() {
    let dir = scratch("hostile-special");
    std::fs::write(dir.join("pod.yaml"), POD).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(dir.join("pipe.yaml"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let out = bounded(&dir, &["reach", "."]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning[not-a-file]"), "{err}");
    // A device named on the command line is read up to the cap, then refused.
    rejected(
        &bounded(&dir, &["reach", "--max-file-size", "1M", "/dev/zero"]),
        "input-too-large",
    );
    // So is a spec file.
    rejected(
        &bounded(
            &dir,
            &[
                "test",
                "pod.yaml",
                "--spec",
                "/dev/zero",
                "--max-file-size",
                "1M",
            ],
        ),
        "input-too-large",
    );
    // A regular file over the cap is refused before it is read.
    std::fs::write(dir.join("big.yaml"), POD.repeat(20_000)).unwrap();
    rejected(
        &bounded(&dir, &["reach", "--max-file-size", "1M", "big.yaml"]),
        "input-too-large",
    );
    let out = bounded(&dir, &["reach", "--max-file-size", "8M", "big.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn the_first_invalid_utf8_byte_is_located() {
    let dir = scratch("hostile-utf8");
    let mut bytes = POD.as_bytes().to_vec();
    bytes.extend_from_slice(b"---\nkind: Pod\nmetadata: {name: \xff}\n");
    std::fs::write(dir.join("bad.yaml"), bytes).unwrap();
    let out = bounded(&dir, &["reach", "bad.yaml"]);
    rejected(&out, "invalid-utf8");
    // Line 7, after `metadata: {name: ` (17 characters).
    assert!(stderr(&out).contains("bad.yaml:7:18"), "{}", stderr(&out));
}

#[test]
fn a_full_stderr_does_not_stop_the_answer() {
    let dir = scratch("hostile-stderr");
    // An unknown field: a warning to print before the answer.
    std::fs::write(
        dir.join("pod.yaml"),
        POD.replace("labels:", "labelz: {}, labels:"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseg"))
        .args(["reach", "pod.yaml"])
        .current_dir(&dir)
        .stderr(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("prod/web[Pod]"));
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn diff_git_uses_a_private_directory_and_keeps_its_status_on_a_closed_pipe() {
    let repo = scratch("hostile-diff-repo");
    let tmp = scratch("hostile-diff-tmp");
    let client = POD
        .replace("name: web", "name: client")
        .replace("app: web", "app: client");
    std::fs::write(repo.join("app.yaml"), format!("{POD}---\n{client}")).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    // The working tree isolates web: the diff removes connections.
    let policy = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: prod}\nspec: {podSelector: {}}\n";
    std::fs::write(repo.join("app.yaml"), format!("{POD}---\n{client}{policy}")).unwrap();
    let run = |stdout: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_kubeseg"))
            .args(["diff", "--git", "HEAD", "--fail-on-change", "app.yaml"])
            .current_dir(&repo)
            .env("TMPDIR", &tmp)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let full = run(Stdio::piped()).wait_with_output().unwrap();
    assert_eq!(full.status.code(), Some(1), "{}", stderr(&full));
    assert!(String::from_utf8_lossy(&full.stdout).contains("removed"));
    // A reader that is gone before the first byte (`| head -0`) must not turn the gate green.
    let mut closed = run(Stdio::piped());
    drop(closed.stdout.take());
    assert_eq!(closed.wait().unwrap().code(), Some(1));
    // Nothing is left behind in the temporary directory.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn address_like_arguments_are_checked() {
    let dir = scratch("hostile-args");
    std::fs::write(dir.join("pod.yaml"), POD).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "explain", "pod.yaml", "--from", "prod/web", "--to", "prod/web", "--port", "70000",
            ],
            "out of range",
        ),
        (
            &[
                "explain",
                "pod.yaml",
                "--from",
                "prod/web",
                "--to",
                "999.1.1.1",
            ],
            "`999.1.1.1` is not a valid IP address",
        ),
        (
            &["reach", "pod.yaml", "--from", "10.0.0.0/33"],
            "`10.0.0.0/33` is not a valid CIDR",
        ),
        (
            &[
                "explain",
                "pod.yaml",
                "--from",
                "10.0.0.0/8",
                "--to",
                "prod/web",
            ],
            "explain takes one address",
        ),
    ];
    for (args, message) in cases {
        let out = bounded(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}
