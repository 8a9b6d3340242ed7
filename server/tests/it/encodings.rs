//! The JWKS and the key list in the encodings a caller accepts (compressed once per key-set
//! change), and the key list's pages.

use std::io::Read;

use axum::{body::Body, http::Request};

use crate::support::{
    Reply, World, provisioned_store, rotate_times, send, settings, world, world_serving,
};

async fn get_with(world: &World, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(&world.router, request.body(Body::empty()).unwrap()).await
}

fn brotli_decoded(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(body, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip_decoded(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn the_jwks_is_compressed_as_asked_with_an_etag_per_encoding() {
    let world = world().await;
    rotate_times(&world, 2).await;
    let jwks = "/.well-known/jwks.json";
    let plain = get_with(&world, jwks, &[]).await;
    assert_eq!(plain.status, 200);
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(plain.header("vary"), "accept-encoding");

    let br = get_with(&world, jwks, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(br.header("content-encoding"), "br");
    assert!(br.body.len() < plain.body.len());
    assert_eq!(brotli_decoded(&br.body), plain.body);
    let gzip = get_with(&world, jwks, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.header("content-encoding"), "gzip");
    assert_eq!(gzip_decoded(&gzip.body), plain.body);
    assert_eq!(
        get_with(&world, jwks, &[("accept-encoding", "br;q=0, identity")])
            .await
            .body,
        plain.body
    );

    // Each representation has its own validator.
    let (plain_tag, br_tag) = (plain.header("etag"), br.header("etag"));
    assert_ne!(plain_tag, br_tag);
    assert_ne!(br_tag, gzip.header("etag"));
    let revalidated = get_with(
        &world,
        jwks,
        &[("accept-encoding", "br"), ("if-none-match", br_tag)],
    )
    .await;
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("etag"), br_tag);
    let other = get_with(
        &world,
        jwks,
        &[("accept-encoding", "br"), ("if-none-match", plain_tag)],
    )
    .await;
    assert_eq!(
        other.status, 200,
        "the identity tag does not name the brotli body"
    );

    // A key change is a new document, compressed again.
    rotate_times(&world, 1).await;
    let after = get_with(&world, jwks, &[("accept-encoding", "br")]).await;
    assert_ne!(after.header("etag"), br_tag);
    let fresh = get_with(&world, jwks, &[]).await;
    assert_eq!(brotli_decoded(&after.body), fresh.body);
}

#[tokio::test]
async fn the_key_list_is_compressed_and_paged_like_auth0() {
    let world = world().await;
    rotate_times(&world, 4).await;
    let token = world.token("read:signing_keys").await;
    let list = |query: &'static str, encoding: &'static str| {
        let (world, token) = (&world, &token);
        async move {
            let request = Request::get(format!("/api/v2/keys/signing{query}"))
                .header("authorization", format!("Bearer {token}"))
                .header("accept-encoding", encoding)
                .body(Body::empty())
                .unwrap();
            send(&world.router, request).await
        }
    };
    let whole = list("", "identity").await;
    assert_eq!(whole.status, 200);
    let all = whole.json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 6, "current, next and four previous keys");

    let br = list("", "br").await;
    assert_eq!(br.header("content-encoding"), "br");
    assert_eq!(brotli_decoded(&br.body), whole.body);

    let page = list("?page=1&per_page=2", "identity").await.json();
    assert_eq!(page.as_array().unwrap()[..], all[2..4]);
    let first = list("?page=0", "identity").await.json();
    assert_eq!(
        first.as_array().unwrap()[..],
        all[..],
        "50 keys per page unless asked"
    );
    let beyond = list("?page=9&per_page=2", "identity").await.json();
    assert_eq!(beyond, serde_json::json!([]));
    let paged_br = list("?page=0&per_page=3", "br").await;
    let decoded: serde_json::Value =
        serde_json::from_slice(&brotli_decoded(&paged_br.body)).unwrap();
    assert_eq!(decoded.as_array().unwrap()[..], all[..3]);

    for bad in [
        "?per_page=0",
        "?per_page=101",
        "?page=-1",
        "?page=x",
        "?per_page=1.5",
    ] {
        let refused = list(bad, "identity").await;
        assert_eq!(refused.status, 400, "{bad}");
        assert_eq!(refused.json()["errorCode"], "invalid_query_string", "{bad}");
    }
}

/// The dashboard's WASM crosses the network compressed: the build writes a brotli and a gzip copy
/// beside each site file (`cargo leptos build --precompress`), and the server sends the copy the
/// browser accepts, saying that the answer varies with `Accept-Encoding`; a browser revalidates
/// it before each reuse, at the cost of a 304.
#[tokio::test]
async fn the_site_files_go_out_in_the_encoding_the_browser_accepts() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let wasm: Vec<u8> = (0..64 * 1024_u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(pkg.join("signet.wasm"), &wasm).unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut &wasm[..], &mut br, &Default::default()).unwrap();
    std::fs::write(pkg.join("signet.wasm.br"), &br).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &wasm).unwrap();
    std::fs::write(pkg.join("signet.wasm.gz"), gz.finish().unwrap()).unwrap();
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("signet")
        .site_root(site.path().display().to_string())
        .build();
    let world = world_serving(provisioned_store().await, settings(100, 1000), options).await;
    let wasm_url = "/pkg/signet.wasm";

    let plain = get_with(&world, wasm_url, &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, wasm);
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(plain.header("vary"), "accept-encoding");
    assert_eq!(plain.header("content-type"), "application/wasm");

    let chromium = "gzip, deflate, br, zstd";
    let brotli = get_with(&world, wasm_url, &[("accept-encoding", chromium)]).await;
    assert_eq!(brotli.header("content-encoding"), "br");
    assert_eq!(brotli.header("vary"), "accept-encoding");
    assert_eq!(brotli.header("content-type"), "application/wasm");
    assert!(
        brotli.body.len() < wasm.len() / 4,
        "{} B",
        brotli.body.len()
    );
    assert_eq!(brotli_decoded(&brotli.body), wasm);

    let gzip = get_with(&world, wasm_url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.header("content-encoding"), "gzip");
    assert_eq!(gzip_decoded(&gzip.body), wasm);

    // The browser asks again before each reuse (the names stay the same from one build to the
    // next), and asking costs no body when the file has not changed.
    assert_eq!(brotli.header("cache-control"), "no-cache");
    let since = brotli.header("last-modified").to_owned();
    let unchanged = get_with(
        &world,
        wasm_url,
        &[("accept-encoding", chromium), ("if-modified-since", &since)],
    )
    .await;
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("vary"), "accept-encoding");

    let missing = get_with(
        &world,
        "/pkg/nothing.wasm",
        &[("accept-encoding", chromium)],
    )
    .await;
    assert_eq!(missing.status, 404);
}
