//! Command line and environment configuration. Every flag is also an environment variable,
//! and the defaults run the embedded mode (SQLite file, in-process bus) with no flags at all.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::access::{AnonymousAccess, Role};

/// labinov: a GraphQL server for regional innovation labs (Laboratorium Inovasi) run with LAN.
///
/// It keeps the pipeline of innovation ideas through the 5D stages (Drum-Up, Diagnose, Design,
/// Deliver, Display), the LAN mentors who coach them and the commitments unit heads sign with
/// the regent. With no options it uses a SQLite file in the working directory.
#[derive(Debug, Parser)]
#[command(name = "labinov", version, about, long_about)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text (the level comes from RUST_LOG).
    #[arg(long, env = "LABINOV_LOG_JSON", global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve GraphQL on /graphql and GraphiQL on /.
    Serve(Box<ServeArgs>),
    /// Start a real deployment: create the regency in an empty database, write a settings file
    /// with a fresh secret, issue the first REGENCY_ADMIN token and print the next steps.
    Init(InitArgs),
    /// Bring the database schema up to date and exit.
    Migrate(MigrateArgs),
    /// Copy the SQLite database to a new file, consistent even while the server runs and
    /// writes. PostgreSQL: use pg_dump.
    Backup(BackupArgs),
    /// Put a backup made by `labinov backup` in place of the SQLite database; refused while a
    /// server runs on it. The database it replaces is kept beside it. PostgreSQL: use
    /// pg_restore.
    Restore(RestoreArgs),
    /// Load data into the database and exit.
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL) to standard output.
    Schema,
    /// Import ideas from a CSV spreadsheet into a cohort, all or nothing.
    Import(ImportArgs),
    /// Import a regency's units (name, kind, parent) from a CSV spreadsheet, all or nothing.
    ImportUnits(ImportUnitsArgs),
    /// Bearer tokens for the API.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token signed with this configuration's secret; it is printed on the last line.
    Issue(IssueArgs),
}

#[derive(Debug, Clone, Args)]
pub struct IssueArgs {
    /// What the token lets its holder do.
    #[arg(long, value_enum)]
    pub role: Role,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// The regency (Kemendagri code, e.g. 63.03) a REGENCY_ADMIN writes in or a VIEWER reads;
    /// a VIEWER without one reads every regency.
    #[arg(long)]
    pub regency: Option<String>,
    /// The mentor a MENTOR token speaks for: the mentor's GraphQL id or database id.
    #[arg(long)]
    pub mentor: Option<String>,
    /// Who holds the token; recorded as the actor of their changes.
    #[arg(long, default_value = "operator")]
    pub subject: String,
    /// How long the token is valid, e.g. `8h`, `30m`, `7days`.
    #[arg(long, default_value = "8h")]
    pub ttl: humantime::Duration,
    /// Sign with the public demo secret, for a server started with `serve --demo` and no secret
    /// (what happens anyway when no secret or public keys are configured).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV file: a header line, then one idea per line. Columns (English or Indonesian
    /// headers): title, unit, problem, type, form, affairs_area, initiator, and optionally
    /// submitted, description, maturity.
    pub file: PathBuf,
    /// The cohort to import into: REGENCY_CODE/YEAR (e.g. 63.03/2017) or the cohort's global ID.
    #[arg(long)]
    pub cohort: String,
    /// Name recorded as the actor of the import in the audit trail.
    #[arg(long, default_value = "cli import")]
    pub actor: String,
    /// Add rows whose idea (the same title and unit) is already in the cohort; by default they
    /// are left out, so importing a file again adds nothing.
    #[arg(long)]
    pub allow_duplicates: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ImportUnitsArgs {
    /// The CSV file: a header line, then one unit per line. Columns (English or Indonesian
    /// headers): name, kind, and optionally parent (a unit's name) and head_title.
    pub file: PathBuf,
    /// The regency's Kemendagri code, e.g. 63.03.
    #[arg(long)]
    pub regency: String,
    /// Name recorded as the actor of the import in the audit trail.
    #[arg(long, default_value = "cli import")]
    pub actor: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The regency's Kemendagri code, e.g. 63.03.
    #[arg(long)]
    pub code: String,
    /// The regency's name, e.g. "Kabupaten Banjar".
    #[arg(long)]
    pub name: String,
    /// Its province, e.g. "Kalimantan Selatan".
    #[arg(long)]
    pub province: String,
    /// The office that runs the lab.
    #[arg(long, default_value = "Bapelitbangda")]
    pub organiser: String,
    /// The day the regency signed its MoU with LAN (YYYY-MM-DD), if it has.
    #[arg(long)]
    pub mou_signed_on: Option<chrono::NaiveDate>,
    /// The settings file to write (environment variables, as a systemd EnvironmentFile reads
    /// them); refused if it exists.
    #[arg(long, default_value = "labinov.env")]
    pub settings: PathBuf,
    /// The address the server will listen on, written to the settings file.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Who holds the first token; recorded as the actor of their changes.
    #[arg(long, default_value = "lab organiser")]
    pub subject: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The backup file to write; refused if it exists.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup file to restore, as `labinov backup` wrote it.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Load the illustrative demo data (Banjar, Purbalingga, Banggai) if the database is empty.
    #[arg(long, env = "LABINOV_DEMO")]
    pub demo: bool,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Load the illustrative demo data; refused if the database already holds regencies.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where the data lives: what every command that opens the database takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded default) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://labinov.db?mode=rwc"
    )]
    pub database_url: String,

    /// PostgreSQL schema to use (search_path); lets several deployments or tests share one database.
    #[arg(long, env = "DATABASE_SCHEMA")]
    pub database_schema: Option<String>,

    /// Maximum number of pooled database connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Seconds a request waits for a pooled connection before it gets SERVICE_UNAVAILABLE
    /// (every connection busy, or the database unreachable) instead of hanging.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_acquire_timeout_secs: u64,

    /// PostgreSQL only: seconds one SQL statement may run (or wait on a lock) before it is
    /// cancelled and the request gets SERVICE_UNAVAILABLE; 0 means no limit.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_SECS", default_value_t = 30)]
    pub database_statement_timeout_secs: u64,

    /// PostgreSQL read replicas of DATABASE_URL, comma-separated URLs (streaming replicas).
    /// Queries, exports and the catch-up of resuming subscriptions read from one that holds
    /// everything the caller may have seen; writes and everything else use the primary.
    #[arg(long, env = "DATABASE_REPLICA_URLS", value_delimiter = ',')]
    pub database_replica_urls: Vec<String>,

    /// Milliseconds a read waits for a replica that is behind the primary before the primary
    /// answers it instead.
    #[arg(long, env = "DATABASE_REPLICA_WAIT_MS", default_value_t = 100)]
    pub database_replica_wait_ms: u64,
}

/// How bearer tokens are signed and verified.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Tokens")]
pub struct TokenArgs {
    /// Secret that signs and verifies bearer tokens (HS256), at least 32 bytes. Required unless
    /// `serve --demo` runs on loopback (it then uses a public demo secret) or public keys are set.
    #[arg(long, env = "LABINOV_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// File with the RS256 public keys of an outside identity provider (a PEM public key, or a
    /// JWKS document), so a province's sign-in service can issue labinov tokens.
    #[arg(long, env = "LABINOV_JWT_PUBLIC_KEYS")]
    pub jwt_public_keys: Option<PathBuf>,

    /// The `iss` an outside provider's RS256 tokens must carry.
    #[arg(long, env = "LABINOV_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` an outside provider's RS256 tokens must carry (labinov's name at the provider).
    #[arg(long, env = "LABINOV_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

/// The settings of `labinov serve`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Redis URL for the event bus shared by many instances; without it events stay in-process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Seed nodes of a Redis Cluster (comma-separated URLs) for the event bus instead of one
    /// Redis: events travel on sharded channels (`SPUBLISH`/`SSUBSCRIBE`, Redis 7 or newer).
    #[arg(
        long,
        env = "REDIS_CLUSTER_URLS",
        value_delimiter = ',',
        conflicts_with = "redis_url"
    )]
    pub redis_cluster_urls: Vec<String>,

    /// Prefix of the Redis pub/sub channel; instances sharing one prefix see each other's events.
    #[arg(long, env = "REDIS_CHANNEL_PREFIX", default_value = "labinov:")]
    pub redis_channel_prefix: String,

    /// How often (milliseconds) the event listener checks the database for events it has not
    /// received from the bus (another process's writes, a lost publish). While Redis is
    /// unreachable it checks every 250 ms at most.
    #[arg(long, env = "LABINOV_LIVE_POLL_MS", default_value_t = 1000)]
    pub live_poll_ms: u64,

    /// Share (percent) of one lane's time that funnel and ranking subscriptions may take
    /// recomputing after writes; past it their snapshots arrive later, the writers never wait.
    #[arg(
        long,
        env = "LABINOV_LIVE_AGGREGATE_PERCENT",
        default_value_t = 50,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub live_aggregate_percent: u32,

    /// Delete pipeline events older than this many days (0 keeps them forever). Resuming from a
    /// cursor older than the retained events gets CURSOR_EXPIRED.
    #[arg(long, env = "LABINOV_EVENT_RETENTION_DAYS", default_value_t = 0)]
    pub event_retention_days: u32,

    /// Seconds between keep-alive pings on WebSocket and SSE connections.
    #[arg(long, env = "LABINOV_KEEPALIVE_SECS", default_value_t = 15)]
    pub keepalive_secs: u64,

    /// Seconds the server keeps serving after SIGTERM with `/readyz` answering 503
    /// ("draining"), so a load balancer stops sending it requests before it closes its
    /// connections; 0 closes them at once.
    #[arg(long, env = "LABINOV_SHUTDOWN_DELAY_SECS", default_value_t = 0)]
    pub shutdown_delay_secs: u64,

    /// Megabytes of GraphQL-over-HTTP answers kept for repeated queries; 0 turns the response
    /// cache off. Answers are kept until any write changes the data (on any instance), so a
    /// kept answer is never stale.
    #[arg(long, env = "LABINOV_RESPONSE_CACHE_MB", default_value_t = 16)]
    pub response_cache_mb: usize,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "LABINOV_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Browser origins allowed to call the API from other sites (CORS), comma-separated, e.g.
    /// `https://dashboard.banjarkab.go.id`; `*` allows any origin. None by default.
    #[arg(long, env = "LABINOV_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Host names this server answers to, comma-separated (e.g. `labinov.banjarkab.go.id`); IP
    /// addresses and `localhost` always work, `*` allows any name. A request for another name is
    /// refused, so a web page cannot reach the server by pointing its own name at it (DNS
    /// rebinding).
    #[arg(long, env = "LABINOV_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    #[command(flatten)]
    pub tokens: TokenArgs,

    /// What callers without a token may read: `public` (stages, funnel, ideaCounts and the
    /// funnel subscription), `none`, or `read` (everything, for an open-data deployment).
    #[arg(
        long,
        env = "LABINOV_ANONYMOUS_ACCESS",
        value_enum,
        default_value_t = AnonymousAccess::Public
    )]
    pub anonymous_access: AnonymousAccess,

    /// Run only these GraphQL documents for callers other than ADMIN: a JSON file holding an
    /// array of documents or an Apollo persisted-query manifest. The event screen's own
    /// documents are always trusted.
    #[arg(long, env = "LABINOV_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<PathBuf>,

    /// Smallest count an anonymous caller is told exactly: a public figure below it reads as
    /// "fewer than N" (`count` null, `fewerThan` N), so no public filter narrows to one idea.
    #[arg(long, env = "LABINOV_ANONYMOUS_MIN_COUNT", default_value_t = 5)]
    pub anonymous_min_count: u64,

    /// Reverse proxies (CIDRs, comma-separated, e.g. `127.0.0.1/32,10.0.0.0/8`) whose
    /// `X-Forwarded-For` or `Forwarded` header names the client; per-address rate limits and
    /// caps then count real clients. From any other peer those headers are ignored.
    #[arg(long, env = "LABINOV_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Also speak HTTP/2 without TLS (h2c, prior knowledge). Off: browsers speak HTTP/2 only over
    /// TLS, which a reverse proxy ends, and proxies talk HTTP/1.1 to their upstreams.
    #[arg(long, env = "LABINOV_HTTP2_CLEARTEXT")]
    pub http2_cleartext: bool,

    /// Default page size of connections when a client gives neither `first` nor `last`.
    #[arg(long, env = "LABINOV_DEFAULT_PAGE_SIZE", default_value_t = 20)]
    pub default_page_size: u32,

    /// Largest page a client may ask for with `first` or `last`.
    #[arg(long, env = "LABINOV_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u32,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Limits that keep one client from taking the server down; each is refused with its own
/// `extensions.code` (see the Limits table in docs/configuration.md).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Longest GraphQL query text, in bytes.
    #[arg(long, env = "LABINOV_MAX_QUERY_BYTES", default_value_t = 32 * 1024)]
    pub max_query_bytes: usize,
    /// Deepest nesting of brackets in a query's text.
    #[arg(long, env = "LABINOV_MAX_QUERY_NESTING", default_value_t = 48)]
    pub max_query_nesting: usize,
    /// Deepest selection of fields, fragments expanded.
    #[arg(long, env = "LABINOV_MAX_QUERY_DEPTH", default_value_t = 12)]
    pub max_query_depth: usize,
    /// Most fields a query may resolve, fragments expanded and lists multiplied by their page size.
    #[arg(long, env = "LABINOV_MAX_QUERY_COMPLEXITY", default_value_t = 20_000)]
    pub max_query_complexity: usize,
    /// Most aliased fields in one query.
    #[arg(long, env = "LABINOV_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,
    /// Most top-level fields in one operation.
    #[arg(long, env = "LABINOV_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub max_root_fields: usize,
    /// Deepest nesting of input objects and lists (filters within filters).
    #[arg(long, env = "LABINOV_MAX_INPUT_DEPTH", default_value_t = 8)]
    pub max_input_depth: usize,
    /// Longest list in an argument or variable.
    #[arg(long, env = "LABINOV_MAX_INPUT_LIST", default_value_t = 1_000)]
    pub max_input_list: usize,
    /// Most input objects in one request (filter branches).
    #[arg(long, env = "LABINOV_MAX_INPUT_OBJECTS", default_value_t = 100)]
    pub max_input_objects: usize,
    /// Most list items in one request, all arguments and variables together.
    #[arg(long, env = "LABINOV_MAX_INPUT_ITEMS", default_value_t = 2_000)]
    pub max_input_items: usize,
    /// Largest request body (and CSV import), in bytes.
    #[arg(long, env = "LABINOV_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Bytes of request bodies one client address may have in flight at once (one body always
    /// fits); 0 for no cap.
    #[arg(long, env = "LABINOV_MAX_BODY_BYTES_PER_ADDRESS", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes_per_address: usize,
    /// Bytes of request bodies the server has in flight at once, all clients together; 0 for no
    /// cap.
    #[arg(long, env = "LABINOV_MAX_BODY_BYTES_IN_FLIGHT", default_value_t = 256 * 1024 * 1024)]
    pub max_body_bytes_in_flight: usize,
    /// Largest evidence file, in bytes; an upload's whole request may be this much larger
    /// than LABINOV_MAX_BODY_BYTES.
    #[arg(long, env = "LABINOV_EVIDENCE_MAX_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub evidence_max_bytes: usize,
    /// Most evidence files one idea holds.
    #[arg(long, env = "LABINOV_EVIDENCE_MAX_FILES", default_value_t = 30)]
    pub evidence_max_files: usize,
    /// Seconds an upload (a multipart GraphQL request or a POST to /evidence) may take, reading
    /// its body included.
    #[arg(long, env = "LABINOV_UPLOAD_TIMEOUT_SECS", default_value_t = 300)]
    pub upload_timeout_secs: u64,
    /// Largest WebSocket message, in bytes (a subscribe is a document and its variables).
    #[arg(long, env = "LABINOV_MAX_WS_MESSAGE_BYTES", default_value_t = 256 * 1024)]
    pub max_ws_message_bytes: usize,
    /// Most subscriptions running at once on one WebSocket.
    #[arg(
        long,
        env = "LABINOV_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 20
    )]
    pub max_subscriptions_per_connection: usize,
    /// Most open connections from one client address (an IPv6 /64 counts as one); more are
    /// closed at once. Trusted proxies are not capped; their clients are, by stream.
    #[arg(
        long,
        env = "LABINOV_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 200
    )]
    pub max_connections_per_address: usize,
    /// Most open WebSockets and SSE streams together from one client address; 0 for no cap.
    #[arg(long, env = "LABINOV_MAX_STREAMS_PER_ADDRESS", default_value_t = 100)]
    pub max_streams_per_address: usize,
    /// Most subscriptions running at once from one client address (WebSocket subscriptions and
    /// SSE streams together); 0 for no cap.
    #[arg(
        long,
        env = "LABINOV_MAX_SUBSCRIPTIONS_PER_ADDRESS",
        default_value_t = 200
    )]
    pub max_subscriptions_per_address: usize,
    /// Largest request head (request line and headers), in bytes; larger ones get HTTP 431.
    #[arg(long, env = "LABINOV_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,
    /// Kilobytes of automatic persisted query texts kept; the least recently used go first.
    #[arg(long, env = "LABINOV_PERSISTED_QUERIES_KB", default_value_t = 2048)]
    pub persisted_queries_kb: usize,
    /// Kilobytes of parsed documents kept for reuse (weighed at 40 times their text).
    #[arg(long, env = "LABINOV_PARSED_DOCUMENTS_KB", default_value_t = 4096)]
    pub parsed_documents_kb: usize,
    /// Most open connections (HTTP, WebSocket and SSE together); more are closed at once.
    #[arg(long, env = "LABINOV_MAX_CONNECTIONS", default_value_t = 2_000)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; an idle keep-alive connection is
    /// closed after as long.
    #[arg(long, env = "LABINOV_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a GraphQL-over-HTTP request (reading its body included) may take.
    #[arg(long, env = "LABINOV_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Refuse introspection queries (`__schema`, `__type`); GraphiQL's docs then stay empty.
    #[arg(long, env = "LABINOV_DISABLE_INTROSPECTION")]
    pub disable_introspection: bool,
    /// GraphQL operations (requests, WebSocket subscribes) a token may make per minute, in a
    /// burst or spread out; 0 for no limit.
    #[arg(long, env = "LABINOV_RATE_LIMIT_PER_TOKEN", default_value_t = 1200)]
    pub rate_limit_per_token: u32,
    /// GraphQL operations one client address may make per minute; 0 for no limit. Behind a
    /// proxy every client shares the proxy's address: raise it or set it to 0 there.
    #[arg(long, env = "LABINOV_RATE_LIMIT_PER_IP", default_value_t = 3000)]
    pub rate_limit_per_ip: u32,
    /// Refuse introspection to callers without a token; signed-in callers keep GraphiQL's docs.
    #[arg(long, env = "LABINOV_NO_ANONYMOUS_INTROSPECTION")]
    pub no_anonymous_introspection: bool,
    /// Seconds a WebSocket has to send `connection_init` (closed with 4408 otherwise).
    #[arg(
        long,
        env = "LABINOV_CONNECTION_INIT_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub connection_init_timeout_secs: u64,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            max_query_bytes: 32 * 1024,
            max_query_nesting: 48,
            max_query_depth: 12,
            max_query_complexity: 20_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_input_depth: 8,
            max_input_list: 1_000,
            max_input_objects: 100,
            max_input_items: 2_000,
            max_body_bytes: 4 * 1024 * 1024,
            max_body_bytes_per_address: 16 * 1024 * 1024,
            max_body_bytes_in_flight: 256 * 1024 * 1024,
            evidence_max_bytes: 20 * 1024 * 1024,
            evidence_max_files: 30,
            upload_timeout_secs: 300,
            max_ws_message_bytes: 256 * 1024,
            max_subscriptions_per_connection: 20,
            max_connections: 2_000,
            max_connections_per_address: 200,
            max_streams_per_address: 100,
            max_subscriptions_per_address: 200,
            max_header_bytes: 32 * 1024,
            persisted_queries_kb: 2048,
            parsed_documents_kb: 4096,
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            connection_init_timeout_secs: 10,
            disable_introspection: false,
            no_anonymous_introspection: false,
            rate_limit_per_token: 1200,
            rate_limit_per_ip: 3000,
        }
    }
}

impl Config {
    /// The defaults of `serve` with `database`: for the commands that only open the database.
    pub fn with_database(database: DatabaseArgs) -> Self {
        Self {
            database,
            ..Self::sqlite(std::path::Path::new("labinov.db"))
        }
    }

    /// The defaults of `serve` with `tokens`: for the commands that only sign tokens.
    pub fn with_tokens(tokens: TokenArgs) -> Self {
        Self {
            tokens,
            ..Self::sqlite(std::path::Path::new("labinov.db"))
        }
    }

    /// The embedded default, with the SQLite file at `path`: what tests and examples start from.
    pub fn sqlite(path: &std::path::Path) -> Self {
        Self {
            database: DatabaseArgs {
                database_url: format!("sqlite://{}?mode=rwc", path.display()),
                database_schema: None,
                database_max_connections: 10,
                database_acquire_timeout_secs: 5,
                database_statement_timeout_secs: 30,
                database_replica_urls: Vec::new(),
                database_replica_wait_ms: 100,
            },
            redis_url: None,
            redis_cluster_urls: Vec::new(),
            redis_channel_prefix: "labinov:".to_owned(),
            live_poll_ms: 1000,
            live_aggregate_percent: 50,
            event_retention_days: 0,
            keepalive_secs: 15,
            shutdown_delay_secs: 0,
            response_cache_mb: 16,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            tokens: TokenArgs {
                jwt_secret: None,
                jwt_public_keys: None,
                jwt_issuer: None,
                jwt_audience: None,
            },
            anonymous_access: AnonymousAccess::Public,
            anonymous_min_count: 5,
            trusted_proxies: Vec::new(),
            http2_cleartext: false,
            trusted_documents: None,
            default_page_size: 20,
            max_page_size: 100,
            limits: LimitArgs::default(),
        }
    }
}

/// `--role` names the access rules' roles as tokens and the schema spell them.
impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Admin, Self::RegencyAdmin, Self::Mentor, Self::Viewer]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            Self::Admin => "Everything: regencies, mentors, every regency's rows",
            Self::RegencyAdmin => "Reads and writes the rows of one regency",
            Self::Mentor => {
                "A LAN mentor: reads every regency; writes only on ideas assigned to them"
            }
            Self::Viewer => "Reads one regency, or all of them; writes nothing",
        };
        Some(clap::builder::PossibleValue::new(self.as_str()).help(help))
    }
}

/// `--anonymous-access none|public|read`.
impl clap::ValueEnum for AnonymousAccess {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::None, Self::Public, Self::Read]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (name, help) = match self {
            Self::None => ("none", "Nothing at all"),
            Self::Public => (
                "public",
                "The public aggregates: stages, funnel, ideaCounts and the funnel subscription",
            ),
            Self::Read => (
                "read",
                "Every read, as a VIEWER of all regencies (an open-data deployment)",
            ),
        };
        Some(clap::builder::PossibleValue::new(name).help(help))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every environment variable `labinov serve` reads, as clap defines them.
    fn serve_environment() -> Vec<String> {
        let command = Cli::command();
        let serve = command.find_subcommand("serve").expect("a serve command");
        command
            .get_arguments()
            .chain(serve.get_arguments())
            .filter_map(clap::Arg::get_env)
            .map(|name| name.to_string_lossy().into_owned())
            .collect()
    }

    /// The names `deploy/labinov.env` sets or shows commented out (`# NAME=value`).
    fn packaged_settings() -> Vec<&'static str> {
        include_str!("../deploy/labinov.env")
            .lines()
            .map(|line| line.trim_start_matches('#').trim())
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect()
    }

    #[test]
    fn the_packaged_settings_file_lists_every_setting_of_serve() {
        let environment = serve_environment();
        assert!(environment.len() > 50, "{environment:?}");
        let listed = packaged_settings();
        let missing: Vec<_> = environment
            .iter()
            .filter(|name| !listed.contains(&name.as_str()))
            .collect();
        assert!(missing.is_empty(), "deploy/labinov.env lacks {missing:?}");
        let unknown: Vec<_> = listed
            .iter()
            .filter(|name| **name != "RUST_LOG" && !environment.iter().any(|e| e == *name))
            .collect();
        assert!(
            unknown.is_empty(),
            "deploy/labinov.env names settings labinov does not read: {unknown:?}"
        );
    }
}
