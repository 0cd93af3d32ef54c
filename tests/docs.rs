//! The user documentation is tested: every fenced block in docs/**/*.md and README.md is
//! exercised, or excluded with a reason written next to it (`<!-- docs-test: skip: REASON -->`).
//!
//! - `yaml` blocks are applied to the test bed with `kubectl apply --dry-run=server` in a fresh
//!   namespace, so the real CRD schemas and CEL rules judge them. A PrometheusRule (whose CRD
//!   the bed does not have) is checked by `alerts_use_the_controllers_metric_names` instead.
//! - `sh` blocks follow the convention in tests/docs_support/shell.rs: `certsmith` command lines
//!   are parsed by `certsmith::cli::Cli` (and run when [`RUN_CERTSMITH`] is on); `kubectl` and
//!   `helm` lines are run against the bed: mutating verbs with `--dry-run=server`, `helm
//!   install` as `helm template`, and a NotFound answer accepted (the page's objects do not
//!   exist on the bed; a wrong flag or resource type still fails).
//! - `text` blocks are illustrations (diagrams, output) and may not contain a command.
//! - A page marked `<!-- docs-test: flow -->` is a walk-through: a `certsmith controller` runs,
//!   and the page's manifests and commands are applied and run for real, in order, with the
//!   substitutions of tests/docs_support/flow.rs; every issuer and Certificate it creates must
//!   become Ready.
//!
//! docs/certificate-reference.md's table is generated from crds/ (`CERTSMITH_UPDATE_DOCS=1
//! cargo test --test docs reference` rewrites it), and every relative link must resolve.

mod docs_support;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use serde_json::Value;

use certsmith::cli::Cli;
use docs_support::flow::{Flow, is_namespaced};
use docs_support::markdown::{Block, Directive, Page, pages, relative_links};
use docs_support::{reference, shell};
use support::values::{b64, random_label};
use support::{ControllerProcess, TestBed, delete_namespace, fresh_namespace, repo_root};

/// Run `certsmith` command lines (not only parse them). Off until the CLI's `status`,
/// `renew`, `inspect`, `check`, `approve`, `deny` and `completion` have landed.
const RUN_CERTSMITH: bool = false;

/// Subcommands the docs use that the CLI does not have yet (another helper builds them). Once
/// a subcommand exists, its lines must parse: this list only covers the gap.
const PENDING_SUBCOMMANDS: [&str; 0] = [];

/// Pages other helpers write at the same time (the chart's install and RBAC pages, the CLI
/// reference); links to them may dangle until those land.
const PENDING_PAGES: [&str; 0] = [];

/// Subcommands that never run in the test (they serve for ever or write into the tree).
const NEVER_RUN: [&str; 3] = ["controller", "acmesolver", "crdgen"];

const KUBECTL_READ: [&str; 8] = [
    "get", "describe", "explain", "wait", "events", "logs", "rollout", "version",
];
const KUBECTL_WRITE: [&str; 7] = [
    "apply", "create", "delete", "annotate", "label", "scale", "patch",
];
const HELM_VERBS: [&str; 7] = [
    "install",
    "upgrade",
    "uninstall",
    "template",
    "status",
    "get",
    "list",
];

/// The metric names the controller serves (src/telemetry/metrics.rs); alerts may use only
/// these. `alerts_use_the_controllers_metric_names` also checks a live `/metrics`.
const METRICS: [&str; 12] = [
    "certmanager_certificate_expiration_timestamp_seconds",
    "certmanager_certificate_not_after_timestamp_seconds",
    "certmanager_certificate_not_before_timestamp_seconds",
    "certmanager_certificate_renewal_timestamp_seconds",
    "certmanager_certificate_ready_status",
    "certmanager_http_acme_client_request_count",
    "certmanager_http_acme_client_request_duration_seconds",
    "certmanager_controller_sync_call_count",
    "certmanager_controller_sync_error_count",
    "certmanager_clock_time_seconds_gauge",
    "certsmith_reconcile_duration_seconds",
    "certsmith_leader_election_leader",
];

/// Walk-throughs run one at a time: their controller watches every namespace.
static CLUSTER_WIDE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn all_pages() -> Vec<Page> {
    pages(&repo_root())
}

/// The YAML documents of a block (empty documents dropped).
fn yaml_docs(block: &Block) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&block.text).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// What to do with a `certsmith` command line: parse it, and whether it may run.
fn check_certsmith(words: &[String]) -> Result<bool, String> {
    let sub = words.get(1).map(String::as_str).unwrap_or("");
    let known = Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == sub);
    if known {
        Cli::try_parse_from(words).map_err(|e| format!("does not parse: {e}"))?;
        Ok(!NEVER_RUN.contains(&sub))
    } else if PENDING_SUBCOMMANDS.contains(&sub) {
        Ok(false)
    } else {
        Err(format!("`certsmith {sub}` is not a subcommand"))
    }
}

/// The static checks of one block: language, convention, parseable manifests and commands.
fn check_block(page: &Page, index: usize) -> Result<(), String> {
    let block = &page.blocks[index];
    if let Directive::Skip(_) = block.directive {
        return Ok(());
    }
    if let Directive::DryRun(_) = block.directive
        && (!page.is_flow() || block.lang != "yaml")
    {
        return Err("`dry-run:` is for yaml blocks of flow pages".into());
    }
    match block.lang.as_str() {
        "yaml" => {
            let docs = yaml_docs(block)?;
            if docs.is_empty() {
                return Err("an empty yaml block".into());
            }
            for doc in docs {
                for field in ["apiVersion", "kind"] {
                    if !doc[field].is_string() {
                        return Err(format!("a manifest without {field}"));
                    }
                }
                if !doc["metadata"]["name"].is_string() {
                    return Err("a manifest without metadata.name".into());
                }
            }
            Ok(())
        }
        "sh" => {
            for words in shell::commands(&block.text)? {
                match words[0].as_str() {
                    "certsmith" => {
                        check_certsmith(&words).map_err(|e| format!("{}: {e}", words.join(" ")))?;
                    }
                    "kubectl" => {
                        let verb = words.get(1).map(String::as_str).unwrap_or("");
                        if !KUBECTL_READ.contains(&verb) && !KUBECTL_WRITE.contains(&verb) {
                            return Err(format!("kubectl {verb}: not a verb this test knows"));
                        }
                        if verb == "apply" && !applies_repo_file(&words) {
                            let earlier_yaml =
                                page.blocks[..index].iter().any(|b| b.lang == "yaml");
                            if !earlier_yaml {
                                return Err(format!(
                                    "{}: applies a file that is neither in the repository nor a yaml block above",
                                    words.join(" ")
                                ));
                            }
                        }
                    }
                    _ => {
                        let verb = words.get(1).map(String::as_str).unwrap_or("");
                        if !HELM_VERBS.contains(&verb) {
                            return Err(format!("helm {verb}: not a verb this test knows"));
                        }
                    }
                }
            }
            Ok(())
        }
        "text" => match block.text.lines().find(|l| shell::looks_like_command(l)) {
            Some(line) => Err(format!(
                "a command in a text block ({line:?}): put commands in sh blocks"
            )),
            None => Ok(()),
        },
        other => Err(format!(
            "fence language {other:?}: use yaml, sh or text (or a skip directive)"
        )),
    }
}

/// The `-f` value of a kubectl command, when it names a file in the repository.
fn applies_repo_file(words: &[String]) -> bool {
    file_arg(words).is_some_and(|f| repo_root().join(f).exists())
}

fn file_arg(words: &[String]) -> Option<&str> {
    words
        .windows(2)
        .find(|w| w[0] == "-f" || w[0] == "--filename")
        .map(|w| w[1].as_str())
}

#[test]
fn every_block_follows_the_rules() {
    let mut failures = Vec::new();
    let (mut counts, mut skips) = (
        std::collections::BTreeMap::<String, usize>::new(),
        Vec::new(),
    );
    for page in all_pages() {
        for (i, block) in page.blocks.iter().enumerate() {
            if let Err(e) = check_block(&page, i) {
                failures.push(format!("{}: {e}", block.at()));
            }
            match &block.directive {
                Directive::Skip(r) => skips.push(format!("{}: {r}", block.at())),
                _ => *counts.entry(block.lang.clone()).or_default() += 1,
            }
        }
    }
    eprintln!("blocks checked: {counts:?}; skipped: {}", skips.len());
    for s in &skips {
        eprintln!("  skip {s}");
    }
    assert!(
        failures.is_empty(),
        "docs blocks break the rules:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_relative_link_resolves() {
    let root = repo_root();
    let mut broken = Vec::new();
    for page in all_pages() {
        let dir = root
            .join(&page.file)
            .parent()
            .expect("a page's folder")
            .to_owned();
        for target in relative_links(&page.text) {
            let pending = PENDING_PAGES.iter().any(|p| target.ends_with(p));
            if !dir.join(&target).exists() && !pending {
                broken.push(format!("{}: {target}", page.file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn certificate_reference_is_generated_from_the_crd() {
    let root = repo_root();
    let crd_text = std::fs::read_to_string(root.join("crds/cert-manager.io_certificates.yaml"))
        .expect("reading the Certificate CRD");
    let crd: Value = serde_saphyr::from_str(&crd_text).expect("parsing the Certificate CRD");
    let path = root.join("docs/certificate-reference.md");
    let page = std::fs::read_to_string(&path).expect("reading docs/certificate-reference.md");
    let want = reference::splice(&page, &reference::spec_table(&crd)).expect("generated marks");
    if std::env::var_os("CERTSMITH_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("writing docs/certificate-reference.md");
        return;
    }
    assert!(
        page == want,
        "docs/certificate-reference.md is out of date with crds/: run \
         `CERTSMITH_UPDATE_DOCS=1 cargo test --test docs reference`"
    );
}

/// Every metric name a PrometheusRule in the docs uses.
fn alert_metric_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rules = 0;
    for page in all_pages() {
        for block in page.blocks.iter().filter(|b| b.lang == "yaml") {
            for doc in yaml_docs(block).unwrap_or_default() {
                if doc["kind"] != "PrometheusRule" {
                    continue;
                }
                for group in doc["spec"]["groups"].as_array().into_iter().flatten() {
                    for rule in group["rules"].as_array().into_iter().flatten() {
                        rules += 1;
                        let expr = rule["expr"].as_str().expect("a rule has an expr");
                        for word in expr
                            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                        {
                            if word.starts_with("certmanager_") || word.starts_with("certsmith_") {
                                names.insert(word.to_owned());
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        rules >= 3,
        "the docs should hold at least three example alerts, found {rules}"
    );
    names
}

/// A sample name without the suffix a summary or histogram adds.
fn family_of(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s).filter(|base| METRICS.contains(base)))
        .unwrap_or(name)
}

#[test]
fn alerts_use_only_known_metric_names() {
    let unknown: Vec<String> = alert_metric_names()
        .into_iter()
        .filter(|n| !METRICS.contains(&family_of(n)))
        .collect();
    assert!(
        unknown.is_empty(),
        "alerts use metrics the controller does not serve: {unknown:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// On the bed.

/// The outcome of one command.
fn run_words(bed: &TestBed, words: &[String]) -> (bool, String, String) {
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    match words[0].as_str() {
        "kubectl" => bed.kubectl(&args),
        "helm" => bed.helm(&args),
        _ => support::run(
            std::process::Command::new(env!("CARGO_BIN_EXE_certsmith"))
                .args(&args)
                .env("KUBECONFIG", bed.kubeconfig()),
        ),
    }
}

fn not_found(stderr: &str) -> bool {
    stderr.contains("NotFound") || stderr.contains("not found")
}

/// Writes manifests to a file under target/ for `kubectl apply -f`.
fn manifest_file(name: &str, docs: &[Value]) -> std::path::PathBuf {
    let dir = repo_root().join("target/docs-test");
    std::fs::create_dir_all(&dir).expect("creating target/docs-test");
    let path = dir.join(format!("{name}.json"));
    let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": docs });
    std::fs::write(&path, serde_json::to_vec_pretty(&list).expect("json"))
        .expect("writing a manifest");
    path
}

/// A command of a page that is not a walk-through, run so that it cannot change the bed.
fn exercise_command(bed: &TestBed, words: &[String]) -> Result<(), String> {
    let verb = words.get(1).map(String::as_str).unwrap_or("");
    let mut words = words.to_vec();
    match words[0].as_str() {
        // Parsed always; run only once the CLI is complete.
        "certsmith" if !(check_certsmith(&words)? && RUN_CERTSMITH) => return Ok(()),
        "kubectl" if verb == "apply" && !applies_repo_file(&words) => return Ok(()), // the yaml above
        "kubectl" if KUBECTL_WRITE.contains(&verb) => words.push("--dry-run=server".into()),
        "kubectl" if verb == "wait" => {
            words.retain(|w| !w.starts_with("--timeout"));
            words.push("--timeout=1s".into());
        }
        "helm" if matches!(verb, "install" | "upgrade") => {
            words[1] = "template".into();
            words.retain(|w| w != "--install" && w != "--create-namespace" && w != "--wait");
        }
        _ => {}
    }
    let (ok, out, err) = run_words(bed, &words);
    let timed_out = verb == "wait" && err.contains("timed out");
    if ok || not_found(&err) || timed_out {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {err}{}",
            words.join(" "),
            out.lines().take(5).collect::<Vec<_>>().join("\n")
        ))
    }
}

#[tokio::test]
async fn manifests_and_commands_work_on_the_bed() {
    let bed = TestBed::get();
    let client = bed.client().await;
    support::install_crds(&client).await;
    let ns = fresh_namespace(&client, "docs").await;
    let mut failures = Vec::new();
    let mut exercised = 0;
    for page in all_pages().iter().filter(|p| !p.is_flow()) {
        for (i, block) in page.blocks.iter().enumerate() {
            if block.directive != Directive::Default || check_block(page, i).is_err() {
                continue; // skipped, or reported by every_block_follows_the_rules
            }
            let result = match block.lang.as_str() {
                "yaml" => dry_run_block(&bed, &ns, block, &format!("page-{i}")),
                "sh" => shell::commands(&block.text)
                    .expect("checked")
                    .iter()
                    .try_for_each(|w| exercise_command(&bed, w)),
                _ => Ok(()),
            };
            exercised += 1;
            if let Err(e) = result {
                failures.push(format!("{}: {e}", block.at()));
            }
        }
    }
    delete_namespace(&client, &ns).await;
    eprintln!("{exercised} blocks exercised on the bed");
    assert!(
        failures.is_empty(),
        "docs blocks fail on the bed:\n{}",
        failures.join("\n\n")
    );
}

/// `kubectl apply --dry-run=server` of a yaml block, namespaced objects moved into `ns`.
fn dry_run_block(bed: &TestBed, ns: &str, block: &Block, name: &str) -> Result<(), String> {
    let docs: Vec<Value> = yaml_docs(block)?
        .into_iter()
        .filter(|d| d["kind"] != "PrometheusRule") // no such CRD on the bed; see the metrics tests
        .map(|mut d| {
            if is_namespaced(&d) {
                d["metadata"]["namespace"] = Value::String(ns.to_owned());
            }
            d
        })
        .collect();
    if docs.is_empty() {
        return Ok(());
    }
    let file = manifest_file(&format!("{ns}-{name}-{}", block.line), &docs);
    let (ok, _, err) = bed.kubectl(&[
        "apply",
        "--dry-run=server",
        "-n",
        ns,
        "-f",
        &file.to_string_lossy(),
    ]);
    if ok {
        Ok(())
    } else {
        Err(format!("rejected by the apiserver: {err}"))
    }
}

#[tokio::test]
async fn walkthroughs_reach_ready_on_the_bed() {
    let _cluster_wide = CLUSTER_WIDE.lock().await;
    let bed = TestBed::get();
    let client = bed.client().await;
    support::install_crds(&client).await;
    let ca = b64(&std::fs::read(bed.var("ACME_SERVER_CA_FILE")).expect("the bed's CA"));
    let flows: Vec<Page> = all_pages().into_iter().filter(Page::is_flow).collect();
    assert!(
        !flows.is_empty(),
        "no walk-through page is marked `<!-- docs-test: flow -->`"
    );
    for page in &flows {
        let started = Instant::now();
        run_flow(&bed, &client, page, &ca).await;
        eprintln!(
            "{}: walked through in {:?}",
            page.file.display(),
            started.elapsed()
        );
    }
}

/// Everything a walk-through created, for the Ready checks and the clean-up.
#[derive(Default)]
struct Created {
    /// (kind, namespace or "", name)
    objects: Vec<(String, String, String)>,
    release_installed: bool,
}

async fn run_flow(bed: &TestBed, client: &kube::Client, page: &Page, ca: &str) {
    let rand = random_label();
    // Not created here: the page creates it (`kubectl create namespace demo`), as a user does.
    let ns = format!("docs-flow-{rand}");
    let resources = fresh_namespace(client, "docs-flow-res").await;
    let cluster_names = page
        .blocks
        .iter()
        .filter(|b| b.lang == "yaml")
        .flat_map(|b| yaml_docs(b).unwrap_or_default())
        .filter(|d| !is_namespaced(d))
        .filter_map(|d| d["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    let flow = Flow {
        rand: rand.clone(),
        namespace: ns.clone(),
        resources: resources.clone(),
        release: format!("docs-{rand}"),
        acme_url: bed.var("ACME_DIRECTORY_URL").to_owned(),
        cluster_names,
    };
    let ctl = ControllerProcess::start(
        bed,
        &format!("docs-flow-{ns}"),
        &[
            "--cluster-resource-namespace",
            &resources,
            "--dns01-recursive-nameservers",
            bed.var("RFC2136_NAMESERVER"),
            "--dns01-recursive-nameservers-only",
            "--acme-http01-self-check-port",
            bed.var("HTTP01_PORT"),
        ],
    );
    let mut created = Created::default();
    let result = walk(bed, page, &flow, ca, &mut created, &ctl).await;
    eprintln!("cleaning up after {}", page.file.display());
    // Clean up whatever happened.
    if created.release_installed {
        let _ = bed.helm(&["uninstall", &flow.release, "-n", &resources]);
    }
    for (kind, obj_ns, name) in &created.objects {
        if obj_ns.is_empty() {
            let _ = bed.kubectl(&["delete", kind, name, "--ignore-not-found", "--wait=false"]);
        }
    }
    delete_namespace(client, &ns).await;
    delete_namespace(client, &resources).await;
    if let Err(e) = result {
        panic!(
            "{}: {e}\ncontroller log (tail):\n{}",
            page.file.display(),
            support::certs::tail(&ctl.log_text(), 60)
        );
    }
}

/// Applies and runs the page's blocks in order. Before the first command that deletes (the
/// page's clean-up), and at the end if there is none, everything made must be Ready and the
/// controller's `/metrics` must show it.
async fn walk(
    bed: &TestBed,
    page: &Page,
    flow: &Flow,
    ca: &str,
    created: &mut Created,
    ctl: &ControllerProcess,
) -> Result<(), String> {
    let mut checked = false;
    let mut pending: Option<(usize, &Block)> = None;
    for (i, block) in page.blocks.iter().enumerate() {
        check_block(page, i).map_err(|e| format!("{}: {e}", block.at()))?;
        match (&block.directive, block.lang.as_str()) {
            (Directive::Skip(_), _) | (_, "text") => {}
            (Directive::DryRun(_), _) => {
                let substituted = Block {
                    text: flow.text(&block.text),
                    ..block.clone()
                };
                dry_run_block(bed, &flow.namespace, &substituted, &format!("flow-{i}"))
                    .map_err(|e| format!("{}: {e}", block.at()))?;
            }
            (_, "yaml") => {
                // Applied when the page says `kubectl apply -f FILE` (after, say, creating the
                // namespace); before the next commands or manifest if it never does.
                if let Some((j, earlier)) = pending.replace((i, block)) {
                    apply_flow_yaml(bed, flow, ca, earlier, j, created).await?;
                }
            }
            (_, _) => {
                let commands = shell::commands(&block.text).expect("checked");
                let applies = commands
                    .iter()
                    .any(|w| w.get(1).is_some_and(|v| v == "apply") && !applies_repo_file(w));
                if !applies && let Some((j, yaml)) = pending.take() {
                    apply_flow_yaml(bed, flow, ca, yaml, j, created).await?;
                }
                for words in commands {
                    let words = flow.command(&words);
                    let verb = words.get(1).map(String::as_str);
                    if verb == Some("apply") && !applies_repo_file(&words) {
                        let (j, yaml) = pending.take().ok_or_else(|| {
                            format!("{}: `kubectl apply` with no manifest above", block.at())
                        })?;
                        apply_flow_yaml(bed, flow, ca, yaml, j, created).await?;
                    }
                    if !checked && matches!(verb, Some("delete" | "uninstall")) {
                        checked = true;
                        wait_all_ready(bed, created).await?;
                        check_live_metrics(ctl, &flow.namespace).await?;
                    }
                    run_flow_command(bed, &words, created)
                        .await
                        .map_err(|e| format!("{}: {e}", block.at()))?;
                }
            }
        }
    }
    if let Some((j, yaml)) = pending.take() {
        apply_flow_yaml(bed, flow, ca, yaml, j, created).await?;
    }
    if !checked {
        wait_all_ready(bed, created).await?;
        check_live_metrics(ctl, &flow.namespace).await?;
    }
    Ok(())
}

/// Applies a walk-through's manifest for real, with the flow's substitutions.
async fn apply_flow_yaml(
    bed: &TestBed,
    flow: &Flow,
    ca: &str,
    block: &Block,
    index: usize,
    created: &mut Created,
) -> Result<(), String> {
    let substituted = Block {
        text: flow.text(&block.text),
        ..block.clone()
    };
    let docs: Vec<Value> = yaml_docs(&substituted)?
        .into_iter()
        .map(|d| flow.manifest(d, ca))
        .collect();
    let file = manifest_file(&format!("{}-flow-{index}", flow.namespace), &docs);
    let (ok, _, err) = bed.kubectl(&["apply", "-f", &file.to_string_lossy()]);
    if !ok {
        return Err(format!("{}: applying failed: {err}", block.at()));
    }
    for d in &docs {
        let field = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        created.objects.push((
            field(&d["kind"]),
            field(&d["metadata"]["namespace"]),
            field(&d["metadata"]["name"]),
        ));
    }
    Ok(())
}

/// A walk-through command, run for real. Reading commands are retried for up to two minutes,
/// as a user re-runs `kubectl get` until the object shows up.
async fn run_flow_command(
    bed: &TestBed,
    words: &[String],
    created: &mut Created,
) -> Result<(), String> {
    let verb = words.get(1).map(String::as_str).unwrap_or("");
    match words[0].as_str() {
        "certsmith" if !(check_certsmith(words)? && RUN_CERTSMITH) => return Ok(()),
        "kubectl" if verb == "apply" && !applies_repo_file(words) => return Ok(()), // the yaml above
        "helm" if verb == "install" => created.release_installed = true,
        "helm" if verb == "uninstall" => created.release_installed = false,
        _ => {}
    }
    let retry = words[0] != "helm" && KUBECTL_READ.contains(&verb) || words[0] == "certsmith";
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (ok, out, err) = run_words(bed, words);
        if ok {
            eprintln!(
                "ran `{}`:\n{}",
                words.join(" "),
                out.lines().take(8).collect::<Vec<_>>().join("\n")
            );
            return Ok(());
        }
        if !retry || Instant::now() > deadline {
            return Err(format!("`{}` failed: {err}", words.join(" ")));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits until every issuer and Certificate the walk-through created, and every Certificate in
/// its namespace (the Ingress shim makes some), is Ready.
async fn wait_all_ready(bed: &TestBed, created: &Created) -> Result<(), String> {
    let mut targets: Vec<(String, String, String)> = created
        .objects
        .iter()
        .filter(|(k, _, _)| matches!(k.as_str(), "Certificate" | "Issuer" | "ClusterIssuer"))
        .cloned()
        .collect();
    let namespaces: BTreeSet<&str> = created
        .objects
        .iter()
        .map(|(_, ns, _)| ns.as_str())
        .filter(|ns| !ns.is_empty())
        .collect();
    for ns in namespaces {
        let (_, out, _) = bed.kubectl(&[
            "get",
            "certificates",
            "-n",
            ns,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        for name in out.split_whitespace() {
            let t = ("Certificate".to_owned(), ns.to_owned(), name.to_owned());
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
    }
    if !targets.iter().any(|(k, _, _)| k == "Certificate") {
        return Err("the walk-through made no Certificate".into());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (kind, ns, name) in &targets {
        loop {
            let mut args = vec![
                "get",
                kind.as_str(),
                name.as_str(),
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}"#,
            ];
            if !ns.is_empty() {
                args.extend(["-n", ns.as_str()]);
            }
            let (_, out, _) = bed.kubectl(&args);
            if out.starts_with("True") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{kind} {ns}/{name} not Ready after 120 s: {out}"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    eprintln!("Ready: {targets:?}");
    Ok(())
}

/// The controller's `/metrics` carries every family the example alerts use, and a series for
/// a Certificate of the walk-through.
async fn check_live_metrics(ctl: &ControllerProcess, ns: &str) -> Result<(), String> {
    let address = ctl.listen_address("metrics").await;
    eprintln!("reading http://{address}/metrics");
    let (status, body) = support::http_get(address, "/metrics");
    eprintln!("/metrics answered {status}, {} bytes", body.len());
    if status != 200 {
        return Err(format!("/metrics answered {status}"));
    }
    let families: BTreeSet<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let missing: Vec<String> = alert_metric_names()
        .into_iter()
        .filter(|n| !families.contains(family_of(n)))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "/metrics lacks families the alerts use: {missing:?}"
        ));
    }
    let series = "certmanager_certificate_ready_status{name=";
    let ours = body.lines().any(|l| {
        l.starts_with(series)
            && l.contains(&format!("namespace=\"{ns}\""))
            && l.contains("condition=\"True\"")
            && l.ends_with(" 1")
    });
    if !ours {
        return Err(format!(
            "/metrics has no Ready series for a Certificate in {ns}"
        ));
    }
    Ok(())
}
