//! A WebSocket's writing half, shared by its connection and by the subscription groups it is a
//! member of ([`super::fanout`]). A group writes its answer into every member's socket itself,
//! one after the other, without waking each connection: the connection's task is woken only
//! when a socket cannot take the message at once (it then writes what waits), when the group
//! ended, or when the connection must close.
//!
//! Messages from the connection and from its groups go out in the order they were offered; a
//! socket that cannot keep up holds at most [`BACKLOG`] waiting messages before the connection
//! is told to close (1013) so its client resumes with its last cursor.

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
};

use axum::extract::ws::Message;
use chrono::{DateTime, Utc};
use futures_util::Sink;

/// Messages a socket may have waiting behind a full send buffer before its connection closes.
pub const BACKLOG: usize = 128;

/// Why a group asks a member's connection to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The socket fell more than [`BACKLOG`] messages behind.
    FellBehind,
    /// The caller's token expired while the group ran.
    TokenExpired,
    /// The group's answer could not be read from the database.
    DatabaseUnavailable,
}

/// What the connection has to act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// The socket failed: the client is gone.
    Broken,
    /// Close the connection.
    Close(Closing),
    /// These grouped operations ended: send each its `complete`.
    Ended(Vec<Arc<str>>),
}

/// Where messages go: a WebSocket's writing half.
pub type Socket = Pin<Box<dyn Sink<Message, Error = axum::Error> + Send>>;

/// The writing half of one WebSocket.
pub struct Outlet {
    state: Mutex<State>,
}

struct State {
    sink: Socket,
    /// The connection's task: woken for anything it has to do, and by the socket when it can
    /// take more.
    waker: Option<Waker>,
    /// Messages offered while the socket could not take them, in order.
    waiting: VecDeque<Waiting>,
    /// How many messages have left `waiting` (written, or let go): the next one's number.
    done: u64,
    /// Whether messages written to the sink still wait to be flushed to the socket.
    unflushed: bool,
    /// Why the connection closes; from then on groups write nothing more to it.
    closing: Option<Closing>,
    /// Whether the connection was told.
    told: bool,
    ended: Vec<Arc<str>>,
    broken: bool,
}

impl Outlet {
    pub fn new(sink: impl Sink<Message, Error = axum::Error> + Send + 'static) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                sink: Box::pin(sink),
                waker: None,
                waiting: VecDeque::new(),
                done: 0,
                unflushed: false,
                closing: None,
                told: false,
                ended: Vec::new(),
                broken: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A group's answer — the member's `opening`, the `payload` every member shares, and the
    /// message's closing brace: written to the socket now if it can take it, else kept (as the
    /// two shared parts) for the connection to write. Nothing is written once `present` is
    /// cleared (its operation completed), however long the answer waited; an answer that waits
    /// past `expires_at` (the member's token) is not written either, and the connection closes
    /// (4403) instead. Whether the answer was taken: false for a closing connection or a
    /// completed operation.
    pub fn offer(
        &self,
        opening: &Arc<str>,
        payload: &Arc<str>,
        present: &Arc<AtomicBool>,
        expires_at: Option<DateTime<Utc>>,
    ) -> bool {
        let mut state = self.lock();
        if state.closing.is_some() || state.broken || !present.load(Ordering::Acquire) {
            return false;
        }
        if expires_at.is_some_and(|at| at <= Utc::now()) {
            state.closing = Some(Closing::TokenExpired);
            state.wake();
            return false;
        }
        let state = &mut *state;
        if state.waiting.is_empty()
            && !state.unflushed
            && let Some(waker) = &state.waker
        {
            let mut cx = Context::from_waker(waker);
            let message = Message::Text(answer(opening, payload).into());
            match write(&mut state.sink, message, &mut cx) {
                Written::Flushed => return true,
                Written::Unflushed => {
                    // The socket wakes the connection when it can take the rest.
                    state.unflushed = true;
                    return true;
                }
                Written::Failed => {
                    state.broken = true;
                    state.wake();
                    return false;
                }
                Written::NotNow => {}
            }
        }
        state.waiting.push_back(Waiting::Shared {
            opening: opening.clone(),
            payload: payload.clone(),
            present: present.clone(),
            expires_at,
        });
        state.bound();
        state.wake();
        state.closing.is_none()
    }

    /// Asks the connection to close (the first reason given wins).
    pub fn close(&self, why: Closing) {
        let mut state = self.lock();
        state.closing.get_or_insert(why);
        state.wake();
    }

    /// Tells the connection a grouped operation ended, unless it was completed already.
    pub fn ended(&self, id: Arc<str>, present: &AtomicBool) {
        let mut state = self.lock();
        if present.load(Ordering::Acquire) {
            state.ended.push(id);
            state.wake();
        }
    }

    /// Sends a message of the connection's own, after every message offered before it: ready
    /// once it is on the socket (or let go with the rest when the connection fell behind).
    pub async fn send(&self, message: Message) -> Result<(), ()> {
        let mut message = Some(message);
        let mut number = None;
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            state.remember(cx.waker());
            let last = *number.get_or_insert_with(|| {
                let number = state.done + state.waiting.len() as u64;
                state.waiting.extend(message.take().map(Waiting::Own));
                number
            });
            state.write_waiting(cx, last)
        })
        .await
    }

    /// Flushes the socket, whatever the outlet's state: what the socket queued on its own (its
    /// answer to the client's close frame) goes out.
    pub async fn flush(&self) {
        std::future::poll_fn(|cx| self.lock().sink.as_mut().poll_flush(cx).map(|_| ())).await;
    }

    /// Queues a message of the connection's own without waiting for it to go out.
    pub fn push(&self, message: Message) {
        let mut state = self.lock();
        state.waiting.push_back(Waiting::Own(message));
        state.bound();
        state.wake();
    }

    /// The next thing the connection must act on; meanwhile writes what waits for the socket.
    pub fn poll_event(&self, cx: &mut Context<'_>) -> Poll<Event> {
        let mut state = self.lock();
        state.remember(cx.waker());
        if state.broken {
            return Poll::Ready(Event::Broken);
        }
        if let Some(why) = state.closing
            && !state.told
        {
            state.told = true;
            return Poll::Ready(Event::Close(why));
        }
        if !state.ended.is_empty() {
            return Poll::Ready(Event::Ended(std::mem::take(&mut state.ended)));
        }
        match state.write_waiting(cx, u64::MAX) {
            Poll::Ready(Err(())) => Poll::Ready(Event::Broken),
            // A waiting answer outlived its member's token.
            Poll::Ready(Ok(())) | Poll::Pending => match state.closing {
                Some(why) if !state.told => {
                    state.told = true;
                    Poll::Ready(Event::Close(why))
                }
                _ => Poll::Pending,
            },
        }
    }

    /// The next event, as a future.
    pub async fn event(&self) -> Event {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }
}

/// A message waiting for the socket.
enum Waiting {
    /// The connection's own, or a group's answer already put together.
    Own(Message),
    /// A group's answer, put together when it is written: a member that falls behind holds
    /// the payload its group shares, not a copy.
    Shared {
        opening: Arc<str>,
        payload: Arc<str>,
        /// Cleared when its operation is completed: then it is not written.
        present: Arc<AtomicBool>,
        /// When the member's token expires: not written after.
        expires_at: Option<DateTime<Utc>>,
    },
}

/// What becomes of a waiting message when the socket can take it.
enum Due {
    Write(Message),
    /// Its operation was completed meanwhile.
    Skip,
    /// Its member's token expired meanwhile.
    Expired,
}

impl Waiting {
    /// Nothing of a group's is written once the member's token expired (`closing`).
    fn due(self, closing: Option<Closing>) -> Due {
        match self {
            Self::Own(message) => Due::Write(message),
            Self::Shared {
                opening,
                payload,
                present,
                expires_at,
            } => {
                if !present.load(Ordering::Acquire) || closing == Some(Closing::TokenExpired) {
                    Due::Skip
                } else if expires_at.is_some_and(|at| at <= Utc::now()) {
                    Due::Expired
                } else {
                    Due::Write(Message::Text(answer(&opening, &payload).into()))
                }
            }
        }
    }
}

/// A group's answer for one member: its opening, the shared payload, the closing brace.
fn answer(opening: &str, payload: &str) -> String {
    let mut text = String::with_capacity(opening.len() + payload.len() + 1);
    text.push_str(opening);
    text.push_str(payload);
    text.push('}');
    text
}

/// How a direct write went.
enum Written {
    Flushed,
    /// In the sink, not yet all on the socket.
    Unflushed,
    /// The sink cannot take it now.
    NotNow,
    Failed,
}

fn write(sink: &mut Socket, message: Message, cx: &mut Context<'_>) -> Written {
    match sink.as_mut().poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(_)) => return Written::Failed,
        Poll::Pending => return Written::NotNow,
    }
    if sink.as_mut().start_send(message).is_err() {
        return Written::Failed;
    }
    match sink.as_mut().poll_flush(cx) {
        Poll::Ready(Ok(())) => Written::Flushed,
        Poll::Ready(Err(_)) => Written::Failed,
        Poll::Pending => Written::Unflushed,
    }
}

impl State {
    fn remember(&mut self, waker: &Waker) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.waker = Some(waker.clone());
        }
    }

    fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake_by_ref();
        }
    }

    /// Writes what waits, up to and including message number `last`, and flushes it: ready
    /// when that much is on the socket.
    fn write_waiting(&mut self, cx: &mut Context<'_>, last: u64) -> Poll<Result<(), ()>> {
        if self.broken {
            return Poll::Ready(Err(()));
        }
        while self.done <= last
            && let Some(waiting) = self.waiting.pop_front()
        {
            match self.sink.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return self.fail(),
                Poll::Pending => {
                    self.waiting.push_front(waiting);
                    return Poll::Pending;
                }
            }
            self.done += 1;
            let message = match waiting.due(self.closing) {
                Due::Write(message) => message,
                Due::Skip => continue,
                Due::Expired => {
                    // No answer of a group goes out from here on; the connection's own
                    // messages (its close frame among them) still do.
                    self.closing.get_or_insert(Closing::TokenExpired);
                    continue;
                }
            };
            if self.sink.as_mut().start_send(message).is_err() {
                return self.fail();
            }
            self.unflushed = true;
        }
        if self.unflushed {
            match self.sink.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return self.fail(),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Past [`BACKLOG`] waiting messages the socket is not keeping up: let them go and close.
    fn bound(&mut self) {
        if self.waiting.len() > BACKLOG {
            self.let_go();
            self.closing.get_or_insert(Closing::FellBehind);
        }
    }

    fn let_go(&mut self) {
        self.done += self.waiting.len() as u64;
        self.waiting.clear();
    }

    fn fail(&mut self) -> Poll<Result<(), ()>> {
        self.broken = true;
        self.let_go();
        Poll::Ready(Err(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A socket that takes `room` messages, then is not ready until given more room.
    #[derive(Default)]
    struct Wire {
        room: usize,
        sent: Vec<String>,
    }

    #[derive(Clone, Default)]
    struct Socket(Arc<Mutex<Wire>>);

    impl Socket {
        fn with_room(room: usize) -> Self {
            let socket = Self::default();
            socket.room(room);
            socket
        }
        fn room(&self, room: usize) {
            self.0.lock().unwrap().room = room;
        }
        fn sent(&self) -> Vec<String> {
            self.0.lock().unwrap().sent.clone()
        }
    }

    impl Sink<Message> for Socket {
        type Error = axum::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.0.lock().unwrap().room > 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
            let mut wire = self.0.lock().unwrap();
            wire.room -= 1;
            if let Message::Text(text) = message {
                wire.sent.push(text.as_str().to_owned());
            }
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A waker that counts its wake-ups.
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn text(s: &str) -> Message {
        Message::Text(s.into())
    }

    /// An outlet over a socket with `room`, whose connection has polled it once (so groups
    /// write to it directly), and the count of its connection's wake-ups.
    fn connected(room: usize) -> (Socket, Arc<Outlet>, Arc<Count>, Waker) {
        let socket = Socket::with_room(room);
        let outlet = Outlet::new(socket.clone());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        assert_eq!(
            outlet.poll_event(&mut Context::from_waker(&waker)),
            Poll::Pending
        );
        (socket, outlet, count, waker)
    }

    /// A group's answer whose payload is `s`, for a member whose opening is `<`.
    fn offer(outlet: &Outlet, s: &str, present: bool) -> bool {
        outlet.offer(
            &"<".into(),
            &s.into(),
            &Arc::new(AtomicBool::new(present)),
            None,
        )
    }

    #[test]
    fn a_group_writes_straight_to_a_socket_with_room_without_waking_its_connection() {
        let (socket, outlet, count, _) = connected(10);
        assert!(offer(&outlet, "a", true));
        assert!(offer(&outlet, "b", true));
        assert!(
            !offer(&outlet, "gone", false),
            "a completed operation's answer"
        );
        assert_eq!(socket.sent(), ["<a}", "<b}"]);
        assert_eq!(count.0.load(Ordering::Relaxed), 0, "nobody woken");
    }

    #[test]
    fn a_full_socket_keeps_messages_in_order_then_closes_the_connection_past_the_backlog() {
        let (socket, outlet, count, waker) = connected(1);
        let mut cx = Context::from_waker(&waker);
        offer(&outlet, "1", true);
        offer(&outlet, "2", true);
        outlet.push(text("own"));
        offer(&outlet, "3", true);
        assert_eq!(socket.sent(), ["<1}"]);
        assert!(count.0.load(Ordering::Relaxed) >= 1, "the connection woken");
        // Room again: the connection writes what waited, in order.
        socket.room(10);
        assert_eq!(outlet.poll_event(&mut cx), Poll::Pending);
        assert_eq!(socket.sent(), ["<1}", "<2}", "own", "<3}"]);
        // A socket that takes nothing more: past the backlog the connection is told to close.
        socket.room(0);
        for n in 0..=BACKLOG {
            offer(&outlet, &n.to_string(), true);
        }
        assert_eq!(
            outlet.poll_event(&mut cx),
            Poll::Ready(Event::Close(Closing::FellBehind))
        );
        assert!(outlet.lock().waiting.is_empty(), "the backlog let go");
        // Told once; nothing more is written to a closing connection.
        assert!(
            !offer(&outlet, "late", true),
            "nothing for a closing connection"
        );
        assert!(outlet.lock().waiting.is_empty());
        assert_eq!(outlet.poll_event(&mut cx), Poll::Pending);
    }

    #[test]
    fn an_answer_waiting_for_a_completed_operation_is_not_written() {
        let (socket, outlet, _, waker) = connected(0);
        let mut cx = Context::from_waker(&waker);
        let present = Arc::new(AtomicBool::new(true));
        outlet.offer(&"<".into(), &"old".into(), &present, None);
        present.store(false, Ordering::Release);
        socket.room(10);
        assert_eq!(outlet.poll_event(&mut cx), Poll::Pending);
        assert!(socket.sent().is_empty(), "{:?}", socket.sent());
    }

    #[test]
    fn an_answer_that_waited_past_its_members_token_is_not_written_and_the_connection_closes() {
        let (socket, outlet, _, waker) = connected(0);
        let mut cx = Context::from_waker(&waker);
        let present = Arc::new(AtomicBool::new(true));
        let later = Utc::now() + chrono::Duration::hours(1);
        outlet.offer(&"<".into(), &"fresh".into(), &present, Some(later));
        let soon = Utc::now() + chrono::Duration::milliseconds(50);
        outlet.offer(&"<".into(), &"stale".into(), &present, Some(soon));
        // The connection's own close frame, queued behind them, still goes out.
        outlet.push(text("close"));
        // The token expires while the answers wait.
        std::thread::sleep(std::time::Duration::from_millis(100));
        socket.room(10);
        assert_eq!(
            outlet.poll_event(&mut cx),
            Poll::Ready(Event::Close(Closing::TokenExpired))
        );
        assert_eq!(socket.sent(), ["<fresh}", "close"]);
        assert!(outlet.lock().waiting.is_empty());
        // Nor is an answer written straight to the socket once the token expired.
        assert!(!outlet.offer(&"<".into(), &"late".into(), &present, Some(soon)));
        assert_eq!(socket.sent(), ["<fresh}", "close"]);
    }

    #[test]
    fn the_connections_own_message_is_sent_without_waiting_for_later_answers() {
        let (socket, outlet, _, waker) = connected(0);
        let mut cx = Context::from_waker(&waker);
        let mut send = std::pin::pin!(outlet.send(text("ping")));
        assert_eq!(send.as_mut().poll(&mut cx), Poll::Pending);
        offer(&outlet, "later", true);
        socket.room(1);
        assert_eq!(send.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(socket.sent(), ["ping"]);
    }

    #[test]
    fn ended_operations_reach_the_connection() {
        let outlet = Outlet::new(Socket::default());
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        outlet.ended("1".into(), &AtomicBool::new(true));
        outlet.ended("2".into(), &AtomicBool::new(false));
        assert_eq!(
            outlet.poll_event(&mut cx),
            Poll::Ready(Event::Ended(vec!["1".into()]))
        );
    }
}
