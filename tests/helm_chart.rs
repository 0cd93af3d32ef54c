//! The Helm chart renders the generated CRDs exactly when asked to (`installCRDs` or
//! `crds.enabled`) and keeps them on uninstall by default. Uses the bed's helm binary.

mod support;

use serde_json::Value;
use support::{TestBed, committed_crds, repo_root};

/// Renders the chart with `--set` values; returns the CRDs of the output.
fn rendered_crds(bed: &TestBed, sets: &[&str]) -> Vec<Value> {
    let chart = repo_root().join("charts/certsmith");
    let mut args = vec![
        "template",
        "certsmith",
        chart.to_str().expect("utf-8 path"),
        "-n",
        "certsmith",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let (ok, out, err) = bed.helm(&args);
    assert!(ok, "helm template {sets:?} failed: {err}");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out).expect("helm output is YAML");
    docs.into_iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect()
}

fn keep_annotation(crd: &Value) -> Option<&str> {
    crd["metadata"]["annotations"]["helm.sh/resource-policy"].as_str()
}

#[test]
fn chart_lints() {
    let bed = TestBed::get();
    let chart = repo_root().join("charts/certsmith");
    let (ok, out, err) = bed.helm(&[
        "lint",
        chart.to_str().expect("utf-8 path"),
        "--set",
        "installCRDs=true",
    ]);
    assert!(ok, "helm lint failed:\n{out}{err}");
}

#[test]
fn no_crds_unless_asked() {
    let bed = TestBed::get();
    assert!(
        rendered_crds(&bed, &[]).is_empty(),
        "CRDs rendered without installCRDs/crds.enabled"
    );
}

#[test]
fn install_crds_renders_the_generated_crds_and_keeps_them() {
    let bed = TestBed::get();
    let committed = committed_crds();
    for sets in [&["installCRDs=true"][..], &["crds.enabled=true"]] {
        let rendered = rendered_crds(&bed, sets);
        assert_eq!(
            rendered.len(),
            committed.len(),
            "{sets:?}: one CRD per generated file"
        );
        for crd in &committed {
            let name = crd.metadata.name.as_deref().expect("CRD name");
            let found = rendered
                .iter()
                .find(|r| r["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{sets:?}: {name} not rendered"));
            assert_eq!(
                found["spec"],
                serde_json::to_value(&crd.spec).expect("CRD spec as JSON"),
                "{sets:?}: the chart's {name} differs from crds/"
            );
            assert_eq!(
                keep_annotation(found),
                Some("keep"),
                "{sets:?}: {name} must survive helm uninstall"
            );
            assert_eq!(
                found["metadata"]["labels"]["app.kubernetes.io/instance"],
                "certsmith"
            );
        }
    }
}

#[test]
fn crds_keep_false_lets_uninstall_remove_them() {
    let bed = TestBed::get();
    let rendered = rendered_crds(&bed, &["crds.enabled=true", "crds.keep=false"]);
    assert_eq!(rendered.len(), 6);
    assert!(rendered.iter().all(|crd| keep_annotation(crd).is_none()));
}
