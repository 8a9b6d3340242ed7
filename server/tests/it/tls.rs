//! Built-in HTTPS: with `SIGNET_TLS_CERT_FILE` and `SIGNET_TLS_KEY_FILE` Signet serves every
//! route over TLS (HTTP/2 and HTTP/1.1), sends HSTS and marks the session cookie `Secure`; a half
//! or broken configuration stops it at once with one line. Checked with `curl`, as an operator
//! would, against a certificate made with `openssl`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::process::{Deployment, free_local_addr};

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed for this test (make tools installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

/// `curl` trusting only `cert`; `-D -` puts the response head on stdout.
fn curl(cert: &Path, args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--max-time", "5", "--cacert"])
        .arg(cert)
        .args(args)
        .output()
        .expect("curl is needed for this test (make tools installs it)")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_lowercase()
}

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: a server on HTTPS, every client check"
)]
fn signet_serves_https_with_the_configured_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let deployment = Deployment::sqlite();
    let addr = free_local_addr();
    let _server = Running(
        deployment
            .command(&["serve"])
            .env("SIGNET_ADDR", &addr)
            .env("SIGNET_TLS_CERT_FILE", &cert)
            .env("SIGNET_TLS_KEY_FILE", &key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("https://{addr}");
    let started = Instant::now();
    while text(&curl(
        &cert,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/readyz"),
        ],
    )) != "200"
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Signet did not come up over HTTPS"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let jwks = text(&curl(
        &cert,
        &["-D", "-", &format!("{base}/.well-known/jwks.json")],
    ));
    assert!(jwks.starts_with("http/2 200"), "{jwks}");
    assert!(
        jwks.contains("strict-transport-security: max-age=31536000"),
        "{jwks}"
    );
    assert!(jwks.contains("\"keys\":["), "{jwks}");
    let over_http1 = text(&curl(
        &cert,
        &[
            "--http1.1",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("{base}/healthz"),
        ],
    ));
    assert!(over_http1.starts_with("http/1.1 200"), "{over_http1}");

    let sign_in = text(&curl(
        &cert,
        &[
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            &format!("Origin: {base}"),
            "--data-urlencode",
            "password=process test operator password",
            &format!("{base}/_signet/sign_in"),
        ],
    ));
    let cookie = sign_in
        .lines()
        .find(|line| line.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no session cookie: {sign_in}"));
    assert!(cookie.contains("; secure"), "{cookie}");
    assert!(cookie.contains("httponly"), "{cookie}");

    let plain = curl(
        &cert,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{addr}/healthz"),
        ],
    );
    assert_ne!(
        text(&plain),
        "200",
        "plain HTTP must not be served on the HTTPS port"
    );
}

#[test]
fn a_broken_tls_configuration_stops_signet_with_one_line() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let deployment = Deployment::sqlite();
    let cases: [(&[(&str, &Path)], &str); 3] = [
        (
            &[("SIGNET_TLS_CERT_FILE", &cert)],
            "tls_cert_file and tls_key_file go together",
        ),
        (
            &[
                ("SIGNET_TLS_CERT_FILE", &cert),
                ("SIGNET_TLS_KEY_FILE", &cert),
            ],
            "cannot read a private key from",
        ),
        (
            &[
                ("SIGNET_TLS_CERT_FILE", &key),
                ("SIGNET_TLS_KEY_FILE", &key),
            ],
            "no certificate in",
        ),
    ];
    for (settings, expected) in cases {
        let mut command = deployment.command(&["serve"]);
        command.env("SIGNET_ADDR", free_local_addr());
        for (name, path) in settings {
            command.env(name, path);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{expected}: started anyway");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}
