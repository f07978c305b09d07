//! The sessions an instance keeps on PostgreSQL (while its listener hears every change to
//! accounts and sessions): a change made on another instance, or by hand in the database, ends
//! what every instance kept; a change made on the instance itself, at once; and an instance
//! whose listener is away keeps nothing, and misses nothing that changed meanwhile.

use super::*;
use kyc_store::Heard;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Two stores on one scratch database (A listening), or None without a test server.
fn two() -> Option<(Store, Store, ScratchDatabase)> {
    let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
    let db = ScratchDatabase::create(&server).expect("a scratch database");
    let a = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("A opens");
    let b = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("B opens");
    b.insert_account("system", "ada", Role::Admin, "$ada", false)
        .unwrap();
    b.insert_account("system", "rita", Role::Reviewer, "$rita", false)
        .unwrap();
    Some((a, b, db))
}

/// A new session of `name`, opened on `store`.
fn signed_in(store: &Store, name: &str) -> String {
    let row = store.sign_in_row(name).unwrap().unwrap();
    let session = store.open_sign_in(name, &row, 60, &serde_json::json!({}));
    session.unwrap().token
}

/// Waits (10 s at most) until `done`.
fn soon(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < until, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_kept_session_ends_with_a_change_made_anywhere() {
    let Some((a, b, db)) = two() else { return };
    a.listen(|_| {}).unwrap();
    let token = signed_in(&b, "rita");
    assert_eq!(a.session_user(&token).unwrap().name, "rita");
    assert!(
        a.session_user_kept(&token).is_some(),
        "A keeps what it checked"
    );
    // Disabled on B: A forgets it as the database's notice comes, and refuses it.
    b.update_account("ada", "rita", &AccountUpdate::Disable)
        .unwrap();
    soon("A forgets", || a.session_user_kept(&token).is_none());
    assert!(matches!(
        a.session_user(&token),
        Err(Error::Unauthenticated)
    ));
    // A role changed by hand in the database: A reads the new one.
    b.update_account("ada", "rita", &AccountUpdate::Enable)
        .unwrap();
    let token = signed_in(&b, "rita");
    assert_eq!(a.session_user(&token).unwrap().role, Role::Reviewer);
    db.as_admin("UPDATE users SET role = 'supervisor' WHERE name = 'rita'")
        .unwrap();
    soon("A reads the new role", || {
        a.session_user(&token).unwrap().role == Role::Supervisor
    });
    // Every session ended by hand: refused.
    db.as_admin("DELETE FROM sessions").unwrap();
    soon("A refuses", || a.session_user(&token).is_err());
    // Signed out on A itself: refused at once, not when the notice comes.
    let own = signed_in(&a, "rita");
    a.session_user(&own).unwrap();
    assert!(a.session_user_kept(&own).is_some());
    a.logout(&own).unwrap();
    assert!(a.session_user_kept(&own).is_none());
    assert!(matches!(a.session_user(&own), Err(Error::Unauthenticated)));
    // A sign-in elsewhere (its purge of expired sessions removes none) forgets nothing.
    let kept = signed_in(&b, "rita");
    a.session_user(&kept).unwrap();
    signed_in(&b, "ada");
    std::thread::sleep(Duration::from_millis(300));
    assert!(a.session_user_kept(&kept).is_some(), "nothing changed");
}

#[test]
fn an_instance_keeps_no_session_while_its_listener_is_away() {
    let Some((a, b, db)) = two() else { return };
    let token = signed_in(&b, "rita");
    // Not listening: every check reads the database.
    a.session_user(&token).unwrap();
    assert!(a.session_user_kept(&token).is_none());
    let (tx, resumed) = mpsc::channel();
    a.listen(move |heard| {
        if heard == Heard::Resumed {
            let _ = tx.send(());
        }
    })
    .unwrap();
    a.session_user(&token).unwrap();
    assert!(a.session_user_kept(&token).is_some());
    // The listener cut, and the role changed before it is back (its notice unheard).
    assert_eq!(super::postgres::cut_the_listener(&db), ["t"]);
    db.as_admin("UPDATE users SET role = 'supervisor' WHERE name = 'rita'")
        .unwrap();
    resumed.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(a.session_user_kept(&token).is_none(), "forgotten");
    assert_eq!(a.session_user(&token).unwrap().role, Role::Supervisor);
    assert!(a.session_user_kept(&token).is_some(), "kept again");
}
