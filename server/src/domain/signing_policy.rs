//! What a signing client may ask Signet to sign (SPEC §11): its policy, and the rules a claim
//! set must pass before any key touches it. Pure: the time comes in as `now`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The default longest lifetime a client may ask for: one hour.
pub const DEFAULT_MAX_LIFETIME_SECONDS: u32 = 3600;
/// The longest lifetime any policy may allow: 30 days.
pub const MAX_LIFETIME_LIMIT_SECONDS: u32 = 30 * 24 * 3600;
/// The largest claim set, serialised.
pub const MAX_CLAIMS_BYTES: usize = 16 * 1024;
/// How far in the past `nbf` may be.
pub const NBF_MAX_AGE_SECONDS: i64 = 60;
/// Most audiences a policy may name, and the longest one.
const MAX_AUDIENCES: usize = 64;
const MAX_AUDIENCE_LEN: usize = 512;
/// The JOSE header members a caller may set.
const SETTABLE_HEADER: [&str; 2] = ["typ", "cty"];
/// Longest `typ` or `cty`.
const MAX_HEADER_VALUE_LEN: usize = 128;

/// What a signing client may sign: the audiences it may name and the longest lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningPolicy {
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default = "default_max_lifetime")]
    pub max_lifetime_seconds: u32,
}

fn default_max_lifetime() -> u32 {
    DEFAULT_MAX_LIFETIME_SECONDS
}

impl Default for SigningPolicy {
    fn default() -> Self {
        Self {
            audiences: Vec::new(),
            max_lifetime_seconds: DEFAULT_MAX_LIFETIME_SECONDS,
        }
    }
}

/// Why a signing policy cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "max_lifetime_seconds must be between 1 and {MAX_LIFETIME_LIMIT_SECONDS} (30 days), not {0}"
    )]
    Lifetime(u64),
    #[error(
        "each audience must be 1 to {MAX_AUDIENCE_LEN} characters without spaces, and at most \
         {MAX_AUDIENCES} of them"
    )]
    Audience,
}

impl SigningPolicy {
    /// A policy from the command line: space-separated audiences and a lifetime in seconds.
    pub fn parse(audiences: &str, max_lifetime_seconds: u64) -> Result<Self, PolicyError> {
        Self {
            audiences: audiences.split_whitespace().map(str::to_owned).collect(),
            max_lifetime_seconds: u32::try_from(max_lifetime_seconds)
                .map_err(|_| PolicyError::Lifetime(max_lifetime_seconds))?,
        }
        .checked()
    }

    /// The policy if it is within bounds, with duplicate audiences dropped (order kept).
    pub fn checked(mut self) -> Result<Self, PolicyError> {
        let lifetime = self.max_lifetime_seconds;
        if lifetime == 0 || lifetime > MAX_LIFETIME_LIMIT_SECONDS {
            return Err(PolicyError::Lifetime(lifetime.into()));
        }
        let bad = |a: &String| {
            a.is_empty() || a.len() > MAX_AUDIENCE_LEN || a.chars().any(char::is_whitespace)
        };
        if self.audiences.len() > MAX_AUDIENCES || self.audiences.iter().any(bad) {
            return Err(PolicyError::Audience);
        }
        let mut seen = Vec::with_capacity(self.audiences.len());
        self.audiences.retain(|a| {
            let new = !seen.contains(a);
            seen.push(a.clone());
            new
        });
        Ok(self)
    }
}

/// Why a claim set is refused. Each names the rule it broke; nothing is signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("{0}")]
    Body(String),
    #[error("claims must be a JSON object")]
    NotObject,
    #[error("the member {0:?} is given twice")]
    Duplicate(String),
    #[error("the claim set is larger than {MAX_CLAIMS_BYTES} bytes")]
    TooLarge,
    #[error("exp is required (a NumericDate: whole seconds since 1970)")]
    MissingExp,
    #[error("exp must be a whole number of seconds since 1970, later than now")]
    InvalidExp,
    #[error(
        "exp is {requested} s after now; this client may sign tokens living at most {allowed} s"
    )]
    LifetimeTooLong { requested: i64, allowed: u32 },
    #[error(
        "nbf must be a whole number of seconds since 1970, at most {NBF_MAX_AGE_SECONDS} s in the \
         past and before exp"
    )]
    InvalidNbf,
    #[error("iat is set by Signet; leave it out")]
    IatNotAllowed,
    #[error("iss is set by Signet to {expected}; a different issuer cannot be signed")]
    InvalidIssuer { expected: String },
    #[error("this client may not sign for the audience {0:?}")]
    AudienceNotAllowed(String),
    #[error("aud must be a string or an array of strings")]
    InvalidAudience,
    #[error("the header member {0:?} cannot be chosen; only typ and cty may be set")]
    HeaderNotAllowed(String),
    #[error("the header members typ and cty must be short strings")]
    InvalidHeader,
    #[error("a batch holds 1 to {max} claim sets, not {0}", max = MAX_BATCH)]
    BatchSize(usize),
    /// One claim set of a batch was refused.
    #[error("tokens[{index}]: {error}")]
    InBatch {
        index: usize,
        error: Box<ClaimsError>,
    },
}

impl ClaimsError {
    /// The stable, machine-readable name of the rule (the Auth0 body's `errorCode`).
    pub fn code(&self) -> &'static str {
        match self {
            ClaimsError::Body(_) => "invalid_body",
            ClaimsError::NotObject => "claims_not_object",
            ClaimsError::Duplicate(_) => "duplicate_claim",
            ClaimsError::TooLarge => "claims_too_large",
            ClaimsError::MissingExp => "missing_exp",
            ClaimsError::InvalidExp => "invalid_exp",
            ClaimsError::LifetimeTooLong { .. } => "lifetime_too_long",
            ClaimsError::InvalidNbf => "invalid_nbf",
            ClaimsError::IatNotAllowed => "iat_not_allowed",
            ClaimsError::InvalidIssuer { .. } => "invalid_issuer",
            ClaimsError::AudienceNotAllowed(_) | ClaimsError::InvalidAudience => {
                "audience_not_allowed"
            }
            ClaimsError::HeaderNotAllowed(_) | ClaimsError::InvalidHeader => "header_not_allowed",
            ClaimsError::BatchSize(_) => "invalid_batch_size",
            ClaimsError::InBatch { error, .. } => error.code(),
        }
    }
}

/// Most claim sets in one batch.
pub const MAX_BATCH: usize = 100;

/// A claim set that passed every rule, ready to be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedClaims {
    /// The claims as they will be signed, `iss` and `iat` set by Signet.
    pub claims: Vec<u8>,
    /// `exp`, in Unix seconds.
    pub exp: i64,
    pub typ: Option<String>,
    pub cty: Option<String>,
}

/// One request to sign: `{"claims": {…}, "header": {"typ", "cty"}}`, as parsed JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The claims to sign; `iss` and `iat` are Signet's.
    #[schema(value_type = Object)]
    pub claims: Value,
    /// Optional `typ` and `cty`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub header: Option<Value>,
}

/// A batch: `{"tokens": [{"claims", "header"}, …]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub tokens: Vec<SignRequest>,
}

/// Parses a request body, refusing a member name given twice at any depth (serde_json would
/// silently keep the last one, so a claim could mean one thing to a reviewer and another here).
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ClaimsError> {
    let value = unique::parse(body)?;
    serde_json::from_value(value).map_err(|e| ClaimsError::Body(format!("invalid body: {e}")))
}

/// Checks one claim set against the rules and the client's policy at `now` (Unix seconds),
/// and sets `iss` and `iat`.
pub fn approve(
    request: SignRequest,
    policy: &SigningPolicy,
    issuer: &str,
    now: i64,
) -> Result<ApprovedClaims, ClaimsError> {
    let (typ, cty) = header_members(request.header)?;
    let Value::Object(mut claims) = request.claims else {
        return Err(ClaimsError::NotObject);
    };
    if claims.contains_key("iat") {
        return Err(ClaimsError::IatNotAllowed);
    }
    match claims.get("iss") {
        None => {}
        Some(Value::String(iss)) if iss == issuer => {}
        Some(_) => {
            return Err(ClaimsError::InvalidIssuer {
                expected: issuer.to_owned(),
            });
        }
    }
    let exp = check_times(&claims, policy, now)?;
    check_audiences(claims.get("aud"), policy)?;
    claims.insert("iss".to_owned(), Value::String(issuer.to_owned()));
    claims.insert("iat".to_owned(), Value::from(now));
    let claims = serde_json::to_vec(&claims).map_err(|e| ClaimsError::Body(e.to_string()))?;
    if claims.len() > MAX_CLAIMS_BYTES {
        return Err(ClaimsError::TooLarge);
    }
    Ok(ApprovedClaims {
        claims,
        exp,
        typ,
        cty,
    })
}

/// Checks every claim set of a batch; the first refusal refuses the batch, naming its index.
pub fn approve_batch(
    batch: BatchRequest,
    policy: &SigningPolicy,
    issuer: &str,
    now: i64,
) -> Result<Vec<ApprovedClaims>, ClaimsError> {
    if batch.tokens.is_empty() || batch.tokens.len() > MAX_BATCH {
        return Err(ClaimsError::BatchSize(batch.tokens.len()));
    }
    batch
        .tokens
        .into_iter()
        .enumerate()
        .map(|(index, request)| {
            approve(request, policy, issuer, now).map_err(|error| ClaimsError::InBatch {
                index,
                error: Box::new(error),
            })
        })
        .collect()
}

/// `typ` and `cty` from the optional header; any other member is refused.
fn header_members(header: Option<Value>) -> Result<(Option<String>, Option<String>), ClaimsError> {
    let members = match header {
        None | Some(Value::Null) => return Ok((None, None)),
        Some(Value::Object(members)) => members,
        Some(_) => return Err(ClaimsError::InvalidHeader),
    };
    if let Some(name) = members
        .keys()
        .find(|name| !SETTABLE_HEADER.contains(&name.as_str()))
    {
        return Err(ClaimsError::HeaderNotAllowed(name.clone()));
    }
    let member = |name: &str| match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if !value.is_empty() && value.len() <= MAX_HEADER_VALUE_LEN => {
            Ok(Some(value.clone()))
        }
        Some(_) => Err(ClaimsError::InvalidHeader),
    };
    Ok((member("typ")?, member("cty")?))
}

/// `exp` (required, in the future, within the policy's lifetime) and `nbf` (optional, at most
/// a minute in the past, before `exp`). Returns `exp`.
fn check_times(
    claims: &Map<String, Value>,
    policy: &SigningPolicy,
    now: i64,
) -> Result<i64, ClaimsError> {
    let exp = match claims.get("exp") {
        None => return Err(ClaimsError::MissingExp),
        Some(exp) => exp.as_i64().ok_or(ClaimsError::InvalidExp)?,
    };
    if exp <= now {
        return Err(ClaimsError::InvalidExp);
    }
    let lifetime = exp.saturating_sub(now);
    if lifetime > i64::from(policy.max_lifetime_seconds) {
        return Err(ClaimsError::LifetimeTooLong {
            requested: lifetime,
            allowed: policy.max_lifetime_seconds,
        });
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_i64().ok_or(ClaimsError::InvalidNbf)?;
        if nbf < now.saturating_sub(NBF_MAX_AGE_SECONDS) || nbf >= exp {
            return Err(ClaimsError::InvalidNbf);
        }
    }
    Ok(exp)
}

/// Every `aud` value must be one the policy names.
fn check_audiences(aud: Option<&Value>, policy: &SigningPolicy) -> Result<(), ClaimsError> {
    let allowed = |a: &str| {
        if policy.audiences.iter().any(|p| p == a) {
            Ok(())
        } else {
            Err(ClaimsError::AudienceNotAllowed(a.to_owned()))
        }
    };
    match aud {
        None => Ok(()),
        Some(Value::String(a)) => allowed(a),
        Some(Value::Array(values)) if !values.is_empty() => values.iter().try_for_each(|v| {
            v.as_str()
                .ok_or(ClaimsError::InvalidAudience)
                .and_then(allowed)
        }),
        Some(_) => Err(ClaimsError::InvalidAudience),
    }
}

/// A JSON parser that refuses duplicate member names.
mod unique {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    use super::ClaimsError;

    /// Prefix of the error message that carries a duplicated name through serde.
    const DUPLICATE: &str = "\u{0}duplicate:";

    pub fn parse(body: &[u8]) -> Result<Value, ClaimsError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let value = UniqueValue
            .deserialize(&mut deserializer)
            .and_then(|value| deserializer.end().map(|()| value));
        value.map_err(|error| {
            let text = error.to_string();
            match text.strip_prefix(DUPLICATE) {
                Some(rest) => {
                    let name = rest.split(" at line ").next().unwrap_or(rest);
                    ClaimsError::Duplicate(name.to_owned())
                }
                None => ClaimsError::Body(format!("the body is not valid JSON: {text}")),
            }
        })
    }

    struct UniqueValue;

    impl<'de> DeserializeSeed<'de> for UniqueValue {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for UniqueValue {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(UniqueValue)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut members = Map::new();
            while let Some(name) = map.next_key::<String>()? {
                if members.contains_key(&name) {
                    return Err(de::Error::custom(format!("{DUPLICATE}{name}")));
                }
                let value = map.next_value_seed(UniqueValue)?;
                members.insert(name, value);
            }
            Ok(Value::Object(members))
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://acme.example/";
    const NOW: i64 = 1_800_000_000;

    fn policy() -> SigningPolicy {
        SigningPolicy {
            audiences: vec!["https://app".into(), "https://api".into()],
            max_lifetime_seconds: 3600,
        }
    }

    fn sign(body: Value) -> Result<ApprovedClaims, ClaimsError> {
        let request = parse_body(body.to_string().as_bytes())?;
        approve(request, &policy(), ISSUER, NOW)
    }

    #[test]
    fn a_valid_claim_set_gets_the_issuer_and_iat_of_signet() {
        let approved = sign(json!({
            "claims": {"sub": "u1", "aud": ["https://app"], "exp": NOW + 600, "nbf": NOW - 30},
            "header": {"typ": "at+jwt"}
        }))
        .unwrap();
        let claims: Value = serde_json::from_slice(&approved.claims).unwrap();
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["sub"], "u1");
        assert_eq!(approved.exp, NOW + 600);
        assert_eq!(approved.typ.as_deref(), Some("at+jwt"));
    }

    #[test]
    fn each_rule_is_named_by_its_refusal() {
        let exp = NOW + 60;
        let cases = [
            (json!({"claims": {"sub": "u"}}), "missing_exp"),
            (json!({"claims": {"exp": NOW}}), "invalid_exp"),
            (json!({"claims": {"exp": 1.5e9}}), "invalid_exp"),
            (json!({"claims": {"exp": "soon"}}), "invalid_exp"),
            (json!({"claims": {"exp": NOW + 3601}}), "lifetime_too_long"),
            (
                json!({"claims": {"exp": exp, "nbf": NOW - 61}}),
                "invalid_nbf",
            ),
            (json!({"claims": {"exp": exp, "nbf": exp}}), "invalid_nbf"),
            (
                json!({"claims": {"exp": exp, "iat": NOW}}),
                "iat_not_allowed",
            ),
            (
                json!({"claims": {"exp": exp, "iss": "https://evil/"}}),
                "invalid_issuer",
            ),
            (
                json!({"claims": {"exp": exp, "aud": "https://evil"}}),
                "audience_not_allowed",
            ),
            (
                json!({"claims": {"exp": exp, "aud": ["https://app", "x"]}}),
                "audience_not_allowed",
            ),
            (
                json!({"claims": {"exp": exp, "aud": []}}),
                "audience_not_allowed",
            ),
            (
                json!({"claims": {"exp": exp, "aud": 7}}),
                "audience_not_allowed",
            ),
            (json!({"claims": [1, 2]}), "claims_not_object"),
            (json!({"claims": "x"}), "claims_not_object"),
            (
                json!({"claims": {"exp": exp}, "header": {"alg": "none"}}),
                "header_not_allowed",
            ),
            (
                json!({"claims": {"exp": exp}, "header": {"kid": "k"}}),
                "header_not_allowed",
            ),
            (
                json!({"claims": {"exp": exp}, "header": {"typ": 1}}),
                "header_not_allowed",
            ),
            (json!({"claims": {"exp": exp}, "extra": 1}), "invalid_body"),
            (json!({"header": {}}), "invalid_body"),
            (
                json!({"claims": {"exp": exp, "blob": "x".repeat(40 * 1024)}}),
                "claims_too_large",
            ),
        ];
        for (body, code) in cases {
            let refused = sign(body.clone()).unwrap_err();
            assert_eq!(refused.code(), code, "{body}: {refused}");
        }
    }

    #[test]
    fn the_issuer_itself_may_be_given() {
        sign(json!({"claims": {"exp": NOW + 5, "iss": ISSUER}})).unwrap();
    }

    #[test]
    fn a_member_given_twice_is_refused_at_any_depth() {
        for body in [
            r#"{"claims": {"sub": "a", "sub": "b", "exp": 1900000000}}"#,
            r#"{"claims": {"exp": 1800000060, "x": {"y": 1, "y": 2}}}"#,
            r#"{"claims": {"exp": 1800000060}, "claims": {"exp": 1800000060}}"#,
        ] {
            let refused = parse_body::<SignRequest>(body.as_bytes()).unwrap_err();
            assert_eq!(refused.code(), "duplicate_claim", "{body}");
        }
        assert_eq!(
            parse_body::<SignRequest>(b"{\"claims\": {}} trailing")
                .unwrap_err()
                .code(),
            "invalid_body"
        );
    }

    #[test]
    fn a_batch_is_refused_whole_naming_the_index() {
        let item = json!({"claims": {"exp": NOW + 10}});
        let bad = json!({"claims": {"sub": "x"}});
        let batch: BatchRequest =
            parse_body(json!({"tokens": [item, bad]}).to_string().as_bytes()).unwrap();
        let refused = approve_batch(batch, &policy(), ISSUER, NOW).unwrap_err();
        assert_eq!(refused.code(), "missing_exp");
        assert!(refused.to_string().starts_with("tokens[1]: "), "{refused}");
        for size in [0, MAX_BATCH + 1] {
            let batch = BatchRequest {
                tokens: (0..size)
                    .map(|_| SignRequest {
                        claims: json!({"exp": NOW + 10}),
                        header: None,
                    })
                    .collect(),
            };
            let refused = approve_batch(batch, &policy(), ISSUER, NOW).unwrap_err();
            assert_eq!(refused.code(), "invalid_batch_size");
        }
    }

    #[test]
    fn policies_are_bounded() {
        assert!(SigningPolicy::parse("https://a https://a", 3600).is_ok());
        assert_eq!(
            SigningPolicy::parse("https://a https://a", 60)
                .unwrap()
                .audiences,
            ["https://a"]
        );
        assert!(SigningPolicy::parse("", 0).is_err());
        assert!(SigningPolicy::parse("", u64::from(MAX_LIFETIME_LIMIT_SECONDS) + 1).is_err());
        assert!(SigningPolicy::parse(&"a".repeat(513), 60).is_err());
    }
}
