//! The floor's subscribers in a process of their own (`bench floor-subscribers`), driven by the
//! harness over the child's stdin and stdout: labinov's subscribers and the floor's then stay
//! open together and take turns at any size. One process holding both sets needs two sockets
//! per subscriber, and an open-file limit of 20,000 (as on the machines this runs on) holds
//! one set of 10,000 but not two.
//!
//! The conversation, a line each: the child says `ready` once its sockets are open; the harness
//! sends `turn A B` and the child answers `done` and the delivery latency of each arrival of
//! writes A..B in microseconds, measured as [`crate::fan_out`] measures labinov's; the harness
//! closes the child's stdin to end it.

use std::{ops::Range, process::Stdio, time::Duration};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

use crate::{load, servers, ws};

/// The harness's side: the child process and its two pipes.
pub struct FloorSide {
    child: Child,
    commands: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
}

impl FloorSide {
    /// Starts `n` subscribers of the floor at `url` in a child process; `fire` is the URL that
    /// makes the floor send a frame.
    pub async fn open(url: &str, fire: &str, n: usize, per_second: u32) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["floor-subscribers", "--url", url, "--fire", fire])
            .args(["--subscribers", &n.to_string()])
            .args(["--per-second", &per_second.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the floor's subscribers")?;
        let commands = child.stdin.take().context("the child's stdin")?;
        let answers = BufReader::new(child.stdout.take().context("the child's stdout")?).lines();
        let mut side = Self {
            child,
            commands,
            answers,
        };
        match side.answers.next_line().await? {
            Some(line) if line == "ready" => Ok(side),
            other => anyhow::bail!("the floor's subscribers did not start: {other:?}"),
        }
    }

    /// The floor's delivery latencies of `writes`.
    pub async fn turn(&mut self, writes: Range<usize>) -> anyhow::Result<Vec<Duration>> {
        let command = format!("turn {} {}\n", writes.start, writes.end);
        self.commands.write_all(command.as_bytes()).await?;
        self.commands.flush().await?;
        let answer = self
            .answers
            .next_line()
            .await?
            .context("the floor's subscribers ended")?;
        let micros = answer
            .strip_prefix("done")
            .with_context(|| format!("the floor's subscribers answered {answer:?}"))?;
        Ok(micros
            .split_whitespace()
            .filter_map(|m| m.parse().ok())
            .map(Duration::from_micros)
            .collect())
    }

    /// Ends the child: its stdin closes, it closes its sockets and exits.
    pub async fn close(self) {
        let Self {
            mut child,
            commands,
            ..
        } = self;
        drop(commands);
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
}

/// `bench floor-subscribers`: the child's side of the conversation.
pub async fn serve(url: &str, fire: &str, n: usize, per_second: u32) -> anyhow::Result<()> {
    servers::allow_open_files(n as u64 + 4096);
    let operations = (0..n).map(|_| (String::new(), Value::Null)).collect();
    let mut open = ws::open(url, "", operations, 128, true).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut out = tokio::io::stdout();
    out.write_all(b"ready\n").await?;
    out.flush().await?;
    let mut commands = BufReader::new(tokio::io::stdin()).lines();
    while let Some(command) = commands.next_line().await? {
        let Some((start, end)) = command
            .strip_prefix("turn ")
            .and_then(|range| range.split_once(' '))
        else {
            anyhow::bail!("not a command of the harness's: {command:?}");
        };
        let writes = start.parse()?..end.parse()?;
        let latencies = crate::fan_out(&mut open, n, per_second, writes, |k| {
            frame(fire.to_owned(), k)
        })
        .await;
        let mut answer = String::from("done");
        for latency in latencies {
            answer.push_str(&format!(" {}", latency.as_micros()));
        }
        answer.push('\n');
        out.write_all(answer.as_bytes()).await?;
        out.flush().await?;
    }
    open.close().await;
    Ok(())
}

/// Has the floor send write `k`'s frame: what labinov's subscribers receive for a write.
async fn frame(fire: String, k: usize) -> load::Run {
    let message = json!({"type": "next", "id": "1", "payload": {"data": {"pipelineEvents": {"sequence": k, "payload": {"title": format!("bench-write-{k}")}}}}});
    let _ = reqwest::Client::new()
        .post(fire)
        .body(message.to_string())
        .send()
        .await;
    load::Run::default()
}
