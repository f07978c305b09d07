//! A case's images: the list, and one image opened from its file (or, for cases stored before
//! image files, from its row).

use super::*;

/// An image row's (offset, length) in its case file, read from columns `at` and `at + 1`; None
/// when the image is inline.
pub(super) fn file_place(r: &Row, at: usize) -> Result<Option<(i64, i64)>> {
    Ok(match (r.get(at)?, r.get(at + 1)?) {
        (Some(o), Some(l)) => Some((o, l)),
        _ => None,
    })
}

impl Store {
    /// What a case's images are ([`Snapshot::images`]).
    pub fn images(&self, id: i64) -> Result<Vec<ImageInfo>, Error> {
        self.snapshot(|s| s.images(id))
    }

    /// One image of case `id`, opened: its MIME type and bytes ([`Store::image_of`]).
    pub fn image(&self, id: i64, name: &str) -> Result<(String, Vec<u8>), Error> {
        let (_, mime, bytes) = self.image_of(&id.to_string(), name)?;
        Ok((mime, bytes))
    }

    /// One image of the case `key` names (its id or reference), opened: the case's id, the
    /// image's MIME type and its bytes. The case, the image's row, the case's key and (where
    /// the engine keeps them in the database) the image's bytes are one statement, read alone:
    /// on PostgreSQL one exchange. A blob kept as a file is read after it.
    pub fn image_of(&self, key: &str, name: &str) -> Result<(i64, String, Vec<u8>), Error> {
        let (case, by) = cases::case_named(key, "c");
        let (join, bytes) = self.db.blob_in_row().unwrap_or(("", "NULL"));
        let sql = format!(
            "SELECT c.id, i.mime, i.bytes, i.file_offset, i.file_len, k.wrapped, {bytes} \
             FROM cases c JOIN images i ON i.case_id = c.id JOIN case_keys k ON k.case_id = c.id \
             {join} WHERE {case} AND i.name = ?2"
        );
        let row = self.query_alone(&sql, params![by, name], |r| {
            let (id, mime, inline): (i64, String, Vec<u8>) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let (wrapped, in_row): (Vec<u8>, Option<Vec<u8>>) = (r.get(5)?, r.get(6)?);
            Ok((id, mime, inline, file_place(r, 3)?, wrapped, in_row))
        })?;
        let Some((id, mime, inline, place, wrapped, in_row)) = row else {
            // The case or only its image is missing: the statement cannot tell which.
            let id = self.resolve(key)?;
            return Err(Error::NotFound(format!("{id}/images/{name}")));
        };
        let sealed = match (place, in_row) {
            (None, _) => inline,
            (Some((_, len)), Some(sealed)) if sealed.len() as i64 == len => sealed,
            (Some(_), Some(_)) => {
                return Err(Error::Internal(format!(
                    "case {id}'s images are shorter than their rows say"
                )))
            }
            // A file (SQLite): read as it is, no transaction needed.
            (Some(place), None) => self.sealed_image(None, id, name, inline, Some(place))?,
        };
        let key = self.vault().unwrap_case_key(id, &wrapped)?;
        let bytes = key.open(SealField::Image(name), &sealed)?;
        Ok((id, mime, bytes))
    }

    /// A sealed image as stored: inline in its row (cases from before image files) or in the
    /// case's file at `place` (offset, length), read on `c` (PostgreSQL keeps the files' bytes
    /// in the database).
    pub(super) fn sealed_image(
        &self,
        c: Option<&dyn Connection>,
        id: i64,
        name: &str,
        inline: Vec<u8>,
        place: Option<(i64, i64)>,
    ) -> Result<Vec<u8>, Error> {
        match place {
            None => Ok(inline),
            Some((offset, len)) => self
                .db
                .read_blob(c, id, offset as u64, len as u64)
                .map_err(|e| Error::Internal(format!("case {id}: image file {name}: {e}"))),
        }
    }
}

/// What a case's images are (`?1`: its id), by name ([`image_info_from_row`]).
pub(crate) const IMAGES_SQL: &str = "SELECT name, mime, width, height, \
     COALESCE(file_len, length(bytes)) FROM images WHERE case_id = ?1 ORDER BY name";

/// A row of [`IMAGES_SQL`].
pub(crate) fn image_info_from_row(r: &Row) -> Result<ImageInfo, Error> {
    Ok(ImageInfo {
        name: r.get(0)?,
        mime: r.get(1)?,
        width: r.get(2)?,
        height: r.get(3)?,
        // Its size as shown: the sealed length less the seal.
        size: u64::try_from(r.get::<i64>(4)? - kyc_crypto::vault::SEAL_OVERHEAD)
            .map_err(|_| Error::Internal("an image shorter than its seal".into()))?,
    })
}

impl Snapshot<'_> {
    /// What a case's images are (name, type, size), without their bytes.
    pub fn images(&self, id: i64) -> Result<Vec<ImageInfo>, Error> {
        self.read(|c| c.query_map(IMAGES_SQL, [id], image_info_from_row))
    }
}
