//! `kubeseg diff OLD NEW` and `kubeseg diff --git REV PATH...`.

use crate::args::{Common, DiffArgs, DiffFormat, Live};
use crate::{load_input, options};
use anyhow::{Context, Result, bail};
use kubeseg_analyses::diff::diff;
use kubeseg_engine::Engine;
use kubeseg_report::diff::{DiffFormat as Format, write};
use kubeseg_report::unmodelled::{Shape, add};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the diff; returns the output and whether `--fail-on-*` was reached.
pub fn run(a: &DiffArgs) -> Result<(String, bool)> {
    let common = |paths: Vec<String>, live: Live| Common {
        paths,
        live,
        semantics: a.semantics.clone(),
        verbose: false,
        quiet: a.quiet,
    };
    let (old_paths, new_paths, snapshot) = match &a.git {
        Some(rev) => {
            let dir = checkout(rev, &a.paths)?;
            let old: Vec<String> = a
                .paths
                .iter()
                .map(|p| dir.path.join(&dir.prefix).join(p).display().to_string())
                .collect();
            (old, a.paths.clone(), Some((dir, rev.clone())))
        }
        None if a.live.target().is_some() => match a.paths.as_slice() {
            [old] => (vec![old.clone()], Vec::new(), None),
            _ => bail!("with --kubeconfig or --context, give OLD alone: NEW is the cluster"),
        },
        None => match a.paths.as_slice() {
            [old, new] => (vec![old.clone()], vec![new.clone()], None),
            _ => bail!("give OLD and NEW, or --git REV with the paths to compare"),
        },
    };
    if a.git.is_some() && a.live.target().is_some() {
        bail!(
            "--git compares files with files: it cannot be combined with --kubeconfig or --context"
        );
    }
    let old_common = common(old_paths, Live::default());
    let new_common = common(new_paths, a.live.clone());
    let timings = std::env::var_os("KUBESEG_TIMINGS").is_some();
    let start = std::time::Instant::now();
    let lap = |what: &str| {
        if timings {
            note!("timing: {what} {:?} rss {}", start.elapsed(), crate::rss());
        }
    };
    // The two sides are loaded and compiled at the same time, one per core.
    let (old, new) = std::thread::scope(|scope| {
        let old = scope.spawn(|| load_input(&old_common).context("OLD"));
        let new = load_input(&new_common).context("NEW");
        (
            old.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("loading OLD panicked"))),
            new,
        )
    });
    let (mut old, mut new) = (old?, new?);
    lap("load");
    // Both sides follow one dataplane, resolved over both as `auto` resolves over one
    // input (Cilium's when either holds Cilium policies, else Calico's when either
    // holds Calico policies), and each side then leaves out what that dataplane does not
    // enforce: a side loaded under another choice must not keep the other dialect.
    use crate::args::Cni;
    let dataplane = match (
        crate::dataplane(a.semantics.cni, &old.cluster),
        crate::dataplane(a.semantics.cni, &new.cluster),
    ) {
        (Cni::Cilium, _) | (_, Cni::Cilium) => Cni::Cilium,
        (Cni::Calico, _) | (_, Cni::Calico) => Cni::Calico,
        (d, _) => d,
    };
    crate::leave_out_unenforced(dataplane, &mut old);
    crate::leave_out_unenforced(dataplane, &mut new);
    let (mut old_common, mut new_common) = (old_common, new_common);
    old_common.semantics.cni = dataplane;
    new_common.semantics.cni = dataplane;
    if dataplane == Cni::Cilium && a.semantics.ipblock_pod_ips {
        bail!(
            "--ipblock-pod-ips contradicts Cilium: Cilium never matches pod addresses by ipBlock or CIDR"
        );
    }
    let (old_engine, mut new_engine) = std::thread::scope(|scope| {
        let o = scope.spawn(|| Engine::new(&old.cluster, options(&old_common, &old.cluster)));
        let n = Engine::new(&new.cluster, options(&new_common, &new.cluster));
        (o.join(), n)
    });
    let Ok(mut old_engine) = old_engine else {
        bail!("compiling OLD panicked");
    };
    lap("compile");
    let mesh = crate::mesh_options(&new_common);
    let mut d = diff(&mut old_engine, &mut new_engine, a.evidence, &mesh);
    lap("diff");
    // Locations in the checked-out revision read as REV:path.
    if let Some((dir, rev)) = &snapshot {
        let root = dir.path.join(&dir.prefix).display().to_string();
        let rename = |l: &mut Option<kubeseg_model::Location>| {
            if let Some(l) = l
                && let Some(rest) = l.file.strip_prefix(&root)
            {
                l.file = format!("{rev}:{}", rest.trim_start_matches('/')).into();
            }
        };
        for c in d
            .added
            .iter_mut()
            .chain(d.removed.iter_mut())
            .chain(d.changed.iter_mut())
        {
            for e in &mut c.evidence {
                rename(&mut e.location);
            }
        }
        for p in &mut d.policies {
            rename(&mut p.location);
        }
    }
    let fail = (a.fail_on_added && !d.added.is_empty())
        || (a.fail_on_change
            && !(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty()));
    let format = match a.format {
        DiffFormat::Text => Format::Text,
        DiffFormat::Json => Format::Json,
        DiffFormat::Md => Format::Md,
        DiffFormat::Sarif => Format::Sarif,
    };
    // What either side leaves out is named in the output too.
    let unmodelled: Vec<String> = [("OLD", &old), ("NEW", &new)]
        .iter()
        .flat_map(|(side, l)| {
            crate::unmodelled(l)
                .into_iter()
                .map(move |m| format!("{side}: {m}"))
        })
        .collect();
    // Written as rendered: a diff can hold millions of changes. With objects left
    // out, the document is completed in memory first.
    let mut stdout = crate::visible::Visible::new(std::io::stdout().lock());
    let written = if unmodelled.is_empty() {
        write(format, &d, &mut stdout)
    } else {
        let mut buffer = Vec::new();
        write(format, &d, &mut buffer)?;
        let shape = match format {
            Format::Text => Shape::Text,
            Format::Json => Shape::Json,
            Format::Md => Shape::Md,
            Format::Sarif => Shape::Sarif,
        };
        let text = String::from_utf8_lossy(&buffer).into_owned();
        std::io::Write::write_all(&mut stdout, add(shape, text, &unmodelled).as_bytes())
    };
    match written.and_then(|()| stdout.finish()) {
        // A reader that stops early (`| head -1`) must not turn a failing gate green.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written?,
    }
    lap("write");
    Ok((String::new(), fail))
}

/// A temporary checkout of some paths at a revision, removed when dropped.
struct Checkout {
    path: PathBuf,
    /// The current directory relative to the repository root.
    prefix: String,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn git(args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// Creates a new directory only this user can enter, with an unpredictable name: a
/// directory left by a crash, or planted by another user, is never reused.
fn private_dir() -> Result<PathBuf> {
    use std::io::Read as _;
    use std::os::unix::fs::DirBuilderExt as _;
    let mut last_error = None;
    for _ in 0..8 {
        let mut random = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut random))
            .context("--git: reading /dev/urandom")?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("kubeseg-diff-{name}"));
        // `create` fails when the path exists, whatever it is (a link included).
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) => last_error = Some(e),
        }
    }
    bail!(
        "--git: cannot create a temporary directory in {}: {}",
        std::env::temp_dir().display(),
        last_error.map_or_else(String::new, |e| e.to_string())
    )
}

/// Writes the files under `paths` as they are at `rev` into a temporary directory.
fn checkout(rev: &str, paths: &[String]) -> Result<Checkout> {
    let prefix = String::from_utf8(git(&["rev-parse", "--show-prefix"])?)?
        .trim()
        .to_string();
    let checkout = Checkout {
        path: private_dir()?,
        prefix: prefix.clone(),
    };
    let dir = checkout.path.clone();
    for p in paths {
        let listed = git(&["ls-tree", "-r", "--name-only", rev, "--", p])?;
        let files: Vec<&str> = std::str::from_utf8(&listed)?.lines().collect();
        if files.is_empty() {
            bail!("--git {rev}: `{p}` does not exist at that revision");
        }
        for f in files {
            // ls-tree prints paths relative to the current directory; show wants them from the root.
            let content = git(&["show", &format!("{rev}:./{f}")])?;
            let target = dir.join(&prefix).join(f);
            if let Some(parent) = Path::new(&target).parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    anyhow::anyhow!("--git: cannot write {}: {e}", parent.display())
                })?;
            }
            std::fs::write(&target, content)
                .map_err(|e| anyhow::anyhow!("--git: cannot write {}: {e}", target.display()))?;
        }
    }
    Ok(checkout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// Two runs never share a directory, and no other user can enter one: a planted or
    /// leftover directory cannot join the OLD side.
    #[test]
    fn checkout_directories_are_private_and_unpredictable() {
        let a = private_dir().unwrap();
        let b = private_dir().unwrap();
        assert_ne!(a, b);
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name.len(), "kubeseg-diff-".len() + 32, "{name}");
        for d in [a, b] {
            std::fs::remove_dir(d).unwrap();
        }
    }
}
