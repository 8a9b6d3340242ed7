//! Response bodies that every caller shares until the key set changes (the JWKS, the key list),
//! offered gzip- and brotli-compressed as the caller's `Accept-Encoding` allows. Each encoding is
//! made once per body, by the first request that asks for it, never once per request.

use std::{
    collections::HashMap,
    hash::Hash,
    io::Write,
    sync::{Arc, OnceLock, PoisonError, RwLock},
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};

/// Bodies smaller than this are sent as they are: compression would save less than a packet.
const MIN_COMPRESSED: usize = 1024;
/// Brotli's quality for bodies up to [`BROTLI_BEST_UP_TO`]: the smallest result.
const BROTLI_BEST: u32 = 11;
/// Above this size the best quality costs a worker tens to hundreds of milliseconds once per
/// change (measured: 4 ms for a fresh tenant's 4.5 KB JWKS), for a few percent on keys' base64.
const BROTLI_BEST_UP_TO: usize = 64 * 1024;
/// Brotli's quality for larger bodies. On a thousand keys' JWKS (1.5 MB) and key list (2.7 MB),
/// 5 made 864,978 and 717,826 bytes in 47 and 78 ms, holding 15.9 and 19.6 MB meanwhile; 6 made
/// 865,121 and 718,130 bytes in 58 and 113 ms, holding 18.0 and 21.7 MB.
const BROTLI_LARGE: u32 = 5;
/// Brotli's window, in bits, for the largest bodies (4 MiB). A smaller body gets the smallest
/// window that holds it all ([`brotli_window`]).
const BROTLI_WINDOW: u32 = 22;
/// The smallest window brotli allows.
const BROTLI_MIN_WINDOW: u32 = 10;

/// A content coding Signet answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` of this coding; `None` for identity.
    pub fn header(self) -> Option<HeaderValue> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some(HeaderValue::from_static("gzip")),
            Coding::Brotli => Some(HeaderValue::from_static("br")),
        }
    }

    /// The coding to answer `headers` in: brotli, else gzip, when `Accept-Encoding` lists it with
    /// a non-zero quality (RFC 9110 §12.5.3); identity otherwise.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let (mut br, mut gzip) = (false, false);
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused {
                    continue;
                }
                if name.eq_ignore_ascii_case("br") {
                    br = true;
                } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                    gzip = true;
                }
            }
        }
        if br {
            Coding::Brotli
        } else if gzip {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }
}

/// A body and its compressed forms, each made when first asked for.
#[derive(Debug)]
pub struct Encoded {
    identity: Bytes,
    gzip: OnceLock<Option<Bytes>>,
    brotli: OnceLock<Option<Bytes>>,
    /// The strong ETag of each form (identity, gzip, brotli): a validator names one
    /// representation, so each coding has its own (RFC 9110 §8.8.3).
    etags: Option<[HeaderValue; 3]>,
}

impl Encoded {
    pub fn new(identity: Bytes) -> Self {
        Self {
            identity,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            etags: None,
        }
    }

    /// A body whose identity form has the strong ETag `etag` (quoted); the compressed forms'
    /// carry a `-gzip` or `-br` suffix.
    pub fn with_etag(identity: Bytes, etag: &str) -> Self {
        let bare = etag.trim_matches('"');
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{bare}{suffix}\""))
                .unwrap_or(HeaderValue::from_static("\"\""))
        };
        Self {
            etags: Some([tag(""), tag("-gzip"), tag("-br")]),
            ..Self::new(identity)
        }
    }

    /// The ETag of the body in `coding`, if it has one.
    pub fn etag(&self, coding: Coding) -> Option<&HeaderValue> {
        let index = match coding {
            Coding::Identity => 0,
            Coding::Gzip => 1,
            Coding::Brotli => 2,
        };
        self.etags.as_ref().map(|etags| &etags[index])
    }

    /// The body as it is.
    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    /// The body in `coding`, and the coding it is really in: identity when the body is too
    /// small to gain from compression, or the compressor failed (it writes to memory only).
    pub fn get(&self, coding: Coding) -> (Bytes, Coding) {
        let encoded = match coding {
            Coding::Identity => None,
            Coding::Gzip => self.gzip.get_or_init(|| gzip(&self.identity)).clone(),
            Coding::Brotli => self.brotli.get_or_init(|| brotli(&self.identity)).clone(),
        };
        match encoded {
            Some(body) => (body, coding),
            None => (self.identity.clone(), Coding::Identity),
        }
    }
}

/// About how many headers a shared body's answer leaves with: its own, the route's (`ETag`,
/// `Cache-Control`, or the rate limit's), the request id and the security headers.
const ANSWER_HEADERS: usize = 16;

/// A 200 answer of `body` in `coding`, of type `content_type`, saying it varies by
/// `Accept-Encoding`. Its header map is made to size once: growing twice on the way out was
/// 3 % of a key list's CPU.
pub fn answer(body: Bytes, coding: Coding, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.reserve(ANSWER_HEADERS);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(encoding) = coding.header() {
        headers.insert(header::CONTENT_ENCODING, encoding);
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Most bodies a [`PerVersion`] keeps for one key set (the key list's pages): past it, the
/// cache starts again, so no caller can make it grow.
const MAX_VARIANTS: usize = 64;

/// Bodies made from one key-set version, each variant (a page of the key list, say) made once.
/// Emptied when the key set changes ([`forget_before`](Self::forget_before)), or else replaced
/// by the first request made after the change.
#[derive(Debug)]
pub struct PerVersion<K, T> {
    cached: RwLock<Option<Variants<K, T>>>,
}

/// The bodies of one version, by variant.
type Variants<K, T> = (i64, HashMap<K, Arc<T>>);

impl<K, T> Default for PerVersion<K, T> {
    fn default() -> Self {
        Self {
            cached: RwLock::new(None),
        }
    }
}

impl<K: Eq + Hash, T> PerVersion<K, T> {
    /// The variant `key` of key-set version `version`, made by `make` if it is not there yet.
    pub fn get_or_make<E>(
        &self,
        version: i64,
        key: K,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some((cached, variants)) =
            &*self.cached.read().unwrap_or_else(PoisonError::into_inner)
            && *cached == version
            && let Some(found) = variants.get(&key)
        {
            return Ok(Arc::clone(found));
        }
        let made = Arc::new(make()?);
        let mut cached = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        match &mut *cached {
            Some((cached, variants)) if *cached == version => {
                if variants.len() >= MAX_VARIANTS {
                    variants.clear();
                }
                Ok(Arc::clone(variants.entry(key).or_insert(made)))
            }
            // Made from a key set older than the one kept: served once, not kept.
            Some((cached, _)) if *cached > version => Ok(made),
            _ => {
                *cached = Some((version, HashMap::from([(key, Arc::clone(&made))])));
                Ok(made)
            }
        }
    }
}

impl<K, T> PerVersion<K, T> {
    /// Drops the bodies made from a key set older than `version`: they are never sent again,
    /// and at a thousand keys they are megabytes (the JWKS in three codings, the key list).
    pub fn forget_before(&self, version: i64) {
        let mut cached = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        let stale = match &*cached {
            Some((made_from, _)) if *made_from < version => cached.take(),
            _ => None,
        };
        drop(cached);
        // Freed here, after the lock: a request waits for no deallocation.
        drop(stale);
    }
}

fn gzip(body: &[u8]) -> Option<Bytes> {
    if body.len() < MIN_COMPRESSED {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 2),
        flate2::Compression::best(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

fn brotli(body: &[u8]) -> Option<Bytes> {
    if body.len() < MIN_COMPRESSED {
        return None;
    }
    let quality = if body.len() <= BROTLI_BEST_UP_TO {
        BROTLI_BEST
    } else {
        BROTLI_LARGE
    };
    let mut out = Vec::with_capacity(body.len() / 2);
    {
        let window = brotli_window(body.len());
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, window);
        writer.write_all(body).ok()?;
        writer.flush().ok()?;
    }
    Some(Bytes::from(out))
}

/// The smallest brotli window that holds a body of `len` bytes (a window of `w` bits holds
/// 2^w − 16 bytes), from [`BROTLI_MIN_WINDOW`] up to [`BROTLI_WINDOW`]. A window larger than the
/// body finds no more matches, yet the encoder's tables grow with it: at quality 11 an 18 KB
/// JWKS was compressed holding 35.6 MB at 22 bits, 2.3 MB at 15, to the same size within two bytes
/// and in the same time.
fn brotli_window(len: usize) -> u32 {
    let needed = len.saturating_add(16).saturating_sub(1);
    let bits = usize::BITS - needed.leading_zeros();
    bits.clamp(BROTLI_MIN_WINDOW, BROTLI_WINDOW)
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use std::io::Read;

    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn brotli_is_preferred_then_gzip_and_a_zero_quality_refuses() {
        assert_eq!(Coding::negotiate(&HeaderMap::new()), Coding::Identity);
        assert_eq!(
            Coding::negotiate(&accepting("gzip, deflate, br")),
            Coding::Brotli
        );
        assert_eq!(Coding::negotiate(&accepting("gzip")), Coding::Gzip);
        assert_eq!(
            Coding::negotiate(&accepting("br;q=0, GZIP;q=0.5")),
            Coding::Gzip
        );
        assert_eq!(
            Coding::negotiate(&accepting("br;q=0.0, gzip;q=0")),
            Coding::Identity
        );
        assert_eq!(
            Coding::negotiate(&accepting("identity, deflate")),
            Coding::Identity
        );
    }

    #[test]
    fn each_encoding_decodes_to_the_body_and_small_bodies_stay_as_they_are() {
        let body = Bytes::from(r#"{"kid":"abc","x5c":["MIIC"]},"#.repeat(200));
        let encoded = Encoded::new(body.clone());
        let (gz, coding) = encoded.get(Coding::Gzip);
        assert_eq!(coding, Coding::Gzip);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let (br, coding) = encoded.get(Coding::Brotli);
        assert_eq!(coding, Coding::Brotli);
        assert!(br.len() < body.len() / 10, "{} of {}", br.len(), body.len());
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        // The same bytes every time: made once.
        assert_eq!(encoded.get(Coding::Brotli).0.as_ptr(), br.as_ptr());

        let small = Encoded::new(Bytes::from_static(b"{\"keys\":[]}"));
        assert_eq!(small.get(Coding::Brotli).1, Coding::Identity);
    }

    #[test]
    fn brotli_windows_hold_the_body_and_no_more() {
        // A window of w bits holds 2^w - 16 bytes.
        assert_eq!(brotli_window(0), BROTLI_MIN_WINDOW);
        assert_eq!(brotli_window(18_070), 15);
        assert_eq!(brotli_window((1 << 15) - 16), 15);
        assert_eq!(brotli_window((1 << 15) - 15), 16);
        assert_eq!(brotli_window(1_500_000), 21);
        assert_eq!(brotli_window(5_000_000), BROTLI_WINDOW);
        // Bodies on either side of a window's edge, at both qualities, decode to themselves;
        // a body whose second half repeats its first still finds that match.
        for len in [(1 << 15) - 16, (1 << 15) - 15, BROTLI_BEST_UP_TO + 1] {
            // Base32 letters from a linear congruential generator's top bits: alone, they
            // compress to about five eighths.
            let mut state = 1u64;
            let half: Vec<u8> = (0..len / 2)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[usize::try_from(state >> 59).unwrap()]
                })
                .collect();
            let odd: &[u8] = if len % 2 == 1 { b"x" } else { b"" };
            let body = Bytes::from([half.as_slice(), half.as_slice(), odd].concat());
            let (br, coding) = Encoded::new(body.clone()).get(Coding::Brotli);
            assert_eq!(coding, Coding::Brotli);
            assert!(
                br.len() < body.len() * 45 / 100,
                "{} of {}",
                br.len(),
                body.len()
            );
            let mut out = Vec::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, body, "a body of {} bytes", body.len());
        }
    }

    #[test]
    fn each_coding_has_its_own_etag() {
        let encoded = Encoded::with_etag(Bytes::from_static(b"x"), "\"abc\"");
        assert_eq!(encoded.etag(Coding::Identity).unwrap(), "\"abc\"");
        assert_eq!(encoded.etag(Coding::Gzip).unwrap(), "\"abc-gzip\"");
        assert_eq!(encoded.etag(Coding::Brotli).unwrap(), "\"abc-br\"");
        assert!(Encoded::new(Bytes::new()).etag(Coding::Identity).is_none());
    }

    /// A maker of the body `text`, as `PerVersion::get_or_make` takes it.
    fn made(text: &str) -> impl FnOnce() -> Result<String, ()> {
        let text = text.to_owned();
        move || Ok(text)
    }

    #[test]
    fn a_variant_is_made_once_per_version_and_older_versions_are_not_kept() {
        let cache: PerVersion<u32, String> = PerVersion::default();
        assert_eq!(*cache.get_or_make(2, 0, made("a")).unwrap(), "a");
        assert_eq!(*cache.get_or_make(2, 0, made("b")).unwrap(), "a");
        assert_eq!(*cache.get_or_make(1, 0, made("old")).unwrap(), "old");
        assert_eq!(*cache.get_or_make(2, 0, made("c")).unwrap(), "a");
        assert_eq!(*cache.get_or_make(3, 0, made("new")).unwrap(), "new");
        for page in 0..200 {
            cache.get_or_make(3, page, made("p")).unwrap();
        }
        let kept = cache.cached.read().unwrap().as_ref().unwrap().1.len();
        assert!(kept <= MAX_VARIANTS, "{kept}");
    }

    #[test]
    fn a_change_of_key_set_drops_the_older_bodies_only() {
        let cache: PerVersion<u32, String> = PerVersion::default();
        let held = cache.get_or_make(3, 0, made("three")).unwrap();
        cache.forget_before(3);
        assert_eq!(*cache.get_or_make(3, 0, made("again")).unwrap(), "three");
        cache.forget_before(4);
        assert!(cache.cached.read().unwrap().is_none());
        // A request still sending the old body keeps its own copy.
        assert_eq!(*held, "three");
        assert_eq!(*cache.get_or_make(4, 0, made("four")).unwrap(), "four");
    }
}
