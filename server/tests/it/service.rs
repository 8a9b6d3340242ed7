//! The key service: lifecycle over real storage, refusals, audit, restarts.

use std::sync::Arc;

use app::keys::KeyState;
use chrono::Utc;
use signet::{
    domain::{
        lifecycle::KeyError,
        sealing::{MasterKey, MasterKeyError},
    },
    services::{ServiceError, clock::SettableClock},
    store::{AuditLog, AuditQuery, KeyStore},
};

use crate::support::{
    actor, kid_in, provisioned_store, settings, start_service, try_start_services, world,
};

#[tokio::test]
async fn current_and_next_keys_cannot_be_revoked() {
    let world = world().await;
    for state in [KeyState::Current, KeyState::Next] {
        let kid = kid_in(&world.keys, state);
        let error = world
            .keys
            .revoke(&kid, &actor(), crate::support::now())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ServiceError::Key(KeyError::NotRevocable { state: s, .. }) if s == state),
            "{error}"
        );
    }
    assert_eq!(world.keys.published().version, 1, "nothing changed");
}

#[tokio::test]
async fn revoking_an_unknown_kid_is_not_found() {
    let world = world().await;
    let error = world
        .keys
        .revoke("nosuchkid", &actor(), crate::support::now())
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Key(KeyError::NotFound(_))));
}

#[tokio::test]
async fn revocation_is_terminal_and_destroys_the_private_key() {
    let store = provisioned_store().await;
    let keys = start_service(store.clone(), &settings(100, 100)).await;
    let old = kid_in(&keys, KeyState::Current);
    keys.rotate(&actor(), crate::support::now()).await.unwrap();
    let revoked = keys
        .revoke(&old, &actor(), crate::support::now())
        .await
        .unwrap();

    assert_eq!(revoked.record.state, KeyState::Revoked);
    assert!(revoked.record.revoked_at.is_some());
    let stored = store.find(&old).await.unwrap().unwrap();
    assert!(stored.sealed.is_none(), "private key erased");
    let again = keys
        .revoke(&old, &actor(), crate::support::now())
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        ServiceError::Key(KeyError::NotRevocable {
            state: KeyState::Revoked,
            ..
        })
    ));
    // A revoked key is still found by kid (the API's GET shows it).
    assert_eq!(
        keys.find(&old).await.unwrap().record.state,
        KeyState::Revoked
    );
}

#[tokio::test]
async fn rotate_and_revoke_is_one_step() {
    let world = world().await;
    let (old_current, old_next) = (
        kid_in(&world.keys, KeyState::Current),
        kid_in(&world.keys, KeyState::Next),
    );
    let version = world.keys.published().version;
    let rotated = world
        .keys
        .rotate_and_revoke(&actor(), crate::support::now())
        .await
        .unwrap();

    assert_eq!(rotated.current.record.kid, old_next);
    assert_eq!(rotated.revoked.as_deref(), Some(old_current.as_str()));
    let published = world.keys.published();
    assert_eq!(published.version, version + 1, "one transaction");
    assert_eq!(
        published.find(&old_current).unwrap().record.state,
        KeyState::Revoked
    );
    let valid: Vec<_> = published
        .keys
        .iter()
        .filter(|k| k.record.state.is_valid())
        .collect();
    assert_eq!(valid.len(), 2, "no previous key remains: {valid:?}");
}

#[tokio::test]
async fn every_change_is_audited_with_its_actor() {
    let store = provisioned_store().await;
    let keys = start_service(store.clone(), &settings(100, 100)).await;
    let old = kid_in(&keys, KeyState::Current);
    keys.rotate(&actor(), crate::support::now()).await.unwrap();
    keys.revoke(&old, &actor(), crate::support::now())
        .await
        .unwrap();
    let _ = keys.revoke(&old, &actor(), crate::support::now()).await; // refused: not audited

    let events = store.audit_events(&AuditQuery::newest(10)).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["revoke", "rotate", "provision"]);
    assert_eq!(events[0].kid.as_deref(), Some(old.as_str()));
    assert_eq!(events[0].actor, "test");
    assert_eq!(events[0].remote_addr.as_deref(), Some("192.0.2.7"));
    assert!(events[0].seq > events[1].seq);
}

#[tokio::test]
async fn a_second_process_sees_changes_after_refresh() {
    let store = provisioned_store().await;
    let first = start_service(store.clone(), &settings(100, 100)).await;
    let second = start_service(store, &settings(100, 100)).await;
    let rotated = first.rotate(&actor(), crate::support::now()).await.unwrap();

    assert!(second.refresh().await.unwrap());
    assert_eq!(
        second.published().current().unwrap().record.kid,
        rotated.current.record.kid
    );
    assert_eq!(second.published().jwks(), first.published().jwks());
    assert!(!second.refresh().await.unwrap(), "no change, no rebuild");
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_at_start() {
    let store = provisioned_store().await;
    let clock = Arc::new(SettableClock::at(Utc::now()));
    let error = try_start_services(
        store,
        MasterKey::from_bytes([1; 32]),
        &settings(0, 100),
        clock,
    )
    .await
    .unwrap_err();
    assert!(matches!(
        error,
        ServiceError::MasterKey(MasterKeyError::WrongKey { .. })
    ));
}

#[tokio::test]
async fn an_empty_store_is_provisioned_with_generated_keys() {
    let store = Arc::new(crate::support::sqlite_store().await);
    let keys = start_service(store, &settings(100, 100)).await;
    let published = keys.published();
    assert_eq!(published.keys.len(), 2);
    assert_eq!(published.keys[0].record.state, KeyState::Current);
    assert_eq!(published.keys[1].record.state, KeyState::Next);
}
