//! The config parser (`iching::config::FileConfig::parse`, what `FileConfig::load` does with
//! `config.toml`), then the settings resolution over what it parsed, and a prompt override.
//!
//! Input: the file (lossy UTF-8).
//!
//! Checked: nothing panics, whatever the file; a file is refused as TOML of the wrong shape or for
//! a value out of its range, naming the file (and the line and the key where they are known); a file that parses resolves to settings or to an
//! error that prints (never a panic), with no environment, with an OpenAI key, or with its first
//! `[providers.NAME]` table chosen (the input's length picks one); the resolved base URL has no
//! trailing slash, and every number is within its documented range. The same text as the changing-line prompt override fills in every
//! `{lineNumber}`.
#![no_main]

use std::path::Path;

use iching::config::{
    ConfigError, FileConfig, MAX_ATTEMPTS, MAX_TIMEOUT, MAX_TOKENS, Overrides, ProviderKind,
    Settings,
};
use iching::plan::{PromptSet, Prompts, Section};
use libfuzzer_sys::fuzz_target;

/// The environment variables `Settings::resolve` sees.
type Env = dyn Fn(&str) -> Option<String>;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let file = match FileConfig::parse(&text, Path::new("config.toml")) {
        Ok(file) => file,
        Err(ConfigError::Invalid(message)) => {
            assert!(message.contains("config.toml"), "{message}");
            return;
        }
        Err(e) => {
            // Refused naming the file (then the line and the key where they are known).
            let shown = e.to_string();
            assert!(shown.starts_with("config.toml"), "{shown}");
            return;
        }
    };

    // One resolution per input (the length picks which), so each run stays quick.
    let with_key = |var: &str| (var == "OPENAI_API_KEY").then(|| "sk-test".to_owned());
    let (o, env): (Overrides, &Env) = match input.len() % 3 {
        0 => (Overrides::default(), &|_| None),
        1 => (Overrides::default(), &with_key),
        _ => {
            let o = Overrides {
                provider: file.providers.keys().next().cloned(),
                ..Overrides::default()
            };
            (o, &with_key)
        }
    };
    match Settings::resolve(o, file, env) {
        Ok(s) => {
            assert!(!s.base_url.ends_with('/'), "base URL {:?}", s.base_url);
            assert!((1..=MAX_ATTEMPTS).contains(&s.max_attempts));
            assert!(s.provider == ProviderKind::Offline || s.max_tokens >= 1);
            assert!(s.max_tokens <= MAX_TOKENS);
            for t in [s.read_timeout, s.first_token_timeout, s.request_timeout] {
                assert!(!t.is_zero() && t <= MAX_TIMEOUT, "{t:?}");
            }
            assert!(s.rpm != Some(0) && s.tpm != Some(0));
            let _ = s.prices.get(&s.model);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    if input.len().is_multiple_of(3) {
        let mut prompts = Prompts::default();
        assert!(prompts.set_override("changing/changingLinesLine.md", text.into_owned()));
        let filled = prompts.instruction(PromptSet::Changing, Section::ChangingLine(3));
        assert!(!filled.contains("{lineNumber}"));
    }
});
