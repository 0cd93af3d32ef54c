//! HTTP-01 for the Challenge controller: the solver Pod, its Service and the Ingress route
//! (a temporary Ingress, or a path added to a named one), made from the pure builders in
//! `crate::http01::resources`, re-made when they drift, removed at clean-up; and the self-check.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::challenges::SolveError;
use crate::api::Challenge;
use crate::controller::Context;
use crate::http01::gateway::{build_http_route, http_route_api_resource, http_route_matches};
use crate::http01::resources::{
    BuildError, IngressMode, add_challenge_path, build_ingress, build_pod, build_service,
    ingress_matches, ingress_mode, is_controlled_by, pod_finished, pod_matches,
    remove_challenge_path, service_matches, solver_selector,
};
use crate::http01::{SelfCheck, SelfCheckConfig, SelfCheckError, self_check as check};

fn config(err: BuildError) -> SolveError {
    SolveError::Config(err.to_string())
}

fn transient(what: String, err: kube::Error) -> SolveError {
    SolveError::Transient(format!("{what}: {err}"))
}

/// The objects of kind `K` this Challenge made (by its solver labels and owner).
async fn owned<K>(api: &Api<K>, kind: &str, challenge: &Challenge) -> Result<Vec<K>, SolveError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let list = api
        .list(&ListParams::default().labels(&solver_selector(challenge)))
        .await
        .map_err(|e| transient(format!("listing solver {kind}s"), e))?;
    Ok(list
        .items
        .into_iter()
        .filter(|o| is_controlled_by(o.meta(), challenge) && o.meta().deletion_timestamp.is_none())
        .collect())
}

/// Keeps exactly one object like `want` (deleting drifted ones, creating when none matches);
/// returns its name.
async fn ensure<K>(
    api: &Api<K>,
    kind: &str,
    challenge: &Challenge,
    want: &K,
    matches: impl Fn(&K, &K) -> bool,
) -> Result<String, SolveError>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let mut keep = None;
    for have in owned(api, kind, challenge).await? {
        if keep.is_none() && matches(&have, want) {
            keep = Some(have.name_any());
        } else {
            delete(api, kind, &have.name_any()).await?;
        }
    }
    if let Some(name) = keep {
        return Ok(name);
    }
    let created = api
        .create(&PostParams::default(), want)
        .await
        .map_err(|e| transient(format!("creating the solver {kind}"), e))?;
    Ok(created.name_any())
}

async fn delete<K>(api: &Api<K>, kind: &str, name: &str) -> Result<(), SolveError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(transient(format!("deleting {kind} {name}"), e)),
    }
}

/// Whether the solver routes through a Gateway API HTTPRoute instead of an Ingress.
fn uses_gateway(challenge: &Challenge) -> bool {
    challenge
        .spec
        .solver
        .http01
        .as_ref()
        .is_some_and(|h| h.gateway_http_route.is_some())
}

/// Creates (or repairs) the solver Pod, Service and route; says what was made.
pub async fn present(ctx: &Context, challenge: &Challenge) -> Result<String, SolveError> {
    let namespace = challenge.namespace().unwrap_or_default();
    // The route's settings are checked before anything is created.
    let mode = if uses_gateway(challenge) {
        None
    } else {
        Some(ingress_mode(challenge).map_err(config)?)
    };
    let pod = build_pod(challenge, &ctx.acme.settings.http01_solver_image).map_err(config)?;
    let service = build_service(challenge).map_err(config)?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let pod_name = ensure(&pods, "Pod", challenge, &pod, |have, want| {
        pod_matches(have, want) && !pod_finished(have)
    })
    .await?;
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let service_name = ensure(&services, "Service", challenge, &service, service_matches).await?;
    let ingresses: Api<Ingress> = Api::namespaced(ctx.client.clone(), &namespace);
    let route = match mode {
        None => {
            let route = build_http_route(challenge, &service_name).map_err(config)?;
            let routes: Api<DynamicObject> =
                Api::namespaced_with(ctx.client.clone(), &namespace, &http_route_api_resource());
            let name = ensure(&routes, "HTTPRoute", challenge, &route, http_route_matches).await?;
            format!("HTTPRoute {name}")
        }
        Some(IngressMode::Temporary) => {
            let ingress = build_ingress(challenge, &service_name).map_err(config)?;
            let name = ensure(&ingresses, "Ingress", challenge, &ingress, ingress_matches).await?;
            format!("Ingress {name}")
        }
        Some(IngressMode::Existing(name)) => {
            let mut ingress = ingresses
                .get_opt(name)
                .await
                .map_err(|e| transient(format!("reading Ingress {namespace}/{name}"), e))?
                .ok_or_else(|| {
                    SolveError::Config(format!(
                        "the Ingress {namespace}/{name} named by http01.ingress.name does not exist"
                    ))
                })?;
            if add_challenge_path(&mut ingress, challenge, &service_name).map_err(config)? {
                // Replace guarded by the resourceVersion read: a concurrent edit is retried.
                ingresses
                    .replace(name, &PostParams::default(), &ingress)
                    .await
                    .map_err(|e| {
                        transient(
                            format!("adding the challenge path to Ingress {namespace}/{name}"),
                            e,
                        )
                    })?;
            }
            format!("a path in Ingress {name}")
        }
    };
    Ok(format!(
        "solver Pod {pod_name}, Service {service_name} and {route} serve {}",
        challenge.spec.dns_name
    ))
}

/// Removes what [`present`] made (and the path from a named Ingress).
pub async fn clean_up(ctx: &Context, challenge: &Challenge) -> Result<(), SolveError> {
    let namespace = challenge.namespace().unwrap_or_default();
    let ingresses: Api<Ingress> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Ok(IngressMode::Existing(name)) = ingress_mode(challenge)
        && let Some(mut ingress) = ingresses
            .get_opt(name)
            .await
            .map_err(|e| transient(format!("reading Ingress {namespace}/{name}"), e))?
        && remove_challenge_path(&mut ingress, challenge)
    {
        ingresses
            .replace(name, &PostParams::default(), &ingress)
            .await
            .map_err(|e| {
                transient(
                    format!("removing the challenge path from Ingress {namespace}/{name}"),
                    e,
                )
            })?;
    }
    for ingress in owned(&ingresses, "Ingress", challenge).await? {
        delete(&ingresses, "Ingress", &ingress.name_any()).await?;
    }
    if uses_gateway(challenge) {
        let routes: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &namespace, &http_route_api_resource());
        for route in owned(&routes, "HTTPRoute", challenge).await? {
            delete(&routes, "HTTPRoute", &route.name_any()).await?;
        }
    }
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    for service in owned(&services, "Service", challenge).await? {
        delete(&services, "Service", &service.name_any()).await?;
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    for pod in owned(&pods, "Pod", challenge).await? {
        delete(&pods, "Pod", &pod.name_any()).await?;
    }
    Ok(())
}

/// `None` when the solver answers with the key authorization; else what it answered.
pub async fn self_check(
    ctx: &Context,
    challenge: &Challenge,
) -> Result<Option<String>, SolveError> {
    let settings = &ctx.acme.settings;
    let config = SelfCheckConfig {
        port: settings.http01_self_check_port,
        nameservers: (!settings.nameservers.is_empty()).then(|| settings.nameservers.clone()),
        ..SelfCheckConfig::default()
    };
    match check(
        &challenge.spec.dns_name,
        &challenge.spec.token,
        &challenge.spec.key,
        &config,
    )
    .await
    {
        Ok(SelfCheck::Passed) => Ok(None),
        Ok(SelfCheck::Failed { reason }) => Ok(Some(reason)),
        Err(SelfCheckError::SystemDns(why)) => Err(SolveError::Transient(why)),
        Err(err) => Err(SolveError::Config(err.to_string())),
    }
}
