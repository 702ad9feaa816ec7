//! Deterministic synthetic Kubernetes cluster generator.
//!
//! Given a [`Shape`] and a seed, [`generate`] streams Namespaces, Deployments,
//! ReplicaSets, Pods (owned by ReplicaSets owned by Deployments) and
//! `networking.k8s.io/v1` NetworkPolicies (plus, by shape, tiered policies, Istio
//! objects, `cilium.io/v2` Cilium policies or `projectcalico.org/v3` Calico objects)
//! as multi-document YAML or as one JSON `List`. The output is byte-identical for the
//! same shape, seed and format on every platform (own splitmix64 PRNG, ordered maps, no
//! floating-point libm).

pub mod cidr;
mod handcrafted;
mod node;
mod rng;
mod synth;

use std::io::{self, BufWriter, Write};

use node::Node;

/// How a shape's objects are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Random cluster driven by the counts and knobs of the shape.
    Synthetic,
    /// Fixed upstream-e2e style cluster: namespaces x,y,z with pods a,b,c.
    E2e,
    /// Fixed microservice demo (online-boutique like) in one namespace.
    Demo,
}

/// Size and profile of a synthetic cluster.
///
/// Counts are totals, including the `kube-system` namespace and its 2
/// `coredns` pods (1 workload) when [`Shape::kube_dns`] is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Shape id (e.g. `"B7"`).
    pub name: &'static str,
    /// Number of Namespaces.
    pub namespaces: usize,
    /// Number of Deployments (each with one ReplicaSet); 0 for standalone-pod shapes.
    pub workloads: usize,
    /// Number of Pods.
    pub pods: usize,
    /// Number of NetworkPolicies.
    pub policies: usize,
    /// Synthetic or one of the fixed clusters.
    pub style: Style,
    /// One-line description for `--list`.
    pub description: &'static str,
    /// Standalone Pods without owners (workloads is then ignored).
    pub standalone_pods: bool,
    /// Every workload (every pod when standalone) gets a label set of its own:
    /// a unique `app=w<N>` (`p<N>`) plus random tier/team/version; with
    /// [`Shape::realistic`], the usual labels plus a unique `id=w<N>` (`p<N>`).
    pub unique_labels: bool,
    /// Add the `pod-template-hash` label to ReplicaSet pods (as Kubernetes does),
    /// which makes every workload's pod label set unique.
    pub pod_template_hash: bool,
    /// Add a `kube-system` namespace with a `coredns` Deployment (label
    /// `k8s-app=kube-dns`, 2 pods, ports 53/UDP `dns`, 53/TCP `dns-tcp`).
    pub kube_dns: bool,
    /// 0: namespace sizes roughly uniform. Otherwise Zipf-like sizes whose
    /// largest namespace has at most this many pods.
    pub max_namespace_pods: usize,
    /// Every policy uses `podSelector: {}`.
    pub select_all: bool,
    /// Percent of policies with an empty `podSelector`.
    pub empty_selector_pct: u32,
    /// Percent of rule peers that use a namespaceSelector (alone or with a podSelector).
    pub ns_selector_pct: u32,
    /// Percent of rule peers that are very broad (`namespaceSelector: {}` etc.).
    pub broad_peer_pct: u32,
    /// Total number of ipBlock peers (spread evenly over the policies).
    pub ip_blocks: usize,
    /// Percent of ipBlocks carrying `except` entries.
    pub except_pct: u32,
    /// Percent of ipBlocks that are IPv6.
    pub ipv6_pct: u32,
    /// Number of distinct port numbers used by containers and policies.
    pub distinct_ports: usize,
    /// Percent of policy port entries that are ranges (`endPort`).
    pub endport_pct: u32,
    /// Percent of policy port entries that are named ports.
    pub named_port_pct: u32,
    /// Percent of pods with `status.podIP` (in 10.0.0.0/8).
    pub pod_ip_pct: u32,
    /// Realistic cluster: ~30 teams, prod/staging/dev namespaces, special
    /// `ingress-nginx` (`role=ingress`) and `monitoring` (`role=monitoring`)
    /// namespaces, workloads with `tier` in frontend/backend/db/worker and named
    /// ports, and per-namespace policies from a fixed catalogue (default-deny,
    /// DNS egress, same-namespace, ingress controller, tier chain, metrics,
    /// cross-team, external egress, ~5% app-specific). The random-mix knobs
    /// (`select_all`, `*_pct` of selectors/peers/ports/ipBlocks, `ip_blocks`,
    /// `distinct_ports`) are then ignored.
    pub realistic: bool,
    /// Number of Admin-tier ClusterNetworkPolicies.
    pub admin_policies: usize,
    /// Most rules per Admin-tier policy (each gets 1..=this many).
    pub admin_rules: usize,
    /// Add the BaselineAdminNetworkPolicy `default` isolating team namespaces.
    pub baseline: bool,
    /// Number of Istio AuthorizationPolicies; above 0, namespaces get sidecar injection,
    /// workloads ServiceAccounts, and half the namespaces a STRICT PeerAuthentication.
    pub mesh_policies: usize,
    /// Number of Cilium policies added to a realistic shape: a few
    /// CiliumClusterwideNetworkPolicies, the rest CiliumNetworkPolicies spread over the
    /// namespaces by workload count (ignored unless [`Shape::realistic`]).
    pub cilium_policies: usize,
    /// Number of Calico policies added to a realistic shape: three GlobalNetworkPolicies
    /// in tier `security` and one per team in tier `platform`, the rest Calico
    /// NetworkPolicies spread over the namespaces by workload count (ignored unless
    /// [`Shape::realistic`]); with them come the two Tiers, two GlobalNetworkSets and
    /// NetworkSets in some namespaces.
    pub calico_policies: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            name: "custom",
            namespaces: 10,
            workloads: 100,
            pods: 1000,
            policies: 300,
            style: Style::Synthetic,
            description: "custom shape",
            standalone_pods: false,
            unique_labels: false,
            pod_template_hash: false,
            kube_dns: true,
            max_namespace_pods: 0,
            select_all: false,
            empty_selector_pct: 15,
            ns_selector_pct: 35,
            broad_peer_pct: 4,
            ip_blocks: 12,
            except_pct: 70,
            ipv6_pct: 5,
            distinct_ports: 40,
            endport_pct: 5,
            named_port_pct: 10,
            pod_ip_pct: 60,
            realistic: false,
            admin_policies: 0,
            admin_rules: 0,
            baseline: false,
            mesh_policies: 0,
            cilium_policies: 0,
            calico_policies: 0,
        }
    }
}

fn scale(v: usize, num: usize, den: usize) -> usize {
    if den == 0 {
        return v;
    }
    ((v as u128 * num as u128 + den as u128 / 2) / den as u128) as usize
}

impl Shape {
    /// Returns a copy with new counts. `pods` scales every count that is not
    /// given explicitly (and `ip_blocks`, `max_namespace_pods`) proportionally.
    /// Fixed styles become [`Style::Synthetic`] when any count changes.
    pub fn scaled(
        &self,
        pods: Option<usize>,
        workloads: Option<usize>,
        namespaces: Option<usize>,
        policies: Option<usize>,
    ) -> Shape {
        let mut s = self.clone();
        if pods.is_none() && workloads.is_none() && namespaces.is_none() && policies.is_none() {
            return s;
        }
        let (num, den) = match pods {
            Some(p) => (p, self.pods.max(1)),
            None => (1, 1),
        };
        s.pods = pods.unwrap_or(self.pods);
        s.workloads = workloads.unwrap_or_else(|| scale(self.workloads, num, den));
        s.namespaces = namespaces
            .unwrap_or_else(|| scale(self.namespaces, num, den))
            .max(1);
        s.policies = policies.unwrap_or_else(|| scale(self.policies, num, den));
        s.ip_blocks = scale(self.ip_blocks, s.policies, self.policies.max(1));
        s.cilium_policies = scale(self.cilium_policies, s.policies, self.policies.max(1));
        s.calico_policies = scale(self.calico_policies, s.policies, self.policies.max(1));
        if self.max_namespace_pods > 0 {
            s.max_namespace_pods = scale(self.max_namespace_pods, num, den).max(1);
        }
        if !s.standalone_pods && s.pods > 0 {
            s.workloads = s.workloads.clamp(1, s.pods);
        }
        if s.style != Style::Synthetic {
            s.style = Style::Synthetic;
            s.kube_dns = s.namespaces >= 2;
        }
        s
    }
}

/// All shape ids understood by [`shape`].
pub const SHAPE_IDS: &[&str] = &[
    "B0",
    "B1",
    "B2",
    "B3",
    "B4",
    "B5",
    "B6",
    "B7",
    "B8",
    "issue-10k",
    "issue-150k",
    "issue-10k-real",
    "issue-150k-real",
    "issue-150k-real-unique",
    "issue-10k-real-tiers",
    "issue-150k-real-tiers",
    "cilium-2k",
    "issue-10k-real-cilium",
    "issue-150k-real-cilium",
    "calico-2k",
    "issue-10k-real-calico",
    "issue-150k-real-calico",
    "mesh-20k",
    "nca300",
    "nca1000",
];

/// Looks up a predefined shape (case-insensitive).
pub fn shape(id: &str) -> Option<Shape> {
    let d = Shape::default();
    let syn = |name, namespaces, workloads, pods, policies, description| Shape {
        name,
        namespaces,
        workloads,
        pods,
        policies,
        description,
        ip_blocks: policies / 25,
        ..d.clone()
    };
    let real = |s: Shape| Shape {
        realistic: true,
        ip_blocks: 0,
        ..s
    };
    let id = SHAPE_IDS.iter().find(|s| s.eq_ignore_ascii_case(id))?;
    Some(match *id {
        "B0" => Shape {
            style: Style::E2e,
            standalone_pods: true,
            kube_dns: false,
            workloads: 0,
            ip_blocks: 1,
            ..syn("B0", 3, 0, 9, 5, "e2e style: namespaces x,y,z x pods a,b,c")
        },
        "B1" => Shape {
            style: Style::Demo,
            kube_dns: false,
            ip_blocks: 1,
            ..syn(
                "B1",
                1,
                15,
                15,
                11,
                "microservice demo, 15 workloads, 1 namespace",
            )
        },
        "B2" => syn("B2", 50, 100, 1_000, 300, "small cluster"),
        "B3" => Shape {
            empty_selector_pct: 26,
            broad_peer_pct: 10,
            ..syn(
                "B3",
                600,
                900,
                5_400,
                13_700,
                "policy-dense, 26% empty podSelectors, broad peers",
            )
        },
        "B4" => syn(
            "B4",
            25_000,
            25_000,
            100_000,
            75_000,
            "many small namespaces",
        ),
        "B5" => Shape {
            select_all: true,
            kube_dns: false,
            ..syn(
                "B5",
                1,
                1_000,
                10_000,
                10_000,
                "1 namespace, every policy selects every pod",
            )
        },
        "B6" => Shape {
            ns_selector_pct: 75,
            ..syn(
                "B6",
                1_000,
                10_000,
                100_000,
                10_000,
                "namespaceSelector-heavy peers",
            )
        },
        "B7" => Shape {
            max_namespace_pods: 3_000,
            ip_blocks: 500,
            except_pct: 100,
            distinct_ports: 200,
            endport_pct: 5,
            named_port_pct: 10,
            ..syn(
                "B7",
                10_000,
                15_000,
                150_000,
                50_000,
                "Zipf namespaces, ipBlocks, port ranges, named ports",
            )
        },
        "B8" => Shape {
            unique_labels: true,
            ..syn(
                "B8",
                1_000,
                15_000,
                150_000,
                20_000,
                "every workload has its own label set",
            )
        },
        "issue-10k" => syn(
            "issue-10k",
            100,
            1_000,
            10_000,
            3_000,
            "issue report, 10k pods",
        ),
        "issue-150k" => syn(
            "issue-150k",
            3_000,
            15_000,
            150_000,
            45_000,
            "issue report, 150k pods",
        ),
        "issue-10k-real" => real(syn(
            "issue-10k-real",
            100,
            1_000,
            10_000,
            3_000,
            "issue report, 10k pods, realistic policy mix",
        )),
        "issue-150k-real" => real(syn(
            "issue-150k-real",
            3_000,
            15_000,
            150_000,
            45_000,
            "issue report, 150k pods, realistic policy mix",
        )),
        "issue-150k-real-tiers" => Shape {
            admin_policies: 200,
            admin_rules: 100,
            baseline: true,
            ..real(syn(
                "issue-150k-real-tiers",
                3_000,
                15_000,
                150_000,
                45_000,
                "issue-150k-real plus 200 Admin-tier policies (up to 100 rules) and a Baseline",
            ))
        },
        "issue-10k-real-tiers" => Shape {
            admin_policies: 200,
            admin_rules: 100,
            baseline: true,
            ..real(syn(
                "issue-10k-real-tiers",
                100,
                1_000,
                10_000,
                3_000,
                "issue-10k-real plus 200 Admin-tier policies (up to 100 rules) and a Baseline",
            ))
        },
        // As many Cilium policies as NetworkPolicies: Cilium clusters keep both.
        "cilium-2k" => Shape {
            cilium_policies: 600,
            ..real(syn(
                "cilium-2k",
                20,
                200,
                2_000,
                600,
                "small realistic mix plus as many Cilium policies (tests)",
            ))
        },
        "issue-10k-real-cilium" => Shape {
            cilium_policies: 3_000,
            ..real(syn(
                "issue-10k-real-cilium",
                100,
                1_000,
                10_000,
                3_000,
                "issue-10k-real plus 3,000 Cilium policies (CNPs and 5 CCNPs)",
            ))
        },
        "issue-150k-real-cilium" => Shape {
            cilium_policies: 45_000,
            ..real(syn(
                "issue-150k-real-cilium",
                3_000,
                15_000,
                150_000,
                45_000,
                "issue-150k-real plus 45,000 Cilium policies (CNPs and 5 CCNPs)",
            ))
        },
        // As many Calico policies as NetworkPolicies: Calico enforces both.
        "calico-2k" => Shape {
            calico_policies: 600,
            ..real(syn(
                "calico-2k",
                20,
                200,
                2_000,
                600,
                "small realistic mix plus as many Calico policies (tests)",
            ))
        },
        "issue-10k-real-calico" => Shape {
            calico_policies: 3_000,
            ..real(syn(
                "issue-10k-real-calico",
                100,
                1_000,
                10_000,
                3_000,
                "issue-10k-real plus 3,000 Calico policies in tiers security, platform and default",
            ))
        },
        "issue-150k-real-calico" => Shape {
            calico_policies: 45_000,
            ..real(syn(
                "issue-150k-real-calico",
                3_000,
                15_000,
                150_000,
                45_000,
                "issue-150k-real plus 45,000 Calico policies in tiers security, platform and default",
            ))
        },
        "mesh-20k" => Shape {
            mesh_policies: 5_000,
            ..real(syn(
                "mesh-20k",
                500,
                20_000,
                40_000,
                5_000,
                "B12: Istio mesh, 20k workloads, 500 namespaces, 5,000 AuthorizationPolicies + NetworkPolicies",
            ))
        },
        "issue-150k-real-unique" => Shape {
            unique_labels: true,
            ..real(syn(
                "issue-150k-real-unique",
                3_000,
                15_000,
                150_000,
                45_000,
                "realistic policy mix, every workload has its own label set",
            ))
        },
        "nca300" | "nca1000" => {
            let pods = if *id == "nca300" { 300 } else { 1_000 };
            Shape {
                standalone_pods: true,
                unique_labels: true,
                kube_dns: false,
                ip_blocks: pods / 100,
                ..syn(
                    id,
                    5,
                    0,
                    pods,
                    pods / 10,
                    "standalone pods, unique label sets (NCA comparison)",
                )
            }
        }
        _ => return None,
    })
}

/// All predefined shapes, in [`SHAPE_IDS`] order.
pub fn shapes() -> Vec<Shape> {
    SHAPE_IDS.iter().filter_map(|id| shape(id)).collect()
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Multi-document YAML, every document starting with `---`.
    Yaml,
    /// One `{"apiVersion":"v1","kind":"List","items":[...]}`, one item per line.
    Json,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Namespaces written.
    pub namespaces: usize,
    /// Deployments written (each with one ReplicaSet).
    pub workloads: usize,
    /// Pods written.
    pub pods: usize,
    /// NetworkPolicies written.
    pub policies: usize,
    /// CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies written.
    pub cilium: usize,
    /// Calico NetworkPolicies and GlobalNetworkPolicies written.
    pub calico: usize,
    /// Other objects written: tiered policies, Istio objects, ServiceAccounts, Calico
    /// Tiers and network sets.
    pub others: usize,
    /// Total objects (documents / list items) written.
    pub objects: usize,
    /// Bytes written.
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Namespace,
    Deployment,
    ReplicaSet,
    Pod,
    Policy,
    /// Cilium policies, namespaced or cluster-wide.
    Cilium,
    /// Calico policies, namespaced or global.
    Calico,
    /// Tiered policies, Istio objects, ServiceAccounts, Calico Tiers and network sets.
    Other,
}

/// Buffered, counting object writer shared by the generators.
pub(crate) struct Sink<W: Write> {
    w: BufWriter<W>,
    format: Format,
    buf: Vec<u8>,
    stats: Stats,
}

impl<W: Write> Sink<W> {
    fn new(w: W, format: Format) -> io::Result<Self> {
        let mut s = Sink {
            w: BufWriter::with_capacity(1 << 16, w),
            format,
            buf: Vec::with_capacity(1 << 12),
            stats: Stats::default(),
        };
        if format == Format::Json {
            s.raw(b"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[")?;
        }
        Ok(s)
    }

    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.stats.bytes += b.len() as u64;
        self.w.write_all(b)
    }

    pub(crate) fn emit(&mut self, kind: Kind, n: &Node) -> io::Result<()> {
        self.buf.clear();
        match self.format {
            Format::Yaml => node::write_yaml_doc(n, &mut self.buf),
            Format::Json => {
                self.buf.extend_from_slice(if self.stats.objects == 0 {
                    b"\n"
                } else {
                    b",\n"
                });
                node::write_json(n, &mut self.buf);
            }
        }
        let st = &mut self.stats;
        st.objects += 1;
        match kind {
            Kind::Namespace => st.namespaces += 1,
            Kind::Deployment => st.workloads += 1,
            Kind::ReplicaSet => {}
            Kind::Pod => st.pods += 1,
            Kind::Policy => st.policies += 1,
            Kind::Cilium => st.cilium += 1,
            Kind::Calico => st.calico += 1,
            Kind::Other => st.others += 1,
        }
        st.bytes += self.buf.len() as u64;
        self.w.write_all(&self.buf)
    }

    fn finish(mut self) -> io::Result<Stats> {
        if self.format == Format::Json {
            self.raw(b"\n]}\n")?;
        }
        self.w.flush()?;
        Ok(self.stats)
    }
}

/// Writes the cluster described by `shape` for `seed` to `out`.
///
/// Output is streamed; memory holds only the per-workload plan (not the pods).
pub fn generate(
    shape: &Shape,
    seed: u64,
    format: Format,
    out: &mut impl Write,
) -> io::Result<Stats> {
    let mut sink = Sink::new(out, format)?;
    match shape.style {
        Style::E2e => handcrafted::e2e(seed, &mut sink)?,
        Style::Demo => handcrafted::demo(seed, &mut sink)?,
        Style::Synthetic => synth::run(shape, seed, &mut sink)?,
    }
    sink.finish()
}

#[cfg(test)]
mod tests;
