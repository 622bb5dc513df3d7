use std::{io::Write, process::ExitCode};

use anyhow::Context;
use clap::Parser;
use labinov::{
    App, backup, cli,
    config::{Cli, Command, Config, TokenCommand},
    db::connect_and_migrate,
    demo, graphql, telemetry,
};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_json);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The whole chain of causes, without a backtrace: this is for the operator.
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            // Held until the process ends, so no restore replaces the database under it.
            let _lock = backup::DatabaseLock::for_server(&args.config.database)?;
            let app = App::build(&args.config, args.demo).await?;
            if args.demo {
                print_demo_tokens(&app).await?;
            }
            let shutdown = CancellationToken::new();
            tokio::spawn(labinov::app::stop_on_signal(shutdown.clone()));
            app.run_until_stopped(shutdown).await
        }
        Command::Init(args) => init(&args).await,
        Command::Migrate(args) => {
            connect_and_migrate(&Config::with_database(args.database)).await?;
            tracing::info!("database is up to date");
            Ok(())
        }
        Command::Backup(args) => {
            let contents = backup::backup(&args.database, &args.file).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "backed up to {} ({contents})", args.file.display())
                .context("writing the report")?;
            Ok(())
        }
        Command::Restore(args) => {
            let (contents, kept) = backup::restore(&args.database, &args.file).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "restored {} ({contents})", args.file.display())
                .and_then(|()| match kept {
                    Some(kept) => writeln!(
                        out,
                        "the database it replaced is kept as {}",
                        kept.display()
                    ),
                    None => Ok(()),
                })
                .and_then(|()| {
                    writeln!(
                        out,
                        "start the server again; subscribers whose cursor is newer than the backup get CURSOR_EXPIRED and reload"
                    )
                })
                .context("writing the report")?;
            Ok(())
        }
        Command::Seed(args) => {
            anyhow::ensure!(
                args.demo,
                "nothing to seed: pass --demo to load the demo data"
            );
            let domain = connect_and_migrate(&Config::with_database(args.database)).await?;
            demo::load(&domain).await?.log();
            Ok(())
        }
        Command::Import(args) => {
            let report = cli::import(&Config::with_database(args.database.clone()), &args).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{report}").context("writing the report")?;
            Ok(())
        }
        Command::ImportUnits(args) => {
            let report =
                cli::import_units(&Config::with_database(args.database.clone()), &args).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{report}").context("writing the report")?;
            Ok(())
        }
        Command::Token(TokenCommand::Issue(args)) => issue_token(&args),
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            out.write_all(graphql::sdl().as_bytes())
                .context("writing the schema")?;
            Ok(())
        }
    }
}

/// `labinov init`: the regency, the settings file and the first token, then the next steps.
async fn init(args: &labinov::config::InitArgs) -> anyhow::Result<()> {
    let made = cli::init(args).await?;
    let settings = made.settings.display();
    let host = if args.listen.ip().is_unspecified() {
        format!("<this machine's address>:{}", args.listen.port())
    } else {
        args.listen.to_string()
    };
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{regency} is ready; its settings (with a fresh token secret) are in {settings}.\n\n\
         Next steps:\n\
         1. Start the server with those settings:\n\
         \x20    set -a; . {settings}; set +a; labinov serve\n\
         2. Open GraphiQL as the lab's REGENCY_ADMIN (this token is valid 30 days):\n\
         \x20    http://{host}/?token={token}\n\
         In another terminal, load the same settings first (set -a; . {settings}; set +a), then:\n\
         3. Add the units from a spreadsheet (docs/examples/unit-banjar.csv shows the columns):\n\
         \x20    labinov import-units units.csv --regency {code}\n\
         4. Create the lab's edition in GraphiQL (YEAR: the lab's year; ideas are dated on or after it):\n\
         \x20    mutation {{ createCohort(input: {{regencyId: \"{regency_id}\", year: YEAR, name: \"Laboratorium Inovasi YEAR\"}}) {{ cohort {{ id }} }} }}\n\
         5. Import the ideas (docs/examples/ide-inovasi-banjar.csv shows the columns; its ideas are of 2019):\n\
         \x20    labinov import ideas.csv --cohort {code}/YEAR\n\
         6. Tokens for staff and screens:\n\
         \x20    labinov token issue --role VIEWER --regency {code} --ttl 12h --subject \"event screen\"\n\
         \x20    labinov token issue --role REGENCY_ADMIN --regency {code} --ttl 8h --subject siti@example.go.id\n\n\
         The first token, on its own line:\n{token}\n",
        regency = made.regency,
        regency_id = made.regency_id,
        token = made.token,
        code = args.code.trim(),
    )
    .context("writing the next steps")?;
    Ok(())
}

/// `labinov token issue`: the token on its own last line, what it is above it.
fn issue_token(args: &labinov::config::IssueArgs) -> anyhow::Result<()> {
    let issued = cli::issue_token(&Config::with_tokens(args.tokens.clone()), args)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "# {} token for {}, valid for {}; send it as: Authorization: Bearer <token>",
        args.role.as_str(),
        args.subject,
        args.ttl
    )
    .and_then(|()| {
        if issued.demo {
            writeln!(
                out,
                "# signed with the public demo secret: only a `serve --demo` server without LABINOV_JWT_SECRET accepts it"
            )
        } else {
            Ok(())
        }
    })
    .and_then(|()| writeln!(out, "{}", issued.token))
    .context("writing the token")?;
    Ok(())
}

/// `serve --demo`: a ready token per role, and a link that opens GraphiQL with it, so a
/// newcomer can try every role at once. Printed, never logged.
async fn print_demo_tokens(app: &App) -> anyhow::Result<()> {
    let tokens = cli::demo_tokens(app.domain(), app.auth()).await?;
    let address = app.local_addr();
    let mut out = std::io::stdout().lock();
    if tokens.is_empty() {
        return out
            .write_all(
                b"\nNo demo tokens: this server signs with its own secret (LABINOV_JWT_SECRET).\n\
                  Issue one with the same settings, e.g.: labinov token issue --role ADMIN --ttl 8h\n",
            )
            .context("writing the demo note");
    }
    let mut text = String::from(
        "\nDemo tokens (valid 24 hours; signed with the public demo secret, loopback only):\n",
    );
    for demo in tokens {
        let token = &demo.token;
        text.push_str(&format!(
            "\n  {} — {}\n    GraphiQL:   http://{address}/?token={token}\n",
            demo.role.as_str(),
            demo.what
        ));
        if let Some(code) = demo.screen {
            text.push_str(&format!(
                "    /live:      http://{address}/live?regency={code}&token={token}\n    \
                 ranking:    http://{address}/live?regency={code}&view=ranking&token={token}\n"
            ));
        }
    }
    text.push_str(
        "\nWithout a token GraphiQL shows the public figures only (stages, funnel, ideaCounts).\n",
    );
    out.write_all(text.as_bytes())
        .context("writing the demo tokens")?;
    Ok(())
}
