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

    /// One image of a case, opened ([`Snapshot::image`]).
    pub fn image(&self, id: i64, name: &str) -> Result<(String, Vec<u8>), Error> {
        self.snapshot(|s| s.image(id, name))
    }

    /// A sealed image as stored: inline in its row (cases from before image files) or in the
    /// case's file at `place` (offset, length), read on `c` (PostgreSQL keeps the files' bytes
    /// in the database).
    pub(super) fn sealed_image(
        &self,
        c: &dyn Connection,
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

impl Snapshot<'_> {
    /// What a case's images are (name, type, size), without their bytes.
    pub fn images(&self, id: i64) -> Result<Vec<ImageInfo>, Error> {
        self.read(|c| {
            let rows = c.query_map("SELECT name, mime, width, height, COALESCE(file_len, length(bytes)) - ?2 FROM images \
                 WHERE case_id = ?1 ORDER BY name", params![id, kyc_crypto::vault::SEAL_OVERHEAD], |r| {
                Ok(ImageInfo {
                    name: r.get(0)?,
                    mime: r.get(1)?,
                    width: r.get(2)?,
                    height: r.get(3)?,
                    size: r.get(4)?,
                })
            })?;
            Ok(rows)
        })
    }

    /// One image of a case, opened: its MIME type and bytes.
    pub fn image(&self, id: i64, name: &str) -> Result<(String, Vec<u8>), Error> {
        self.read(|c| {
            // The image's row with its case's key: one statement.
            let (mime, inline, place, wrapped) = c
                .query_row(
                    "SELECT i.mime, i.bytes, i.file_offset, i.file_len, k.wrapped FROM images i \
                     JOIN case_keys k ON k.case_id = i.case_id \
                     WHERE i.case_id = ?1 AND i.name = ?2",
                    params![id, name],
                    |r| {
                        let mime: String = r.get(0)?;
                        let (inline, wrapped): (Vec<u8>, Vec<u8>) = (r.get(1)?, r.get(4)?);
                        Ok((mime, inline, file_place(r, 2)?, wrapped))
                    },
                )
                .optional()?
                .ok_or_else(|| Error::NotFound(format!("{id}/images/{name}")))?;
            let sealed = self.store.sealed_image(c, id, name, inline, place)?;
            let key = self.store.vault().unwrap_case_key(id, &wrapped)?;
            let bytes = key.open(SealField::Image(name), &sealed)?;
            Ok((mime, bytes))
        })
    }
}
