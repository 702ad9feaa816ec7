//! kubeseg's kernel lab: the pods of a cluster as Linux network namespaces attached by
//! the reference CNI plugins, each pod's NetworkPolicies compiled to nftables in its
//! own namespace, listeners on every declared port, and real probes between them.
//!
//! `plan` chooses the pods and external addresses, `nft` compiles policy (independently
//! of the engine), `net` builds and removes labs (the only module that runs commands),
//! `probe` holds the listeners and the probes that run inside the namespaces.

pub mod cni;
pub mod net;
pub mod nft;
pub mod plan;
pub mod probe;
pub mod verify;

pub use net::{LabError, State};
pub use plan::{LabExternal, LabPod, LabPort, Plan, plan};
