//! The audit's Istio findings (KS701–KS705), from the checks it shares with lint.

use super::Audit;
use crate::mesh_checks::{
    Planes, impossible_principals, namespaces_without_allow, not_enforced, principals_plaintext,
    unknown_service_accounts,
};
use crate::registry::{
    MESH_NAMESPACE_NO_ALLOW_POLICY, MESH_POLICY_NOT_ENFORCED, MESH_PRINCIPAL_IMPOSSIBLE,
    MESH_PRINCIPAL_UNKNOWN_SERVICE_ACCOUNT, MESH_PRINCIPALS_PLAINTEXT,
};
use kubeseg_engine::mesh::MeshOptions;
use kubeseg_model::AuthorizationPolicy;

/// Runs the mesh checks (nothing when the input has no mesh object and no meshed pod).
pub(crate) fn check(a: &mut Audit, options: &MeshOptions) {
    let cluster = a.engine.cluster;
    let planes = Planes::new(cluster);
    if cluster.authorization_policies.is_empty()
        && cluster.peer_authentications.is_empty()
        && !planes.any_meshed()
    {
        return;
    }
    let aps: Vec<&AuthorizationPolicy> = cluster.authorization_policies.iter().collect();
    let mut out = impossible_principals(&aps, &MESH_PRINCIPAL_IMPOSSIBLE);
    out.extend(unknown_service_accounts(
        cluster,
        &aps,
        &MESH_PRINCIPAL_UNKNOWN_SERVICE_ACCOUNT,
    ));
    out.extend(namespaces_without_allow(
        cluster,
        options,
        &planes,
        &MESH_NAMESPACE_NO_ALLOW_POLICY,
    ));
    out.extend(principals_plaintext(
        cluster,
        options,
        &planes,
        &MESH_PRINCIPALS_PLAINTEXT,
    ));
    let (unenforced, note) = not_enforced(cluster, options, &planes, &MESH_POLICY_NOT_ENFORCED);
    out.extend(unenforced);
    for f in out {
        a.push(f);
    }
    a.notes.extend(note);
}
