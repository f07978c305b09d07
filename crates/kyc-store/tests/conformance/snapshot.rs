//! Reads on one snapshot ([`Store::snapshot`]), on every backend: they agree with each other
//! while a decision commits, and a failed read ends the snapshot with its own error.

use super::*;

#[test]
fn reads_on_one_snapshot_agree_while_a_decision_commits() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 1);
        let pending = CaseQuery {
            status: Some("pending".into()),
            ..Default::default()
        };
        let (before, decisions, queue, images) = store
            .snapshot(|s| {
                let before = s.summary(id)?;
                // A reviewer decides meanwhile (another connection; committed).
                store.decide(id, &decision(true, "rita"), true, false)?;
                Ok::<_, Error>((before, s.decisions(id)?, s.list(&pending)?, s.images(id)?))
            })
            .unwrap();
        assert_eq!(before.status, "pending", "{backend}");
        assert!(
            decisions.is_empty(),
            "{backend}: the snapshot does not see the decision"
        );
        assert!(
            queue.cases.iter().any(|c| c.id == id),
            "{backend}: nor the queue"
        );
        assert!(!images.is_empty(), "{backend}: the images' list too");
        // A new read sees it.
        assert_eq!(store.summary(id).unwrap().status, "approved", "{backend}");
        assert_eq!(store.decisions(id).unwrap().len(), 1, "{backend}");
        assert!(store.list(&pending).unwrap().cases.is_empty(), "{backend}");
    });
}

#[test]
fn a_failed_read_ends_its_snapshot_with_its_own_error() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 1);
        let missing = store.snapshot(|s| {
            s.summary(id)?;
            s.summary(id + 1000)
        });
        assert!(
            matches!(missing, Err(Error::NotFound(_))),
            "{backend}: {missing:?}"
        );
        // The caller's own error type comes back as it is.
        let own: Result<(), Caller> = store.snapshot(|s| {
            s.resolve(&id.to_string())?;
            Err(Caller::Refused)
        });
        assert_eq!(own, Err(Caller::Refused), "{backend}");
        // The store reads on afterwards.
        assert_eq!(store.summary(id).unwrap().id, id, "{backend}");
    });
}

/// A caller's error type: the store's errors, and one of its own.
#[derive(Debug, PartialEq)]
enum Caller {
    Store(String),
    Refused,
}

impl From<Error> for Caller {
    fn from(e: Error) -> Caller {
        Caller::Store(e.to_string())
    }
}

/// A snapshot reads a case's key once for all its parts, and never opens one case's parts with
/// another's key: reads of two cases, interleaved, open each with its own.
#[test]
fn interleaved_reads_of_two_cases_each_open_with_their_own_key() {
    for_each_backend(|backend, store| {
        let (a, b) = (new_case(store, 1), new_case(store, 2));
        store
            .decide(b, &decision(false, "rita"), true, false)
            .unwrap();
        let alone = |id| {
            (
                store.payload_json(id).unwrap(),
                store.decisions(id).unwrap(),
            )
        };
        let (want_a, want_b) = (alone(a), alone(b));
        assert_ne!(want_a.0, want_b.0, "{backend}: two different payloads");
        let seen = store
            .snapshot(|s| {
                let (_, raw, model) = s.case_of(&a.to_string())?;
                Ok::<_, Error>([
                    ((raw, model), s.decisions(a)?),
                    (s.payload_json(b)?, s.decisions(b)?),
                    (s.payload_json(a)?, s.decisions(a)?),
                ])
            })
            .unwrap();
        // Decision records have no equality of their own: compared as they print.
        let shown = |v: &[_]| format!("{v:?}");
        assert_eq!(
            shown(&seen),
            shown(&[want_a.clone(), want_b, want_a]),
            "{backend}"
        );
    });
}

/// A first page's count read last agrees with the count read in line, and ends its snapshot: a
/// read after it fails. A page that holds every match leaves no count for later.
#[test]
fn a_count_read_last_agrees_and_ends_its_snapshot() {
    for_each_backend(|backend, store| {
        for i in 1..=5 {
            new_case(store, i);
        }
        let q = |limit| CaseQuery {
            limit,
            count: true,
            ..CaseQuery::default()
        };
        let in_line = store.list(&q(2)).unwrap();
        let (last, after) = store
            .snapshot(|s| {
                let (mut page, later) = s.list_count_later(&q(2))?;
                assert_eq!(page.total, None, "{backend}: not counted yet");
                s.count_last(&mut page, later.expect("a count left for later"))?;
                Ok::<_, Error>((page, s.list(&q(2)).map(|p| p.total)))
            })
            .unwrap();
        assert_eq!(
            (last.total, last.total_capped, last.cases.len()),
            (in_line.total, in_line.total_capped, 2),
            "{backend}"
        );
        assert_eq!(in_line.total, Some(5), "{backend}");
        assert!(
            matches!(after, Err(Error::Internal(_))),
            "{backend}: {after:?}"
        );
        let whole = store
            .snapshot(|s| s.list_count_later(&q(10)))
            .map(|(page, later)| (page.total, later.is_none()))
            .unwrap();
        assert_eq!(whole, (Some(5), true), "{backend}");
    });
}

#[test]
fn lists_read_together_are_each_what_it_is_read_alone() {
    for_each_backend(|backend, store| {
        let ids: Vec<i64> = (1..=6).map(|i| new_case(store, 40 + i)).collect();
        store
            .decide(ids[1], &decision(true, "rita"), false, false)
            .unwrap();
        let name = store.summary(ids[3]).unwrap().holder_name.unwrap();
        let surname = name.split_whitespace().last().unwrap().to_string();
        // Lists with parameters of their own, in both orders, with limits below and above their
        // matches, and one that finds nothing.
        let queries = [
            CaseQuery {
                status: Some("pending".into()),
                limit: 3,
                ..Default::default()
            },
            CaseQuery {
                q: Some(surname),
                limit: 10,
                ..Default::default()
            },
            CaseQuery {
                status: Some("approved".into()),
                limit: 10,
                ..Default::default()
            },
            CaseQuery {
                requester_id: Some("no-such-requester".into()),
                limit: 5,
                ..Default::default()
            },
            CaseQuery {
                limit: 2,
                ..Default::default()
            },
        ];
        let together = store.snapshot(|s| s.first_of_each(&queries)).unwrap();
        assert_eq!(together.len(), queries.len(), "{backend}");
        for (q, got) in queries.iter().zip(&together) {
            let alone: Vec<i64> = store.list(q).unwrap().cases.iter().map(|c| c.id).collect();
            let got: Vec<i64> = got.iter().map(|c| c.id).collect();
            assert_eq!(got, alone, "{backend}: {q:?}");
        }
        assert_eq!(together[0].len(), 3, "{backend}: a limit below the matches");
        assert!(together[1].iter().any(|c| c.id == ids[3]), "{backend}");
        assert_eq!(together[2].len(), 1, "{backend}");
        assert!(together[3].is_empty(), "{backend}");
        let none: Vec<Vec<_>> = store.snapshot(|s| s.first_of_each(&[])).unwrap();
        assert!(none.is_empty(), "{backend}");
    });
}

/// A page read with lists is the page read alone (its cases, cursor and count), and the lists,
/// when they came with it (a database server, no search), are each what they are read alone.
#[test]
fn a_page_read_with_lists_is_what_each_is_read_alone() {
    for_each_backend(|backend, store| {
        let ids: Vec<i64> = (1..=5).map(|i| new_case(store, 70 + i)).collect();
        store
            .decide(ids[0], &decision(true, "rita"), false, false)
            .unwrap();
        let name = store.summary(ids[2]).unwrap().holder_name.unwrap();
        let lists = [
            CaseQuery {
                status: Some("pending".into()),
                limit: 2,
                ..Default::default()
            },
            CaseQuery {
                status: Some("approved".into()),
                limit: 10,
                ..Default::default()
            },
        ];
        // A first page with a next one (its count left for later), one without, and a search.
        let pages = [
            (
                CaseQuery {
                    count: true,
                    limit: 2,
                    ..Default::default()
                },
                true,
            ),
            (
                CaseQuery {
                    count: true,
                    limit: 50,
                    ..Default::default()
                },
                true,
            ),
            (
                CaseQuery {
                    q: Some(name),
                    count: true,
                    limit: 50,
                    ..Default::default()
                },
                false,
            ),
        ];
        for (q, unsearched) in pages {
            let (page, count, read) = store
                .snapshot(|s| s.list_count_later_with(&q, &lists))
                .unwrap();
            let (alone, alone_count) = store.snapshot(|s| s.list_count_later(&q)).unwrap();
            let ids_of = |p: &[kyc_domain::case::CaseSummary]| -> Vec<i64> {
                p.iter().map(|c| c.id).collect()
            };
            assert_eq!(
                ids_of(&page.cases),
                ids_of(&alone.cases),
                "{backend}: {q:?}"
            );
            assert_eq!(
                (page.next, page.total),
                (alone.next, alone.total),
                "{backend}"
            );
            assert_eq!(count.is_some(), alone_count.is_some(), "{backend}: {q:?}");
            let Some(read) = read else {
                assert!(
                    backend == "sqlite" || !unsearched,
                    "{backend}: {q:?} read no lists"
                );
                continue;
            };
            assert!(unsearched, "{backend}: a search's page reads no lists");
            let each = store.snapshot(|s| s.first_of_each(&lists)).unwrap();
            assert_eq!(read.len(), lists.len(), "{backend}");
            for (got, alone) in read.iter().zip(&each) {
                assert_eq!(ids_of(got), ids_of(alone), "{backend}: {q:?}");
            }
            assert_eq!(read[0].len(), 2, "{backend}: a list's limit");
            assert_eq!(ids_of(&read[1]), [ids[0]], "{backend}");
        }
    });
}

#[test]
fn a_cases_parts_read_together_are_each_what_it_is_read_alone() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 60);
        let other = new_case(store, 61);
        store
            .decide(id, &decision(true, "rita"), false, true)
            .unwrap();
        store
            .add_note(id, "rita", "seen the portrait", None)
            .unwrap();
        let everyone = CaseQuery {
            limit: 1,
            ..Default::default()
        };
        let parts = store.snapshot(|s| s.case_parts(id, &everyone)).unwrap();
        let names = |v: &[kyc_domain::case::ImageInfo]| {
            v.iter()
                .map(|i| (i.name.clone(), i.size))
                .collect::<Vec<_>>()
        };
        let images = store.images(id).unwrap();
        assert!(!images.is_empty(), "{backend}");
        assert_eq!(names(&parts.images), names(&images), "{backend}");
        let decisions = store.decisions(id).unwrap();
        assert_eq!(decisions.len(), 1, "{backend}");
        assert_eq!(
            format!("{:?}", parts.decisions),
            format!("{decisions:?}"),
            "{backend}"
        );
        let timeline = store.timeline(id).unwrap();
        assert!(timeline.len() >= 2, "{backend}");
        assert_eq!(
            format!("{:?}", parts.timeline),
            format!("{timeline:?}"),
            "{backend}"
        );
        let notes = store.notes(id).unwrap();
        assert_eq!(notes.len(), 1, "{backend}");
        assert_eq!(parts.notes[0].text, "seen the portrait", "{backend}");
        assert_eq!(
            format!("{:?}", parts.notes),
            format!("{notes:?}"),
            "{backend}"
        );
        // The list asked for with them, cut to its limit.
        let others: Vec<i64> = parts.others.iter().map(|c| c.id).collect();
        assert_eq!(others, [other], "{backend}");
    });
}
