//! JSON answers, and the error body every refusal uses: `{"error": {"code", "message"}}`.

use lambda_http::http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

/// A refused request: the status, a stable code and a message saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The methods the route accepts, for a 405.
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code, message: message.into(), allow: None }
    }

    pub fn not_found() -> Self {
        let message = "No such route. Use GET /v1/buildings/{building}/tiles/visitor-registration/access?email=… or POST …/access:batch.";
        Self { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into(), allow: None }
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: format!("This route answers {allow} only."),
            allow: Some(allow),
        }
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            message: format!("The request body is larger than {} KiB.", limit / 1024),
            allow: None,
        }
    }

    /// A failure on our side. The details go to the log, never to the caller.
    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "Something went wrong on our side. Please retry.".into(),
            allow: None,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Detail<'a> {
            code: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Detail<'a>,
        }
        let mut response = json(self.status, &Envelope { error: Detail { code: self.code, message: &self.message } });
        if let Some(allow) = self.allow {
            response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// `value` as a JSON response with `status`; answers are per user, so nothing is cached.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, body) = match serde_json::to_string(value) {
        Ok(body) => (status, body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":{"code":"internal","message":"Something went wrong on our side. Please retry."}}"#.to_string(),
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
