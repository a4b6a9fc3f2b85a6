//! The tile check over HTTP: decode the request, ask `check_tile`, encode the answer.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/buildings/{building}/tiles/visitor-registration/access?email=…` | `{visible, can_register_visitors, reason}` |
//! | `POST /v1/buildings/{building}/tiles/visitor-registration/access:batch` `{"emails": […]}` | `{"results": [{email, …}]}`, in request order |

use crate::reply::{json, ApiError};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use onboarding::app::metrics;
use onboarding::app::tile::check_tile;
use onboarding::app::AppError;
use onboarding::domain::metrics::MetricLine;
use onboarding::domain::text::preview;
use onboarding::domain::tile::{TileAnswer, TileReason, MAX_BATCH};
use onboarding::domain::values::{BuildingId, Email, EmailError};
use onboarding::ports::Table;
use serde::{Deserialize, Serialize};

/// The largest batch body accepted (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const PREFIX: &str = "/v1/buildings/";
const SINGLE: &str = "tiles/visitor-registration/access";
const BATCH: &str = "tiles/visitor-registration/access:batch";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Single,
    Batch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    emails: Vec<String>,
}

#[derive(Serialize)]
struct BatchResult<'a> {
    /// As the caller sent it.
    email: &'a str,
    #[serde(flatten)]
    answer: TileAnswer,
}

#[derive(Serialize)]
struct BatchResponse<'a> {
    results: Vec<BatchResult<'a>>,
}

/// Answers one request, with the metric lines of its answers (a count per reason; `main` writes
/// them to the log). Every failure is an answer too: 4xx with what to fix, or a bare 500.
pub async fn handle(table: &dyn Table, request: Request) -> (Response<Body>, Vec<MetricLine>) {
    let mut counted = Vec::new();
    let response = match answer(table, &request, &mut counted).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(status = error.status.as_u16(), code = error.code, "request refused");
            error.into_response()
        }
    };
    (response, metrics::tile(&counted))
}

async fn answer(table: &dyn Table, request: &Request, counted: &mut Vec<TileAnswer>) -> Result<Response<Body>, ApiError> {
    let path = request_path(request);
    let (route, segment) = route(&path).ok_or_else(ApiError::not_found)?;
    let (method, allow) = match route {
        Route::Single => (Method::GET, "GET"),
        Route::Batch => (Method::POST, "POST"),
    };
    if request.method() != method {
        return Err(ApiError::method_not_allowed(allow));
    }
    let building = building(request, segment)?;
    match route {
        Route::Single => {
            let email = query_email(request)?;
            let answer = check(table, &building, std::slice::from_ref(&email)).await?.into_iter().next().ok_or_else(ApiError::internal)?;
            counted.push(answer);
            tracing::info!(route = "single", building = %building, email = %email.redacted(), reason = TileReason::as_str(answer.reason), "tile checked");
            Ok(json(StatusCode::OK, &answer))
        }
        Route::Batch => {
            let raw = batch_emails(request.body())?;
            let emails =
                raw.iter().enumerate().map(|(index, raw)| parse_email(raw, &format!("emails[{index}]"))).collect::<Result<Vec<_>, _>>()?;
            let answers = check(table, &building, &emails).await?;
            counted.extend(answers.iter().copied());
            let granted = answers.iter().filter(|a| a.reason == TileReason::Granted).count();
            tracing::info!(route = "batch", building = %building, count = emails.len(), granted, "tiles checked");
            let results = raw.iter().zip(answers).map(|(email, answer)| BatchResult { email, answer }).collect();
            Ok(json(StatusCode::OK, &BatchResponse { results }))
        }
    }
}

async fn check(table: &dyn Table, building: &BuildingId, emails: &[Email]) -> Result<Vec<TileAnswer>, ApiError> {
    let answers = check_tile(table, building, emails).await.map_err(|error| {
        match &error {
            AppError::Port(port) => tracing::error!(building = %building, error = %port, "the tile check failed"),
            AppError::Rejected(rejection) => {
                tracing::error!(building = %building, code = rejection.code.as_str(), "the tile check refused its input")
            }
        }
        ApiError::internal()
    })?;
    if answers.len() != emails.len() {
        tracing::error!(asked = emails.len(), answered = answers.len(), "the tile check answered a different number of e-mails");
        return Err(ApiError::internal());
    }
    Ok(answers)
}

/// The path as the client asked for it (API Gateway's raw path, else the URI's), decoded.
fn request_path(request: &Request) -> String {
    let raw = match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    };
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// The route and its building segment. A stage name before `/v1` (a non-default stage) is allowed.
fn route(path: &str) -> Option<(Route, &str)> {
    let at = path.find(PREFIX)?;
    if at != 0 && path[1..at].contains('/') {
        return None;
    }
    let (segment, tail) = path[at + PREFIX.len()..].split_once('/')?;
    match tail {
        SINGLE => Some((Route::Single, segment)),
        BATCH => Some((Route::Batch, segment)),
        _ => None,
    }
}

/// The building: API Gateway's path parameter when it gives one, else the path's segment.
fn building(request: &Request, segment: &str) -> Result<BuildingId, ApiError> {
    let parameters = request.path_parameters();
    let raw = parameters
        .first("building")
        .map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
        .unwrap_or_else(|| segment.to_string());
    BuildingId::parse(&raw).map_err(|error| ApiError::bad_request("invalid_building", format!("{error}.")))
}

fn query_email(request: &Request) -> Result<Email, ApiError> {
    let from_gateway = request.query_string_parameters_ref().and_then(|q| q.first("email").map(str::to_string));
    let raw = from_gateway.or_else(|| request.uri().query().and_then(|q| query_value(q, "email")));
    let Some(raw) = raw else {
        return Err(ApiError::bad_request("missing_email", "Add the user's address as ?email=<address> (URL-encoded)."));
    };
    parse_email(&raw, "The email parameter")
}

fn parse_email(raw: &str, what: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|error| match error {
        EmailError::Empty if what.starts_with("The email") => {
            ApiError::bad_request("missing_email", "The email parameter is empty. Add the user's address as ?email=<address>.")
        }
        EmailError::Empty => ApiError::bad_request("invalid_email", format!("{what} is empty; every entry must be an e-mail address.")),
        EmailError::Invalid => {
            ApiError::bad_request("invalid_email", format!("{what} (“{}”) is not a valid e-mail address.", preview(raw.trim(), 80)))
        }
    })
}

/// One value of a form-encoded query string (`+` is a space), for requests that come without
/// API Gateway's parsed parameters.
fn query_value(query: &str, name: &str) -> Option<String> {
    let decode = |part: &str| percent_encoding::percent_decode_str(&part.replace('+', " ")).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| decode(key) == name)
        .map(|(_, value)| decode(value))
}

fn batch_emails(body: &Body) -> Result<Vec<String>, ApiError> {
    let bytes: &[u8] = body.as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::body_too_large(MAX_BODY_BYTES));
    }
    let request: BatchRequest = serde_json::from_slice(bytes).map_err(|error| {
        let position = if bytes.is_empty() {
            "The body is empty".to_string()
        } else {
            format!("The body is not the expected JSON (line {}, column {})", error.line(), error.column())
        };
        ApiError::bad_request("invalid_json", format!("{position}. Send {{\"emails\": [\"…\", …]}} with 1 to {MAX_BATCH} addresses."))
    })?;
    match request.emails.len() {
        0 => Err(ApiError::bad_request("empty_batch", format!("The emails list is empty. Send 1 to {MAX_BATCH} addresses."))),
        n if n > MAX_BATCH => Err(ApiError::bad_request(
            "batch_too_large",
            format!("The emails list has {n} addresses; at most {MAX_BATCH} are answered per request. Split the list."),
        )),
        _ => Ok(request.emails),
    }
}

#[cfg(test)]
mod tests;
