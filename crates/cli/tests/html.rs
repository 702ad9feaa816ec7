//! The HTML report, opened in a real headless Chromium with the network off: the DOM
//! after the page's script ran is checked against kubeseg's JSON answers (and the
//! example's hand-derived facts), console errors must be none, and screenshots at two
//! sizes are kept in `target/browser-artifacts`.

#![allow(clippy::print_stderr)]

// The DevTools client is shared with `kubeseg-bench --html`, which times the page.
#[path = "../../bench/src/browser.rs"]
mod browser;
mod common;

use browser::{Browser, artifacts, png_size};
use common::{ROOT, kubeseg, scratch};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const EXAMPLE: &str = "examples/wordpress-cluster";

fn json_of(args: &[&str]) -> Value {
    let out = kubeseg(args);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// Writes kubeseg's HTML for `args` to `dir/name` and returns the path.
fn page(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = kubeseg(args);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn strings(v: Value) -> Vec<String> {
    serde_json::from_value(v).unwrap()
}

fn set(v: Value) -> BTreeSet<String> {
    strings(v).into_iter().collect()
}

/// Nothing but the report itself was requested, and nothing went wrong.
fn assert_clean(b: &mut Browser, file: &Path) {
    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let own = b.eval("location.href");
    assert!(
        own.as_str().unwrap().starts_with("file:///")
            && own
                .as_str()
                .unwrap()
                .ends_with(&*file.file_name().unwrap().to_string_lossy()),
        "{own}"
    );
    let requests = b.requests();
    assert!(
        requests.iter().all(|r| *r == own),
        "the page made requests: {requests:?}"
    );
}

/// Screenshots at a desktop and a phone size; the checks are on structure, not pixels.
fn screenshots(b: &mut Browser, name: &str) {
    for (w, h, size) in [(1280, 800, "desktop"), (390, 844, "phone")] {
        b.viewport(w, h);
        b.eval("window.scrollTo(0, 0)");
        let path = artifacts().join(format!("{name}-{size}.png"));
        let png = b.screenshot(&path);
        assert_eq!(png_size(&png), (w, h), "{}", path.display());
    }
}

#[test]
fn audit_page_shows_the_findings_graph_paths_and_fix() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = scratch("html-audit", &[]);
    let report = json_of(&["audit", EXAMPLE, "--format", "json"]);
    let reach = json_of(&["reach", EXAMPLE, "--format", "json"]);
    let file = page(&dir, "audit.html", &["audit", EXAMPLE, "--format", "html"]);
    b.viewport(1280, 800);
    b.open(&file);

    // Every finding, in the JSON report's order.
    let codes: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    let shown = strings(
        b.eval("[...document.querySelectorAll('#findings tbody tr')].map(r => r.dataset.code)"),
    );
    assert_eq!(shown, codes);
    // The summary counts what the JSON summary counts.
    let cards = b.eval("document.getElementById('summary').textContent");
    let critical = report["summary"]["findings"]["critical"].as_u64().unwrap();
    assert!(
        cards
            .as_str()
            .unwrap()
            .contains(&format!("{critical} critical")),
        "{cards}"
    );

    // One node per endpoint of `reach` (11 workloads and 3 address ranges), and one for
    // each sensitive target inside a range: the cloud metadata service, and the API
    // server (the example's Service default/kubernetes has clusterIP 10.96.0.1).
    let nodes = set(
        b.eval("[...document.querySelectorAll('#graph .node:not(.k-s)')].map(n => n.dataset.id)")
    );
    let endpoints: BTreeSet<String> = reach["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes, endpoints);
    assert_eq!(nodes.len(), 14);
    assert_eq!(
        strings(
            b.eval("[...document.querySelectorAll('#graph .node.k-s')].map(n => n.dataset.id)")
        ),
        ["API server", "cloud metadata service"]
    );
    // Entry points and crown jewels are marked (EXPECTED.md: the three WordPress
    // instances, debug-shell and search are entry points; mysql, redis, users-api,
    // payments-api and search are crown jewels).
    let entries =
        set(b.eval("[...document.querySelectorAll('#graph .node.entry')].map(n => n.dataset.id)"));
    let expected_entries: BTreeSet<String> = report["entryPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["workload"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(entries, expected_entries);
    let jewels =
        set(b.eval("[...document.querySelectorAll('#graph .node.jewel')].map(n => n.dataset.id)"));
    assert!(
        jewels.contains("data/mysql[StatefulSet]") && jewels.contains("data/redis[Deployment]")
    );

    // Clicking the finding about redis highlights exactly its path: wordpress-a →
    // users-api → redis (derived by hand in EXPECTED.md), and draws its two hops.
    let clicked = b.eval(
        "(() => { const r = [...document.querySelectorAll('#findings tbody tr')].find(r => r.textContent.includes('crown jewel data/redis')); r.click(); return r.dataset.index; })()",
    );
    assert!(clicked.is_string());
    let highlighted =
        set(b.eval("[...document.querySelectorAll('#graph .node.hl')].map(n => n.dataset.id)"));
    let path: BTreeSet<String> = [
        "blogs/wordpress-a[Deployment]",
        "internal/users-api[Deployment]",
        "data/redis[Deployment]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(highlighted, path);
    assert_eq!(
        b.eval("document.querySelectorAll('#layer-highlight .e-path').length"),
        json!(2)
    );
    // The panel shows the evidence with the policy lines and their YAML.
    let evidence = b.eval("document.getElementById('evidence').textContent");
    assert!(
        evidence
            .as_str()
            .unwrap()
            .contains("examples/wordpress-cluster/"),
        "{evidence}"
    );
    assert!(
        b.eval("document.querySelectorAll('#evidence pre').length")
            .as_u64()
            .unwrap()
            > 0
    );

    // A KS301 finding highlights the workload and the metadata service's node, and the
    // node has the connections of the range that holds 169.254.169.254.
    b.eval("[...document.querySelectorAll('#findings tbody tr')].find(r => r.dataset.code === 'KS301' && r.textContent.includes('wordpress-a')).click()");
    assert_eq!(
        set(b.eval("[...document.querySelectorAll('#graph .node.hl')].map(n => n.dataset.id)")),
        set(json!([
            "blogs/wordpress-a[Deployment]",
            "cloud metadata service"
        ]))
    );
    b.eval("document.querySelector('#graph .node[data-id=\"cloud metadata service\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))");
    let range = reach["endpoints"][0]["id"].as_str().unwrap();
    assert!(range.starts_with("0.0.0.0-203.0.112.255,"), "{range}");
    let into_range = reach["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dst"] == range && c["src"] != c["dst"])
        .count();
    assert_eq!(
        b.eval("document.querySelectorAll('#reached-from li').length"),
        json!(into_range)
    );

    // A namespace-level finding (KS103 for blogs) highlights its namespace's box.
    b.eval("[...document.querySelectorAll('#findings tbody tr')].find(r => r.dataset.code === 'KS103' && r.textContent.includes('namespace blogs')).click()");
    assert_eq!(
        strings(b.eval("[...document.querySelectorAll('#graph .group.g-hl .group-title')].map(t => t.textContent)")),
        ["blogs"]
    );

    // The minimal fix is drawn: the ten connections of KS801 (the three WordPress
    // instances to mysql, users-api and search, and debug-shell to search).
    let cut = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "KS801")
        .unwrap()["endpoints"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(cut, 10);
    assert_eq!(
        b.eval("document.querySelectorAll('#layer-highlight .e-cut').length"),
        json!(10)
    );

    // Clicking a node lists what it reaches and what reaches it, as `reach` does.
    let node = "blogs/wordpress-a[Deployment]";
    b.eval(&format!(
        "document.querySelector('#graph .node[data-id=\"{}\"]').dispatchEvent(new MouseEvent('click', {{bubbles: true}}))",
        node.replace('[', "\\\\[").replace(']', "\\\\]")
    ));
    let count = |dir: &str, end: &str| {
        reach["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c[dir] == node && c["src"] != c["dst"] && c[end] != node)
            .count() as u64
    };
    // Both ways it also meets the API server and the metadata service, which sit in the
    // range 0.0.0.0-203.0.112.255,… that it reaches and that reaches it on every port.
    let aliases = 2;
    assert_eq!(
        b.eval("document.querySelectorAll('#reaches li').length"),
        json!(count("src", "dst") + aliases)
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#reached-from li').length"),
        json!(count("dst", "src") + aliases)
    );
    assert!(count("src", "dst") > 0 && count("dst", "src") > 0);
    // The protocol filter narrows the lists to the connections with SCTP ports.
    let sctp_only = reach["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["src"] == node && c["src"] != c["dst"])
        .filter(|c| !c["allowed"]["SCTP"].as_array().unwrap().is_empty())
        .count();
    b.eval("(() => { const s = document.getElementById('filter-proto'); s.value = '4'; s.dispatchEvent(new Event('change')); })()");
    assert_eq!(
        b.eval("document.querySelectorAll('#reaches li').length"),
        json!(sctp_only as u64 + aliases)
    );
    b.eval("(() => { const s = document.getElementById('filter-proto'); s.value = '15'; s.dispatchEvent(new Event('change')); })()");

    // Filters: severity and search hide rows; the namespace filter keeps findings about it.
    b.eval("(() => { const c = document.querySelector('#filter-sev input[value=critical]'); c.click(); })()");
    let visible = |b: &mut Browser| {
        strings(b.eval("[...document.querySelectorAll('#findings tbody tr')].filter(r => !r.hidden).map(r => r.dataset.code)"))
    };
    let after = visible(&mut b);
    let critical_count = critical as usize;
    assert_eq!(after.len(), codes.len() - critical_count);
    b.eval("document.querySelector('#filter-sev input[value=critical]').click()");
    b.eval("(() => { const s = document.getElementById('find-finding'); s.value = 'KS301'; s.dispatchEvent(new Event('input')); })()");
    let after = visible(&mut b);
    assert_eq!(after.len(), codes.iter().filter(|c| *c == "KS301").count());
    assert!(after.iter().all(|c| c == "KS301"));
    b.eval("(() => { const s = document.getElementById('find-finding'); s.value = ''; s.dispatchEvent(new Event('input')); })()");
    b.eval("(() => { const s = document.getElementById('filter-ns'); s.value = 'data'; s.dispatchEvent(new Event('change')); })()");
    let after = visible(&mut b);
    // Findings whose nodes lie in `data`: the KS202s for mysql and redis and the KS801 cut.
    assert_eq!(after, ["KS202", "KS801", "KS202"]);
    b.eval("(() => { const s = document.getElementById('filter-ns'); s.value = ''; s.dispatchEvent(new Event('change')); })()");

    // The keyboard alone: focus the first finding and press Enter.
    b.eval("document.querySelector('#findings tbody tr').focus()");
    b.press("Enter", 13);
    assert_eq!(
        b.eval("document.querySelector('#findings tbody tr').classList.contains('selected')"),
        json!(true)
    );
    b.press("Escape", 27);
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .node.hl').length"),
        json!(0)
    );

    // Remediation YAML comes with a copy button (KS101's generated policy).
    b.eval("[...document.querySelectorAll('#findings tbody tr')].find(r => r.dataset.code === 'KS101').click()");
    assert!(
        b.eval("document.querySelector('#panel pre.remediation').textContent")
            .as_str()
            .unwrap()
            .contains("kind: NetworkPolicy")
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#panel button.copy').length"),
        json!(1)
    );

    // The copy button copies (through the clipboard API, or the selection fallback).
    b.eval("document.querySelector('#panel button.copy').click()");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        b.eval("document.querySelector('#panel button.copy').textContent"),
        json!("Copied")
    );
    // Zoom and pan change the view, Fit restores it.
    b.eval("document.getElementById('zoom-fit').click()");
    let fit = b.eval("document.getElementById('graph').getAttribute('viewBox')");
    b.eval("document.getElementById('zoom-in').click()");
    let zoomed = b.eval("document.getElementById('graph').getAttribute('viewBox')");
    assert_ne!(zoomed, fit);
    b.eval("document.getElementById('graph').focus()");
    b.press("ArrowLeft", 37);
    assert_ne!(
        b.eval("document.getElementById('graph').getAttribute('viewBox')"),
        zoomed
    );
    b.eval("document.getElementById('zoom-fit').click()");
    assert_eq!(
        b.eval("document.getElementById('graph').getAttribute('viewBox')"),
        fit
    );

    // Themes switch.
    let before = b.eval("document.documentElement.dataset.theme");
    b.eval("document.getElementById('theme').click()");
    assert_ne!(b.eval("document.documentElement.dataset.theme"), before);
    b.eval("document.getElementById('theme').click()");

    // The picture shows a path: the finding about redis, selected.
    b.eval("[...document.querySelectorAll('#findings tbody tr')].find(r => r.textContent.includes('crown jewel data/redis')).click()");
    screenshots(&mut b, "audit-wordpress");
    b.eval("document.getElementById('theme').click()");
    screenshots(&mut b, "audit-wordpress-other-theme");
    assert_clean(&mut b, &file);
}

#[test]
fn reach_page_is_the_connectivity_map() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = scratch("html-reach", &[]);
    let reach = json_of(&["reach", EXAMPLE, "--format", "json"]);
    let file = page(&dir, "reach.html", &["reach", EXAMPLE, "--format", "html"]);
    b.open(&file);
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .node').length"),
        json!(reach["endpoints"].as_array().unwrap().len())
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#findings').length"),
        json!(0)
    );
    // Every connection is drawn once (a small graph draws node to node).
    let pairs = reach["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["src"] != c["dst"])
        .count();
    assert_eq!(
        b.eval("document.querySelectorAll('#layer-edges path').length"),
        json!(pairs)
    );
    b.eval("document.querySelector('#graph .node[data-id=\"data/mysql\\\\[StatefulSet\\\\]\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))");
    let from = reach["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dst"] == "data/mysql[StatefulSet]" && c["src"] != c["dst"])
        .count();
    assert_eq!(
        b.eval("document.querySelectorAll('#reached-from li').length"),
        json!(from)
    );
    screenshots(&mut b, "reach-wordpress");
    assert_clean(&mut b, &file);
}

/// `namespaces` namespaces of `per` Deployments each, a default-deny in every other
/// namespace and an allow from the namespace before it.
fn large_cluster(dir: &Path, namespaces: usize, per: usize) {
    let mut yaml = String::new();
    for n in 0..namespaces {
        yaml.push_str(&format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{n}\n  labels:\n    team: t{n}\n"));
        for d in 0..per {
            yaml.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{d}\n  namespace: ns{n}\nspec:\n  selector:\n    matchLabels:\n      app: app{d}\n  template:\n    metadata:\n      labels:\n        app: app{d}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n        ports:\n        - containerPort: 80\n"
            ));
        }
        if n % 2 == 1 {
            yaml.push_str(&format!(
                "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: from-previous\n  namespace: ns{n}\nspec:\n  podSelector: {{}}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: t{}\n",
                n - 1
            ));
        }
    }
    std::fs::write(dir.join("cluster.yaml"), yaml).unwrap();
}

#[test]
fn a_large_cluster_opens_aggregated_by_namespace() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = scratch("html-large", &[]);
    large_cluster(&dir, 40, 50);
    let input = dir.join("cluster.yaml");
    let file = page(
        &dir,
        "audit.html",
        &["audit", input.to_str().unwrap(), "--format", "html"],
    );
    let took = b.open(&file);
    eprintln!("2,000 workloads: ready in {took:?}");
    // 2,000 workloads: every group (40 namespaces and the addresses outside the
    // cluster) starts collapsed, and no node is drawn.
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .group.collapsed').length"),
        json!(41)
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .node').length"),
        json!(0)
    );
    // Namespace-level lines: each of the 20 even namespaces (no policy) admits the 39
    // other namespaces and the outside (20 × 40); each odd one admits its predecessor
    // alone (20); no policy restricts egress, so every namespace reaches the outside
    // (40): 860 lines.
    assert_eq!(
        b.eval("document.querySelectorAll('#layer-edges path').length"),
        json!(860)
    );
    // A click opens one namespace and draws its 50 workloads; Enter opens another.
    b.eval("document.querySelector('#graph .group[data-g=\"0\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))");
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .node').length"),
        json!(50)
    );
    b.eval("document.querySelector('#graph .group.collapsed').focus()");
    b.press("Enter", 13);
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .node').length"),
        json!(100)
    );
    screenshots(&mut b, "audit-large");
    assert_clean(&mut b, &file);
}

#[test]
fn hostile_text_stays_text() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    // A file name is attacker-controlled in CI on pull requests, and so is an ignore
    // annotation's justification.
    let dir = scratch("html-hostile", &[]).join("x<img src=x onerror=window.pwned=1>");
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: default\n  annotations:\n    kubeseg.io/ignore: KS101\n    kubeseg.io/ignore-reason: \"</script><script>window.pwned=2</script>\"\n  labels:\n    app: web\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
    std::fs::write(dir.join("p<b>.yaml"), yaml).unwrap();
    let file = page(
        &dir,
        "audit.html",
        &["audit", dir.to_str().unwrap(), "--format", "html"],
    );
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(
        !html.contains("<img")
            && !html.contains("<b>")
            && !html.contains("window.pwned=2</script>")
    );
    b.open(&file);
    assert_eq!(b.eval("typeof window.pwned"), json!("undefined"));
    assert_eq!(b.eval("document.querySelectorAll('img').length"), json!(0));
    // The page's own <b> elements are the summary's numbers; none came from the name.
    assert_eq!(
        b.eval("[...document.querySelectorAll('b')].every(e => e.parentElement.classList.contains('card'))"),
        json!(true)
    );
    // The text is shown as it is.
    b.eval("[...document.querySelectorAll('#findings tbody tr')].find(r => r.dataset.code === 'KS101').click()");
    let panel = b.eval("document.getElementById('panel').textContent");
    assert!(
        panel
            .as_str()
            .unwrap()
            .contains("</script><script>window.pwned=2</script>"),
        "{panel}"
    );
    assert!(
        panel.as_str().unwrap().contains("onerror=window.pwned=1>"),
        "{panel}"
    );
    assert_clean(&mut b, &file);
}

#[test]
fn the_page_is_deterministic_and_self_contained() {
    let a = kubeseg(&["audit", EXAMPLE, "--format", "html"]).stdout;
    let b = kubeseg(&["audit", EXAMPLE, "--format", "html"]).stdout;
    assert!(a == b, "two runs differ");
    let html = String::from_utf8(a).unwrap();
    // Nothing to fetch: no external scripts, styles, images or fonts. The only URLs are
    // the SVG namespace (a name, never fetched) and `url(#marker)` references inside
    // the page.
    let html = html.replace("'http://www.w3.org/2000/svg'", "");
    for needle in ["src=", "href=", "@import", "http://", "https://", "//cdn"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    for (at, _) in html.match_indices("url(") {
        assert!(html[at + 4..].starts_with('#'), "{}", &html[at..at + 20]);
    }
    assert!(html.contains("Content-Security-Policy"));
    assert!(std::path::Path::new(ROOT).join(EXAMPLE).exists());
}

/// The 150,000-pod benchmark shape (`kubeseg-synth --shape issue-150k-real --seed 1`):
/// its audit page opens, starts aggregated, and a finding and a namespace work.
#[test]
fn the_150k_benchmark_report_works() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = scratch("html-150k", &[]);
    let input = dir.join("cluster.yaml");
    let shape = kubeseg_synth::shape("issue-150k-real").unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    kubeseg_synth::generate(&shape, 1, kubeseg_synth::Format::Yaml, &mut out).unwrap();
    drop(out);
    let input = input.to_str().unwrap();
    let report = json_of(&["audit", input, "--format", "json"]);
    let file = page(&dir, "audit.html", &["audit", input, "--format", "html"]);
    let took = b.open(&file);
    eprintln!("150k: ready in {took:?}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(
        b.eval("document.querySelectorAll('#findings tbody tr').length"),
        json!(findings.len())
    );
    // 3,000 namespaces and the outside, all collapsed.
    assert_eq!(
        b.eval("document.querySelectorAll('#graph .group.collapsed').length"),
        json!(3001)
    );
    // The first finding about one workload highlights that workload alone.
    let (i, f) = findings
        .iter()
        .enumerate()
        .find(|(_, f)| f["code"] == "KS101")
        .unwrap();
    b.eval(&format!(
        "document.querySelector('#findings tbody tr[data-index=\"{i}\"]').click()"
    ));
    assert_eq!(
        set(b.eval("[...document.querySelectorAll('#graph .node.hl')].map(n => n.dataset.id)")),
        set(f["endpoints"].clone())
    );
    screenshots(&mut b, "audit-150k");
    assert_clean(&mut b, &file);
}

/// The bundled mesh example: the page works and says, visibly, that its connections are
/// L3/L4 and that the mesh restricts them further (every layer, or a visible note).
#[test]
fn the_mesh_example_says_what_the_graph_leaves_to_the_mesh() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = scratch("html-mesh", &[]);
    let report = json_of(&["audit", "examples/mesh", "--format", "json"]);
    for (name, args) in [
        ("audit.html", ["audit", "examples/mesh", "--format", "html"]),
        ("reach.html", ["reach", "examples/mesh", "--format", "html"]),
    ] {
        let file = page(&dir, name, &args);
        b.open(&file);
        b.eval("document.getElementById('notes').open = true");
        let notes = b.eval("document.getElementById('notes').innerText");
        assert!(
            notes
                .as_str()
                .unwrap()
                .contains("L3/L4 connections; the Istio mesh further restricts"),
            "{name}: {notes}"
        );
        if name == "audit.html" {
            assert_eq!(
                b.eval("document.querySelectorAll('#findings tbody tr').length"),
                json!(report["findings"].as_array().unwrap().len())
            );
        }
        assert_clean(&mut b, &file);
    }
}

/// The checks above can fail: a page that logs an error, throws, and asks for a remote
/// image is caught by each of them.
#[test]
fn the_harness_sees_errors_and_requests() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = scratch("html-harness", &[]);
    let file = dir.join("bad.html");
    std::fs::write(
        &file,
        "<!DOCTYPE html><html><body><img src=\"http://192.0.2.1/x.png\"><script>console.error('boom'); document.body.setAttribute('data-ready', '1'); setTimeout(() => { throw new Error('late'); }, 0);</script></body></html>",
    )
    .unwrap();
    b.open(&file);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let errors = b.errors();
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("late")), "{errors:?}");
    let requests = b.requests();
    assert!(
        requests.iter().any(|r| r == "http://192.0.2.1/x.png"),
        "{requests:?}"
    );
}
