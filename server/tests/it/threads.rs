//! How the server's threads are scheduled (Linux): under `SCHED_BATCH`, so a thread the network
//! wakes does not preempt one that is signing (`server/src/main.rs`, `batch_scheduling`).

use crate::process::Deployment;

/// Each thread of process `pid`: its name and its scheduling policy (`/proc/PID/task/TID/stat`).
fn thread_policies(pid: u32) -> Vec<(String, i32)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        // The fields after the name in parentheses start with the third, the state; the policy
        // is the 41st.
        let (_, fields) = stat.rsplit_once(')').unwrap();
        let policy = fields.split_whitespace().nth(41 - 3).unwrap();
        threads.push((name.trim().to_owned(), policy.parse().unwrap()));
    }
    threads
}

#[tokio::test]
async fn every_thread_of_the_server_runs_under_sched_batch() {
    let deployment = Deployment::sqlite();
    let server = deployment.start_server().await;
    let client = deployment.create_client().await;
    // A token was signed: the signing threads are running too.
    let token = server.api.token(&client).await;
    assert_eq!(token.split('.').count(), 3, "{token}");

    let threads = thread_policies(server.pid());
    let names: Vec<&str> = threads.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.iter().any(|name| name.starts_with("signet-sign")),
        "no signing thread among {names:?}"
    );
    assert!(
        names.iter().any(|name| name.starts_with("tokio-rt-worker")),
        "no async worker among {names:?}"
    );
    let others: Vec<&(String, i32)> = threads
        .iter()
        .filter(|(_, policy)| *policy != libc::SCHED_BATCH)
        .collect();
    assert!(others.is_empty(), "not under SCHED_BATCH: {others:?}");
}
