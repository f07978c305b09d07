//! Image hashes of an earlier method computed again from the stored images when the store is
//! opened (the hash is compared across cases, so every stored hash must come from the same
//! computation as a new one).

use kyc_store::rehash::{NewHash, StaleHash};
use kyc_store::Store;

use super::images::{image_of, perceptual_hash, portrait_hash};
use crate::error::CoreError;

/// Hashes computed per transaction.
const BATCH: usize = 256;

/// Computes every stale hash again (see `kyc_store::rehash`) and, if the indexes were read in with
/// any, reads them again. Returns how many hashes were replaced. Resumable: each batch commits,
/// and an interrupted start finds the rest at the next.
pub fn rehash_stale(store: &Store) -> Result<usize, CoreError> {
    let mut done = 0;
    let mut after = 0;
    loop {
        let stale = store.stale_hashes(after, BATCH)?;
        let Some(last) = stale.last() else { break };
        // The batch may end inside a case: its other image comes in the next.
        after = last.case_id - 1;
        let mut new = Vec::with_capacity(stale.len());
        for s in stale {
            let hash = hash_again(store, &s)?;
            new.push((s, hash));
        }
        store.replace_hashes(&new)?;
        done += new.len();
        tracing::info!(
            hashes = done,
            up_to_case = after + 1,
            "image hashes computed anew"
        );
    }
    if done > 0 || store.hashes_were_stale() {
        store.reload_hashes()?;
    }
    Ok(done)
}

/// One stored image's hash as ingest computes it now.
fn hash_again(store: &Store, stale: &StaleHash) -> Result<NewHash, CoreError> {
    let bytes = match store.image(stale.case_id, &stale.image) {
        Ok((_, bytes)) => bytes,
        Err(kyc_store::Error::NotFound(_)) => return Ok(NewHash::None),
        Err(e) => return Err(e.into()),
    };
    let image = image_of(&stale.image, bytes);
    Ok(match stale.image.as_str() {
        kyc_store::phash::HASHED_IMAGE => {
            perceptual_hash(&image).map_or(NewHash::None, NewHash::Selfie)
        }
        kyc_store::phash::PORTRAIT => {
            portrait_hash(&image).map_or(NewHash::None, NewHash::Portrait)
        }
        _ => NewHash::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{open, OpenedBody};
    use kyc_crypto::master::MasterKey;
    use kyc_domain::case::Inserted;
    use kyc_store::phash::{wide_distance, MAX_DISTANCE, PORTRAIT_MAX_DISTANCE};

    fn today() -> kyc_sim::Today {
        let (year, month, day) = kyc_store::timefmt::today();
        kyc_sim::Today { year, month, day }
    }

    fn image_of(sub: &kyc_domain::submission::Submission, name: &str) -> Vec<u8> {
        let img = sub.images.iter().find(|i| i.name == name).unwrap();
        img.bytes.clone()
    }

    /// Method 1: the whole image decoded (what stores written before method 2 hold).
    fn whole_decode_hashes(sub: &kyc_domain::submission::Submission) -> (u128, [u128; 4]) {
        let selfie = image::load_from_memory(&image_of(sub, "selfie")).unwrap();
        let portrait = image::load_from_memory(&image_of(sub, "portrait_image")).unwrap();
        (
            crate::phash::dhash_of(&selfie),
            crate::phash::portrait_hash_of(&portrait),
        )
    }

    /// A store written by the earlier method: its hashes are computed again at open, so a
    /// reused selfie and document photo are still found against its cases.
    #[test]
    fn hashes_of_the_earlier_method_are_computed_again_when_the_store_opens() {
        // A simulated submission whose selfie the two methods hash further apart than a match.
        let (payload, sub, old) = (0..300)
            .find_map(|i| {
                let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 11, &today()).payload;
                let sub = open(&OpenedBody::plain(sim.to_string().into_bytes())).unwrap();
                let old = whole_decode_hashes(&sub);
                let apart = (old.0 ^ sub.selfie_hash?).count_ones() > MAX_DISTANCE;
                apart.then_some((sim, sub, old))
            })
            .expect("a selfie the two methods hash apart");
        assert!(wide_distance(&old.1, &sub.portrait_hash.unwrap()) <= 2 * PORTRAIT_MAX_DISTANCE);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(kyc_store::DB_FILE);
        let key = || MasterKey::Key([3; 32]);
        // The earlier store: the old method's hashes, marked as method 1.
        let mut earlier = sub.clone();
        earlier.selfie_hash = Some(old.0);
        earlier.portrait_hash = Some(old.1);
        let first = match Store::open(&path, key())
            .unwrap()
            .insert_case(&earlier, &[], 1_000)
            .unwrap()
        {
            Inserted::New(case) => case,
            Inserted::Existing(_) => panic!("a new case"),
        };
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute("UPDATE image_hashes SET method = 1", [])
            .unwrap();

        let store = Store::open(&path, key()).unwrap();
        assert!(store.hashes_were_stale());
        assert_eq!(
            rehash_stale(&store).unwrap(),
            2,
            "the selfie's and the portrait's"
        );
        assert!(!store.hashes_were_stale());
        assert_eq!(
            rehash_stale(&store).unwrap(),
            0,
            "nothing left the next time"
        );

        // Another user sends the same pictures: both are found against the earlier case.
        let mut twin = payload.clone();
        twin["request_info"]["requester_id"] = "twin-1".into();
        twin["request_info"]["user_id"] = "someone.else@example.com".into();
        let twin = open(&OpenedBody::plain(twin.to_string().into_bytes())).unwrap();
        let Inserted::New(second) = store.insert_case(&twin, &[], 2_000).unwrap() else {
            panic!("a new case");
        };
        let reused = |code: &str| {
            second
                .flags
                .iter()
                .any(|f| f.code == code && f.cases.contains(&first.reference))
        };
        assert!(reused("selfie_reused"), "{:?}", second.flags);
        assert!(reused("portrait_reused"), "{:?}", second.flags);
        // And after a restart, from the stored rows alone.
        drop(store);
        let store = Store::open(&path, key()).unwrap();
        assert!(!store.hashes_were_stale());
        let mut third = payload;
        third["request_info"]["requester_id"] = "third-1".into();
        third["request_info"]["user_id"] = "a.third@example.com".into();
        let third = open(&OpenedBody::plain(third.to_string().into_bytes())).unwrap();
        let Inserted::New(case) = store.insert_case(&third, &[], 3_000).unwrap() else {
            panic!("a new case");
        };
        let selfie = case
            .flags
            .iter()
            .find(|f| f.code == "selfie_reused")
            .unwrap();
        assert!(
            selfie.cases.contains(&first.reference),
            "{:?}",
            selfie.cases
        );
    }
}
