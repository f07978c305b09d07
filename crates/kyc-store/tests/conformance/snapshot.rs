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
        let (before, decisions, queue, image) = store
            .snapshot(|s| {
                let before = s.summary(id)?;
                // A reviewer decides meanwhile (another connection; committed).
                store.decide(id, &decision(true, "rita"), true, false)?;
                let name = s.images(id)?.first().map(|i| i.name.clone());
                let image = match name {
                    Some(n) => Some(s.image(id, &n)?),
                    None => None,
                };
                Ok::<_, Error>((before, s.decisions(id)?, s.list(&pending)?, image))
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
        assert!(
            image.is_some_and(|(_, bytes)| !bytes.is_empty()),
            "{backend}: the images are read on the snapshot too"
        );
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
