use super::*;

fn part() -> Partition {
    Partition::new(IdGen::new(1, &["k"]))
}

fn set(p: &mut Partition, scope: Scope, name: &str, now: i64, max: usize) -> Secret {
    p.set(
        scope,
        name.into(),
        "v".into(),
        None,
        now,
        Limits {
            per_scope: max,
            store: &Totals::default(),
        },
    )
    .unwrap()
    .0
    .clone()
}

fn names(v: &[&Secret]) -> Vec<String> {
    v.iter().map(|s| s.name.clone()).collect()
}

#[test]
fn only_user_scope_takes_a_user_and_it_needs_one() {
    assert_eq!(
        Scope::parse(Some("user"), Some("usr_1")),
        Ok(Scope::User("usr_1".into()))
    );
    assert_eq!(
        Scope::parse(Some("user"), None),
        Err(ScopeError::MissingUser)
    );
    for kind in [Some("account"), None] {
        assert_eq!(
            Scope::parse(kind, Some("usr_1")),
            Err(ScopeError::UnexpectedUser),
            "{kind:?}"
        );
        assert_eq!(Scope::parse(kind, None), Ok(Scope::Account));
    }
}

#[test]
fn a_secret_costs_its_name_payload_and_user_as_written_plus_its_overhead() {
    let user = Scope::User("usr_\u{1}".into());
    assert_eq!(
        strings_cost("n", "p\"", &user),
        1 + 3 + 10 + SECRET_OVERHEAD
    );
    assert_eq!(strings_cost("", "", &Scope::Account), SECRET_OVERHEAD);
}

#[test]
fn strings_count_as_json_writes_them() {
    for s in [
        "",
        "plain é",
        "\"q\" \\ \n\r\t\u{8}\u{c}",
        "\u{1}\u{1f}\u{7f}",
    ] {
        let written = serde_json::to_string(s).unwrap().len() - 2;
        assert_eq!(json_len(s), written, "{s:?}");
    }
}

#[test]
fn the_store_wide_bound_counts_secrets_and_bytes_and_a_replacement_only_its_growth() {
    let mut p = part();
    let totals = Totals::default();
    let set = |p: &mut Partition, name: &str, payload: &str, totals: &Totals| {
        let before = p.footprint();
        let r = p.set(
            Scope::Account,
            name.into(),
            payload.into(),
            None,
            0,
            Limits {
                per_scope: 10,
                store: totals,
            },
        );
        let r = r.map(|_| ());
        totals.apply(before, p.footprint());
        r
    };
    set(&mut p, "a", "xy", &totals).unwrap();
    assert_eq!(totals.get(), (1, 1 + 2 + SECRET_OVERHEAD));
    // At the count bound: a new name is refused, a replacement is not.
    totals.reset(MAX_SECRETS, 0);
    assert_eq!(set(&mut p, "b", "", &totals), Err(SetError::StoreFull));
    set(&mut p, "a", "z", &totals).unwrap();
    // At the byte bound exactly: a replacement that grows is refused,
    // one that does not grow is taken.
    totals.reset(1, MAX_STORED_BYTES);
    assert_eq!(set(&mut p, "a", "zz", &totals), Err(SetError::StoreFull));
    set(&mut p, "a", "y", &totals).unwrap();
    // One byte under it: a secret that fits exactly is taken.
    let fits = MAX_STORED_BYTES - (1 + SECRET_OVERHEAD);
    totals.reset(1, fits);
    set(&mut p, "c", "", &totals).unwrap();
    assert_eq!(totals.get(), (2, MAX_STORED_BYTES));
    // Deleting gives the room back.
    let before = p.footprint();
    let _ = p.delete(&Scope::Account, "c").unwrap();
    totals.apply(before, p.footprint());
    assert_eq!(totals.get(), (1, fits));
}

#[test]
fn replacing_keeps_one_secret_with_a_new_id() {
    let mut p = part();
    let a = set(&mut p, Scope::Account, "n", 10, 10);
    let b = p
        .set(
            Scope::Account,
            "n".into(),
            "2".into(),
            None,
            20,
            Limits {
                per_scope: 10,
                store: &Totals::default(),
            },
        )
        .unwrap()
        .0
        .clone();
    assert_ne!(a.id, b.id);
    assert_eq!(p.find(&Scope::Account, "n").unwrap().payload, "2");
    assert_eq!(p.page(&Scope::Account, 10, None).unwrap().0.len(), 1);
    assert!(!p.contains_id(&a.id) && p.contains_id(&b.id));
}

#[test]
fn scope_limit_counts_distinct_names_per_scope() {
    let mut p = part();
    set(&mut p, Scope::Account, "a", 0, 1);
    assert_eq!(
        p.set(
            Scope::Account,
            "b".into(),
            "".into(),
            None,
            0,
            Limits {
                per_scope: 1,
                store: &Totals::default()
            }
        )
        .err(),
        Some(SetError::ScopeFull(1))
    );
    assert!(p
        .set(
            Scope::Account,
            "a".into(),
            "x".into(),
            None,
            0,
            Limits {
                per_scope: 1,
                store: &Totals::default()
            }
        )
        .is_ok());
    set(&mut p, Scope::User("u".into()), "b", 0, 1);
    assert_eq!(p.count(&Scope::Account), 1);
    assert_eq!(p.len(), 2);
}

#[test]
fn pages_walk_both_ways() {
    let mut p = part();
    let ids: Vec<String> = (0..5)
        .map(|i| set(&mut p, Scope::Account, &format!("n{i}"), 100, 10).id)
        .collect();
    // Same second: most recently set first.
    let (first, more) = p.page(&Scope::Account, 2, None).unwrap();
    assert_eq!(
        (names(&first), more),
        (vec!["n4".into(), "n3".into()], true)
    );
    let (next, more) = p
        .page(&Scope::Account, 2, Some(Cursor::StartingAfter(&ids[3])))
        .unwrap();
    assert_eq!((names(&next), more), (vec!["n2".into(), "n1".into()], true));
    let (last, more) = p
        .page(&Scope::Account, 2, Some(Cursor::StartingAfter(&ids[1])))
        .unwrap();
    assert_eq!((names(&last), more), (vec!["n0".into()], false));
    let (prev, more) = p
        .page(&Scope::Account, 2, Some(Cursor::EndingBefore(&ids[2])))
        .unwrap();
    assert_eq!(
        (names(&prev), more),
        (vec!["n4".into(), "n3".into()], false)
    );
    let (prev, more) = p
        .page(&Scope::Account, 2, Some(Cursor::EndingBefore(&ids[0])))
        .unwrap();
    assert_eq!((names(&prev), more), (vec!["n2".into(), "n1".into()], true));
    assert_eq!(
        p.page(&Scope::Account, 2, Some(Cursor::StartingAfter("nope"))),
        Err("nope")
    );
}

#[test]
fn newer_created_lists_first_whatever_the_order_of_setting() {
    let mut p = part();
    set(&mut p, Scope::Account, "late", 200, 10);
    set(&mut p, Scope::Account, "early", 100, 10);
    set(&mut p, Scope::Account, "also-late", 200, 10);
    let (page, _) = p.page(&Scope::Account, 10, None).unwrap();
    assert_eq!(names(&page), ["also-late", "late", "early"]);
}

#[test]
fn a_cursor_from_another_scope_is_not_in_this_list() {
    let mut p = part();
    let user = set(&mut p, Scope::User("u".into()), "n", 0, 10);
    set(&mut p, Scope::Account, "n", 0, 10);
    assert_eq!(
        p.page(&Scope::Account, 10, Some(Cursor::EndingBefore(&user.id))),
        Err(user.id.as_str())
    );
}

#[test]
fn purge_visits_only_what_is_due_and_is_final() {
    let mut p = part();
    for (name, at) in [("soon", 50), ("later", 60)] {
        let _ = p.set(
            Scope::Account,
            name.into(),
            "".into(),
            Some(at),
            0,
            Limits {
                per_scope: 10,
                store: &Totals::default(),
            },
        );
    }
    set(&mut p, Scope::Account, "never", 0, 10);
    assert!(!p.has_expired(49));
    p.purge(49);
    assert_eq!(p.len(), 3);
    assert!(p.has_expired(50));
    p.purge(50);
    assert!(p.find(&Scope::Account, "soon").is_none());
    assert_eq!(p.count(&Scope::Account), 2);
    p.purge(0);
    assert!(p.find(&Scope::Account, "soon").is_none());
    p.purge(i64::MAX);
    assert_eq!(
        names(&p.page(&Scope::Account, 10, None).unwrap().0),
        ["never"]
    );
}

#[test]
fn undo_restores_a_replaced_or_deleted_secret_in_place() {
    let mut p = part();
    let a = set(&mut p, Scope::Account, "a", 0, 10);
    set(&mut p, Scope::Account, "b", 0, 10);
    let before: Vec<Secret> = p.secrets().cloned().collect();
    let (_, undo) = p
        .set(
            Scope::Account,
            "a".into(),
            "new".into(),
            Some(9),
            5,
            Limits {
                per_scope: 10,
                store: &Totals::default(),
            },
        )
        .unwrap();
    p.undo(undo);
    assert_eq!(p.secrets().cloned().collect::<Vec<_>>(), before);
    assert!(!p.has_expired(i64::MAX));
    let (_, undo) = p.delete(&Scope::Account, "a").unwrap();
    assert!(p.find(&Scope::Account, "a").is_none());
    p.undo(undo);
    assert_eq!(p.secrets().cloned().collect::<Vec<_>>(), before);
    assert_eq!(
        names(&p.page(&Scope::Account, 10, None).unwrap().0),
        ["b", "a"]
    );
    assert!(p.contains_id(&a.id));
}

#[test]
fn a_replacement_leaves_the_index_as_a_removal_then_an_insert_would() {
    let user = Scope::User("u".into());
    let limits = Limits {
        per_scope: 10,
        store: &Totals::default(),
    };
    let mut p = part();
    for (name, at) in [("n", 10), ("m", 11)] {
        let (_, undo) = p
            .set(
                user.clone(),
                name.into(),
                "v".into(),
                Some(at + 40),
                at,
                limits,
            )
            .unwrap();
        assert_eq!(undo.removed, None);
    }
    let mut by_hand = p.clone();
    let (_, undo) = p
        .set(
            user.clone(),
            "n".into(),
            "longer".into(),
            Some(70),
            12,
            limits,
        )
        .unwrap();
    let seq = by_hand.index.seq_of(&user, "n").unwrap();
    let index = Arc::make_mut(&mut by_hand.index);
    let old = index.remove(seq).unwrap();
    let secret = Secret {
        id: fresh_id(&mut by_hand.ids, index),
        payload: "longer".into(),
        created: 12,
        expires_at: Some(70),
        ..old.clone()
    };
    let added = index.insert(secret);
    assert_eq!(*p.index, *by_hand.index);
    assert_eq!(p.ids.secret_id(), by_hand.ids.secret_id());
    assert_eq!((undo.added, undo.removed), (Some(added), Some((seq, old))));
}

#[test]
fn replacing_a_seq_that_holds_nothing_inserts() {
    let mut p = part();
    set(&mut p, Scope::Account, "a", 0, 10);
    let index = Arc::make_mut(&mut p.index);
    let secret = Secret {
        id: String::new(),
        name: "b".into(),
        payload: "v".into(),
        scope: Scope::Account,
        created: 1,
        expires_at: None,
    };
    let (removed, seq) = index.replace(99, &mut p.ids, secret);
    assert_eq!((removed, seq), (None, 1));
    let stored = p.find(&Scope::Account, "b").unwrap();
    assert!(stored.id.starts_with("appsecret_") && p.contains_id(&stored.id.clone()));
    assert_eq!(p.len(), 2);
}
