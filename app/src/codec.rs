//! The server functions' response encoding: JSON, decoded from text.
//!
//! Leptos's own `Json` decodes a response with `serde_json::from_slice`, while a resource's value
//! embedded in the page is decoded with `serde_json::from_str`. Every type that is both (the key
//! list, the log page, the tenant list, the error) was compiled into the WASM bundle twice, once
//! per reader. Decoding responses from text too keeps one copy of each: the bundle went from
//! 1,208,973 to 1,152,920 B (329,581 to 323,873 B brotli), and `serde_json`'s share of the code
//! before `wasm-opt` from 136 to 75 KB.

use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType, codec::Post};
use serde::{Serialize, de::DeserializeOwned};

/// JSON in a `POST`'s response, decoded from text (see the module's documentation).
pub type JsonText = Post<JsonTextEncoding>;

/// The encoding behind [`JsonText`]: `application/json`, the same bytes as Leptos's `Json`.
pub struct JsonTextEncoding;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use leptos::server_fn::codec::JsonEncoding;

    use super::*;
    use crate::error::DashboardError;

    #[test]
    fn responses_are_the_bytes_leptos_json_writes() {
        let outcomes: [Result<u32, DashboardError>; 2] = [
            Ok(7),
            Err(DashboardError::KeyNotFound("a\"kid\u{e9}".into())),
        ];
        for outcome in outcomes {
            let ours = JsonTextEncoding::encode(&outcome).expect("encodes");
            let leptos = <JsonEncoding as Encodes<_>>::encode(&outcome).expect("encodes");
            assert_eq!(ours, leptos);
            let back: Result<u32, DashboardError> =
                JsonTextEncoding::decode(ours).expect("decodes");
            assert_eq!(back, outcome);
        }
    }

    #[test]
    fn a_response_that_is_not_text_is_an_error_not_a_panic() {
        let decoded: Result<String, _> =
            <JsonTextEncoding as Decodes<String>>::decode(Bytes::from_static(b"\"\xff\""));
        assert!(decoded.is_err());
        let truncated: Result<DashboardError, _> =
            <JsonTextEncoding as Decodes<DashboardError>>::decode(Bytes::from_static(b"{\"Key"));
        assert!(truncated.is_err());
    }
}
