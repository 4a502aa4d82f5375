//! One HTTP/1.1 exchange with Podman over its unix socket, through hyper:
//! connect (under the connect limit), send, read the whole answer (hyper
//! undoes chunked encoding). The caller puts the whole exchange under its
//! request limit.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::net::UnixStream;

/// What a query value or path segment keeps as is: RFC 3986's unreserved
/// characters; everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query value or a path segment.
pub(super) fn escape(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Why an exchange failed (the caller names the socket and the endpoint).
#[derive(Debug)]
pub(super) enum Failure {
    /// The socket took no connection within the connect limit.
    ConnectTimeout,
    /// Connecting failed.
    Io(std::io::Error),
    /// HTTP failed (a broken answer, a closed connection).
    Http(hyper::Error),
}

/// Sends `request` on a new connection to `socket` and reads the whole
/// answer. A connection per request, as Podman's own clients do for
/// one-shot calls: nothing is left open between calls.
pub(super) async fn exchange<B>(
    socket: &Path,
    connect_limit: Duration,
    request: Request<B>,
) -> Result<(StatusCode, Bytes), Failure>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::time::timeout(connect_limit, UnixStream::connect(socket))
        .await
        .map_err(|_| Failure::ConnectTimeout)?
        .map_err(Failure::Io)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Failure::Http)?;
    let ask = async move {
        let answer = sender.send_request(request).await?;
        let status = answer.status();
        let body = answer.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body))
    };
    // The connection is driven here, beside the request, not in a spawned
    // task: when the caller's limit drops this future, the socket closes.
    tokio::pin!(ask);
    tokio::pin!(connection);
    tokio::select! {
        answer = &mut ask => answer.map_err(Failure::Http),
        ended = &mut connection => match ended {
            Err(e) => Err(Failure::Http(e)),
            // Closed after a complete answer: the request side has it (or
            // fails at once with "connection closed").
            Ok(()) => ask.await.map_err(Failure::Http),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(escape("localhost/zion-x:1"), "localhost%2Fzion-x%3A1");
        assert_eq!(escape("CMD /bin/sh"), "CMD%20%2Fbin%2Fsh");
        assert_eq!(escape("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(escape("é&="), "%C3%A9%26%3D");
    }
}
