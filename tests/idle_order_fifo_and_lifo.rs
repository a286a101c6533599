//! SQLAlchemy checklist C: FIFO (default) and LIFO idle order, on both fronts.
mod common;

use std::time::Duration;

use common::fronts::{Front, Opts, TestPool};
use common::Db;

fn three(front: Front, lifo: bool) -> TestPool {
    TestPool::build(
        front,
        &Db::new(),
        Opts {
            lifo,
            ..Opts::queue(3, 10, Duration::from_secs(30))
        },
    )
}

/// C19 (`test_fifo`).
fn c19_fifo_hands_out_the_longest_idle_first(front: Front) {
    let pool = three(front, false);
    let (c1, c2, c3) = (
        pool.get().unwrap(),
        pool.get().unwrap(),
        pool.get().unwrap(),
    );
    let ids = (c1.id, c2.id, c3.id);
    drop(c1);
    drop(c2);
    drop(c3);
    let a = pool.get().unwrap();
    assert_eq!(a.id, ids.0);
    drop(a);
    let b = pool.get().unwrap();
    assert_eq!(b.id, ids.1);
    let c = pool.get().unwrap();
    assert_eq!(c.id, ids.2);
    drop(c);
    let d = pool.get().unwrap();
    assert_eq!(d.id, ids.0);
    let e = pool.get().unwrap();
    assert_eq!(e.id, ids.2);
}

/// C20 (`test_lifo`): five identical rounds.
fn c20_lifo_hands_out_the_most_recently_returned_first(front: Front) {
    let pool = three(front, true);
    let (c1, c2, c3) = (
        pool.get().unwrap(),
        pool.get().unwrap(),
        pool.get().unwrap(),
    );
    let (i1, i2, i3) = (c1.id, c2.id, c3.id);
    drop(c1);
    drop(c2);
    drop(c3);
    for _ in 0..5 {
        let a = pool.get().unwrap();
        assert_eq!(a.id, i3);
        drop(a);
        let b = pool.get().unwrap();
        assert_eq!(b.id, i3);
        let c = pool.get().unwrap();
        assert_eq!(c.id, i2);
        drop(c);
        let d = pool.get().unwrap();
        assert_eq!(d.id, i2);
        let e = pool.get().unwrap();
        assert_eq!(e.id, i1);
        drop(e);
        drop(d);
        drop(b);
    }
}

on_both_fronts!(
    c19_fifo_hands_out_the_longest_idle_first,
    c20_lifo_hands_out_the_most_recently_returned_first,
);
