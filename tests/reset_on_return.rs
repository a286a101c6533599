//! SQLAlchemy checklist H: reset on return (`ResetOnReturnTest`), on both fronts.
mod common;

use common::fronts::{Front, Opts, TestPool};
use common::{Db, EventLog};
use poolscope::ResetOnReturn;

fn resetting(front: Front, db: &Db, reset: ResetOnReturn, log: Option<&EventLog>) -> TestPool {
    let mut opts = Opts {
        reset,
        ..Opts::default()
    };
    if let Some(log) = log {
        opts = opts.listener(log.clone());
    }
    TestPool::build(front, db, opts)
}

/// H43 (`test_plain_rollback`): the default rolls back and never commits.
fn h43_default_rolls_back_and_never_commits(front: Front) {
    let db = Db::new();
    let pool = resetting(front, &db, ResetOnReturn::Rollback, None);
    let mut c = pool.get().unwrap();
    c.begin();
    let id = c.id;
    drop(c);
    assert_eq!(db.calls(id), vec!["rollback"]);
    assert!(!pool.get().unwrap().in_transaction);
}

/// H44: the `reset` event comes before the rollback, then `checkin`.
fn h44_reset_event_precedes_the_rollback(front: Front) {
    let db = Db::new();
    let log = EventLog::default();
    let pool = resetting(front, &db, ResetOnReturn::Rollback, Some(&log));
    let c = pool.get().unwrap();
    let id = c.id;
    log.take();
    drop(c);
    assert_eq!(
        log.take(),
        vec![format!("reset:{id}:return"), format!("checkin:{id}")]
    );
    assert_eq!(db.calls(id), vec!["rollback"]);
}

/// H45 (`test_plain_commit`, `test_plain_none`).
fn h45_commit_commits_only_and_none_does_neither(front: Front) {
    let db = Db::new();
    let pool = resetting(front, &db, ResetOnReturn::Commit, None);
    let id = pool.get().unwrap().id;
    assert_eq!(db.calls(id), vec!["commit"]);

    let db = Db::new();
    let pool = resetting(front, &db, ResetOnReturn::None, None);
    let mut c = pool.get().unwrap();
    c.begin();
    let id = c.id;
    drop(c);
    assert_eq!(db.calls(id), Vec::<&str>::new());
    assert!(
        pool.get().unwrap().in_transaction,
        "None leaves the transaction open, as documented"
    );
}

/// H46 (`test_custom[return|detach|invalidate]`): with `None` and a listener: a return fires
/// the reset event; detach-then-close fires it with terminate_only, then closes; invalidate
/// fires no reset event at all.
fn h46_reset_events_for_return_detach_and_invalidate(front: Front) {
    let db = Db::new();
    let log = EventLog::default();
    let pool = resetting(front, &db, ResetOnReturn::None, Some(&log));
    let c = pool.get().unwrap();
    let id = c.id;
    log.take();
    drop(c);
    assert_eq!(
        log.take(),
        vec![format!("reset:{id}:return"), format!("checkin:{id}")]
    );

    let d = pool.get().unwrap().detach();
    log.take();
    drop(d);
    assert_eq!(
        log.take(),
        vec![
            format!("reset:{id}:terminate"),
            format!("close_detached:{id}")
        ]
    );
    assert_eq!(db.calls(id), vec!["close"]);

    let c = pool.get().unwrap();
    let id = c.id;
    log.take();
    c.invalidate();
    let events = log.take();
    assert!(!events.iter().any(|e| e.starts_with("reset")), "{events:?}");
    assert_eq!(db.calls(id), vec!["close"]);
}

// H47 (`test_plain_rollback_via_engine`, `transaction_was_reset`) does not apply: there is no
// Engine layer that rolls back before the pool sees the connection. The reset function is the
// only thing that resets; it may return Ok(()) without work when nothing is open.

on_both_fronts!(
    h43_default_rolls_back_and_never_commits,
    h44_reset_event_precedes_the_rollback,
    h45_commit_commits_only_and_none_does_neither,
    h46_reset_events_for_return_detach_and_invalidate,
);
