//! Evidence files in the API: the `Evidence` type, and `addEvidence` (a GraphQL multipart
//! request) and `removeEvidence`. Files are downloaded from their `url`, not through GraphQL.

use async_graphql::{
    Context, ID, InputObject, InputValueError, InputValueResult, Object, Result, Scalar,
    ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, Utc};
use entity::evidence;

use super::{
    action_plan::Milestone,
    context,
    event::PipelineEvent,
    idea::Idea,
    ids::{self, Kind},
    loaders::{IdeaId, Loaders},
};
use crate::{
    domain::{Domain, evidence::NewEvidence},
    error::DomainError,
};

/// The path a file is downloaded from; send the token as `Authorization: Bearer …` or, for a
/// link, as `?token=`.
pub fn download_path(id: i32) -> String {
    format!("/evidence/{}", crate::global_id::encode(Kind::Evidence, id))
}

/// A file attached to an idea as evidence of its work: a photo, a PDF, an office document.
pub struct Evidence(pub evidence::Model);

/// A file attached to an idea as evidence of its work: a photo, a PDF, an office document.
#[Object]
impl Evidence {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Evidence, self.0.id)
    }

    /// The file's name (its extension matches its contents).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the file shows, in a sentence.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The media type, read from the file's bytes (e.g. `image/jpeg`, `application/pdf`).
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// Size in bytes.
    async fn size(&self) -> i32 {
        i32::try_from(self.0.size).unwrap_or(i32::MAX)
    }

    /// SHA-256 of the bytes, lowercase hex: the same file uploaded twice has the same one.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }

    /// Who uploaded it (the token's subject).
    async fn uploaded_by(&self) -> &str {
        &self.0.uploaded_by
    }

    /// When it was uploaded.
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.uploaded_at
    }

    /// Where to download it (relative to the server): the same read rights as the idea's, with
    /// the token as `Authorization: Bearer …` or `?token=`. Answered as an attachment.
    async fn url(&self) -> String {
        download_path(self.0.id)
    }

    /// The idea it belongs to.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Option<Idea>> {
        Ok(ctx
            .data::<Loaders>()?
            .load_one(IdeaId(self.0.idea_id))
            .await?
            .map(Idea::from))
    }

    /// The milestone of the idea's action plan it shows, if any.
    async fn milestone(&self, ctx: &Context<'_>) -> Result<Option<Milestone>> {
        let Some(id) = self.0.milestone_id else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Domain>()?
            .milestones_by_id(&context::caller(ctx), &[id])
            .await?
            .remove(&id)
            .map(Milestone))
    }
}

/// How a multipart request marks a variable its map fills with a file.
const FILE_MARK: &str = "#__graphql_file__:";

/// A file sent in a GraphQL multipart request: null in `operations`, named in `map`.
pub struct Upload(usize);

/// A file sent as a part of a GraphQL multipart request
/// (https://github.com/jaydenseric/graphql-multipart-request-spec): give the variable null in
/// `operations` and name it in `map`.
#[Scalar(
    name = "Upload",
    specified_by_url = "https://github.com/jaydenseric/graphql-multipart-request-spec"
)]
impl ScalarType for Upload {
    fn parse(value: Value) -> InputValueResult<Self> {
        if let Value::String(text) = &value
            && let Some(index) = text
                .strip_prefix(FILE_MARK)
                .and_then(|n| n.parse::<usize>().ok())
        {
            return Ok(Self(index));
        }
        Err(InputValueError::custom(
            "send the file as a part of a multipart request (its variable null in `operations`, named in `map`)",
        ))
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::Null
    }
}

impl Upload {
    /// The file this request carries for it, read from the start.
    fn value(&self, ctx: &Context<'_>) -> Result<async_graphql::UploadValue, DomainError> {
        let missing = || {
            DomainError::bad_input(
                "The file is missing: send it as a part of a GraphQL multipart request, named in `map`.",
            )
        };
        let upload = ctx.query_env.uploads.get(self.0).ok_or_else(missing)?;
        let mut copy = upload
            .try_clone()
            .map_err(|e| DomainError::Internal(e.into()))?;
        // Another field may have read the same part.
        std::io::Seek::rewind(&mut copy.content).map_err(|e| DomainError::Internal(e.into()))?;
        Ok(copy)
    }
}

/// A file to attach to an idea, sent as a GraphQL multipart request.
#[derive(InputObject)]
pub struct AddEvidenceInput {
    /// The idea (not dropped).
    pub idea_id: ID,
    /// A milestone of the idea's action plan the file shows.
    pub milestone_id: Option<ID>,
    /// What the file shows (at most 2,000 characters).
    pub description: Option<String>,
    /// The file: a photo (JPEG, PNG, WebP, GIF, HEIC), a PDF or an office document, its type
    /// read from its bytes; at most LABINOV_EVIDENCE_MAX_BYTES.
    pub file: Upload,
}

/// What `addEvidence` returns.
#[derive(SimpleObject)]
pub struct AddEvidencePayload {
    /// The file as kept.
    pub evidence: Evidence,
    /// The EVIDENCE_ADDED event it recorded.
    pub event: PipelineEvent,
}

/// The file to remove.
#[derive(InputObject)]
pub struct RemoveEvidenceInput {
    /// The evidence file's ID.
    pub id: ID,
}

/// What `removeEvidence` returns.
#[derive(SimpleObject)]
pub struct RemoveEvidencePayload {
    /// The ID of the file removed.
    pub removed_id: ID,
    /// The EVIDENCE_REMOVED event it recorded (it keeps the file's name and SHA-256).
    pub event: PipelineEvent,
}

#[derive(Default)]
pub struct EvidenceMutation;

#[Object]
impl EvidenceMutation {
    /// Attaches a file to an idea: send it as a GraphQL multipart request (the `file` field),
    /// or POST the bytes to `/evidence?idea=…`. REGENCY_ADMIN of the idea's regency (or ADMIN).
    async fn add_evidence(
        &self,
        ctx: &Context<'_>,
        input: AddEvidenceInput,
    ) -> Result<AddEvidencePayload> {
        let domain = ctx.data::<Domain>()?;
        // A caller who may write nothing gets no further.
        context::caller(ctx).check_may_write()?;
        if input
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with(FILE_MARK))
        {
            return Err(
                DomainError::bad_input("A file goes in `file`, not in `description`.").into(),
            );
        }
        let idea_id = ids::decode(Kind::Idea, &input.idea_id)?;
        let milestone_id = input
            .milestone_id
            .map(|id| ids::decode(Kind::Milestone, &id))
            .transpose()?;
        let upload = input.file.value(ctx)?;
        let name = upload.filename.clone();
        let max = domain.evidence_limits().max_bytes;
        let bytes = read_upload(upload, max).await?;
        let written = domain
            .add_evidence(
                &context::caller(ctx),
                NewEvidence {
                    idea_id,
                    milestone_id,
                    name,
                    description: input.description,
                    bytes,
                },
            )
            .await?;
        context::after_write(ctx);
        Ok(AddEvidencePayload {
            evidence: Evidence(written.value),
            event: context::first_event(written.events)?,
        })
    }

    /// Removes a file from its idea. REGENCY_ADMIN of the idea's regency (or ADMIN).
    async fn remove_evidence(
        &self,
        ctx: &Context<'_>,
        input: RemoveEvidenceInput,
    ) -> Result<RemoveEvidencePayload> {
        let id = input.id;
        let raw = ids::decode(Kind::Evidence, &id)?;
        let written = ctx
            .data::<Domain>()?
            .remove_evidence(&context::caller(ctx), raw)
            .await?;
        context::after_write(ctx);
        Ok(RemoveEvidencePayload {
            removed_id: id,
            event: context::first_event(written.events)?,
        })
    }
}

/// An uploaded part's bytes (the multipart reader spooled it to a temporary file), refused past
/// `max` bytes without reading it.
async fn read_upload(
    upload: async_graphql::UploadValue,
    max: usize,
) -> Result<Vec<u8>, DomainError> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut file = upload.content;
        let size = file
            .metadata()
            .map_err(|e| DomainError::Internal(e.into()))?
            .len();
        if size > max as u64 {
            return Err(DomainError::bad_input(format!(
                "The file has {size} bytes; evidence files are at most {max} bytes (LABINOV_EVIDENCE_MAX_BYTES)."
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| DomainError::Internal(e.into()))?;
        Ok(bytes)
    })
    .await
    .map_err(|e| DomainError::Internal(e.into()))?
}
