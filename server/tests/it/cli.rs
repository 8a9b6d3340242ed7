//! The `signet` binary as an operator uses it: a fresh data dir per test.

use std::{path::Path, process::Command};

use serde_json::Value;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn signet(data_dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(args)
        .current_dir(data_dir)
        .env("SIGNET_DATA_DIR", data_dir.join("data"))
        .env("SIGNET_TENANT_DOMAIN", "cli.signet.test")
        .env("SIGNET_PUBLICATION_WINDOW_SECS", "0")
        .env_remove("SIGNET_DATABASE_URL")
        .env_remove("SIGNET_MASTER_KEY_FILE")
        .output()
        .unwrap();
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn list(dir: &Path) -> Vec<Value> {
    let run = signet(dir, &["keys", "list", "--json"]);
    assert!(run.ok, "{}", run.stderr);
    serde_json::from_str::<Vec<Value>>(&run.stdout).unwrap()
}

fn kid_of(keys: &[Value], state: &str) -> String {
    keys.iter().find(|k| k["state"] == state).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One line on stderr, naming the problem, and a failed exit.
fn assert_refused(run: &Run, expected: &str) {
    assert!(!run.ok, "succeeded: {}", run.stdout);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(expected), "{}", run.stderr);
}

#[test]
fn keys_rotate_and_revoke_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = list(dir.path());
    assert_eq!(keys.len(), 2);
    let (first, second) = (kid_of(&keys, "current"), kid_of(&keys, "next"));

    let table = signet(dir.path(), &["keys", "list"]).stdout;
    assert!(table.contains("Currently Used") && table.contains(&first));

    assert_refused(
        &signet(dir.path(), &["keys", "revoke", &first]),
        "only a previously used key can be revoked",
    );
    assert!(signet(dir.path(), &["keys", "rotate"]).ok);
    let keys = list(dir.path());
    assert_eq!(kid_of(&keys, "current"), second);
    assert_eq!(kid_of(&keys, "previous"), first);

    let run = signet(dir.path(), &["keys", "revoke", &first]);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains(&first));
    let keys = list(dir.path());
    assert_eq!(kid_of(&keys, "revoked"), first);

    let run = signet(dir.path(), &["keys", "rotate-and-revoke"]);
    assert!(run.ok, "{}", run.stderr);
    let keys = list(dir.path());
    assert_eq!(keys.iter().filter(|k| k["state"] == "revoked").count(), 2);
    assert!(keys.iter().all(|k| k["state"] != "previous"));

    let audit = signet(dir.path(), &["audit", "list"]).stdout;
    for action in ["provision", "rotate", "revoke", "rotate_and_revoke"] {
        assert!(audit.contains(action), "{audit}");
    }
}

#[test]
fn unknown_kids_and_settings_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(
        &signet(dir.path(), &["keys", "revoke", "nope"]),
        "not found",
    );
    let run = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["keys", "list"])
        .current_dir(dir.path())
        .env("SIGNET_DATA_DIR", dir.path().join("data"))
        .env("SIGNET_TENANT_DOMIAN", "typo.example")
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("tenant_domian"));
}

#[test]
fn keys_survive_a_restart_and_are_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let before = list(dir.path());
    assert_eq!(list(dir.path()), before, "a restart keeps every key");

    let data = dir.path().join("data");
    let mut bytes = std::fs::read(data.join("signet.db")).unwrap();
    if let Ok(wal) = std::fs::read(data.join("signet.db-wal")) {
        bytes.extend(wal);
    }
    // PKCS#8 RSA private keys start with version 0 and the rsaEncryption algorithm identifier.
    let pkcs8_prefix = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01,
    ];
    assert!(!bytes.windows(pkcs8_prefix.len()).any(|w| w == pkcs8_prefix));
    assert!(!bytes.windows(11).any(|w| w == b"PRIVATE KEY"));
}

#[test]
fn a_wrong_or_missing_master_key_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    list(dir.path());
    let key_file = dir.path().join("data/master.key");

    std::fs::write(&key_file, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    assert_refused(
        &signet(dir.path(), &["keys", "list"]),
        "was encrypted with master key",
    );

    std::fs::remove_file(&key_file).unwrap();
    assert_refused(
        &signet(dir.path(), &["keys", "list"]),
        "SIGNET_MASTER_KEY_FILE",
    );
    assert!(
        !key_file.exists(),
        "no new key was generated over existing keys"
    );
}

#[test]
fn machine_clients_are_created_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let run = signet(
        dir.path(),
        &[
            "clients",
            "create",
            "--name",
            "deploy",
            "--scopes",
            "read:signing_keys update:signing_keys",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let created: Value = serde_json::from_str(&run.stdout).unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    assert_eq!(
        created["scopes"],
        serde_json::json!(["read:signing_keys", "update:signing_keys"])
    );

    let listed = signet(dir.path(), &["clients", "list"]).stdout;
    assert!(listed.contains(&id) && listed.contains("deploy"));
    assert!(!listed.contains(&secret), "secrets are shown once only");

    assert_refused(
        &signet(
            dir.path(),
            &[
                "clients",
                "create",
                "--name",
                "x",
                "--scopes",
                "delete:users",
            ],
        ),
        "unknown scope",
    );
    assert!(signet(dir.path(), &["clients", "delete", &id]).ok);
    assert_refused(
        &signet(dir.path(), &["clients", "delete", &id]),
        "no client with id",
    );
}

/// The CLI reads the audit trail and has no way to change it: every other `audit` verb is
/// refused by the command line itself, and the trail is the same afterwards.
#[test]
fn the_audit_trail_cannot_be_edited_or_deleted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let rotated = signet(dir.path(), &["keys", "rotate"]);
    assert!(rotated.ok, "{}", rotated.stderr);
    let before = signet(dir.path(), &["audit", "list", "--json"]);
    assert!(before.ok, "{}", before.stderr);
    assert!(before.stdout.contains("\"rotate\""), "{}", before.stdout);
    for verb in [
        &["audit", "delete", "1"][..],
        &["audit", "clear"],
        &["audit", "edit", "1"],
        &["audit", "prune", "--before", "2030-01-01"],
        &["audit", "list", "--delete"],
    ] {
        let run = signet(dir.path(), verb);
        assert!(!run.ok, "{verb:?} succeeded: {}", run.stdout);
    }
    let after = signet(dir.path(), &["audit", "list", "--json"]);
    assert_eq!(before.stdout, after.stdout);
}
