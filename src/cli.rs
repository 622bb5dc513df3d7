//! Commands of the `labinov` binary other than `serve`.

use anyhow::Context;

use crate::{
    access::{Caller, Role},
    auth::{Authenticator, Claims},
    config::{Config, ImportArgs, ImportUnitsArgs, InitArgs, IssueArgs},
    db::connect_and_migrate,
    domain::{Domain, idea::import::Duplicates},
    error::DomainError,
    global_id::{self, Kind},
};

/// `labinov import FILE --cohort 63.03/2017`: prints what was imported, or every bad line.
pub async fn import(config: &Config, args: &ImportArgs) -> anyhow::Result<String> {
    let csv = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let domain = connect_and_migrate(config).await?;
    let caller = Caller::system(args.actor.clone());
    let cohort_id = resolve_cohort(&domain, &caller, &args.cohort).await?;
    let duplicates = if args.allow_duplicates {
        Duplicates::Add
    } else {
        Duplicates::Skip
    };
    match domain
        .import_ideas(&caller, cohort_id, &csv, duplicates)
        .await
    {
        Ok(written) if written.value.ideas.is_empty() => Ok(format!(
            "nothing imported: all {} rows of {} are already in the cohort (the same title and unit); pass --allow-duplicates to add them again",
            written.value.skipped,
            args.file.display(),
        )),
        Ok(written) => {
            let mut report = format!(
                "imported {} ideas from {} (events {}..{})",
                written.value.ideas.len(),
                args.file.display(),
                written.events.first().map(|e| e.seq).unwrap_or_default(),
                written.events.last().map(|e| e.seq).unwrap_or_default(),
            );
            if written.value.skipped > 0 {
                report.push_str(&format!(
                    "; {} rows were already in the cohort and were left out",
                    written.value.skipped
                ));
            }
            Ok(report)
        }
        Err(DomainError::InvalidLines(summary, lines)) => Err(bad_lines(&summary, &lines)),
        Err(other) => Err(other.into()),
    }
}

/// Every bad line of a refused import, for a terminal.
fn bad_lines(summary: &str, lines: &[crate::error::LineError]) -> anyhow::Error {
    let mut report = format!("{summary}\n");
    for line in lines {
        report.push_str(&format!("  line {}: {}\n", line.line, line.message));
    }
    anyhow::anyhow!(
        report
            .replace(" See extensions.lines.", "")
            .replace(" are in extensions.lines.", " are listed.")
            .trim_end()
            .to_owned()
    )
}

/// `labinov import-units FILE --regency 63.03`: prints what was created, or every bad line.
pub async fn import_units(config: &Config, args: &ImportUnitsArgs) -> anyhow::Result<String> {
    let csv = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let domain = connect_and_migrate(config).await?;
    let caller = Caller::system(args.actor.clone());
    let regency = domain
        .regency_by_code(&caller, args.regency.trim())
        .await?
        .with_context(|| format!("no regency has the code {}", args.regency.trim()))?;
    match domain.import_units(&caller, regency.id, &csv).await {
        Ok(written) => Ok(format!(
            "imported {} {} into {} from {}{}",
            written.value.units.len(),
            if written.value.units.len() == 1 {
                "unit"
            } else {
                "units"
            },
            regency.name,
            args.file.display(),
            if written.value.skipped > 0 {
                format!(
                    "; {} were already there and were left out",
                    written.value.skipped
                )
            } else {
                String::new()
            }
        )),
        Err(DomainError::InvalidLines(summary, lines)) => Err(bad_lines(&summary, &lines)),
        Err(other) => Err(other.into()),
    }
}

/// What `labinov init` made: the settings file, the secret and the first token.
#[derive(Debug)]
pub struct Initialised {
    pub settings: std::path::PathBuf,
    pub token: String,
    pub regency: String,
    /// The regency's global ID, for the mutations that name it.
    pub regency_id: String,
}

/// A fresh secret: 48 bytes from the operating system's generator, in base64.
fn fresh_secret() -> anyhow::Result<String> {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut bytes = [0u8; 48];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("reading 48 random bytes from /dev/urandom")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `labinov init`: from an empty database, the regency, a settings file with a fresh secret
/// (readable by its owner only) and the first REGENCY_ADMIN token, valid 30 days.
pub async fn init(args: &InitArgs) -> anyhow::Result<Initialised> {
    anyhow::ensure!(
        !args.settings.exists(),
        "{} exists already; init writes a new settings file (move it away, or start the server with it)",
        args.settings.display()
    );
    let config = Config::with_database(args.database.clone());
    let domain = connect_and_migrate(&config).await?;
    let system = Caller::system("init");
    anyhow::ensure!(
        domain.is_empty(&system).await?,
        "the database holds regencies already; init starts an empty deployment (issue tokens with `labinov token issue`)"
    );
    let regency = domain
        .create_regency(
            &system,
            crate::domain::regency::NewRegency {
                code: args.code.trim().to_owned(),
                name: args.name.trim().to_owned(),
                province: args.province.trim().to_owned(),
                organiser: args.organiser.trim().to_owned(),
                mou_signed_on: args.mou_signed_on,
            },
        )
        .await?
        .value;
    let secret = fresh_secret()?;
    let database = &args.database;
    let mut text = format!(
        "# labinov settings for {name}, written by `labinov init`. Keep this file secret: the\n\
         # token secret signs every token. Every setting: docs/configuration.md.\n\
         LABINOV_JWT_SECRET={secret}\n\
         DATABASE_URL={url}\n\
         LABINOV_LISTEN={listen}\n\
         # The names clients use to reach the server, comma-separated (IP addresses always work):\n\
         # LABINOV_ALLOWED_HOSTS=labinov.example.go.id\n\
         # Behind a reverse proxy on this machine:\n\
         # LABINOV_TRUSTED_PROXIES=127.0.0.1/32\n",
        name = regency.name,
        url = database.database_url,
        listen = args.listen,
    );
    if let Some(schema) = &database.database_schema {
        text.push_str(&format!("DATABASE_SCHEMA={schema}\n"));
    }
    write_private(&args.settings, &text)?;
    let mut tokens = Config::with_database(args.database.clone()).tokens;
    tokens.jwt_secret = Some(secret);
    let auth = Authenticator::from_config(&Config::with_tokens(tokens), false)?;
    let token = auth.issue(&claims(
        &args.subject,
        Role::RegencyAdmin,
        Some(regency.code.clone()),
        None,
        std::time::Duration::from_hours(24 * 30),
    )?)?;
    Ok(Initialised {
        settings: args.settings.clone(),
        token,
        regency: format!("{} ({})", regency.name, regency.code),
        regency_id: global_id::encode(Kind::Regency, regency.id),
    })
}

/// Writes `text` to a new file only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

async fn resolve_cohort(domain: &Domain, caller: &Caller, reference: &str) -> anyhow::Result<i32> {
    if let Some((code, year)) = reference.split_once('/') {
        let year: i32 = year.trim().parse().with_context(|| {
            format!("\"{year}\" is not a year; use REGENCY_CODE/YEAR such as 63.03/2017")
        })?;
        return Ok(domain
            .cohort_by_code_and_year(caller, code.trim(), year)
            .await?
            .id);
    }
    global_id::decode(Kind::Cohort, reference).map_err(|_| {
        anyhow::anyhow!(
            "\"{reference}\" is neither REGENCY_CODE/YEAR (such as 63.03/2017) nor a cohort ID"
        )
    })
}

/// A token issued by `labinov token issue`, and whether it is signed with the public demo
/// secret.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub demo: bool,
}

/// `labinov token issue --role … [--regency CODE] [--mentor ID] [--ttl 8h]`: a token the
/// server run with the same configuration accepts. With no secret and no public keys configured
/// (or `--demo`) it is signed with the public demo secret, which a `serve --demo` server
/// without a secret accepts, so the commands shown for the demo work as written.
pub fn issue_token(config: &Config, args: &IssueArgs) -> anyhow::Result<Issued> {
    let demo = args.demo
        || (config.tokens.jwt_secret.is_none() && config.tokens.jwt_public_keys.is_none());
    // `--demo` signs with the public demo secret whatever secret the environment holds.
    let mut config = config.clone();
    if args.demo {
        config.tokens.jwt_secret = None;
    }
    let auth = Authenticator::from_config(&config, demo)?;
    let mentor = args
        .mentor
        .as_deref()
        .map(|id| match id.trim().parse::<i32>() {
            Ok(id) => Ok(id),
            Err(_) => global_id::decode(Kind::Mentor, id.trim()).map_err(anyhow::Error::from),
        })
        .transpose()
        .context("--mentor takes a mentor's GraphQL id or database id")?;
    let claims = claims(
        &args.subject,
        args.role,
        args.regency.clone(),
        mentor,
        *args.ttl,
    )?;
    Ok(Issued {
        token: auth.issue(&claims)?,
        demo: auth.signs_with_demo_secret(),
    })
}

/// The claims of a new token, checked as the server will check them.
pub fn claims(
    subject: &str,
    role: Role,
    regency: Option<String>,
    mentor: Option<i32>,
    ttl: std::time::Duration,
) -> anyhow::Result<Claims> {
    anyhow::ensure!(
        role != Role::RegencyAdmin || regency.is_some(),
        "a REGENCY_ADMIN token needs --regency CODE (e.g. 63.03)"
    );
    anyhow::ensure!(
        role != Role::Mentor || mentor.is_some(),
        "a MENTOR token needs --mentor ID"
    );
    if let Some(problem) = crate::auth::subject_problem(subject) {
        anyhow::bail!("--subject: the token {problem}");
    }
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    Ok(Claims {
        sub: subject.trim().to_owned(),
        role,
        regency: regency.map(|r| r.trim().to_owned()),
        mentor,
        exp: now.saturating_add(ttl),
        iat: now,
    })
}

/// A token for trying one role on a `serve --demo` server.
#[derive(Debug, Clone)]
pub struct DemoToken {
    pub role: Role,
    /// What the token shows, in a few words.
    pub what: &'static str,
    pub token: String,
    /// The regency (code) whose event screen and ranking the token may open.
    pub screen: Option<&'static str>,
}

/// Tokens for trying every role on a `serve --demo` server.
/// None unless the server signs with the public demo secret (which it uses only on loopback):
/// tokens signed with an operator's real secret are issued one by one, never printed in bulk.
pub async fn demo_tokens(domain: &Domain, auth: &Authenticator) -> anyhow::Result<Vec<DemoToken>> {
    if !auth.signs_with_demo_secret() {
        return Ok(Vec::new());
    }
    let system = Caller::system("demo tokens");
    let request = crate::domain::page::PageRequest {
        first: Some(1),
        ..Default::default()
    };
    let suripto = domain
        .mentor_page(&system, Some("Suripto"), &request)
        .await?
        .edges
        .into_iter()
        .map(|(_, m)| m.id)
        .next();
    let day = std::time::Duration::from_hours(24);
    let mut tokens = vec![
        (
            Role::Admin,
            "everything",
            claims("demo admin", Role::Admin, None, None, day)?,
        ),
        (
            Role::RegencyAdmin,
            "writes in Kabupaten Banjar (63.03)",
            claims(
                "demo admin banjar",
                Role::RegencyAdmin,
                Some("63.03".to_owned()),
                None,
                day,
            )?,
        ),
        (
            Role::Viewer,
            "reads Kabupaten Banjar (63.03): its event screen and ranking",
            claims(
                "demo viewer banjar",
                Role::Viewer,
                Some("63.03".to_owned()),
                None,
                day,
            )?,
        ),
        (
            Role::Viewer,
            "reads Kabupaten Purbalingga (33.03) only",
            claims(
                "demo viewer purbalingga",
                Role::Viewer,
                Some("33.03".to_owned()),
                None,
                day,
            )?,
        ),
    ];
    if let Some(id) = suripto {
        tokens.push((
            Role::Mentor,
            "LAN mentor Suripto: reads every regency",
            claims("Suripto (LAN)", Role::Mentor, None, Some(id), day)?,
        ));
    }
    tokens
        .into_iter()
        .map(|(role, what, claims)| {
            let screen = (role == Role::Viewer && claims.regency.as_deref() == Some("63.03"))
                .then_some("63.03");
            Ok(DemoToken {
                role,
                what,
                token: auth.issue(&claims)?,
                screen,
            })
        })
        .collect()
}
