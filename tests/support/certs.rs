//! Certificates on the bed, as a user handles them: apply a manifest, wait until it is Ready,
//! read its Secret, and look at the PEM with `openssl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use certsmith::api::{
    Certificate, ConditionStatus, Issuer, IssuerSpec, SelfSignedIssuer, find_condition,
};

/// Server-side applies a Certificate with `spec` (JSON as in a manifest).
pub async fn apply_certificate(api: &Api<Certificate>, name: &str, spec: serde_json::Value) {
    apply_spec(api, name, spec).await;
}

/// Server-side applies a cert-manager.io object of `api`'s kind with `spec` (JSON as in a
/// manifest), as the tests' field manager.
pub async fn apply_spec<K>(api: &Api<K>, name: &str, spec: serde_json::Value)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let kind = K::kind(&());
    let doc = json!({
        "apiVersion": K::api_version(&()), "kind": kind,
        "metadata": { "name": name }, "spec": spec
    });
    api.patch(
        name,
        &PatchParams::apply("certsmith-tests").force(),
        &Patch::Apply(&doc),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
}

/// Creates a SelfSigned Issuer `name` in `ns`.
pub async fn create_selfsigned_issuer(client: &kube::Client, ns: &str, name: &str) {
    Api::<Issuer>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &Issuer::new(
                name,
                IssuerSpec {
                    self_signed: Some(SelfSignedIssuer::default()),
                    ..Default::default()
                },
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("creating Issuer {ns}/{name}: {e}"));
}

/// Waits up to 45 s until the Certificate `name` is Ready at `revision` (see [`ready_at`]).
pub async fn wait_ready_at(api: &Api<Certificate>, name: &str, revision: i32) {
    super::eventually(
        std::time::Duration::from_secs(45),
        &format!("Certificate {name} Ready at revision {revision}"),
        || async { ready_at(&api.get(name).await.ok()?, revision).then_some(()) },
    )
    .await;
}

/// Whether `cert` is Ready at `revision` (or later) for its current generation, with issuance
/// settled: not Issuing and its temporary key Secret cleaned up.
pub fn ready_at(cert: &Certificate, revision: i32) -> bool {
    let Some(status) = cert.status.as_ref() else {
        return false;
    };
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let Some(ready) = find_condition(conditions, "Ready") else {
        return false;
    };
    let fresh = ready.observed_generation == cert.metadata.generation;
    let issuing =
        find_condition(conditions, "Issuing").is_some_and(|c| c.status == ConditionStatus::True);
    let settled = !issuing && status.next_private_key_secret_name.is_none();
    ready.status == ConditionStatus::True
        && fresh
        && settled
        && status.revision.is_some_and(|r| r >= revision)
}

/// The Ready condition of `cert` as `status (reason): message`, for assertion messages.
pub fn ready_summary(cert: &Certificate) -> String {
    cert.status
        .as_ref()
        .and_then(|s| find_condition(s.conditions.as_deref()?, "Ready").cloned())
        .map_or_else(
            || "no Ready condition".to_owned(),
            |c| {
                format!(
                    "{:?} ({}): {}",
                    c.status,
                    c.reason.unwrap_or_default(),
                    c.message.unwrap_or_default()
                )
            },
        )
}

/// A key of a Secret's data (empty when missing).
pub fn secret_data<'a>(secret: &'a Secret, key: &str) -> &'a [u8] {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
        .unwrap_or_default()
}

/// The last `n` lines of `text` (a controller log, say).
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `openssl` with `input` on stdin; returns stdout, or `Err` with what it printed.
pub fn openssl(args: &[&str], input: &[u8]) -> Result<String, String> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running openssl {args:?}: {e}"));
    let mut stdin = child.stdin.take().expect("openssl stdin");
    stdin.write_all(input).expect("writing to openssl");
    drop(stdin);
    let out = child.wait_with_output().expect("waiting for openssl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "openssl {}: {stdout}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A scratch directory under the system temp dir, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("certsmith-it-{name}"));
        std::fs::create_dir_all(&dir).expect("creating a scratch dir");
        Self(dir)
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a user checks first on a TLS Secret, with OpenSSL: tls.key is the key of the leaf in
/// tls.crt, and the chain in tls.crt verifies against ca.crt. `case` names the Secret in the
/// error.
pub fn openssl_check_secret(
    secret: &Secret,
    scratch: &ScratchDir,
    case: &str,
) -> Result<(), String> {
    let crt = secret_data(secret, "tls.crt");
    let key = secret_data(secret, "tls.key");
    let cert_pub = openssl(&["x509", "-noout", "-pubkey"], crt)?;
    // `pkey -pubout` prints only the public half: nothing secret reaches a message.
    let key_pub = openssl(&["pkey", "-pubout"], key)
        .map_err(|_| format!("{case}: openssl cannot read tls.key"))?;
    if cert_pub != key_pub {
        return Err(format!(
            "{case}: tls.key does not match tls.crt\ncertificate key:\n{cert_pub}\ntls.key's public key:\n{key_pub}"
        ));
    }
    let ca = scratch.file(&format!("{case}-ca.crt"), secret_data(secret, "ca.crt"));
    let chain = scratch.file(&format!("{case}-tls.crt"), crt);
    let ca = ca.to_str().expect("utf-8 path");
    let chain = chain.to_str().expect("utf-8 path");
    // The leaf is the first block of tls.crt; the rest (if any) are intermediates.
    openssl(&["verify", "-CAfile", ca, "-untrusted", chain, chain], b"")
        .map(|_| ())
        .map_err(|e| format!("{case}: the leaf does not verify against ca.crt: {e}"))
}
