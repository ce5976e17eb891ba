//! The client's IP address: the value of the configured proxy header
//! (`--client-address-header`) when one is set, otherwise the TCP peer address that
//! [`crate::serve`] puts into every request as [`ConnectInfo`].
//!
//! A request without a peer address is a server fault (500): it means the router was
//! served by something other than [`crate::serve`], and no address is assumed in its
//! place. Tests that drive the router in process insert a `ConnectInfo` themselves.
//! Addresses are personal data, so they are logged at debug level only.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName};
use dtc_app::api::ApiError;
use leptos::prelude::use_context;

use crate::Settings;
use crate::error::internal;

/// Maximum length of a header value quoted in an error message, in characters.
const MAX_QUOTED_VALUE: usize = 64;

/// Returns the client's IP address of a request. With a configured header, the header
/// must be present once and contain exactly one IP address, and anything else is a 400 error
/// naming the header. IPv4-mapped IPv6 addresses are returned as IPv4.
pub fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    settings: &Settings,
) -> Result<IpAddr, ApiError> {
    let ip = match &settings.client_address_header {
        Some(name) => header_ip(headers, name)?,
        None => peer_ip(extensions)?,
    };
    let ip = ip.to_canonical();
    tracing::debug!(client = %ip, "client address");
    Ok(ip)
}

/// Returns the client's IP address of the current server-function request, from the
/// request parts and the [`Settings`] in the Leptos context.
pub fn current_client_ip() -> Result<IpAddr, ApiError> {
    let parts = use_context::<Parts>()
        .ok_or_else(|| internal("read client address", &"no request parts in context"))?;
    let settings = use_context::<Arc<Settings>>()
        .ok_or_else(|| internal("read client address", &"no settings in context"))?;
    client_ip(&parts.headers, &parts.extensions, &settings)
}

fn header_ip(headers: &HeaderMap, name: &HeaderName) -> Result<IpAddr, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::invalid_input(format!(
            "request header {name} is missing; the proxy in front of the server must set it \
             to the client address"
        )));
    };
    let count = 1 + values.count();
    if count > 1 {
        return Err(ApiError::invalid_input(format!(
            "request header {name} appears {count} times; expected exactly one client address"
        )));
    }
    let text = value.to_str().map_err(|_| {
        ApiError::invalid_input(format!(
            "request header {name} is not visible ASCII; expected one IP address"
        ))
    })?;
    let text = text.trim();
    if text.contains(',') {
        return Err(ApiError::invalid_input(format!(
            "request header {name} contains a list of addresses; expected exactly one IP address"
        )));
    }
    text.parse::<IpAddr>().map_err(|_| {
        let shown: String = text.chars().take(MAX_QUOTED_VALUE).collect();
        ApiError::invalid_input(format!(
            "request header {name} value {shown:?} is not an IP address; expected exactly one"
        ))
    })
}

fn peer_ip(extensions: &Extensions) -> Result<IpAddr, ApiError> {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => Ok(peer.ip()),
        None => Err(internal(
            "read client address",
            &"request has no peer address; serve the router with dtc_server::serve",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use axum::http::HeaderValue;
    use dtc_app::api::ErrorCode;

    use super::*;

    fn settings(header: Option<&'static str>) -> Settings {
        Settings {
            site_dir: PathBuf::new(),
            https: false,
            client_address_header: header.map(HeaderName::from_static),
            session_idle: Duration::from_secs(60),
            session_max_age: Duration::from_secs(600),
            part_body_timeout: Duration::from_secs(1),
            json_body_timeout: Duration::from_secs(1),
            part_transfers_per_address: 4,
        }
    }

    fn peer(addr: &str) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(addr.parse::<SocketAddr>().unwrap()));
        extensions
    }

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-real-ip", HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn peer_address_without_header_setting() {
        let ip = client_ip(
            &headers(&["192.0.2.9"]),
            &peer("198.51.100.7:4000"),
            &settings(None),
        );
        assert_eq!(ip.unwrap(), "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn mapped_ipv6_peer_becomes_ipv4() {
        let ip = client_ip(
            &HeaderMap::new(),
            &peer("[::ffff:192.0.2.1]:80"),
            &settings(None),
        );
        assert_eq!(ip.unwrap(), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn missing_peer_is_internal_error() {
        let err = client_ip(&HeaderMap::new(), &Extensions::new(), &settings(None)).unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
    }

    #[test]
    fn header_address_replaces_peer() {
        let with_header = settings(Some("x-real-ip"));
        for (value, expected) in [("192.0.2.9", "192.0.2.9"), (" 2001:db8::1 ", "2001:db8::1")] {
            let ip = client_ip(&headers(&[value]), &peer("127.0.0.1:1"), &with_header);
            assert_eq!(
                ip.unwrap(),
                expected.parse::<IpAddr>().unwrap(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn bad_header_values_are_rejected() {
        let with_header = settings(Some("x-real-ip"));
        let cases: [&[&'static str]; 6] = [
            &[],
            &["192.0.2.1, 192.0.2.2"],
            &["192.0.2.1", "192.0.2.2"],
            &["not-an-address"],
            &["192.0.2.1:8080"],
            &[""],
        ];
        for values in cases {
            let err = client_ip(&headers(values), &peer("127.0.0.1:1"), &with_header).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput, "{values:?}");
            assert!(
                err.message.contains("x-real-ip"),
                "{values:?}: {}",
                err.message
            );
        }
    }
}
