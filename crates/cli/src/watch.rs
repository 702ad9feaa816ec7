//! `kubeseg watch`: follow a cluster and report the connections and findings each
//! change opens or closes, with the object changes that caused it.

use crate::args::{Common, WatchArgs, WatchFormat};
use crate::watch_rows::{Interner, Row, diff, sorted, to_json};
use crate::{leave_out_unenforced, mesh_options, options, unmodelled};
use anyhow::{Result, anyhow, bail};
use kubeseg_analyses::audit::{AuditConfig, audit_since};
use kubeseg_analyses::rows::{Earlier, Rows};
use kubeseg_engine::Engine;
use kubeseg_live::watch::Message;
use kubeseg_model::{Diagnostic, Severity};
use kubeseg_report::diagnostics;
use kubeseg_sources::DecodedText as Decoded;
use kubeseg_sources::patch::Change;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// What one evaluation of the cluster gives: connections by (source, destination)
/// and findings by (code, title).
struct Answer {
    /// Every connection, sorted by interned (source, destination).
    connections: Vec<Row>,
    findings: BTreeMap<(&'static str, String), Found>,
    workloads: usize,
    unmodelled: Vec<String>,
    /// What the next batch needs to recompute only the connections it touches.
    basis: Basis,
    /// How the connections differ from the previous answer's (`None` for the first).
    delta: Option<Delta>,
    /// Whether the next evaluation took its connections (to change them in place).
    spent: bool,
}

/// The model an answer was computed from, and what must not change for the next
/// answer to reuse its connections.
struct Basis {
    /// The model, until the next batch patches it (or, with no answer, drops it).
    loaded: Option<kubeseg_sources::Loaded>,
    /// How many of the watch's notes its diagnostics hold.
    notes: usize,
    options: kubeseg_engine::Options,
    /// The interned ids of the endpoints that are not workloads (address ranges,
    /// domains), in order: a change that moves them moves every workload's connections.
    others: Vec<u32>,
    /// The interned ids of the workloads, in order.
    workloads: Vec<u32>,
    /// The audit's rows and the ids of the endpoints that are not workloads as its
    /// engine numbered them, for the next audit to keep what a change left alone.
    audit: Option<(Rows, Vec<String>)>,
}

/// A finding's rule name and severity.
type Found = (&'static str, &'static str);

/// Connections added, removed, and changed as (old, new).
type Delta = (Vec<Row>, Vec<Row>, Vec<(Row, Row)>);

/// Follows the cluster until the watch ends (it does not end by itself).
pub(crate) fn run(a: &WatchArgs) -> Result<()> {
    let target = a.live.target().unwrap_or_default();
    let common = Common {
        paths: Vec::new(),
        live: a.live.clone(),
        semantics: a.semantics.clone(),
        verbose: false,
        quiet: a.quiet,
    };
    let metrics = crate::metrics::Metrics::default();
    if let Some(addr) = &a.metrics_addr {
        crate::metrics::serve(addr, metrics.clone())?;
    }
    let messages = kubeseg_live::watch::follow(&target, &crate::operator_kinds())?;
    let batch = Duration::from_millis(a.batch_ms);
    // Each object with its decoding: an event decodes only the object it changed.
    let mut objects: BTreeMap<String, Decoded> = BTreeMap::new();
    let load = kubeseg_sources::LoadOptions {
        limits: crate::limits(),
        namespace: None,
        operators: crate::operators(),
    };
    let mut notes: Vec<Diagnostic> = Vec::new();
    let mut causes: Vec<(String, String)> = Vec::new();
    // How each object changed since the last answer was decoded then (`None`: absent).
    let mut before: BTreeMap<String, Option<Decoded>> = BTreeMap::new();
    let mut synced = false;
    let mut previous: Option<Answer> = None;
    let mut interner = Interner::default();
    let mut stdout = crate::visible::Visible::new(std::io::stdout().lock());
    loop {
        let first = messages.recv().map_err(|_| anyhow!("the watch stopped"))?;
        let received = Instant::now();
        let mut pending = vec![first];
        let deadline = received + batch;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match messages.recv_timeout(left) {
                Ok(m) => pending.push(m),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => bail!("the watch stopped"),
            }
        }
        for m in pending {
            match m {
                Message::Notes(ds) => {
                    note_text!(diagnostics::text(&ds));
                    notes.extend(ds.into_iter().filter(|d| d.severity != Severity::Info));
                }
                Message::Apply(o) => {
                    let at = o.location();
                    let action = if objects.contains_key(&at) {
                        "updated"
                    } else {
                        "created"
                    };
                    causes.push((action.into(), at.clone()));
                    remember(&mut before, &objects, &at);
                    objects.insert(at, kubeseg_sources::decode_text(o.named_text(), &load));
                }
                Message::Delete(o) => {
                    let at = o.location();
                    remember(&mut before, &objects, &at);
                    objects.remove(&at);
                    causes.push(("deleted".into(), at));
                }
                Message::Synced => synced = true,
                Message::Trouble(t) => {
                    metrics.trouble();
                    if !common.quiet {
                        note!("warning: {t}");
                    }
                }
            }
        }
        if !synced || (previous.is_some() && causes.is_empty()) {
            continue;
        }
        let answer = match evaluate(
            &common,
            &objects,
            &notes,
            &mut interner,
            previous.as_mut().map(|p| (p, &causes[..], &before)),
        ) {
            Ok(answer) => answer,
            Err(e) => {
                // Past the point where the last answer's connections were taken, there
                // is nothing left to compare the next answer with: stop, visibly.
                if previous.as_ref().is_some_and(|p| p.spent) {
                    bail!("the watch lost the last answer's connections: {e:#}");
                }
                // The cluster holds something kubeseg refuses (an unsupported policy,
                // say): say so and keep following; the next change may fix it. Its
                // causes stay: the next answer differs from the last one by them too,
                // and they name what it must compute again.
                note!("error: no answer for the cluster as it is now: {e:#}");
                continue;
            }
        };
        let line = match &previous {
            None => synced_line(a.format, objects.len(), &answer),
            Some(old) => change_line(a.format, &interner, old, &answer, &causes),
        };
        if let Some(line) = line {
            stdout.write_all(line.as_bytes())?;
            stdout.flush()?;
        }
        if std::env::var_os("KUBESEG_TIMINGS").is_some() {
            note!(
                "timing: line written {:?} after the batch's first event",
                received.elapsed()
            );
            note!(
                "timing: answered {:?} after the batch's first event",
                received.elapsed()
            );
        }
        let mut findings_by_severity = BTreeMap::new();
        for (_, severity) in answer.findings.values() {
            *findings_by_severity
                .entry(severity.to_string())
                .or_default() += 1;
        }
        let now = crate::metrics::Current {
            objects: objects.len(),
            workloads: answer.workloads,
            connections: answer.connections.len(),
            findings_by_severity,
        };
        metrics.update(now, received.elapsed());
        // Freeing a model of 150,000 pods takes a while; the next batch does not wait.
        let old = previous.replace(answer);
        drop_later(old);
        causes.clear();
        before.clear();
    }
}

/// Keeps how the object at `at` was decoded at the last answer, the first time a
/// batch since changes it.
fn remember(
    before: &mut BTreeMap<String, Option<Decoded>>,
    objects: &BTreeMap<String, Decoded>,
    at: &str,
) {
    if !before.contains_key(at) {
        before.insert(at.to_string(), objects.get(at).cloned());
    }
}

/// The previous answer, the changes since (object locations), and how each changed
/// object was decoded then.
type Since<'a> = (
    &'a mut Answer,
    &'a [(String, String)],
    &'a BTreeMap<String, Option<Decoded>>,
);

/// Loads the objects as files would be loaded and computes connections and findings.
/// With the previous answer and the changes since (`since`), its model is patched
/// rather than assembled again, and only the connections of the workloads those
/// changes touch are computed again, where each is exact (`Loaded::patch`,
/// `watch_touch`); `KUBESEG_WATCH_FULL=1` assembles and computes everything each time.
fn evaluate(
    common: &Common,
    objects: &BTreeMap<String, Decoded>,
    notes: &[Diagnostic],
    interner: &mut Interner,
    since: Option<Since>,
) -> Result<Answer> {
    let timings = std::env::var_os("KUBESEG_TIMINGS").is_some();
    let start = Instant::now();
    let lap = |what: &str| {
        if timings {
            note!("timing: {what} {:?}", start.elapsed());
        }
    };
    let full = std::env::var_os("KUBESEG_WATCH_FULL").is_some_and(|v| v == "1");
    let mut since = since;
    let mut patched = None;
    if let Some((old, _, before)) = since.as_mut().filter(|_| !full)
        && let Some(mut model) = old.basis.loaded.take()
    {
        let changes: Vec<Change> = (before.iter())
            .map(|(at, b)| Change {
                before: b.as_ref(),
                after: objects.get(at),
            })
            .collect();
        match model.patch(&changes) {
            Some(p) => {
                model
                    .diagnostics
                    .extend(notes[old.basis.notes..].iter().cloned());
                patched = Some((model, p));
            }
            None => old.basis.loaded = Some(model),
        }
    }
    let (mut loaded, patch) = match patched {
        Some((model, p)) => {
            lap("patched");
            (model, Some(p))
        }
        None => {
            let mut model = kubeseg_sources::assemble_texts(objects.values());
            lap("assemble");
            model.diagnostics.extend(notes.iter().cloned());
            (model, None)
        }
    };
    leave_out_unenforced(common.semantics.cni, &mut loaded);
    if loaded.has_errors() {
        let errors: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
            .collect();
        bail!("{}", diagnostics::text(&errors));
    }
    let options = options(common, &loaded.cluster);
    let cluster = &loaded.cluster;
    // The last answer's connections, which this one changes in place (or replaces):
    // from here on only an internal failure stops this answer.
    let mut kept = since.as_mut().map(|(old, ..)| {
        old.spent = true;
        std::mem::take(&mut old.connections)
    });
    let reuse = since
        .filter(|(old, ..)| !full && old.basis.options == options)
        .and_then(|(old, causes, _)| {
            let touched = match &patch {
                Some(p) => crate::watch_touch::touched_by_patch(cluster, p),
                None => {
                    let old_cluster = &old.basis.loaded.as_ref()?.cluster;
                    crate::watch_touch::touched(old_cluster, cluster, causes)?
                }
            };
            let touched: BTreeSet<u32> = touched.iter().map(|t| interner.id(t)).collect();
            Some((&*old, touched))
        });
    let workload_ids: Vec<u32> = (cluster.workloads.iter())
        .map(|w| interner.id(&w.id()))
        .collect();
    // What the audit may keep of the last one's rows.
    let earlier = reuse.as_ref().and_then(|(old, touched)| {
        let (rows, atoms) = old.basis.audit.as_ref()?;
        let before: HashMap<u32, u32> = (old.basis.workloads.iter().enumerate())
            .map(|(i, &id)| (id, i as u32))
            .collect();
        let index: Vec<Option<u32>> = (workload_ids.iter())
            .map(|id| before.get(id).copied())
            .collect();
        let touched: Vec<bool> = workload_ids.iter().map(|id| touched.contains(id)).collect();
        Some((rows, atoms, index, touched))
    });
    // Connections and findings are computed at the same time, one engine each. Both
    // compile at once: a compile runs on one core, and copying the compiled engine
    // instead measured slower.
    let (connections, others, (mut report, atoms)) = std::thread::scope(|scope| {
        let findings = scope.spawn(|| {
            let mut engine = Engine::new(cluster, options);
            let config = AuditConfig {
                options,
                mesh: mesh_options(common),
                ..Default::default()
            };
            let atoms: Vec<String> = (cluster.workloads.len()..engine.endpoints().len())
                .map(|e| engine.endpoint_id(e))
                .collect();
            // The last rows hold only while the outside ranges are those they were for.
            let earlier = (earlier.as_ref())
                .filter(|(_, before, ..)| **before == atoms)
                .map(|(rows, _, index, touched)| Earlier {
                    rows,
                    index,
                    touched,
                });
            let report = audit_since(&mut engine, &config, earlier.as_ref());
            drop_engine_later(engine);
            report.map(|r| (r, atoms)).map_err(anyhow::Error::from)
        });
        let mut engine = Engine::new(cluster, options);
        lap("compiled");
        let ids = endpoint_ids(&engine, interner, &workload_ids);
        let others = ids[cluster.workloads.len()..].to_vec();
        let connections = match reuse {
            Some((old, touched)) if old.basis.others == others => {
                if timings {
                    note!(
                        "timing: connections of {} touched workloads computed again",
                        touched.len()
                    );
                }
                let old = kept.take().unwrap_or_default();
                let (rows, delta) = recompute(common, &mut engine, interner, &ids, old, &touched);
                (rows, Some(delta))
            }
            _ => {
                let rows = connections(common, &mut engine, interner, &ids);
                let delta = kept.take().map(|old| diff(&old, &rows));
                (rows, delta)
            }
        };
        lap("connections");
        let report = findings
            .join()
            .map_err(|_| anyhow!("the audit stopped unexpectedly"))?;
        lap("audit");
        if let (true, Ok((report, _))) = (timings, &report) {
            let rows = &report.rows;
            note!(
                "timing:   audit rows of {} sources kept, {} computed",
                rows.kept,
                rows.keys.len() - rows.kept
            );
            for (what, took) in &report.timings {
                note!("timing:   audit {what} {took:?}");
            }
        }
        drop_engine_later(engine);
        Ok::<_, anyhow::Error>((connections, others, report?))
    })?;
    let findings = (report.findings.iter())
        .map(|f| {
            let key = (f.rule.code, f.title.clone());
            (key, (f.rule.name, f.severity.as_str()))
        })
        .collect();
    lap("findings");
    let (connections, delta) = connections;
    let answer = Answer {
        connections,
        findings,
        workloads: loaded.cluster.workloads.len(),
        unmodelled: unmodelled(&loaded),
        basis: Basis {
            loaded: Some(loaded),
            notes: notes.len(),
            options,
            others,
            workloads: workload_ids,
            audit: Some((std::mem::take(&mut report.rows), atoms)),
        },
        delta,
        spent: false,
    };
    // Freeing the audit's report takes a while at 150,000 pods; the answer does not
    // wait for it.
    drop_later(report);
    Ok(answer)
}

/// Frees an engine's compiled cluster later (see [`drop_later`]).
fn drop_engine_later(engine: Engine) {
    drop_later(engine.reach);
}

/// Frees `value` on the one thread that frees what answers leave behind: at 150,000
/// pods that takes a while, the answer does not wait for it, and one thread never
/// takes both cores from the next answer.
fn drop_later<T: Send + 'static>(value: T) {
    type Garbage = Box<dyn Send>;
    static JANITOR: std::sync::OnceLock<std::sync::mpsc::Sender<Garbage>> =
        std::sync::OnceLock::new();
    let janitor = JANITOR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Garbage>();
        std::thread::spawn(move || rx.into_iter().for_each(drop));
        tx
    });
    // Should the janitor be gone, the value is freed here.
    let _ = janitor.send(Box::new(value));
}

/// Every allowed connection, as `reach --format json` lists it, sorted by interned
/// (source, destination).
fn connections(
    common: &Common,
    engine: &mut Engine,
    interner: &mut Interner,
    ids: &[u32],
) -> Vec<Row> {
    let all: Vec<usize> = (0..ids.len()).collect();
    let mut mesh = annotator(common, engine);
    let mut rows = rows_between(engine, mesh.as_mut(), interner, ids, (&all, &all));
    rows.sort_unstable();
    rows
}

/// The mesh annotator of reach's lines (`None`: no mesh applies).
fn annotator<'c>(
    common: &Common,
    engine: &Engine<'c>,
) -> Option<kubeseg_engine::mesh::Annotator<'c>> {
    kubeseg_engine::mesh::Annotator::new(engine.cluster, mesh_options(common), engine.options)
}

/// The connections of the previous answer (`old`) with those from and to the `touched`
/// workloads computed again; with how they differ from `old`.
fn recompute(
    common: &Common,
    engine: &mut Engine,
    interner: &mut Interner,
    ids: &[u32],
    old: Vec<Row>,
    touched: &BTreeSet<u32>,
) -> (Vec<Row>, Delta) {
    let timings = std::env::var_os("KUBESEG_TIMINGS").is_some();
    let start = Instant::now();
    let mut marked = vec![false; interner.len()];
    for &t in touched {
        marked[t as usize] = true;
    }
    let (hit, rest): (Vec<usize>, Vec<usize>) =
        (0..ids.len()).partition(|&e| marked[ids[e] as usize]);
    let all: Vec<usize> = (0..ids.len()).collect();
    let mut fresh = Vec::new();
    if !hit.is_empty() {
        let mut mesh = annotator(common, engine);
        fresh = rows_between(engine, mesh.as_mut(), interner, ids, (&hit, &all));
        if timings {
            note!("timing:   from the touched {:?}", start.elapsed());
        }
        fresh.extend(rows_between(
            engine,
            mesh.as_mut(),
            interner,
            ids,
            (&rest, &hit),
        ));
        if timings {
            note!("timing:   into the touched {:?}", start.elapsed());
        }
    }
    fresh.sort_unstable();
    let is_touched = |r: &&Row| marked[r.0 as usize] || marked[r.1 as usize];
    let before: Vec<Row> = old.iter().filter(is_touched).copied().collect();
    let delta = diff(&before, &fresh);
    let mut rows = old;
    rows.retain(|r| !is_touched(&r));
    merge_into(&mut rows, fresh);
    if timings {
        note!("timing:   merged {:?}", start.elapsed());
    }
    (rows, delta)
}

/// Merges the sorted `fresh` rows into the sorted `rows`, in place from the back: the
/// kept list holds millions of rows, and a copy of it per event cost up to 2 s.
fn merge_into(rows: &mut Vec<Row>, fresh: Vec<Row>) {
    let (mut i, mut j) = (rows.len(), fresh.len());
    rows.resize(i + j, (0, 0, 0));
    let mut k = rows.len();
    while j > 0 {
        k -= 1;
        if i > 0 && rows[i - 1] > fresh[j - 1] {
            rows[k] = rows[i - 1];
            i -= 1;
        } else {
            rows[k] = fresh[j - 1];
            j -= 1;
        }
    }
}

/// Every endpoint's id, interned.
fn endpoint_ids(engine: &Engine, interner: &mut Interner, workloads: &[u32]) -> Vec<u32> {
    // The workloads come first, in cluster order: their ids are interned already.
    let mut ids = workloads.to_vec();
    ids.extend(
        (workloads.len()..engine.endpoints().len()).map(|e| interner.id(&engine.endpoint_id(e))),
    );
    ids
}

/// The allowed connections from `sources` to `destinations` (endpoint indices), as
/// (source id, destination id, tail id), unsorted.
fn rows_between(
    engine: &mut Engine,
    mesh: Option<&mut kubeseg_engine::mesh::Annotator>,
    interner: &mut Interner,
    ids: &[u32],
    (sources, destinations): (&[usize], &[usize]),
) -> Vec<Row> {
    // Tails come shared per thread; each allocation is interned once.
    let mut tails: HashMap<*const u8, (Arc<str>, u32)> = HashMap::new();
    let mut rows = Vec::new();
    let mut push = |s: usize, d: usize, tail: &Arc<str>| {
        let key = Arc::as_ptr(tail) as *const u8;
        let id = match tails.get(&key) {
            Some((_, id)) => *id,
            None => {
                let id = interner.id(tail);
                tails.insert(key, (tail.clone(), id));
                id
            }
        };
        rows.push((ids[s], ids[d], id));
    };
    // Toward a few destinations, rows are computed only over them where the engine can.
    if destinations.len() < ids.len() {
        let to = kubeseg_report::reach::json_connections_to;
        to(engine, sources, destinations, mesh, &mut push);
    } else {
        let all = kubeseg_report::reach::json_connections;
        all(engine, sources, destinations, mesh, &mut push);
    }
    rows
}

fn synced_line(format: WatchFormat, objects: usize, answer: &Answer) -> Option<String> {
    Some(match format {
        WatchFormat::Jsonl => {
            let line = json!({
                "kind": "synced",
                "schemaVersion": kubeseg_report::SCHEMA_VERSION,
                "objects": objects,
                "workloads": answer.workloads,
                "connections": answer.connections.len(),
                "findings": answer.findings.len(),
                "unmodelled": answer.unmodelled,
            });
            format!("{line}\n")
        }
        WatchFormat::Text => {
            let mut s = format!(
                "synced: {objects} objects, {} workloads, {} connections, {} findings\n",
                answer.workloads,
                answer.connections.len(),
                answer.findings.len()
            );
            for u in &answer.unmodelled {
                s.push_str(&format!("  not modelled, the answers ignore it: {u}\n"));
            }
            s
        }
    })
}

/// The change between two answers, `None` when nothing changed.
fn change_line(
    format: WatchFormat,
    interner: &Interner,
    old: &Answer,
    new: &Answer,
    causes: &[(String, String)],
) -> Option<String> {
    // Every answer but the first holds its difference from the one before.
    let (added, removed, changed) = new.delta.clone().unwrap_or_default();
    let json = |rows: Vec<Row>| -> Vec<Value> {
        sorted(interner, rows)
            .into_iter()
            .map(|r| to_json(interner, r))
            .collect()
    };
    let (added, removed) = (json(added), json(removed));
    let mut changed = changed;
    changed.sort_by(|a, b| {
        let key = |r: &Row| (interner.text(r.0), interner.text(r.1));
        key(&a.1).cmp(&key(&b.1))
    });
    let changed: Vec<(Value, Value)> = changed
        .into_iter()
        .map(|(o, n)| (to_json(interner, o), to_json(interner, n)))
        .collect();
    // The findings of one answer that the other lacks, as JSON.
    let only = |a: &Answer, b: &Answer| -> Vec<Value> {
        (a.findings.iter())
            .filter(|(k, _)| !b.findings.contains_key(*k))
            .map(|((code, title), (name, severity))| {
                json!({"code": code, "name": name, "severity": severity, "title": title})
            })
            .collect()
    };
    let (found, resolved) = (only(new, old), only(old, new));
    // Objects the answer leaves out are named on every line that follows a change to
    // them, so that a left-out policy created later is never silent.
    let unmodelled_changed = old.unmodelled != new.unmodelled;
    if added.is_empty()
        && removed.is_empty()
        && changed.is_empty()
        && found.is_empty()
        && resolved.is_empty()
        && !unmodelled_changed
    {
        return None;
    }
    Some(match format {
        WatchFormat::Jsonl => {
            let changed: Vec<Value> = changed
                .iter()
                .map(|(o, n)| {
                    let mut c = n.clone();
                    c["before"] = json!({"allowed": o["allowed"]});
                    c
                })
                .collect();
            let cause: Vec<Value> = causes
                .iter()
                .map(|(action, object)| json!({"action": action, "object": object}))
                .collect();
            let line = json!({
                "kind": "change",
                "added": added,
                "removed": removed,
                "changed": changed,
                "findings": {"added": found, "resolved": resolved},
                "cause": cause,
                "unmodelled": new.unmodelled,
            });
            format!("{line}\n")
        }
        WatchFormat::Text => {
            let cause: Vec<String> = causes.iter().map(|(a, o)| format!("{o} {a}")).collect();
            let mut s = format!("change: {}\n", cause.join(", "));
            for c in &added {
                s.push_str(&format!("  + {}\n", connection_text(c)));
            }
            for c in &removed {
                s.push_str(&format!("  - {}\n", connection_text(c)));
            }
            for (o, n) in &changed {
                s.push_str(&format!(
                    "  ~ {} (was {})\n",
                    connection_text(n),
                    ports_text(&o["allowed"])
                ));
            }
            for f in &found {
                s.push_str(&format!(
                    "  finding + {} {}: {}\n",
                    f["code"].as_str().unwrap_or(""),
                    f["severity"].as_str().unwrap_or(""),
                    f["title"].as_str().unwrap_or("")
                ));
            }
            for f in &resolved {
                s.push_str(&format!(
                    "  finding resolved {} {}: {}\n",
                    f["code"].as_str().unwrap_or(""),
                    f["severity"].as_str().unwrap_or(""),
                    f["title"].as_str().unwrap_or("")
                ));
            }
            for u in new
                .unmodelled
                .iter()
                .filter(|u| !old.unmodelled.contains(u))
            {
                s.push_str(&format!("  not modelled, the answers ignore it: {u}\n"));
            }
            s
        }
    })
}

/// `src => dst : TCP 80,443`.
fn connection_text(c: &Value) -> String {
    format!(
        "{} => {} : {}",
        c["src"].as_str().unwrap_or(""),
        c["dst"].as_str().unwrap_or(""),
        ports_text(&c["allowed"])
    )
}

/// Reach JSON's `allowed` (`{"TCP": [[80, 80]], ...}`) as reach's text writes it
/// (`TCP 80`, `ICMP 8/0`, `All Connections`).
fn ports_text(allowed: &Value) -> String {
    let mut set = kubeseg_model::PortSet::empty();
    for p in kubeseg_model::Protocol::ALL {
        for r in allowed[p.as_str()].as_array().into_iter().flatten() {
            let (lo, hi) = (r[0].as_u64().unwrap_or(0), r[1].as_u64().unwrap_or(0));
            let (lo, hi) = (
                u16::try_from(lo).unwrap_or(u16::MAX),
                u16::try_from(hi).unwrap_or(u16::MAX),
            );
            set = set.union(&kubeseg_model::PortSet::range(p, lo, hi));
        }
    }
    set.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_read_as_reach_writes_them() {
        let empty = json!([]);
        let allowed = |tcp: Value, icmp: Value| json!({"TCP": tcp, "UDP": empty, "SCTP": empty, "ICMP": icmp, "ICMPv6": empty});
        // Echo request is type 8, code 0: 8 * 256 + 0 = 2048.
        assert_eq!(
            ports_text(&allowed(
                json!([[80, 80], [443, 445]]),
                json!([[2048, 2048]])
            )),
            "TCP 80,443-445; ICMP 8/0"
        );
        let all = json!({"TCP": [[1, 65535]], "UDP": [[1, 65535]], "SCTP": [[1, 65535]],
            "ICMP": [[0, 65535]], "ICMPv6": [[0, 65535]]});
        assert_eq!(ports_text(&all), "All Connections");
    }
}
