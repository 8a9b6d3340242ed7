//! After a change a server reads back only the keys the change wrote (each row names the
//! key-set version that last changed it); a change that does not add up is read whole.

use app::keys::KeyState;
use signet::services::clock::Clock;

use crate::support::{call, get, jwks_kids, rotate_times, world};

#[tokio::test]
async fn rotations_and_revocations_are_served_from_the_rows_they_changed() {
    let world = world().await;
    let token = world.token("create:signing_keys update:signing_keys").await;
    rotate_times(&world, 3).await;
    let before = world.keys.published();
    let previous: Vec<String> = before
        .keys
        .iter()
        .filter(|k| k.record.state == KeyState::Previous)
        .map(|k| k.record.kid.clone())
        .collect();
    assert_eq!(previous.len(), 3);
    let revoked = call(
        &world.router,
        "PUT",
        &format!("/api/v2/keys/signing/{}/revoke", previous[1]),
        &token,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());

    // What is served is what a whole read of the store gives.
    let served = world.keys.published();
    let stored = signet::store::KeyStore::load(&*world.store, app::keys::REVOKED_KEYS_SHOWN)
        .await
        .unwrap();
    let served_kids: Vec<(&str, KeyState)> = served
        .keys
        .iter()
        .map(|k| (k.record.kid.as_str(), k.record.state))
        .collect();
    let stored_kids: Vec<(&str, KeyState)> = stored
        .keys
        .iter()
        .map(|k| (k.record.kid.as_str(), k.record.state))
        .collect();
    assert_eq!(served_kids, stored_kids);
    let jwks = get(&world.router, "/.well-known/jwks.json").await.json();
    assert!(!jwks_kids(&jwks).contains(&previous[1]));
    assert!(jwks_kids(&jwks).contains(&previous[0]) && jwks_kids(&jwks).contains(&previous[2]));
}

#[tokio::test]
async fn a_revocation_written_without_its_version_is_still_served() {
    let world = world().await;
    rotate_times(&world, 2).await;
    let previous = world
        .keys
        .published()
        .keys
        .iter()
        .find(|k| k.record.state == KeyState::Previous)
        .unwrap()
        .record
        .kid
        .clone();
    // As a server from before the rows carried their version would write it: the row and
    // the key set's version change, the row's `changed_version` does not.
    let pool = world.store.pool();
    sqlx::query(
        "UPDATE signing_keys SET state = 'revoked', revoked_at = $1, private_key = NULL, \
         master_key_id = NULL WHERE kid = $2",
    )
    .bind(world.clock.now().timestamp_millis())
    .bind(&previous)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE keysets SET version = version + 1")
        .execute(pool)
        .await
        .unwrap();

    assert!(world.keys.refresh().await.unwrap());
    let jwks = get(&world.router, "/.well-known/jwks.json").await.json();
    assert!(
        !jwks_kids(&jwks).contains(&previous),
        "the revoked key is gone"
    );
    assert_eq!(
        jwks_kids(&jwks).len(),
        3,
        "current, next and the other previous key"
    );
}
