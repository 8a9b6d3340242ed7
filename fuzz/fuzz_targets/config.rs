//! The settings loader: any `signet.toml` text is either refused in one clear line or yields
//! settings that passed validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signet::{config::Config, startup};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text) {
        Ok(settings) => {
            // What validation promises the rest of Signet.
            assert!((60..=30 * 86_400).contains(&settings.token_lifetime.as_secs()));
            assert!(settings.api_rate_limit_per_minute >= 1);
            assert!(
                settings
                    .admin_password
                    .as_ref()
                    .is_none_or(|password| password.expose().chars().count() >= 12)
            );
            assert!(!settings.tenant_domain.is_empty() && settings.tenant_domain.len() <= 64);
            let url = &settings.database_url;
            assert!(url.starts_with("sqlite:") || url.starts_with("postgres"));
            let _ = startup::key_service_options(&settings);
            let _ = startup::api_settings(&settings);
        }
        Err(error) => {
            // The process prints this as its one line before exiting.
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(!message.contains('\n'), "{message:?}");
        }
    }
});
