//! The blocking client: one ureq agent (keep-alive pool) shared by every call and every thread.
//!
//! Each route exists in two forms. The JSON form (`*_json`) validates the request text, sends it
//! byte for byte, validates the response and returns its text unchanged — nothing is lost and
//! nothing is rebuilt. The typed form encodes and decodes [`crate::models`].

use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ureq::http::Response;
use ureq::Body;

use crate::config::Config;
use crate::discovery;
use crate::error::{Error, ErrorKind, Result};
use crate::interrupt::{self, CancelToken, Interrupts, Watching};
use crate::models::{self, Auth0User, Document, ReturnedUserProfile, UserBetaStatus, UserProfile};
use crate::process::Owner;
use crate::resolve::LoopbackFirstResolver;
use crate::schema::{self, Checked, DocumentKind, Violation};
use crate::tls::{tls_error, tls_failure};
use ureq::unversioned::transport::{Connector, RustlsConnector};

/// A client for one Pieces OS. `Send + Sync`: share one across threads.
///
/// Cloning is cheap (two reference counts) and gives another handle to the same client: the
/// connection pool, configuration and base URL are shared, and [`Client::interrupt`] on any
/// handle interrupts the calls of all of them. A clone of a [`Client::with_cancel`] handle
/// observes the same token.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// Set on a [`Client::with_cancel`] handle: its calls observe this token.
    cancel: Option<CancelToken>,
}

/// What a client and its [`Client::with_cancel`] handles share.
struct Shared {
    config: Config,
    agent: ureq::Agent,
    /// The base URL in use, without a trailing slash: the configured one, or the one discovery found.
    /// A read lock and an `Arc` clone per call; written only when discovery finds a new one.
    base: RwLock<Arc<str>>,
    /// One re-discovery at a time: threads that fail together must not scan the ports together.
    rediscovery: Mutex<()>,
    interrupts: Arc<Interrupts>,
    /// The process that created the pool; in a child after `fork()` every call fails (process.rs).
    owner: Owner,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// Which credential a route carries, as the official OpenAPI description declares and the official
/// SDKs send it: /user/select is guarded by the OAuth token only (no `X-Application-ID`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Application,
    Bearer,
}

/// Everything that differs between routes.
struct Route {
    method: Method,
    path: &'static str,
    request: Option<DocumentKind>,
    response: Option<DocumentKind>,
    auth: Auth,
}

/// The routes that answer a document, named for [`Client::call_json_into`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum JsonRoute {
    Snapshot,
    Refresh,
    Providers,
    Select,
    Update,
    UpdateVanity,
    BetaStatus,
}

impl JsonRoute {
    fn route(self) -> &'static Route {
        match self {
            JsonRoute::Snapshot => &SNAPSHOT,
            JsonRoute::Refresh => &REFRESH,
            JsonRoute::Providers => &PROVIDERS,
            JsonRoute::Select => &SELECT,
            JsonRoute::Update => &UPDATE,
            JsonRoute::UpdateVanity => &UPDATE_VANITY,
            JsonRoute::BetaStatus => &BETA_STATUS,
        }
    }
}

const SNAPSHOT: Route = Route {
    method: Method::Get,
    path: "/user",
    request: None,
    response: Some(DocumentKind::ReturnedUserProfile),
    auth: Auth::Application,
};
const REFRESH: Route = Route {
    method: Method::Get,
    path: "/user/refresh",
    request: None,
    response: Some(DocumentKind::UserProfile),
    auth: Auth::Application,
};
const SELECT: Route = Route {
    method: Method::Post,
    path: "/user/select",
    request: Some(DocumentKind::Auth0User),
    response: Some(DocumentKind::UserProfile),
    auth: Auth::Bearer,
};
const UPDATE: Route = Route {
    method: Method::Post,
    path: "/user/update",
    request: Some(DocumentKind::UserProfile),
    response: Some(DocumentKind::UserProfile),
    auth: Auth::Application,
};
const UPDATE_VANITY: Route = Route {
    method: Method::Post,
    path: "/user/update/vanity",
    request: Some(DocumentKind::UserProfile),
    response: Some(DocumentKind::UserProfile),
    auth: Auth::Application,
};
const BETA_STATUS: Route = Route {
    method: Method::Post,
    path: "/user/beta/status",
    request: Some(DocumentKind::UserBetaStatus),
    response: Some(DocumentKind::UserBetaStatus),
    auth: Auth::Application,
};
const PROVIDERS: Route = Route {
    method: Method::Get,
    path: "/user/providers",
    request: None,
    response: Some(DocumentKind::ReturnedUserProfile),
    auth: Auth::Application,
};
const CLEAR: Route = Route {
    method: Method::Post,
    path: "/user/clear",
    request: None,
    response: None,
    auth: Auth::Application,
};

impl Client {
    /// Checks the config and builds the agent. With a named `base_url` no connection is made until the
    /// first call. With `discovery` set, Pieces OS is found now (a few milliseconds on loopback), so a
    /// host learns at once that it is not running ([`ErrorKind::NotRunning`]).
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        let agent = build_agent(&config)?;
        let base: Arc<str> = match &config.discovery {
            Some(options) => discovery::discover(options)?.into(),
            None => config.base().as_str().into(),
        };
        Ok(Client::from_shared(config, agent, base, Owner::current()))
    }

    fn from_shared(config: Config, agent: ureq::Agent, base: Arc<str>, owner: Owner) -> Client {
        Client {
            shared: Arc::new(Shared {
                config,
                agent,
                base: RwLock::new(base),
                rediscovery: Mutex::new(()),
                interrupts: Arc::default(),
                owner,
            }),
            cancel: None,
        }
    }

    /// Makes every call in flight on this client (and on its [`Client::with_cancel`] handles) return
    /// [`ErrorKind::Interrupted`] promptly, wherever it is blocked: connecting, sending, waiting for
    /// the answer, reading the body, retrying or re-discovering. Calls started after this returns
    /// work as usual. Callable from any thread. Streams are not affected (stop them instead).
    pub fn interrupt(&self) {
        self.shared.interrupts.interrupt();
    }

    /// A handle sharing this client's pool, configuration and base URL whose calls observe `token`:
    /// once it is cancelled, a call in flight returns [`ErrorKind::Interrupted`] promptly and later
    /// calls fail at once. Cheap (two reference counts); other calls on the client are unaffected.
    pub fn with_cancel(&self, token: &CancelToken) -> Client {
        Client {
            shared: Arc::clone(&self.shared),
            cancel: Some(token.clone()),
        }
    }

    /// A client sharing this one's connection pool, starting from its current base URL and tracking
    /// discovery on its own from then on. [`Client::user_stream`] uses it: a stream outlives `&self`,
    /// and its `GET /user` calls must not be interrupted by [`Client::interrupt`] on this one.
    pub(crate) fn detached(&self) -> Client {
        Client::from_shared(
            self.shared.config.clone(),
            self.shared.agent.clone(),
            self.current_base(),
            // Shares the pool, so it belongs where the pool does.
            self.shared.owner,
        )
    }

    /// The config this client was built with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// [`ErrorKind::WrongProcess`] in a process other than the one that created this client (a child
    /// after `fork()`): its pooled connections are shared with that process. Every route checks it.
    /// Dropping an inherited client in the child only closes the child's copies of the sockets, which
    /// leaves the parent's connections open; `std::mem::forget` avoids even that.
    pub fn check_process(&self) -> Result<()> {
        self.shared.owner.check("client")
    }

    /// The base URL calls go to now (no trailing slash): the configured one, or the one discovery last
    /// found. It changes only when a call fails to connect and discovery finds Pieces OS elsewhere, or
    /// after [`Client::rediscover`].
    pub fn base_url(&self) -> String {
        self.current_base().to_string()
    }

    /// Finds Pieces OS again and, when found, makes its URL the one calls use; returns that URL.
    /// For the stream, before it reconnects (Pieces OS may have restarted on another port). Without
    /// discovery this returns the configured URL and probes nothing. When nothing is found the cached
    /// URL is kept and the [`ErrorKind::NotRunning`] error is returned.
    pub fn rediscover(&self) -> Result<String> {
        self.check_process()?;
        let Some(options) = &self.shared.config.discovery else {
            return Ok(self.base_url());
        };
        let _one_at_a_time = self
            .shared
            .rediscovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let found = discovery::discover(options)?;
        self.set_base(&found);
        Ok(found)
    }

    fn current_base(&self) -> Arc<str> {
        Arc::clone(
            &self
                .shared
                .base
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn set_base(&self, url: &str) {
        let mut base = self
            .shared
            .base
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if **base != *url {
            *base = url.into();
        }
    }

    /// After a failed connect to `failed`: the URL to try instead, if Pieces OS is now elsewhere.
    /// When another thread already moved the client off `failed`, its finding is used without a scan.
    fn moved_from(&self, failed: &str) -> Option<Arc<str>> {
        let options = self.shared.config.discovery.as_ref()?;
        let _one_at_a_time = self
            .shared
            .rediscovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.current_base();
        if *current != *failed {
            return Some(current);
        }
        let found = discovery::discover_until(options, interrupt::interrupted).ok()?;
        if found == failed {
            return None;
        }
        self.set_base(&found);
        Some(found.into())
    }

    /// `ws://…/user/stream` (or `wss://`) for this client's current base URL.
    pub fn stream_url(&self) -> String {
        let base = self.current_base();
        let base = &*base;
        let ws = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", base.strip_prefix("http://").unwrap_or(base)),
        };
        ws + "/user/stream"
    }

    /// GET /user → ReturnedUserProfile text (`{"user": null}` or `{}` when nobody is signed in).
    pub fn snapshot_json(&self) -> Result<String> {
        self.call_json(&SNAPSHOT, None)
    }

    /// GET /user/refresh → UserProfile text.
    pub fn refresh_json(&self) -> Result<String> {
        self.call_json(&REFRESH, None)
    }

    /// POST /user/select with an Auth0User → UserProfile text.
    pub fn select_json(&self, auth0_user: &str) -> Result<String> {
        self.call_json(&SELECT, Some(auth0_user))
    }

    /// POST /user/update with a UserProfile → UserProfile text.
    pub fn update_json(&self, profile: &str) -> Result<String> {
        self.call_json(&UPDATE, Some(profile))
    }

    /// POST /user/update/vanity with a UserProfile carrying the new `vanityname` → UserProfile text.
    pub fn update_vanity_json(&self, profile: &str) -> Result<String> {
        self.call_json(&UPDATE_VANITY, Some(profile))
    }

    /// POST /user/beta/status with a UserBetaStatus → UserBetaStatus text.
    pub fn beta_status_json(&self, status: &str) -> Result<String> {
        self.call_json(&BETA_STATUS, Some(status))
    }

    /// GET /user/providers → ReturnedUserProfile text (a local Pieces OS answers 501).
    pub fn providers_json(&self) -> Result<String> {
        self.call_json(&PROVIDERS, None)
    }

    /// POST /user/clear: signs the current user out.
    pub fn clear(&self) -> Result<()> {
        self.call(&CLEAR, None).map(|_| ())
    }

    /// GET /user → who is signed in; [`ReturnedUserProfile::user`] is None when nobody is.
    pub fn snapshot(&self) -> Result<ReturnedUserProfile> {
        self.call_typed(&SNAPSHOT, None::<&UserProfile>)
    }

    /// GET /user/refresh → the freshly fetched profile.
    pub fn refresh(&self) -> Result<UserProfile> {
        self.call_typed(&REFRESH, None::<&UserProfile>)
    }

    /// POST /user/select → the profile of the user the Auth0User became.
    pub fn select(&self, auth0_user: &Auth0User) -> Result<UserProfile> {
        self.call_typed(&SELECT, Some(auth0_user))
    }

    /// POST /user/update → the stored profile.
    pub fn update(&self, profile: &UserProfile) -> Result<UserProfile> {
        self.call_typed(&UPDATE, Some(profile))
    }

    /// POST /user/update/vanity with the new name in `profile.vanityname` → the updated profile.
    pub fn update_vanity(&self, profile: &UserProfile) -> Result<UserProfile> {
        self.call_typed(&UPDATE_VANITY, Some(profile))
    }

    /// POST /user/beta/status → the resulting status.
    pub fn beta_status(&self, status: &UserBetaStatus) -> Result<UserBetaStatus> {
        self.call_typed(&BETA_STATUS, Some(status))
    }

    /// GET /user/providers (a local Pieces OS answers 501: [`ErrorKind::NotImplemented`]).
    pub fn providers(&self) -> Result<ReturnedUserProfile> {
        self.call_typed(&PROVIDERS, None::<&UserProfile>)
    }

    /// The typed form encodes, then takes the same path as the JSON form: the encoded text is
    /// validated too, because a caller can put anything in a model's `extra` map.
    fn call_typed<Req: Document, Resp: Document>(
        &self,
        route: &Route,
        body: Option<&Req>,
    ) -> Result<Resp> {
        debug_assert_eq!(route.response, Some(Resp::KIND));
        let text = body.map(models::encode);
        let text = self.call(route, text.as_deref().map(str::as_bytes))?;
        // `call` validated the body against Resp's model, so this cannot fail short of a bug.
        serde_json::from_str(&text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("decoding a validated response: {e}"),
            )
            .with_body(text.clone())
            .with_source(e)
        })
    }

    fn call_json(&self, route: &Route, body: Option<&str>) -> Result<String> {
        self.call(route, body.map(str::as_bytes))
    }

    /// The `*_json` call of `route`, for the C ABI: a body not yet known to be UTF-8 (the validator
    /// accepts only UTF-8, so a separate pass over the text before it would be waste), and the
    /// answer appended to `out`, after whatever the caller put there (the C ABI's string header:
    /// reading the answer where it will be handed over spares a copy of it).
    pub(crate) fn call_json_into(
        &self,
        route: JsonRoute,
        body: Option<&[u8]>,
        out: Vec<u8>,
    ) -> Result<Vec<u8>> {
        self.call_into(route.route(), body, out)
            .map(Checked::into_bytes)
    }

    fn call(&self, route: &Route, body: Option<&[u8]>) -> Result<String> {
        self.call_into(route, body, Vec::new())
            .map(Checked::into_text)
    }

    /// [`Client::exchange`], observed by [`Client::interrupt`] and the handle's token throughout.
    fn call_into(&self, route: &Route, body: Option<&[u8]>, out: Vec<u8>) -> Result<Checked> {
        self.check_process()?;
        let _watch = interrupt::watch(&self.shared.interrupts, self.cancel.as_ref())?;
        match self.exchange(route, body, out) {
            Err(_) if interrupt::interrupted() => Err(interrupt::error()),
            other => other,
        }
    }

    /// Validate, send, check the status, read and validate the body; `out` with the body's text
    /// appended (nothing for a route that answers none).
    fn exchange(&self, route: &Route, body: Option<&[u8]>, mut out: Vec<u8>) -> Result<Checked> {
        if let Some(kind) = route.request {
            let body = body.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    "this route needs a request body",
                )
            })?;
            schema::validate(kind, body).map_err(request_error)?;
        }
        let mut response = self.send_with_retry(route, body)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let location = redirect_location(&response);
            let (text, cut) = self.read_error_body(&mut response);
            let mut error = Error::http(status, text);
            if let Some(location) = location {
                error =
                    error.with_message_suffix(&format!(" (redirect to {location}, not followed)"));
            }
            return Err(if cut {
                let limit = self.shared.config.max_response_bytes;
                error.with_message_suffix(&format!(" (body cut at max_response_bytes = {limit})"))
            } else {
                error
            });
        }
        let Some(kind) = route.response else {
            return Ok(Checked::nothing(out));
        };
        check_content_type(&response)?;
        let start = out.len();
        self.read_body(&mut response, &mut out)?;
        schema::validate_tail(kind, out, start)
            .map_err(|(v, bytes)| response_error(v, status, &bytes[start..]))
    }

    /// A GET that failed on the connection (not a refusal) is sent once more: the likely cause is a
    /// pooled keep-alive connection that the server closed. A POST is never resent — it may have landed.
    ///
    /// With discovery, a connection failure that remains triggers one re-discovery (Pieces OS may have
    /// restarted on another port). The call is repeated once at the new URL, and only if it is a GET
    /// or the failure proves nothing was sent (the connect itself failed): a POST is never doubled.
    fn send_with_retry(&self, route: &Route, body: Option<&[u8]>) -> Result<Response<Body>> {
        let base = self.current_base();
        let result = match self.send(&base, route, body) {
            Err(e) if route.method == Method::Get && e.retry_once && !interrupt::interrupted() => {
                self.send(&base, route, body)
            }
            other => other,
        };
        match result {
            Err(e) if e.error.kind() == ErrorKind::Connection && !interrupt::interrupted() => {
                // Re-discover even when the call cannot be repeated, so that the next call goes right.
                let moved = self.moved_from(&base);
                match moved {
                    Some(new_base) if route.method == Method::Get || e.never_sent => {
                        self.send(&new_base, route, body).map_err(|e| e.error)
                    }
                    _ => Err(e.error),
                }
            }
            other => other.map_err(|e| e.error),
        }
    }

    fn send(
        &self,
        base: &str,
        route: &Route,
        body: Option<&[u8]>,
    ) -> Result<Response<Body>, SendError> {
        let url = format!("{base}{}", route.path);
        let result = match route.method {
            Method::Get => {
                let request = self
                    .shared
                    .agent
                    .get(&url)
                    .header("Accept", "application/json");
                self.with_auth(request, route.auth).call()
            }
            Method::Post => {
                let request = self.shared.agent.post(&url);
                let request = self.with_auth(request, route.auth);
                match body {
                    Some(body) => request
                        .header("Accept", "application/json")
                        .header("Content-Type", "application/json")
                        .send(body),
                    None => request.send_empty(),
                }
            }
        };
        result.map_err(SendError::from)
    }

    fn with_auth<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        auth: Auth,
    ) -> ureq::RequestBuilder<B> {
        match auth {
            Auth::Application => match &self.shared.config.application_id {
                Some(id) => request.header("X-Application-ID", id),
                None => request,
            },
            Auth::Bearer => match &self.shared.config.access_token {
                Some(token) => request.header("Authorization", format!("Bearer {token}")),
                None => request,
            },
        }
    }

    /// Appends the body to `out`, room for it made first from Content-Length, with one spare byte:
    /// growing the buffer while reading costs reallocations and copies, and the spare byte lets the
    /// C ABI append its NUL in place.
    fn read_body(&self, response: &mut Response<Body>, out: &mut Vec<u8>) -> Result<()> {
        let limit = self.shared.config.max_response_bytes;
        let expected = response.body().content_length().unwrap_or(0).min(limit);
        out.reserve_exact(usize::try_from(expected).unwrap_or(0).saturating_add(1));
        let mut reader = response.body_mut().with_config().limit(limit).reader();
        match reader.read_to_end(out) {
            Ok(_) => Ok(()),
            Err(e) => Err(map_ureq_error(ureq_error_of(e))),
        }
    }

    /// The server's text for an error status, and whether it was cut. Reading it is best effort: the
    /// status is what matters. A body longer than `max_response_bytes` is kept up to that many bytes
    /// rather than lost (the start of a long error page is what explains it) while memory stays
    /// bounded; the rest is left unread and the connection is not reused.
    fn read_error_body(&self, response: &mut Response<Body>) -> (String, bool) {
        let limit = self.shared.config.max_response_bytes;
        let mut reader = response.body_mut().as_reader();
        let mut bytes = Vec::new();
        if let Err(e) = (&mut reader).take(limit).read_to_end(&mut bytes) {
            return (
                format!(
                    "<body unavailable: {}>",
                    map_ureq_error(ureq_error_of(e)).message()
                ),
                false,
            );
        }
        // One byte more tells a body of exactly `limit` bytes from a longer one.
        let cut = bytes.len() as u64 == limit && matches!(reader.read(&mut [0u8]), Ok(1..));
        (String::from_utf8_lossy(&bytes).into_owned(), cut)
    }
}

/// A failed send, and whether it is the kind of failure worth one more try on an idempotent route.
struct SendError {
    error: Error,
    retry_once: bool,
    /// The connect itself failed, so not a byte of the request left: safe to send elsewhere, even a POST.
    never_sent: bool,
}

impl From<ureq::Error> for SendError {
    fn from(e: ureq::Error) -> SendError {
        let retry_once = matches!(&e, ureq::Error::Io(io) if is_stale_connection(io));
        // ureq reports a refused connect as Io(ConnectionRefused); only a connect can be refused.
        let never_sent = matches!(
            &e,
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound
        ) || matches!(&e, ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused);
        SendError {
            error: map_ureq_error(e),
            retry_once,
            never_sent,
        }
    }
}

/// ureq's body reader reports its own errors (limit exceeded, timeout) wrapped in an io::Error.
fn ureq_error_of(e: io::Error) -> ureq::Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return ureq::Error::Io(e);
    }
    match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
        Some(Ok(inner)) => *inner,
        // Checked just above; kept total so that no path can panic.
        _ => ureq::Error::Io(io::Error::other("body read failed")),
    }
}

/// What a server closing an idle pooled connection looks like from our side.
fn is_stale_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

fn map_ureq_error(e: ureq::Error) -> Error {
    let error = match e {
        // The I/O error is the root cause: ureq's wrapper adds nothing to it.
        ureq::Error::Io(io) => return io_error(&io).with_source(io),
        ref e => describe_ureq_error(e),
    };
    error.with_source(e)
}

fn describe_ureq_error(e: &ureq::Error) -> Error {
    use ureq::Error as U;
    match e {
        U::Timeout(which) => Error::new(ErrorKind::Timeout, format!("timed out ({which})")),
        U::ConnectionFailed => Error::new(
            ErrorKind::Connection,
            "could not connect (refused or unreachable)",
        ),
        U::HostNotFound => Error::new(ErrorKind::Connection, "host not found"),
        U::Io(io) => io_error(io),
        U::BodyExceedsLimit(limit) => Error::new(
            ErrorKind::ResponseTooLarge,
            format!("response body exceeds max_response_bytes ({limit})"),
        ),
        U::Tls(msg) => Error::new(ErrorKind::Tls, format!("TLS: {msg}")),
        U::Rustls(err) => tls_error(err),
        U::Pem(err) => Error::new(ErrorKind::Tls, format!("TLS certificates: {err}")),
        U::Protocol(err) => Error::new(
            ErrorKind::InvalidResponse,
            format!("not a valid HTTP response: {err}"),
        ),
        U::LargeResponseHeader(_, limit) => Error::new(
            ErrorKind::InvalidResponse,
            format!("not a valid HTTP response: its head exceeds {limit} bytes"),
        ),
        U::BadUri(_) | U::Http(_) => {
            Error::new(ErrorKind::InvalidArgument, format!("bad request URL: {e}"))
        }
        other => Error::new(ErrorKind::Connection, other.to_string()),
    }
}

fn io_error(e: &io::Error) -> Error {
    if let Some(tls) = tls_failure(e) {
        return tls_error(tls);
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::new(ErrorKind::Timeout, format!("timed out: {e}"))
        }
        io::ErrorKind::UnexpectedEof => Error::new(
            ErrorKind::Connection,
            "connection closed before the response was complete",
        ),
        _ => Error::new(ErrorKind::Connection, format!("connection failed: {e}")),
    }
}

/// Where a 3xx answer points, shortened for a message: Pieces OS never redirects, so a redirect
/// means something else answers at the base URL, and where it sends us says what.
fn redirect_location(response: &Response<Body>) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get("location")?;
    let text = String::from_utf8_lossy(location.as_bytes());
    Some(crate::error::elide_middle(&text, 200))
}

/// A JSON route must not answer HTML (a captive portal, a different server on the port).
/// text/plain is allowed because the official API description's Accept headers list it and some servers mislabel JSON.
fn check_content_type(response: &Response<Body>) -> Result<()> {
    let Some(value) = response.headers().get("content-type") else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = mime.is_empty()
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "text/json"
        || mime == "text/plain";
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidResponse,
            format!("unexpected content type {mime:?}"),
        )
        .with_status(response.status().as_u16()))
    }
}

pub(crate) fn request_error(v: Violation) -> Error {
    let kind = if v.syntax {
        ErrorKind::MalformedJson
    } else {
        ErrorKind::InvalidDocument
    };
    Error::invalid_document(kind, v.path, v.message)
}

fn response_error(v: Violation, status: u16, body: &[u8]) -> Error {
    Error::invalid_document(ErrorKind::InvalidResponse, v.path, v.message)
        .with_status(status)
        .with_body(String::from_utf8_lossy(body).into_owned())
}

fn build_agent(config: &Config) -> Result<ureq::Agent> {
    // Our own TCP transport on Unix; ureq's elsewhere (std::os::fd and libc are Unix only). This
    // machine cannot build Windows targets: the other branch compiles by construction, and
    // `tests::ureqs_own_transport_is_interruptible_too` runs it here.
    #[cfg(unix)]
    let tcp = crate::transport::TcpConnector;
    #[cfg(not(unix))]
    let tcp = ureq::unversioned::transport::TcpConnector::default();
    build_agent_with(config, tcp)
}

fn build_agent_with<C: Connector<()>>(config: &Config, tcp: C) -> Result<ureq::Agent> {
    let mut builder = ureq::Agent::config_builder()
        // Error statuses carry the server's explanation; we read it ourselves.
        .http_status_as_error(false)
        .timeout_global(Some(config.timeout))
        .timeout_connect(Some(config.connect_timeout))
        .user_agent(config.user_agent.as_str())
        // Pieces OS never redirects; following one could send the token somewhere else.
        .max_redirects(0)
        // A host's HTTP_PROXY must not capture loopback traffic to Pieces OS.
        .proxy(None)
        .max_idle_age(Duration::from_secs(50));
    if let Some(path) = &config.tls_ca_file {
        builder = builder.tls_config(tls_config(path)?);
    }
    // No proxy connector: proxies are off (above). TCP, watched for interrupts, then rustls for https.
    let connector = ().chain(Watching(tcp)).chain(RustlsConnector::default());
    Ok(ureq::Agent::with_parts(
        builder.build(),
        connector,
        LoopbackFirstResolver::default(),
    ))
}

fn tls_config(path: &std::path::Path) -> Result<ureq::tls::TlsConfig> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let certs: Vec<_> = crate::tls::read_ca_file(path)?
        .iter()
        .map(|der| Certificate::from_der(der).to_owned())
        .collect();
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certs))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn client_is_send_and_sync() {
        assert_send_sync::<Client>();
    }

    #[test]
    fn stream_url_follows_the_scheme() {
        let c = Client::new(Config::new("http://127.0.0.1:39300/")).unwrap();
        assert_eq!(c.stream_url(), "ws://127.0.0.1:39300/user/stream");
        let c = Client::new(Config::new("https://pieces.local")).unwrap();
        assert_eq!(c.stream_url(), "wss://pieces.local/user/stream");
    }

    /// The transport used where ours is not (not Unix), run here so that it is tested at all.
    #[test]
    fn ureqs_own_transport_is_interruptible_too() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = Config::new(format!("http://{}", listener.local_addr().unwrap()));
        config.timeout = Duration::from_secs(30);
        let tcp = ureq::unversioned::transport::TcpConnector::default();
        let agent = build_agent_with(&config, tcp).unwrap();
        let base = config.base().into();
        let client =
            std::sync::Arc::new(Client::from_shared(config, agent, base, Owner::current()));
        let caller = std::sync::Arc::clone(&client);
        let call = std::thread::spawn(move || caller.snapshot_json());
        // Accepted and the request read: the call is now waiting for the answer.
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        assert!(conn.read(&mut request).unwrap() > 0);
        let at = std::time::Instant::now();
        client.interrupt();
        let e = call.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
        assert!(at.elapsed() < Duration::from_secs(10), "{:?}", at.elapsed());
    }

    #[test]
    fn a_missing_ca_file_is_an_argument_error() {
        let mut config = Config::new("https://127.0.0.1:1");
        config.tls_ca_file = Some("/nonexistent/ca.pem".into());
        assert_eq!(
            Client::new(config).err().unwrap().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
