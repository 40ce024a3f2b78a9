//! The User API routes (plus health and version), over the state in [`crate::state`].

use pieces_user::schema::{validate, DocumentKind};
use serde_json::{json, Value};
use tungstenite::Utf8Bytes;

use crate::http::{Request, Response};
use crate::App;

/// Vanity names `/user/update/vanity` refuses with 409 (case-insensitive).
pub const TAKEN_VANITY: [&str; 5] = ["taken", "admin", "pieces", "www", "api"];

/// What `/.well-known/version` reports: a PiecesOS-like version marked as the stand-in.
pub const VERSION: &str = "11.0.0-standin";

/// What to do with a request.
pub enum Outcome {
    Respond(Response),
    /// Switch the connection to the WebSocket stream; carries the client's key.
    Upgrade(String),
}

pub fn handle(app: &App, req: &Request) -> Outcome {
    let get = req.method == "GET" || req.method == "HEAD";
    let post = req.method == "POST";
    let resp = match req.path.as_str() {
        "/user" if get => snapshot(app),
        "/user/refresh" if get => refresh(app),
        "/user/providers" if get => Response::text(501, "not implemented locally"),
        "/user/stream" if req.method == "GET" => return stream(req),
        "/user/select" if post => select(app, req),
        "/user/update" if post => update(app, req),
        "/user/update/vanity" if post => update_vanity(app, req),
        "/user/beta/status" if post => beta_status(app, req),
        "/user/clear" if post => clear(app),
        "/.well-known/health" if get => Response::text(200, &format!("ok:{}", app.instance)),
        "/.well-known/version" if get => Response::text(200, VERSION),
        path => match allowed_methods(path) {
            Some(allow) => Response::text(405, "method not allowed").with_header("Allow", allow),
            None => Response::text(404, "not found"),
        },
    };
    Outcome::Respond(resp)
}

/// The methods a known path answers to, for 405's `Allow` header; None for unknown paths.
fn allowed_methods(path: &str) -> Option<&'static str> {
    match path {
        "/user"
        | "/user/refresh"
        | "/user/providers"
        | "/.well-known/health"
        | "/.well-known/version" => Some("GET, HEAD"),
        "/user/stream" => Some("GET"),
        "/user/select"
        | "/user/update"
        | "/user/update/vanity"
        | "/user/beta/status"
        | "/user/clear" => Some("POST"),
        _ => None,
    }
}

/// The request body checked against `kind`; the 400 to send otherwise.
fn document(req: &Request, kind: DocumentKind) -> Result<Utf8Bytes, Response> {
    if req.body.is_empty() {
        return Err(Response::text(400, "missing request body"));
    }
    validate(kind, &req.body)
        .map_err(|v| Response::text(400, &format!("{}: {}", v.path, v.message)))?;
    // Valid JSON is valid UTF-8, but a validator bug must not become a panic.
    String::from_utf8(req.body.clone())
        .map(Utf8Bytes::from)
        .map_err(|_| Response::text(400, "$: body is not UTF-8"))
}

fn profile_response(user: &Utf8Bytes) -> Response {
    Response::json(200, user.as_bytes().to_vec())
}

/// GET /user: `{"user": <profile>}`, the profile spliced in verbatim.
fn snapshot(app: &App) -> Response {
    let body = match app.state.current() {
        Some(user) => [br#"{"user":"#.as_slice(), user.as_bytes(), b"}"].concat(),
        None => br#"{"user":null}"#.to_vec(),
    };
    Response::json(200, body)
}

fn refresh(app: &App) -> Response {
    match app.state.republish() {
        Some(user) => profile_response(&user),
        None => Response::text(500, "no user is signed in"),
    }
}

fn stream(req: &Request) -> Outcome {
    match crate::stream::upgrade_key(req) {
        Some(key) => Outcome::Upgrade(key.to_string()),
        None => Outcome::Respond(
            Response::text(426, "/user/stream is a WebSocket (version 13)")
                .with_header("Upgrade", "websocket")
                .with_header("Sec-WebSocket-Version", "13"),
        ),
    }
}

fn select(app: &App, req: &Request) -> Response {
    let auth0 = match document(req, DocumentKind::Auth0User) {
        Ok(doc) => doc,
        Err(resp) => return resp,
    };
    let Ok(auth0) = serde_json::from_str::<Value>(&auth0) else {
        return Response::text(400, "$: invalid JSON");
    };
    let user = Utf8Bytes::from(profile_from_auth0(&auth0).to_string());
    app.state.set(Some(user.clone()));
    profile_response(&user)
}

/// The profile PiecesOS would make for a freshly selected Auth0 user.
fn profile_from_auth0(auth0: &Value) -> Value {
    let text = |key: &str| auth0.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut profile = json!({
        "id": text("user_id").unwrap_or_else(crate::random_uuid),
        "aesthetics": {"font": {"size": 14}, "theme": {"dark": false}},
    });
    for key in ["name", "email", "picture"] {
        if let Some(v) = text(key) {
            profile[key] = v.into();
        }
    }
    if let Some(v) = text("username").or_else(|| text("nickname")) {
        profile["username"] = v.into();
    }
    profile
}

fn update(app: &App, req: &Request) -> Response {
    match document(req, DocumentKind::UserProfile) {
        Ok(user) => {
            app.state.set(Some(user.clone()));
            profile_response(&user)
        }
        Err(resp) => resp,
    }
}

fn update_vanity(app: &App, req: &Request) -> Response {
    let user = match document(req, DocumentKind::UserProfile) {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    let signed_out = || Response::text(404, "no user is signed in");
    if app.state.current().is_none() {
        return signed_out();
    }
    if let Some(name) = vanity_name(&user).filter(|n| is_taken(n)) {
        return Response::text(409, &format!("vanity name {name:?} is already taken"));
    }
    // Checked again atomically: a /user/clear may have come in between.
    if !app.state.replace_signed_in(user.clone()) {
        return signed_out();
    }
    profile_response(&user)
}

fn vanity_name(user: &str) -> Option<String> {
    let value: Value = serde_json::from_str(user).ok()?;
    value.get("vanityname")?.as_str().map(str::to_owned)
}

fn is_taken(name: &str) -> bool {
    TAKEN_VANITY.iter().any(|t| t.eq_ignore_ascii_case(name))
}

fn beta_status(app: &App, req: &Request) -> Response {
    let status = match document(req, DocumentKind::UserBetaStatus) {
        Ok(doc) => doc,
        Err(resp) => return resp,
    };
    if app.state.current().is_none() {
        return Response::text(511, "sign in to PiecesOS to change the beta status");
    }
    Response::json(200, status.as_bytes().to_vec())
}

fn clear(app: &App) -> Response {
    app.state.set(None);
    Response::no_content()
}
