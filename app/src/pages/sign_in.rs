//! Sign-in with the operator password, and sign-out.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::DashboardError;

/// Where the dashboard lands after sign-in.
pub const HOME: &str = crate::routes::SIGNING_KEYS_PAGE;

#[cfg(feature = "ssr")]
async fn request_facts() -> (Option<std::net::IpAddr>, bool, Option<String>) {
    use axum::http::HeaderMap;
    let addr = crate::service::client_addr().await;
    let headers = leptos_axum::extract::<HeaderMap>()
        .await
        .unwrap_or_default();
    // Behind a TLS-terminating proxy the cookie must be Secure.
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookies = headers
        .get(axum::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (addr, secure, cookies)
}

/// Adds a `Set-Cookie` header to the server function's answer.
#[cfg(feature = "ssr")]
pub(crate) fn set_cookie(cookie: &str) {
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(cookie),
    ) {
        response.insert_header(axum::http::header::SET_COOKIE, value);
    }
}

/// Opens an operator session and goes to the dashboard.
#[server(prefix = "/_signet", endpoint = "sign_in", output = crate::codec::JsonText)]
pub async fn sign_in(password: String) -> Result<(), DashboardError> {
    let (addr, secure, _) = request_facts().await;
    let signed_in = match crate::service::operator() {
        Ok(operator) => operator.sign_in(&password, addr, secure).await,
        Err(error) => Err(error),
    };
    match signed_in {
        Ok(cookie) => {
            set_cookie(&cookie);
            leptos_axum::redirect(HOME);
            Ok(())
        }
        // Without JavaScript: back to the sign-in page, which says what went wrong.
        Err(error) => crate::error::respond(Err(error), crate::routes::LOGIN_PAGE, |_| None),
    }
}

/// Ends the operator session and goes to the sign-in page.
#[server(prefix = "/_signet", endpoint = "sign_out", output = crate::codec::JsonText)]
pub async fn sign_out() -> Result<(), DashboardError> {
    let (_, secure, cookies) = request_facts().await;
    let cookie = crate::service::operator()?
        .sign_out(cookies.as_deref(), secure)
        .await;
    set_cookie(&cookie);
    leptos_axum::redirect(crate::routes::LOGIN_PAGE);
    Ok(())
}

/// The sign-in page: works as a plain form post before hydration.
#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let pending = action.pending();
    // A plain form post comes back as `/login?failed=…`.
    let query = use_query_map().get_untracked();
    let redirected = DashboardError::from_query(|name| query.get(name));
    let error = move || match action.value().get() {
        Some(result) => result.err(),
        None => redirected.clone(),
    };
    view! {
        <Title text="Sign in · Signet" />
        <div class="page signin">
            <section class="card signin-card" aria-labelledby="signin-title">
                <h1 id="signin-title">"Sign in to Signet"</h1>
                <p class="hint">
                    "Use the operator password (SIGNET_ADMIN_PASSWORD, or the one Signet printed at its first start)."
                </p>
                <ActionForm action=action attr:data-testid="sign-in-form">
                    <label for="password">"Operator password"</label>
                    <input
                        id="password"
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                    />
                    <button type="submit" class="button button-primary" disabled=pending>
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
                {move || {
                    error()
                        .map(|error| {
                            view! {
                                <p class="notice notice-error" role="alert" data-testid="sign-in-error">
                                    {error.to_string()}
                                </p>
                            }
                        })
                }}
            </section>
        </div>
    }
}

/// The sign-out button of the top bar.
#[component]
pub fn SignOutButton() -> impl IntoView {
    let action = ServerAction::<SignOut>::new();
    view! {
        <ActionForm action=action attr:class="signout">
            <button type="submit" class="button button-quiet" data-testid="sign-out">
                "Sign out"
            </button>
        </ActionForm>
    }
}
