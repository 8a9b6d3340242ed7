//! No secret reaches a log line, even at `RUST_LOG=trace`: a real `signet serve` and real CLI
//! runs go through a whole session — client creation, tokens by form body and by HTTP Basic,
//! the Management API, dashboard sign-in, a page and a server-function action, rotations and a
//! revocation — and then every line they logged is searched for every secret they handled.

use std::{
    collections::BTreeSet,
    fs::File,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use app::keys::KeyState;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use der::Decode as _;
use reqwest::{StatusCode, header};
use serde_json::Value;
use signet::{domain::material::PrivateKey, store::KeyStore};

use crate::process::{ALL_SCOPES, Deployment, TENANT, free_local_addr};

/// `SIGNET_ADMIN_PASSWORD` as `Deployment::command` sets it.
const OPERATOR_PASSWORD: &str = "process test operator password";
/// Wrong credentials are secrets too: they are often a real one mistyped.
const WRONG_PASSWORD: &str = "wrong operator password 7f3a9c";
const WRONG_SECRET: &str = "wrongClientSecret_b81d2e4f";

/// A `signet serve` at `RUST_LOG=trace`, writing stdout and stderr to one file.
struct TracedServer {
    child: Child,
    base: String,
}

impl TracedServer {
    async fn start(deployment: &Deployment, log: &File) -> Self {
        Self::start_with(deployment, log, &[("RUST_LOG", "trace")]).await
    }

    /// A `signet serve` with these environment variables on top of the deployment's.
    async fn start_with(deployment: &Deployment, log: &File, env: &[(&str, &str)]) -> Self {
        let addr = free_local_addr();
        let mut command = deployment.command(&["serve"]);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .env("SIGNET_ADDR", &addr)
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            base: format!("http://{addr}"),
        };
        let http = http();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            assert!(
                server.child.try_wait().unwrap().is_none(),
                "signet serve exited"
            );
            if let Ok(answer) = http.get(server.url("/readyz")).send().await
                && answer.status() == StatusCode::OK
            {
                return server;
            }
            assert!(Instant::now() < deadline, "signet serve was not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, so the server shuts down as an operator stops it and logs that too.
    async fn stop(mut self) {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(terminated.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("signet serve did not stop on SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TracedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that shows redirects and cookies as they are, instead of following them.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Runs `signet args…` at trace level; returns stdout (where the CLI answers) and checks its
/// stderr (where it logs) later with the server's log.
async fn cli(deployment: &Deployment, args: &[&str], log: &mut String) -> String {
    let mut command = deployment.command(args);
    command
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::process::Command::from(command)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "signet {args:?}: {stderr}");
    log.push_str(&stderr);
    String::from_utf8(output.stdout).unwrap()
}

/// Every private key in the database, as the forms a log line could carry it in: the base64 of
/// its PKCS#8 DER, cut in PEM-line chunks (a PEM body or one long base64 both contain them), its
/// private exponent as a JWK's `d`, and a stretch of the DER as `Debug` prints bytes.
async fn private_key_forms(deployment: &Deployment, into: &mut BTreeSet<String>) {
    let master = deployment.master_key();
    let stored = deployment.store().await.load(usize::MAX).await.unwrap();
    for key in &stored.keys {
        let Some(sealed) = &key.sealed else { continue };
        let der = master.unseal(&key.record.kid, sealed).unwrap();
        let encoded = STANDARD.encode(&der[..]);
        // The first line of every RSA-2048 PKCS#8 starts alike; the chunks after it do not.
        into.extend(
            encoded
                .as_bytes()
                .chunks(64)
                .skip(1)
                .filter(|chunk| chunk.len() >= 32)
                .map(|chunk| String::from_utf8(chunk.to_vec()).unwrap()),
        );
        // A usable key, and its private exponent as read from the PKCS#8 structure.
        PrivateKey::from_pkcs8_der(&der).unwrap();
        let info = pkcs8::PrivateKeyInfo::from_der(&der).unwrap();
        let rsa = pkcs1::RsaPrivateKey::from_der(info.private_key).unwrap();
        into.insert(URL_SAFE_NO_PAD.encode(rsa.private_exponent.as_bytes()));
        let stretch: Vec<String> = der[200..216].iter().map(u8::to_string).collect();
        into.insert(stretch.join(", "));
    }
}

/// An access token for `(id, secret)`, by client_secret_basic or client_secret_post.
async fn access_token(
    server: &TracedServer,
    (id, secret): &(String, String),
    basic: bool,
) -> String {
    let audience = format!("https://{TENANT}/api/v2/");
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("audience", audience.as_str()),
    ];
    let mut request = http().post(server.url("/oauth/token"));
    if basic {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        request = request.header(header::AUTHORIZATION, format!("Basic {credentials}"));
    } else {
        form.extend([
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ]);
    }
    let answer = request.form(&form).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn kid_in(keys: &[Value], state: KeyState) -> String {
    keys.iter()
        .find(|key| key[state.as_str()] == true)
        .unwrap_or_else(|| panic!("no {state:?} key in {keys:?}"))["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: a whole session, then the log"
)]
async fn a_whole_session_at_trace_level_logs_no_secret() {
    let deployment = Deployment::sqlite();
    let log_path = tempfile::NamedTempFile::new().unwrap();
    let log_file = log_path.reopen().unwrap();
    let mut cli_log = String::new();
    let mut secrets = BTreeSet::from([
        OPERATOR_PASSWORD.to_owned(),
        WRONG_PASSWORD.to_owned(),
        WRONG_SECRET.to_owned(),
    ]);
    let mut key_forms = BTreeSet::new();

    let server = TracedServer::start(&deployment, &log_file).await;
    let http = http();

    // A client, created with the CLI (the secret is printed once, on stdout, by design).
    let created: Value = serde_json::from_str(
        &cli(
            &deployment,
            &[
                "clients", "create", "--name", "log test", "--scopes", ALL_SCOPES,
            ],
            &mut cli_log,
        )
        .await,
    )
    .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let client_secret = created["client_secret"].as_str().unwrap().to_owned();
    secrets.insert(client_secret.clone());
    let basic = STANDARD.encode(format!("{client_id}:{client_secret}"));
    secrets.insert(basic.clone());
    private_key_forms(&deployment, &mut key_forms).await;

    // Tokens: client_secret_post, client_secret_basic, and a wrong secret.
    let client = (client_id.clone(), client_secret.clone());
    let mut tokens = vec![
        access_token(&server, &client, false).await,
        access_token(&server, &client, true).await,
    ];
    let refused = http
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", WRONG_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let token = tokens[0].clone();

    // The Management API: list, one key, rotate, revoke the key that was current.
    let list = |token: &str| {
        http.get(server.url("/api/v2/keys/signing"))
            .bearer_auth(token)
            .send()
    };
    let keys: Vec<Value> = list(&token).await.unwrap().json().await.unwrap();
    let first_current = kid_in(&keys, KeyState::Current);
    let one = http
        .get(server.url(&format!("/api/v2/keys/signing/{first_current}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    let rotated = http
        .post(server.url("/api/v2/keys/signing/rotate"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::CREATED);
    // Read the keys while they all still have private parts: revocation destroys them.
    private_key_forms(&deployment, &mut key_forms).await;
    let revoked = http
        .put(server.url(&format!("/api/v2/keys/signing/{first_current}/revoke")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);

    // The dashboard: a wrong password, then the right one, a page and a server-function action.
    let sign_in = |password: &str| {
        http.post(server.url("/_signet/sign_in"))
            .header(header::ACCEPT, "text/html")
            .form(&[("password", password)])
            .send()
    };
    let wrong = sign_in(WRONG_PASSWORD).await.unwrap();
    assert!(
        wrong
            .headers()
            .get(header::SET_COOKIE)
            .is_none_or(|cookie| {
                cookie.to_str().unwrap().contains("Max-Age=0")
                    || !cookie.to_str().unwrap().contains("signet_session=")
            }),
        "a wrong password opened a session"
    );
    let signed_in = sign_in(OPERATOR_PASSWORD).await.unwrap();
    assert!(
        signed_in.status().is_redirection(),
        "{}",
        signed_in.status()
    );
    let cookie = signed_in
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session_id = cookie.split_once('=').unwrap().1.to_owned();
    assert!(session_id.len() >= 16, "{cookie}");
    secrets.insert(session_id);

    let page = http
        .get(server.url("/tenant/signing_keys"))
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // The first token was signed by the key just revoked: it no longer works.
    tokens.push(access_token(&server, &client, true).await);
    let keys: Vec<Value> = list(&tokens[2]).await.unwrap().json().await.unwrap();
    let next = kid_in(&keys, KeyState::Next);
    let action = http
        .post(server.url("/_signet/rotate_signing_key"))
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT, "application/json")
        .form(&[("next_kid", next.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        action.status(),
        StatusCode::OK,
        "{}",
        action.text().await.unwrap()
    );

    // The break-glass path logs too.
    cli(&deployment, &["keys", "rotate"], &mut cli_log).await;
    private_key_forms(&deployment, &mut key_forms).await;
    server.stop().await;
    for token in &tokens {
        secrets.insert(token.clone());
        secrets.insert(token.rsplit('.').next().unwrap().to_owned());
    }

    let server_log = std::fs::read_to_string(log_path.path()).unwrap();
    // A verbose run that logged nothing would prove nothing: the request spans and the
    // database's statements must be there (what logs at TRACE depends on the dependencies).
    for expected in [
        "DEBUG",
        "sqlx::query",
        "/api/v2/keys/signing",
        "/_signet/sign_in",
    ] {
        assert!(
            server_log.contains(expected),
            "the trace log has no {expected:?}"
        );
    }
    assert!(key_forms.len() >= 4 * 20, "{} key forms", key_forms.len());
    let mut leaks = Vec::new();
    for (source, log) in [("server", &server_log), ("cli", &cli_log)] {
        for line in log.lines() {
            if line.contains("PRIVATE KEY") {
                leaks.push(format!("{source}: PEM private key marker: {line}"));
            }
            for secret in &secrets {
                if line.contains(secret.as_str()) {
                    leaks.push(format!("{source}: {secret:?} in: {line}"));
                }
            }
            for form in &key_forms {
                if line.contains(form.as_str()) {
                    leaks.push(format!("{source}: private key material in: {line}"));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaking log lines, e.g.:\n{}",
        leaks.len(),
        leaks[..leaks.len().min(10)].join("\n")
    );
}

/// `SIGNET_LOG_FORMAT=json`: every line is one JSON object, and each request's line carries the
/// id its answer names in `X-Request-Id` (the caller's own when it sent a plain one). An unknown
/// format stops Signet with one line.
#[tokio::test]
async fn json_log_lines_carry_the_request_id_the_answer_names() {
    let deployment = Deployment::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signet.log");
    let log = File::create(&path).unwrap();
    let env = [("SIGNET_LOG_FORMAT", "json"), ("RUST_LOG", "info")];
    let server = TracedServer::start_with(&deployment, &log, &env).await;
    let http = http();
    let healthy = http
        .get(server.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.headers()["x-request-id"], "trace-me-42");
    let refused = http
        .get(server.url("/api/v2/keys/signing"))
        .header("x-request-id", "not a plain id")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let made_up = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made_up.len(), 32, "{made_up}");
    let body: Value = refused.json().await.unwrap();
    assert!(
        body.get("requestId").is_none(),
        "a 4xx keeps Auth0's fields: {body}"
    );
    server.stop().await;

    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let answered = |id: &str, status: u64| {
        lines.iter().any(|line| {
            line["span"]["request_id"] == id
                && line["message"] == "finished processing request"
                && line["status"] == status
        })
    };
    assert!(answered("trace-me-42", 200), "{lines:#?}");
    assert!(answered(&made_up, 401), "{lines:#?}");

    let wrong = deployment
        .command(&["keys", "list"])
        .env("SIGNET_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let stderr = String::from_utf8(wrong.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SIGNET_LOG_FORMAT"), "{stderr}");
}
