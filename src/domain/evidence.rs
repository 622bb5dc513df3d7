//! Evidence: files attached to an idea (and optionally to one of its milestones) that show the
//! work was done — photos, PDFs, office documents. A file's type is read from its bytes, never
//! from its name or the client's word, and only the types below are kept; its SHA-256 is kept
//! with it. The bytes go to an [`EvidenceStore`]: the database by default, so several
//! instances and a backup need nothing more.

use std::collections::HashMap;

use entity::{IdeaStatus, PipelineEventKind, evidence, evidence_blob, idea, milestone};
use futures_util::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Domain,
    write::{NewEvent, Work, Written, optional_text},
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

/// How much evidence the server keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// The largest file, in bytes.
    pub max_bytes: usize,
    /// The most files one idea holds.
    pub max_files: usize,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_files: 30,
        }
    }
}

/// The most pixels an image may declare in its header (100 megapixels: a phone takes 12 to 50).
/// Images are never decoded here; a small file declaring a huge picture is the image form of a
/// zip bomb for whoever opens it, and is refused.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// A kind of file kept as evidence: its media type and the name endings it goes by.
#[derive(Debug, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
    /// The first is the one a name without a matching ending gets.
    pub extensions: &'static [&'static str],
    pub image: bool,
}

const fn kind(mime: &'static str, extensions: &'static [&'static str], image: bool) -> FileType {
    FileType {
        mime,
        extensions,
        image,
    }
}

/// The types kept: photos, PDFs and office documents. Anything else — HTML, SVG, scripts,
/// archives, executables, text a browser could render — is refused.
pub const ACCEPTED: [FileType; 15] = [
    kind("image/jpeg", &["jpg", "jpeg"], true),
    kind("image/png", &["png"], true),
    kind("image/webp", &["webp"], true),
    kind("image/gif", &["gif"], true),
    kind("image/heif", &["heic", "heif"], true),
    kind("application/pdf", &["pdf"], false),
    kind(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
        false,
    ),
    kind(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
        false,
    ),
    kind(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &["pptx"],
        false,
    ),
    kind("application/msword", &["doc"], false),
    kind("application/vnd.ms-excel", &["xls"], false),
    kind("application/vnd.ms-powerpoint", &["ppt"], false),
    kind("application/vnd.oasis.opendocument.text", &["odt"], false),
    kind(
        "application/vnd.oasis.opendocument.spreadsheet",
        &["ods"],
        false,
    ),
    kind(
        "application/vnd.oasis.opendocument.presentation",
        &["odp"],
        false,
    ),
];

/// The sentence naming what is kept, for refusals.
const KEPT: &str = "photos (JPEG, PNG, WebP, GIF, HEIC), PDFs and office documents (Word, Excel, PowerPoint, OpenDocument)";

/// What `bytes` are, read from the bytes themselves; a type not kept, or an image declaring
/// more than [`MAX_IMAGE_PIXELS`], is refused with the reason.
pub fn sniff(bytes: &[u8]) -> DomainResult<&'static FileType> {
    let mut found = infer::get(bytes).map(|t| t.mime_type());
    if found.is_some_and(|mime| mime == "application/zip" || mime.contains("openxmlformats")) {
        let entries = zip_entries(bytes);
        // By part name: nothing is unpacked, so a macro part under another name is not seen.
        if entries
            .iter()
            .any(|name| name.to_ascii_lowercase().ends_with("vbaproject.bin"))
        {
            return Err(DomainError::bad_input(
                "This office document carries macros (vbaProject.bin); save it without them (.docx, .xlsx, .pptx) and send it again.",
            ));
        }
        found = ooxml_type(&entries).or(found);
    }
    let Some(file_type) = found.and_then(|mime| ACCEPTED.iter().find(|t| t.mime == mime)) else {
        return Err(DomainError::bad_input(match found {
            Some(mime) => {
                format!("This file is {mime} by its contents; evidence is kept as {KEPT}.")
            }
            None => format!(
                "This file's contents are of no type kept as evidence; evidence is kept as {KEPT}."
            ),
        }));
    };
    if file_type.image {
        let size = imagesize::blob_size(bytes).map_err(|_| {
            DomainError::bad_input(
                "The image's size cannot be read from its header; the file may be damaged.",
            )
        })?;
        let pixels = (size.width as u64).saturating_mul(size.height as u64);
        if pixels > MAX_IMAGE_PIXELS {
            return Err(DomainError::bad_input(format!(
                "The image declares {} × {} pixels, more than the {} megapixels kept; send a smaller picture.",
                size.width,
                size.height,
                MAX_IMAGE_PIXELS / 1_000_000
            )));
        }
    }
    Ok(file_type)
}

/// The names of a zip archive's entries, read from its central directory (nothing is
/// decompressed); empty for a damaged or truncated archive.
fn zip_entries(bytes: &[u8]) -> Vec<String> {
    const END: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ENTRY: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    // The end record is in the last 22 bytes plus a comment of at most 64 KiB.
    let floor = bytes.len().saturating_sub(22 + 65_535);
    let Some(end) = (floor..bytes.len().saturating_sub(21))
        .rev()
        .find(|&at| bytes[at..].starts_with(&END))
    else {
        return Vec::new();
    };
    let (Some(count), Some(mut at)) = (u16_at(end + 10), u32_at(end + 16)) else {
        return Vec::new();
    };
    let mut names = Vec::with_capacity(count.min(4096));
    for _ in 0..count.min(65_535) {
        if !bytes.get(at..).is_some_and(|b| b.starts_with(&ENTRY)) {
            break;
        }
        let (Some(name_len), Some(extra), Some(comment)) =
            (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32))
        else {
            break;
        };
        let Some(name) = bytes.get(at + 46..at + 46 + name_len) else {
            break;
        };
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + name_len + extra + comment;
    }
    names
}

/// The office format a zip archive's entries make: a content-types part and the main part of
/// Word, Excel or PowerPoint, in whatever order the writer put them.
fn ooxml_type(entries: &[String]) -> Option<&'static str> {
    let has = |name: &str| entries.iter().any(|e| e == name);
    if !has("[Content_Types].xml") {
        return None;
    }
    [
        ("word/document.xml", ACCEPTED[6].mime),
        ("xl/workbook.xml", ACCEPTED[7].mime),
        ("ppt/presentation.xml", ACCEPTED[8].mime),
    ]
    .into_iter()
    .find_map(|(part, mime)| has(part).then_some(mime))
}

/// The name a file is kept under: the last part of what was sent (no folders), without control
/// characters or quotes, at most 200 characters, ending in an extension of its real type.
pub fn file_name(sent: &str, file_type: &FileType) -> String {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control()
                // Quotes, line separators and the marks that reorder text ("gnp.exe" shown
                // backwards) have no place in a file name.
                && !matches!(c, '"' | '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let stem: String = cleaned.chars().take(200).collect();
    let extension = stem
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let fits = extension
        .as_deref()
        .is_some_and(|ext| file_type.extensions.contains(&ext));
    match (stem.is_empty(), fits) {
        (true, _) => format!("evidence.{}", file_type.extensions[0]),
        (false, true) => stem,
        (false, false) => format!("{stem}.{}", file_type.extensions[0]),
    }
}

/// Where evidence bytes are kept. The database store keeps them in the write's transaction;
/// an object store would put them before the row commits (and sweep ones whose row never did).
pub trait EvidenceStore: Send + Sync {
    /// Keeps the bytes of evidence `id` (taken, not copied: a file may be 20 MB).
    fn put<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        id: i32,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, DomainResult<()>>;

    /// The bytes of evidence `id`, if kept.
    fn get<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        id: i32,
    ) -> BoxFuture<'a, DomainResult<Option<Vec<u8>>>>;

    /// Forgets the bytes of evidence `id`.
    fn remove<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        id: i32,
    ) -> BoxFuture<'a, DomainResult<()>>;
}

/// The default store: the `evidence_blob` table of the server's own database.
pub struct DatabaseStore;

impl EvidenceStore for DatabaseStore {
    fn put<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        id: i32,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, DomainResult<()>> {
        Box::pin(async move {
            evidence_blob::ActiveModel {
                evidence_id: Set(id),
                bytes: Set(bytes),
            }
            .insert(txn)
            .await?;
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        id: i32,
    ) -> BoxFuture<'a, DomainResult<Option<Vec<u8>>>> {
        Box::pin(async move {
            Ok(evidence_blob::Entity::find_by_id(id)
                .one(db)
                .await?
                .map(|blob| blob.bytes))
        })
    }

    fn remove<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        id: i32,
    ) -> BoxFuture<'a, DomainResult<()>> {
        Box::pin(async move {
            evidence_blob::Entity::delete_by_id(id).exec(txn).await?;
            Ok(())
        })
    }
}

/// Whether the caller may attach files to `idea`: its regency's rights, and an idea not dropped.
fn attachable(caller: &Caller, idea: &idea::Model) -> DomainResult<()> {
    caller.check_write(Some(idea.regency_id), "idea")?;
    if idea.status == IdeaStatus::Dropped {
        return Err(DomainError::InvalidTransition(
            "The idea was dropped; no more evidence is attached to it.".to_owned(),
        ));
    }
    Ok(())
}

/// The type of a file that fits the limits, or the reason it does not.
fn checked_file(bytes: &[u8], limits: EvidenceLimits) -> DomainResult<&'static FileType> {
    if bytes.is_empty() {
        return Err(DomainError::bad_input("The file is empty."));
    }
    if bytes.len() > limits.max_bytes {
        return Err(DomainError::bad_input(format!(
            "The file has {} bytes; evidence files are at most {} bytes (LABINOV_EVIDENCE_MAX_BYTES).",
            bytes.len(),
            limits.max_bytes
        )));
    }
    sniff(bytes)
}

/// How many files the idea holds, when one more fits: CONFLICT for a file it holds already
/// (the same SHA-256), BAD_USER_INPUT when it holds as many as it may.
async fn room_for(
    txn: &DatabaseTransaction,
    idea_id: i32,
    sha256: &str,
    limits: EvidenceLimits,
) -> DomainResult<u64> {
    if let Some(same) = evidence::Entity::find()
        .filter(evidence::Column::IdeaId.eq(idea_id))
        .filter(evidence::Column::Sha256.eq(sha256))
        .one(txn)
        .await?
    {
        return Err(DomainError::Conflict(format!(
            "This file is already attached to this idea, as \"{}\".",
            same.name
        )));
    }
    files_with_room(txn, idea_id, limits).await
}

/// How many files the idea holds; BAD_USER_INPUT when it holds as many as it may.
async fn files_with_room(
    conn: &impl sea_orm::ConnectionTrait,
    idea_id: i32,
    limits: EvidenceLimits,
) -> DomainResult<u64> {
    let held = evidence::Entity::find()
        .filter(evidence::Column::IdeaId.eq(idea_id))
        .count(conn)
        .await?;
    if held as usize >= limits.max_files {
        return Err(DomainError::bad_input(format!(
            "This idea holds {held} evidence files, the most one idea keeps (LABINOV_EVIDENCE_MAX_FILES); remove one first."
        )));
    }
    Ok(held)
}

/// A file to attach, as a client sent it.
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub idea_id: i32,
    /// A milestone of the idea's plan the file shows, if any.
    pub milestone_id: Option<i32>,
    /// The file's name as sent (only its last part is kept).
    pub name: String,
    pub description: Option<String>,
    pub bytes: Vec<u8>,
}

impl Domain {
    by_ids!(/// Evidence rows by id.
        evidence_by_id, evidence, i32, |s: ReadScope| s.on(evidence::Column::RegencyId));

    /// Attaches a file to an idea (REGENCY_ADMIN of its regency, or ADMIN), recording
    /// EVIDENCE_ADDED.
    pub async fn add_evidence(
        &self,
        caller: &Caller,
        new: NewEvidence,
    ) -> DomainResult<Written<evidence::Model>> {
        self.write(caller, async |work| self.add_evidence_in(work, new).await)
            .await
    }

    pub(crate) async fn add_evidence_in(
        &self,
        work: &mut Work,
        new: NewEvidence,
    ) -> DomainResult<evidence::Model> {
        let limits = self.evidence_limits;
        // The idea's row is locked (PostgreSQL) so that concurrent uploads count each other.
        let idea = idea::Entity::find_by_id(new.idea_id)
            .lock_exclusive()
            .one(&work.txn)
            .await?
            .ok_or_else(|| DomainError::missing("idea"))?;
        attachable(&work.caller, &idea)?;
        let file_type = checked_file(&new.bytes, limits)?;
        let description = optional_text("The description", new.description.as_deref(), 2000)?;
        let milestone = match new.milestone_id {
            Some(id) => Some(
                milestone::Entity::find_by_id(id)
                    .one(&work.txn)
                    .await?
                    .filter(|m| m.idea_id == idea.id)
                    .ok_or_else(|| {
                        DomainError::not_found(
                            "No milestone with this id is in this idea's action plan.",
                        )
                    })?,
            ),
            None => None,
        };
        let sha256 = format!("{:x}", Sha256::digest(&new.bytes));
        let held = room_for(&work.txn, idea.id, &sha256, limits).await?;
        let name = file_name(&new.name, file_type);
        let row = evidence::ActiveModel {
            regency_id: Set(idea.regency_id),
            idea_id: Set(idea.id),
            milestone_id: Set(milestone.as_ref().map(|m| m.id)),
            name: Set(name),
            description: Set(description),
            content_type: Set(file_type.mime.to_owned()),
            size: Set(new.bytes.len() as i64),
            sha256: Set(sha256),
            uploaded_by: Set(work.caller.actor().to_owned()),
            uploaded_at: Set(work.now()),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        self.evidence_store
            .put(&work.txn, row.id, new.bytes)
            .await?;
        self.record_events(
            work,
            idea.regency_id,
            vec![NewEvent::of_idea(
                &idea,
                PipelineEventKind::EvidenceAdded,
                json!({
                    "title": idea.title,
                    "name": row.name,
                    "contentType": row.content_type,
                    "size": row.size,
                    "sha256": row.sha256,
                    "milestone": milestone.map(|m| m.title),
                    "files": held + 1,
                }),
            )],
        )
        .await?;
        Ok(row)
    }

    /// Removes a file from its idea (REGENCY_ADMIN of its regency, or ADMIN), recording
    /// EVIDENCE_REMOVED; the event keeps its name and SHA-256.
    pub async fn remove_evidence(
        &self,
        caller: &Caller,
        id: i32,
    ) -> DomainResult<Written<evidence::Model>> {
        self.write(caller, async |work| {
            let row = evidence::Entity::find_by_id(id)
                .one(&work.txn)
                .await?
                .ok_or_else(|| DomainError::missing("evidence file"))?;
            work.caller
                .check_write(Some(row.regency_id), "evidence file")?;
            let idea = idea::Entity::find_by_id(row.idea_id)
                .one(&work.txn)
                .await?
                .ok_or_else(|| DomainError::missing("idea"))?;
            self.evidence_store.remove(&work.txn, row.id).await?;
            evidence::Entity::delete_by_id(row.id)
                .exec(&work.txn)
                .await?;
            self.record_events(
                work,
                row.regency_id,
                vec![NewEvent::of_idea(
                    &idea,
                    PipelineEventKind::EvidenceRemoved,
                    json!({
                        "title": idea.title,
                        "name": row.name,
                        "sha256": row.sha256,
                    }),
                )],
            )
            .await?;
            Ok(row)
        })
        .await
    }

    /// The evidence of each idea the caller may read, oldest first.
    pub async fn evidence_of_ideas(
        &self,
        caller: &Caller,
        idea_ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<evidence::Model>>> {
        let scope = caller.check_read()?;
        let mut files: HashMap<i32, Vec<evidence::Model>> = HashMap::new();
        for row in evidence::Entity::find()
            .filter(evidence::Column::IdeaId.is_in(idea_ids.iter().copied()))
            .filter(scope.on(evidence::Column::RegencyId))
            .order_by_asc(evidence::Column::IdeaId)
            .order_by_asc(evidence::Column::Id)
            .all(self.db())
            .await?
        {
            files.entry(row.idea_id).or_default().push(row);
        }
        Ok(files)
    }

    /// How many evidence files each idea holds (ideas the caller may read; none left out).
    pub async fn evidence_counts(
        &self,
        caller: &Caller,
        idea_ids: &[i32],
    ) -> DomainResult<HashMap<i32, i64>> {
        let scope = caller.check_read()?;
        let rows: Vec<(i32, i64)> = evidence::Entity::find()
            .select_only()
            .column(evidence::Column::IdeaId)
            .column_as(evidence::Column::Id.count(), "files")
            .filter(evidence::Column::IdeaId.is_in(idea_ids.iter().copied()))
            .filter(scope.on(evidence::Column::RegencyId))
            .group_by(evidence::Column::IdeaId)
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Whether the caller may attach a file to the idea now (its rights, the idea not dropped,
    /// room for one more): what an upload checks before its body is read. The write checks
    /// again in its transaction.
    pub async fn may_attach(&self, caller: &Caller, idea_id: i32) -> DomainResult<()> {
        caller.check_may_write()?;
        let idea = idea::Entity::find_by_id(idea_id)
            .one(self.db())
            .await?
            .ok_or_else(|| DomainError::missing("idea"))?;
        attachable(caller, &idea)?;
        files_with_room(self.db(), idea_id, self.evidence_limits).await?;
        Ok(())
    }

    /// An evidence file's row, for a download: NOT_FOUND for one the caller may not read.
    pub async fn evidence_row(&self, caller: &Caller, id: i32) -> DomainResult<evidence::Model> {
        let scope = caller.check_read()?;
        evidence::Entity::find_by_id(id)
            .filter(scope.on(evidence::Column::RegencyId))
            .one(self.db())
            .await?
            .ok_or_else(|| DomainError::missing("evidence file"))
    }

    /// The bytes of a file whose row the caller read ([`evidence_row`](Self::evidence_row)).
    pub async fn evidence_bytes(&self, row: &evidence::Model) -> DomainResult<Vec<u8>> {
        self.evidence_store
            .get(self.db(), row.id)
            .await?
            .ok_or_else(|| {
                DomainError::Internal(anyhow::anyhow!(
                    "evidence {} has no bytes in the store",
                    row.id
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG header declaring `width` × `height` pixels (the IHDR chunk; no pixel data).
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(
            sniff(&png(800, 600)).map(|t| t.mime).ok(),
            Some("image/png")
        );
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n").map(|t| t.mime).ok(),
            Some("application/pdf")
        );
        for refused in [
            &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0",
            b"PK\x03\x04\x14\0\0\0\x08\0",
            b"plain words",
        ] {
            let err = sniff(refused).expect_err("refused");
            assert!(
                matches!(&err, DomainError::BadInput(s) if s.contains("PDFs")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn an_image_declaring_too_many_pixels_is_refused_without_decoding() {
        assert!(sniff(&png(9_000, 9_000)).is_ok(), "81 megapixels");
        let err = sniff(&png(60_000, 60_000)).expect_err("3,600 megapixels");
        assert!(
            matches!(&err, DomainError::BadInput(s) if s.contains("60000 × 60000")),
            "{err:?}"
        );
    }

    /// A zip archive of empty stored entries named `names`, in that order.
    fn zip(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut directory = Vec::new();
        for name in names {
            let offset = out.len() as u32;
            out.extend(b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0");
            out.extend([0u8; 12]);
            out.extend((name.len() as u16).to_le_bytes());
            out.extend([0, 0]);
            out.extend(name.as_bytes());
            directory.extend(b"PK\x01\x02\x14\0\x14\0\0\0\0\0\0\0\0\0");
            directory.extend([0u8; 12]);
            directory.extend((name.len() as u16).to_le_bytes());
            directory.extend([0u8; 12]);
            directory.extend(offset.to_le_bytes());
            directory.extend(name.as_bytes());
        }
        let at = out.len() as u32;
        let size = directory.len() as u32;
        out.extend(&directory);
        out.extend(b"PK\x05\x06\0\0\0\0");
        out.extend((names.len() as u16).to_le_bytes());
        out.extend((names.len() as u16).to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(at.to_le_bytes());
        out.extend([0, 0]);
        out
    }

    #[test]
    fn an_office_file_is_known_by_its_parts_in_any_order_and_macros_are_refused() {
        let docx = zip(&[
            "[Content_Types].xml",
            "_rels/.rels",
            "docProps/core.xml",
            "docProps/app.xml",
            "word/document.xml",
        ]);
        assert_eq!(
            sniff(&docx).map(|t| t.mime).ok(),
            Some(ACCEPTED[6].mime),
            "a Word file whatever the order of its parts"
        );
        let xlsx = zip(&["xl/workbook.xml", "[Content_Types].xml"]);
        assert_eq!(sniff(&xlsx).map(|t| t.mime).ok(), Some(ACCEPTED[7].mime));
        let with_macros = zip(&[
            "[Content_Types].xml",
            "word/document.xml",
            "word/VBAPROJECT.BIN",
        ]);
        assert!(
            matches!(sniff(&with_macros), Err(DomainError::BadInput(s)) if s.contains("macros")),
            "a macro-enabled document is refused"
        );
        let plain = zip(&["index.html", "word/document.xml"]);
        assert!(sniff(&plain).is_err(), "a zip is not an office file");
    }

    #[test]
    fn a_name_keeps_its_last_part_and_gets_its_real_extension() {
        assert_eq!(
            file_name("\u{202e}gnp.exe.png", &ACCEPTED[1]),
            "gnp.exe.png"
        );
        assert_eq!(file_name("ab\u{061c}.png", &ACCEPTED[1]), "ab.png");
        let jpeg = &ACCEPTED[0];
        assert_eq!(file_name("../../etc/passwd", jpeg), "passwd.jpg");
        assert_eq!(file_name("C:\\foto\\Posyandu.JPEG", jpeg), "Posyandu.JPEG");
        assert_eq!(file_name("laporan.html", jpeg), "laporan.html.jpg");
        assert_eq!(file_name("a\"b\r\n.jpg", jpeg), "ab.jpg");
        assert_eq!(file_name("  ", jpeg), "evidence.jpg");
        assert_eq!(file_name(".htaccess", jpeg), "htaccess.jpg");
        assert!(file_name(&"x".repeat(500), jpeg).chars().count() <= 204);
    }
}
