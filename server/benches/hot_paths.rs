//! Micro-benchmarks of Signet's hot paths, on fixture keys (no RSA generation):
//!
//!   cargo bench -p server --bench hot_paths
//!
//! `sign` and `verify` are the token endpoint's and the Management API's per-request signature
//! work, for every key type a tenant may choose (RS256 and PS256 at 2048, 3072 and 4096 bits,
//! ES256, EdDSA); `generate` is the spare key made in the background after every rotation (key
//! and certificate), per key type;
//! `jwks` is what a key change makes of the JWKS (3 keys is a fresh tenant, 1000 a tenant after
//! 1000 rotations; the ETag, and the document from JWKs serialised once per key), the verifiers
//! rebuilt with it, and its gzip and brotli forms, made once per change; `ssr` renders the signed-in Signing Keys page through the whole
//! router, as `GET /tenant/signing_keys` does; `request log` writes a request's log line through
//! `tracing` (as on a terminal) and straight into the log's batch (as `signet serve` does).

use std::{collections::HashMap, hint::black_box, sync::Arc, time::Duration};

use app::algorithm::{KeySpec, SigningAlg};
use chrono::Utc;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use signet::{
    domain::material::{
        PrivateKey, PublicMaterial, generate_signing_key, new_kid, self_signed_certificate,
    },
    http::{
        encoded::{Coding, Encoded},
        log_line::LogLines,
        request_id::{self, RequestContext},
        request_log::{self, RequestLog},
    },
    log::BatchedWriter,
    services::{
        published::{jwks_body, jwks_etag},
        tokens::{self, KeyVerifier, Signer, Verifiers},
    },
};

#[path = "../tests/it/support.rs"]
#[allow(dead_code, clippy::unwrap_used)]
mod support;

const TENANT: &str = support::TENANT;
const KEY: &str = include_str!("../fixtures/rsa-2048-a.pk8.pem");

/// Every key type, its fixture key, and the bench's name for it.
const KEY_TYPES: [(SigningAlg, &str, &str); 8] = [
    (SigningAlg::RS256, KEY, "RS256"),
    (
        SigningAlg::RS256,
        include_str!("../fixtures/rsa-3072-a.pk8.pem"),
        "RS256-3072",
    ),
    (
        SigningAlg::RS256,
        include_str!("../fixtures/rsa-4096-a.pk8.pem"),
        "RS256-4096",
    ),
    (SigningAlg::PS256, KEY, "PS256"),
    (
        SigningAlg::PS256,
        include_str!("../fixtures/rsa-3072-a.pk8.pem"),
        "PS256-3072",
    ),
    (
        SigningAlg::PS256,
        include_str!("../fixtures/rsa-4096-a.pk8.pem"),
        "PS256-4096",
    ),
    (
        SigningAlg::ES256,
        include_str!("../fixtures/p256-a.pk8.pem"),
        "ES256",
    ),
    (
        SigningAlg::EdDSA,
        include_str!("../fixtures/ed25519-a.pk8.pem"),
        "EdDSA",
    ),
];

fn fixture() -> (PrivateKey, PublicMaterial) {
    fixture_of(SigningAlg::RS256, KEY)
}

fn fixture_of(alg: SigningAlg, pem: &str) -> (PrivateKey, PublicMaterial) {
    let Ok(private) = PrivateKey::from_pkcs8_pem(pem) else {
        panic!("the fixture key does not parse");
    };
    let kid = new_kid();
    let Ok(cert) = self_signed_certificate(&private, TENANT, Utc::now()) else {
        panic!("cannot certify the fixture key");
    };
    let Ok(public) = PublicMaterial::from_certificate(&kid, alg, &cert) else {
        panic!("cannot read the fixture certificate");
    };
    (private, public)
}

fn tokens(c: &mut Criterion) {
    for (alg, pem, name) in KEY_TYPES {
        tokens_of(c, alg, pem, name);
    }
}

fn tokens_of(c: &mut Criterion, alg: SigningAlg, pem: &str, name: &str) {
    let (private, public) = fixture_of(alg, pem);
    let Ok(signer) = Signer::new(&public.kid, alg, &private) else {
        panic!("cannot make a signer");
    };
    let Ok(verifiers) = Verifiers::new([&public]) else {
        panic!("cannot make a verifier");
    };
    let scopes = vec!["read:signing_keys".to_owned()];
    let issue = || {
        tokens::issue(
            &signer,
            TENANT,
            "bench-client",
            &scopes,
            Duration::from_secs(86_400),
            Utc::now(),
        )
    };
    c.bench_function(&format!("sign ({name} access token)"), |b| {
        b.iter(|| black_box(issue().is_ok()))
    });
    let Ok((token, _)) = issue() else {
        panic!("cannot issue a token");
    };
    // A token's first use: the signature verification (a fresh key set remembers no token).
    c.bench_function(&format!("verify ({name} access token, first use)"), |b| {
        b.iter_batched(
            || match Verifiers::new([&public]) {
                Ok(fresh) => fresh,
                Err(error) => panic!("cannot make a verifier: {error}"),
            },
            |fresh| {
                black_box(tokens::verify(&fresh, TENANT, black_box(&token), Utc::now()).is_ok())
            },
            BatchSize::SmallInput,
        )
    });
    // The same token again: what a client calling the Management API repeatedly costs.
    if alg == SigningAlg::RS256 && name == "RS256" {
        c.bench_function("verify (RS256 access token, used again)", |b| {
            b.iter(|| {
                black_box(tokens::verify(&verifiers, TENANT, black_box(&token), Utc::now()).is_ok())
            })
        });
    }
}

fn generate(c: &mut Criterion) {
    // Prime search makes each RSA run take a random time: few samples, and read the mean.
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    for (alg, size, name) in [
        ("RS256", 2048, "RSA-2048 key and certificate"),
        ("RS256", 3072, "RSA-3072 key and certificate"),
        ("RS256", 4096, "RSA-4096 key and certificate"),
        ("ES256", 256, "P-256 key and certificate"),
        ("EdDSA", 256, "Ed25519 key and certificate"),
    ] {
        let Ok(spec) = KeySpec::parse(alg, Some(size)) else {
            panic!("{alg}/{size} is not offered");
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(generate_signing_key(spec, TENANT, Utc::now()).is_ok()))
        });
    }
    group.finish();
}

/// The verifiers of every valid key, rebuilt after every key change: gathering the verifiers
/// kept with each key (now), beside looking each kid up in the previous key set and copying
/// it (before), and parsing every key again (the first round).
fn verifiers(c: &mut Criterion) {
    let (_, public) = fixture();
    let many: Vec<PublicMaterial> = (0..1000)
        .map(|i| PublicMaterial {
            kid: format!("key-{i}"),
            ..public.clone()
        })
        .collect();
    let Ok(parsed) = many
        .iter()
        .map(|public| KeyVerifier::new(public).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()
    else {
        panic!("cannot parse the fixture keys");
    };
    let previous: HashMap<String, Arc<KeyVerifier>> = many
        .iter()
        .zip(&parsed)
        .map(|(public, verifier)| (public.kid.clone(), Arc::clone(verifier)))
        .collect();
    let mut group = c.benchmark_group("verifiers of 1000 keys (after a key change)");
    group.bench_function("gathering each key's verifier", |b| {
        b.iter(|| black_box(Verifiers::of(&parsed)))
    });
    group.bench_function("looking each kid up in the previous set (before)", |b| {
        b.iter(|| {
            let keys: HashMap<String, Arc<KeyVerifier>> = many
                .iter()
                .filter_map(|public| {
                    Some((public.kid.clone(), Arc::clone(previous.get(&public.kid)?)))
                })
                .collect();
            black_box(keys.len())
        })
    });
    group.bench_function("parsing every key (first round)", |b| {
        b.iter(|| black_box(Verifiers::new(&many).is_ok()))
    });
    group.finish();
}

fn jwks(c: &mut Criterion) {
    let (_, public) = fixture();
    c.bench_function("jwk serialisation (one key, once per key)", |b| {
        b.iter(|| {
            black_box(
                black_box(&public)
                    .jwk()
                    .is_ok_and(|jwk| serde_json::to_vec(&jwk).is_ok()),
            )
        })
    });
    let Some(jwk) = public
        .jwk()
        .ok()
        .and_then(|jwk| serde_json::to_vec(&jwk).ok())
    else {
        panic!("cannot serialise the JWK");
    };
    let digest: [u8; 32] = Sha256::digest(&jwk).into();
    // What a key change makes of the JWKS: its ETag, a hash of the keys' hashes (now; the
    // document waits for its first request), beside the document and its ETag (before).
    let mut group = c.benchmark_group("jwks after a key change");
    for keys in [3usize, 1000] {
        group.bench_with_input(
            BenchmarkId::new("etag only", keys),
            &vec![&digest; keys],
            |b, digests| b.iter(|| black_box(jwks_etag(digests.iter().copied()).len())),
        );
        group.bench_with_input(
            BenchmarkId::new("document and etag (before)", keys),
            &vec![(jwk.as_slice(), &digest); keys],
            |b, jwks| {
                b.iter(|| {
                    let document = jwks_body(jwks.iter().map(|(jwk, _)| *jwk));
                    let etag = jwks_etag(jwks.iter().map(|(_, digest)| *digest));
                    black_box(document.len() + etag.len())
                })
            },
        );
    }
    group.finish();

    // The JWKS compressed, once per key change and coding.
    let mut group = c.benchmark_group("jwks compression (once per key change)");
    group.sample_size(10);
    for keys in [3usize, 12, 1000] {
        let document = jwks_body(vec![jwk.as_slice(); keys]);
        for coding in [Coding::Gzip, Coding::Brotli] {
            let name = format!("{coding:?}");
            group.bench_with_input(BenchmarkId::new(name, keys), &document, |b, document| {
                b.iter_batched(
                    || Encoded::new(document.clone()),
                    |encoded| black_box(encoded.get(coding).0.len()),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

fn ssr(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        panic!("no tokio runtime");
    };
    // The current and the next key alone, and with 10 previous keys besides (a full page of the
    // List of Valid Keys, as bench/run.sh has): what a key row costs is the difference.
    for previous in [0, 10] {
        let (router, cookie) = runtime.block_on(async {
            let world = support::world().await;
            support::rotate_times(&world, previous).await;
            let cookie = support::operator_session(&world).await;
            (world.router, cookie)
        });
        let name = match previous {
            0 => "ssr (signed-in Signing Keys page)".to_owned(),
            n => format!("ssr (signed-in Signing Keys page, {n} previous keys)"),
        };
        c.bench_function(&name, |b| {
            b.to_async(&runtime).iter(|| async {
                let reply =
                    support::get_with_cookie(&router, "/tenant/signing_keys", &cookie).await;
                assert_eq!(reply.status, 200);
                black_box(reply.body.len())
            })
        });
    }
}

/// One request's log line, written into a log whose thread writes to nowhere: through `tracing`
/// with [`LogLines`], and straight into the batch ([`request_log`]). Last of the groups: it sets
/// the process's subscriber.
fn request_log(c: &mut Criterion) {
    let Ok((writer, _guard)) = BatchedWriter::start(std::io::sink()) else {
        panic!("cannot start the log writer");
    };
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(writer.clone())
        .with_ansi(false)
        .event_format(LogLines::Text)
        .finish();
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        panic!("a subscriber is already set");
    }
    RequestLog::install(LogLines::Text, move |lines| writer.append(lines));
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        panic!("no tokio runtime");
    };
    let request = || RequestContext {
        id: "d0827ddd72493d9b536652693d1d521e".into(),
        method: axum::http::Method::GET,
        uri: axum::http::Uri::from_static("/.well-known/jwks.json"),
    };
    let mut group = c.benchmark_group("request log line");
    // What both rows below pay besides the line: the request made and scoped.
    group.bench_function("no line (the request's scope alone)", |b| {
        b.iter(|| runtime.block_on(request_id::scope(request(), async { black_box(0) })))
    });
    group.bench_function("through tracing", |b| {
        b.iter(|| {
            runtime.block_on(request_id::scope(request(), async {
                tracing::info!(target: request_log::TARGET, latency = %format_args!("{} μs", black_box(12)), status = black_box(200_u16), "finished processing request");
            }))
        })
    });
    group.bench_function("straight into the batch", |b| {
        b.iter(|| {
            runtime.block_on(request_id::scope(request(), async {
                request_id::with_current(|request| {
                    request.is_some_and(|request| {
                        request_log::finished(request, black_box(200), black_box(12))
                    })
                })
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, tokens, generate, jwks, verifiers, ssr, request_log);
criterion_main!(benches);
