//! Commands of the `labinov` binary other than `serve`.

use anyhow::Context;

use crate::{
    auth::Caller,
    config::{Config, ImportArgs},
    db::connect_and_migrate,
    domain::Domain,
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
    match domain.import_ideas(&caller, cohort_id, &csv).await {
        Ok(written) => Ok(format!(
            "imported {} ideas from {} (events {}..{})",
            written.value.len(),
            args.file.display(),
            written.events.first().map(|e| e.seq).unwrap_or_default(),
            written.events.last().map(|e| e.seq).unwrap_or_default(),
        )),
        Err(DomainError::InvalidLines(summary, lines)) => {
            let mut report = format!("{summary}\n");
            for line in lines {
                report.push_str(&format!("  line {}: {}\n", line.line, line.message));
            }
            anyhow::bail!(
                report
                    .replace(" See extensions.lines.", "")
                    .replace(" are in extensions.lines.", " are listed.")
                    .trim_end()
                    .to_owned()
            )
        }
        Err(other) => Err(other.into()),
    }
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
