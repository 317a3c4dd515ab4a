//! Sending requests to a router in unit tests, without a socket.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use tower_service::Service;

/// Sends one request through `router` and returns its response with the body read whole, as
/// `tower::ServiceExt::oneshot` would (tower itself is not a dependency of this crate).
pub async fn oneshot(router: Router, request: Request<Body>) -> (Response<()>, String) {
    let mut service = router;
    let ready: Result<(), Infallible> =
        std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut service, cx)).await;
    let Ok(()) = ready;
    let Ok(response) = service.call(request).await;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("reading the response body");
    let text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 response body");
    (Response::from_parts(parts, ()), text)
}

/// A request with `method`, `uri` and `headers`, and an empty body.
pub fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).expect("a valid test request")
}
