//! Generators shared by the property tests: namespaces, label vocabularies, labels, and
//! pods' container ports and addresses.
#![allow(dead_code)]

use kubeseg_model::{ContainerPort, Labels, Protocol};
use proptest::prelude::*;
use proptest::sample::select;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub type Vocab = &'static [(&'static str, &'static [&'static str])];
pub const NAMESPACES: [&str; 3] = ["alpha", "beta", "gamma"];
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";
pub const NS_VOCAB: Vocab = &[("env", &["prod", "dev"]), ("team", &["red", "blue"])];
pub const POD_VOCAB: Vocab = &[
    ("app", &["web", "db", "api"]),
    ("tier", &["front", "back"]),
    ("canary", &["true"]),
];
pub const PORT_NAMES: &[&str] = &["http", "dns", "metrics"];
pub const RULE_PORT_NAMES: &[&str] = &["http", "dns", "metrics", "grpc"];
pub fn labels(vocab: Vocab, presence: f64) -> impl Strategy<Value = Labels> {
    let parts: Vec<BoxedStrategy<Option<(String, String)>>> = vocab
        .iter()
        .map(|&(k, vals)| {
            proptest::option::weighted(presence, select(vals))
                .prop_map(move |v| v.map(|v| (k.to_string(), v.to_string())))
                .boxed()
        })
        .collect();
    parts.prop_map(|v| v.into_iter().flatten().collect())
}
pub fn container_port() -> impl Strategy<Value = ContainerPort> {
    (
        proptest::option::weighted(0.7, select(PORT_NAMES)),
        select(&[53u16, 80, 443, 8080, 9090][..]),
        select(&[Protocol::Tcp, Protocol::Udp][..]),
    )
        .prop_map(|(name, port, protocol)| ContainerPort {
            name: name.map(str::to_string),
            port,
            protocol,
        })
}
pub fn pod_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        4 => (0u8..8).prop_map(|x| IpAddr::V4(Ipv4Addr::new(10, 0, 0, x))),
        1 => (0u16..6).prop_map(|x| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, x))),
    ]
}
